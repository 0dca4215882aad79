/* SPDX-License-Identifier: ISC */
/*
 * The event core. Descriptors are watched edge-triggered; a readable one
 * goes on a FIFO ready queue and is read a chunk at a time, so the cost
 * of an event does not depend on how many children exist, and one busy
 * child cannot starve the others. While upstream is full, children's
 * descriptors wait on a parked list instead. Writes are gathered on a
 * dirty list and flushed once per turn of the loop (obuf_flush,
 * upstream.c).
 */
#include "core/alcove.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* How many ready descriptors one turn serves before flushing. */
#define TURN_BUDGET 64

int set_nonblock(int fd)
{
    int on = 1;
    if (ioctl(fd, FIONBIO, &on) == 0)
        return 0;
    /* a seccomp filter may deny ioctl */
    int fl = fcntl(fd, F_GETFL);
    return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

void fd_watch(alcove_t *ap, fdref_t *r, uint32_t events)
{
    struct epoll_event ev = {.events = events | EPOLLET, .data.ptr = r};
    if (epoll_ctl(ap->ev.epfd, EPOLL_CTL_ADD, r->fd, &ev) < 0)
        die(DIE_SYS, "epoll_ctl");
    r->events = events;
}

/* Writability is watched only while a write is blocked: a socket or
 * pipe that is merely drained by its reader would otherwise wake this
 * process for nothing on every read. */
void fd_want_out(alcove_t *ap, fdref_t *r, bool on)
{
    uint32_t events = on ? r->events | EPOLLOUT : r->events & ~EPOLLOUT;
    if (events == r->events || r->fd < 0)
        return;
    struct epoll_event ev = {.events = events | EPOLLET, .data.ptr = r};
    if (epoll_ctl(ap->ev.epfd, EPOLL_CTL_MOD, r->fd, &ev) < 0)
        die(DIE_SYS, "epoll_ctl");
    r->events = events;
}

void ref_close(fdref_t *r)
{
    if (r->fd >= 0)
        close(r->fd); /* also leaves the epoll set */
    r->fd = -1;
}

/* Append r to the list head..tail: the ready queue or the parked list. */
static void enqueue(fdref_t **head, fdref_t **tail, fdref_t *r)
{
    r->queued = true;
    r->next = NULL;
    if (*tail)
        (*tail)->next = r;
    else
        *head = r;
    *tail = r;
}

void rq_push(alcove_t *ap, fdref_t *r)
{
    if (!r->queued)
        enqueue(&ap->ev.rq_head, &ap->ev.rq_tail, r);
}

static fdref_t *rq_pop(alcove_t *ap)
{
    fdref_t *r = ap->ev.rq_head;
    if (r == NULL)
        return NULL;
    ap->ev.rq_head = r->next;
    if (ap->ev.rq_head == NULL)
        ap->ev.rq_tail = NULL;
    r->queued = false;
    return r;
}

static void park(alcove_t *ap, fdref_t *r)
{
    enqueue(&ap->ev.park_head, &ap->ev.park_tail, r);
}

static void unpark(alcove_t *ap)
{
    fdref_t *r = ap->ev.park_head;
    ap->ev.park_head = ap->ev.park_tail = NULL;
    while (r) {
        fdref_t *next = r->next;
        r->queued = false;
        rq_push(ap, r);
        r = next;
    }
}

/* Remove a descriptor from one list, the ready queue or the parked. */
static void unqueue(fdref_t **head, fdref_t **tail, const fdref_t *r)
{
    fdref_t *prev = NULL;
    for (fdref_t *p = *head; p; prev = p, p = p->next) {
        if (p != r)
            continue;
        if (prev)
            prev->next = p->next;
        else
            *head = p->next;
        if (*tail == p)
            *tail = prev;
        return;
    }
}

void rq_drop(alcove_t *ap, fdref_t *r)
{
    if (!r->queued)
        return;
    unqueue(&ap->ev.rq_head, &ap->ev.rq_tail, r);
    unqueue(&ap->ev.park_head, &ap->ev.park_tail, r);
    r->queued = false;
}

void obuf_mark(alcove_t *ap, obuf_t *o)
{
    if (o->dirty)
        return;
    o->dirty = true;
    o->next = ap->ev.dirty;
    ap->ev.dirty = o;
}

void obuf_unmark(alcove_t *ap, obuf_t *o)
{
    if (!o->dirty)
        return;
    for (obuf_t **p = &ap->ev.dirty; *p; p = &(*p)->next) {
        if (*p == o) {
            *p = o->next;
            break;
        }
    }
    o->dirty = false;
}

static void flush_one(alcove_t *ap, obuf_t *o)
{
    fdref_t *r = o->ref;
    if (r->fd < 0) {
        abuf_free(&o->b);
        return;
    }
    int rv = obuf_flush(ap, o);
    switch (r->kind) {
    case FD_UP_OUT:
        if (rv < 0)
            ap->up.closed = true; /* nobody to serve: shut down */
        else if (o->b.len < LOW_WATER && ap->ev.park_head)
            unpark(ap);
        break;
    case FD_STDIN:
        if (rv < 0) {
            /* the reader is gone: what was queued can never arrive */
            abuf_free(&o->b);
            close(r->fd);
            r->fd = -1;
        }
        child_wrote(ap, r->child);
        break;
    default: /* FD_CTL: a dead child's socket is closed on its EOF */
        if (rv < 0)
            abuf_free(&o->b);
        break;
    }
}

static void flush_dirty(alcove_t *ap)
{
    while (ap->ev.dirty) {
        obuf_t *o = ap->ev.dirty;
        ap->ev.dirty = o->next;
        o->dirty = false;
        if (o->ref->writable || o->ref->fd < 0)
            flush_one(ap, o);
    }
}

static void serve(alcove_t *ap)
{
    for (int budget = TURN_BUDGET; budget > 0; budget--) {
        fdref_t *r = rq_pop(ap);
        if (r == NULL)
            return;
        switch (r->kind) {
        case FD_UP_IN:
            up_read(ap);
            if (ap->life.newchild)
                return;
            break;
        case FD_SIGNAL:
            sig_read(ap);
            break;
        default:
            if (ap->up.obuf.b.len >= HIGH_WATER)
                park(ap, r);
            else
                child_read(ap, r);
            break;
        }
    }
}

static void on_event(alcove_t *ap, const struct epoll_event *ev)
{
    fdref_t *r = ev->data.ptr;
    if (ev->events & EPOLLOUT) {
        r->writable = true;
        if (r->kind == FD_UP_OUT)
            obuf_mark(ap, &ap->up.obuf);
        else if (r->kind == FD_STDIN)
            obuf_mark(ap, &r->child->stdin_out);
        else if (r->kind == FD_CTL)
            obuf_mark(ap, &r->child->ctl_out);
    }
    if (ev->events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        if (r->kind == FD_STDIN) {
            /* the reader closed its end: flushing will find it */
            r->writable = true;
            obuf_mark(ap, &r->child->stdin_out);
            return;
        }
        if (r->kind == FD_UP_OUT)
            return;
        /* the data and the EOF may come in this one event: a short read
         * must not end the reading then, no other event will come */
        if (ev->events & (EPOLLHUP | EPOLLERR))
            r->hup = true;
        r->readable = true;
        if (!r->queued)
            rq_push(ap, r);
    }
}

int alcove_loop(alcove_t *ap)
{
    struct epoll_event ev[64];

    for (;;) {
        flush_dirty(ap);
        if (ap->life.leaving) {
            flush_blocking(ap, &ap->up.obuf);
            alcove_shutdown(ap);
        }
        if (ap->up.closed)
            alcove_shutdown(ap);

        int n = epoll_wait(ap->ev.epfd, ev, 64, ap->ev.rq_head ? 0 : -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            die(DIE_SYS, "epoll_wait");
        }
        for (int i = 0; i < n; i++)
            on_event(ap, &ev[i]);

        serve(ap);
        if (ap->life.newchild)
            return 0;
    }
}

void loop_init(alcove_t *ap, int in, int out, bool fresh)
{
    ap->ev.epfd = epoll_create1(EPOLL_CLOEXEC);
    if (ap->ev.epfd < 0)
        die(DIE_SYS, "epoll_create1");
    ap->ev.epfd = fd_high(ap, ap->ev.epfd);
    if (sig_init(ap, fresh) < 0)
        die(DIE_SYS, "signal pipe");
    up_watch(ap, in, out);
}
