/* SPDX-License-Identifier: ISC */
/*
 * The children table of this process: a hash table by PID for routing,
 * a list in fork order for cpid/2, and, in a new child, the tables of
 * the processes it was forked from, left as they are.
 */
#include "core/alcove.h"

#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

static size_t slot(const alcove_t *ap, pid_t pid)
{
    return ((uint32_t)pid * 2654435761u) & (ap->kids.nbucket - 1);
}

static void rehash(alcove_t *ap, size_t n)
{
    /* an array of pointers: sizeof a pointer is meant */
    /* NOLINTNEXTLINE(bugprone-sizeof-expression) */
    child_t **b = calloc(n, sizeof(*b));
    if (b == NULL)
        die(DIE_NOMEM, "out of memory");
    free(ap->kids.bucket);
    ap->kids.bucket = b;
    ap->kids.nbucket = n;
    for (child_t *c = ap->kids.first; c; c = c->next) {
        size_t i = slot(ap, c->pid);
        c->hnext = b[i];
        b[i] = c;
    }
}

child_t *child_get(alcove_t *ap, pid_t pid)
{
    if (ap->kids.nbucket == 0)
        return NULL;
    for (child_t *c = ap->kids.bucket[slot(ap, pid)]; c; c = c->hnext)
        if (c->pid == pid)
            return c;
    return NULL;
}

static void ref_init(alcove_t *ap, child_t *c, fdref_t *r, int fd,
                     fdkind_t kind, uint32_t events)
{
    *r = (fdref_t){.fd = fd, .kind = kind, .child = c, .writable = true};
    if (set_nonblock(fd) < 0)
        die(DIE_SYS, "fcntl");
    fd_watch(ap, r, events);
}

child_t *child_add(alcove_t *ap, pid_t pid, int ctl, int in, int out, int err)
{
    child_t *c = calloc(1, sizeof(*c));
    if (c == NULL)
        die(DIE_NOMEM, "out of memory");
    c->pid = pid;
    c->flowcontrol = ap->opt.flowcontrol;
    c->signaloneof = ap->opt.signaloneof;
    ref_init(ap, c, &c->ctl, ctl, FD_CTL, EPOLLIN);
    ref_init(ap, c, &c->in, in, FD_STDIN, 0);
    ref_init(ap, c, &c->out, out, FD_STDOUT, EPOLLIN);
    ref_init(ap, c, &c->err, err, FD_STDERR, EPOLLIN);
    c->notify = (fdref_t){.fd = -1, .kind = FD_NOTIFY, .child = c};
    c->passed = -1;
    c->ctl_out.ref = &c->ctl;
    c->stdin_out.ref = &c->in;

    c->prev = ap->kids.last;
    if (ap->kids.last)
        ap->kids.last->next = c;
    else
        ap->kids.first = c;
    ap->kids.last = c;
    ap->kids.n++;

    if (ap->kids.n > ap->kids.nbucket)
        rehash(ap, ap->kids.nbucket ? ap->kids.nbucket * 2 : 64);
    else {
        size_t i = slot(ap, pid);
        c->hnext = ap->kids.bucket[i];
        ap->kids.bucket[i] = c;
    }
    return c;
}

child_t *child_stdio(alcove_t *ap, int64_t fd, int *stream)
{
    if (fd < 0)
        return NULL;
    for (child_t *c = ap->kids.first; c; c = c->next) {
        const int fds[] = {c->in.fd, c->out.fd, c->err.fd};
        for (int i = 0; i < 3; i++) {
            if (fds[i] == fd) {
                *stream = i;
                return c;
            }
        }
    }
    return NULL;
}

void child_closefds(child_t *c)
{
    ref_close(&c->ctl);
    ref_close(&c->in);
    ref_close(&c->out);
    ref_close(&c->err);
    ref_close(&c->notify);
    if (c->passed >= 0)
        close(c->passed);
    c->passed = -1;
}

void child_del(alcove_t *ap, child_t *c)
{
    ap->fds.pipes_grown -= c->in_grown + c->out_grown;
    rq_drop(ap, &c->ctl);
    rq_drop(ap, &c->out);
    rq_drop(ap, &c->err);
    rq_drop(ap, &c->notify);
    obuf_unmark(ap, &c->ctl_out);
    obuf_unmark(ap, &c->stdin_out);
    child_closefds(c);

    child_t **p = &ap->kids.bucket[slot(ap, c->pid)];
    while (*p != c)
        p = &(*p)->hnext;
    *p = c->hnext;
    if (c->prev)
        c->prev->next = c->next;
    else
        ap->kids.first = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        ap->kids.last = c->prev;
    ap->kids.n--;

    /* unlinked before freed: a signal handler may walk the list (sig.c) */
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    abuf_free(&c->ctl_in);
    abuf_free(&c->ctl_out.b);
    abuf_free(&c->stdin_out.b);
    free(c->acks);
    free(c);
}

/* Its parent's entries are left as they are, reachable from
 * ap->kids.inherited (a leak checker sees them): freeing them would write to
 * every page of the parent's heap they are on, a copy of each. */
void children_forget(alcove_t *ap)
{
    inherited_t *in = malloc(sizeof(*in));
    if (in == NULL)
        die(DIE_NOMEM, "out of memory");
    *in = (inherited_t){.first = ap->kids.first,
                        .bucket = ap->kids.bucket,
                        .older = ap->kids.inherited};
    ap->kids.inherited = in;
    ap->kids.bucket = NULL;
    ap->kids.nbucket = ap->kids.n = 0;
    ap->kids.first = ap->kids.last = NULL;
}
