/* SPDX-License-Identifier: ISC */
/*
 * Children of this process: a hash table by PID for routing, a list in
 * fork order for cpid/2, and what happens to their descriptors as they
 * run, exec and exit.
 */
#include "core/alcove.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <unistd.h>

#include "wire/build.h"
#include "wire/consts.h"

static size_t slot(const alcove_t *ap, pid_t pid)
{
    return ((uint32_t)pid * 2654435761u) & (ap->nbucket - 1);
}

static void rehash(alcove_t *ap, size_t n)
{
    /* an array of pointers: sizeof a pointer is meant */
    /* NOLINTNEXTLINE(bugprone-sizeof-expression) */
    child_t **b = calloc(n, sizeof(*b));
    if (b == NULL)
        die(DIE_NOMEM, "out of memory");
    free(ap->bucket);
    ap->bucket = b;
    ap->nbucket = n;
    for (child_t *c = ap->first; c; c = c->next) {
        size_t i = slot(ap, c->pid);
        c->hnext = b[i];
        b[i] = c;
    }
}

child_t *child_get(alcove_t *ap, pid_t pid)
{
    if (ap->nbucket == 0)
        return NULL;
    for (child_t *c = ap->bucket[slot(ap, pid)]; c; c = c->hnext)
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
    c->flowcontrol = ap->flowcontrol;
    c->signaloneof = ap->signaloneof;
    ref_init(ap, c, &c->ctl, ctl, FD_CTL, EPOLLIN);
    ref_init(ap, c, &c->in, in, FD_STDIN, 0);
    ref_init(ap, c, &c->out, out, FD_STDOUT, EPOLLIN);
    ref_init(ap, c, &c->err, err, FD_STDERR, EPOLLIN);
    c->ctl_out.ref = &c->ctl;
    c->stdin_out.ref = &c->in;

    c->prev = ap->last;
    if (ap->last)
        ap->last->next = c;
    else
        ap->first = c;
    ap->last = c;
    ap->nchild++;

    if (ap->nchild > ap->nbucket)
        rehash(ap, ap->nbucket ? ap->nbucket * 2 : 64);
    else {
        size_t i = slot(ap, pid);
        c->hnext = ap->bucket[i];
        ap->bucket[i] = c;
    }
    return c;
}

static void ref_close(fdref_t *r)
{
    if (r->fd >= 0)
        close(r->fd); /* also leaves the epoll set */
    r->fd = -1;
}

/* The loop's own descriptors are not the caller's to close, read, write
 * or change: a write to the upstream channel would be taken for frames,
 * a read would take requests out of it, a cleared O_NONBLOCK would block
 * the loop. (This prevents accidents: it is no boundary, as a path such
 * as /proc/self/fd/1 opens the same pipe again.) */
bool fd_internal(alcove_t *ap, int64_t fd)
{
    /* split (fdspace.c): the loop's descriptors are exactly those above
     * fd_base, and upstream, which the port has on 0 and 1 */
    if (ap->fork_fast)
        return fd >= ap->fd_base || fd == ap->up_in.fd || fd == ap->up_out.fd;
    if (fd == ap->epfd || fd == ap->sigpipe[0] || fd == ap->sigpipe[1] ||
        fd == ap->up_in.fd || fd == ap->up_out.fd ||
        (fd >= 0 &&
         (fd == ap->spipe[0] || fd == ap->spipe[1] || fd == ap->upctl)))
        return true;
    for (child_t *c = ap->first; c; c = c->next)
        if (fd == c->ctl.fd || fd == c->in.fd || fd == c->out.fd ||
            fd == c->err.fd)
            return true;
    return false;
}

child_t *child_stdio(alcove_t *ap, int64_t fd, int *stream)
{
    if (fd < 0)
        return NULL;
    for (child_t *c = ap->first; c; c = c->next) {
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
}

/* Remove a descriptor from the ready queue and parked list. */
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

static void obuf_unmark(alcove_t *ap, obuf_t *o)
{
    if (!o->dirty)
        return;
    for (obuf_t **p = &ap->dirty; *p; p = &(*p)->next) {
        if (*p == o) {
            *p = o->next;
            break;
        }
    }
    o->dirty = false;
}

void child_del(alcove_t *ap, child_t *c)
{
    ap->pipes_grown -= c->in_grown + c->out_grown;
    fdref_t *refs[] = {&c->ctl, &c->out, &c->err};
    for (size_t i = 0; i < 3; i++) {
        if (!refs[i]->queued)
            continue;
        unqueue(&ap->rq_head, &ap->rq_tail, refs[i]);
        unqueue(&ap->park_head, &ap->park_tail, refs[i]);
    }
    obuf_unmark(ap, &c->ctl_out);
    obuf_unmark(ap, &c->stdin_out);
    child_closefds(c);

    child_t **p = &ap->bucket[slot(ap, c->pid)];
    while (*p != c)
        p = &(*p)->hnext;
    *p = c->hnext;
    if (c->prev)
        c->prev->next = c->next;
    else
        ap->first = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        ap->last = c->prev;
    ap->nchild--;

    /* unlinked before freed: a signal handler may walk the list (sig.c) */
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    abuf_free(&c->ctl_in);
    abuf_free(&c->ctl_out.b);
    abuf_free(&c->stdin_out.b);
    free(c->acks);
    free(c);
}

static void send_up(alcove_t *ap, uint8_t type, pid_t pid, const char *p,
                    size_t n)
{
    char *dst = up_begin(&ap->up_obuf.b, n);
    if (dst == NULL)
        die(DIE_NOMEM, "out of memory");
    if (n > 0)
        memcpy(dst, p, n);
    up_commit(&ap->up_obuf.b, type, (uint32_t)pid, n);
    obuf_mark(ap, &ap->up_obuf);
}

/* The exit of a child, once all it wrote has gone upstream. */
static void send_exit(alcove_t *ap, child_t *c)
{
    ei_x_buff x;
    if (ei_x_new_with_version(&x) < 0)
        die(DIE_NOMEM, "out of memory");
    build_t b = {.x = &x};
    bool event = true;
    if (WIFEXITED(c->status) && ap->exit_status) {
        put_tuple(&b, 2);
        put_atom(&b, "exit_status");
        put_int(&b, WEXITSTATUS(c->status));
    } else if (WIFSIGNALED(c->status) && ap->termsig) {
        const char *name =
            alcove_const_name(&alcove_const_signal, WTERMSIG(c->status));
        put_tuple(&b, 2);
        put_atom(&b, "termsig");
        if (name)
            put_atom(&b, name);
        else
            put_int(&b, WTERMSIG(c->status));
    } else {
        event = false;
    }
    if (event)
        send_up(ap, MSG_EVENT, c->pid, x.buff, (size_t)x.index);
    ei_x_free(&x);
}

static void ack(alcove_t *ap, uint32_t id)
{
    char t[REPLY_HDR + 8];
    int idx = REPLY_HDR;
    ei_encode_version(t, &idx);
    ei_encode_atom(t, &idx, "ok");
    if (reply_frame(&ap->up_obuf.b, t, (size_t)idx, id, 0) < 0)
        die(DIE_NOMEM, "out of memory");
    obuf_mark(ap, &ap->up_obuf);
}

/* stdin closed on a child still in its event loop: it shuts down as the
 * port does when its stdin closes (its children get their signaloneof
 * signal, it exits 0), after the requests sent to it before. */
static void ctl_shutdown(alcove_t *ap, child_t *c)
{
    char f[FRAME_LEN + DOWN_HDR] = {0};
    put32(f, DOWN_HDR);
    f[FRAME_LEN] = MSG_SHUTDOWN;
    if (abuf_append(&c->ctl_out.b, f, sizeof(f)) < 0)
        die(DIE_NOMEM, "out of memory");
    obuf_mark(ap, &c->ctl_out);
}

/* Bytes reached the stdin pipe (or never will): answer the writes that
 * are done, and close stdin if eof/2 asked for it. */
void child_wrote(alcove_t *ap, child_t *c)
{
    c->stdin_written = c->stdin_total - c->stdin_out.b.len;
    size_t i = 0;
    while (i < c->nacks && c->acks[i].end <= c->stdin_written)
        ack(ap, c->acks[i++].id);
    if (i > 0) {
        memmove(c->acks, c->acks + i, (c->nacks - i) * sizeof(*c->acks));
        c->nacks -= i;
    }
    if (c->eof_pending && c->stdin_out.b.len == 0) {
        c->eof_pending = false;
        ref_close(&c->in);
        ack(ap, c->eof_id);
        if (c->ctl.fd >= 0 && !c->exited)
            ctl_shutdown(ap, c);
    }
}

int child_eof(alcove_t *ap, child_t *c, int stream, uint32_t id)
{
    if (stream == EOF_STDIN) {
        /* answered once what was written before is in the pipe */
        if (c->in.fd < 0 || c->eof_pending)
            return EBADF;
        c->eof_pending = true;
        c->eof_id = id;
        child_wrote(ap, c);
        return 0;
    }
    fdref_t *r = stream == EOF_STDOUT ? &c->out : &c->err;
    if (r->fd < 0)
        return EBADF;
    if (r->queued) {
        unqueue(&ap->rq_head, &ap->rq_tail, r);
        unqueue(&ap->park_head, &ap->park_tail, r);
        r->queued = false;
    }
    /* what was spliced from it is in spipe and still goes upstream */
    if (ap->splice.src == r)
        ap->splice.src = NULL;
    ref_close(r);
    ack(ap, id);
    /* an exit that waited for this pipe's end is reported now */
    child_finish(ap, c);
    return 0;
}

void child_finish(alcove_t *ap, child_t *c)
{
    if (!c->exited || c->ctl.fd >= 0 || c->out.fd >= 0 || c->err.fd >= 0)
        return;
    /* writes to stdin that can no longer happen still get their answer:
     * every one of them, as nothing is left to write */
    abuf_free(&c->stdin_out.b);
    child_wrote(ap, c);
    send_exit(ap, c);
    child_del(ap, c);
}

static void ctl_closed(alcove_t *ap, child_t *c)
{
    ref_close(&c->ctl);
    abuf_free(&c->ctl_in);
    abuf_free(&c->ctl_out.b);
    send_up(ap, MSG_CLOSED, c->pid, NULL, 0);
}

/* Frames from a child's control socket: replies pass through, the rest
 * get the child's PID pushed on their fork chain. */
static bool ctl_read(alcove_t *ap, child_t *c)
{
    abuf_t *b = &c->ctl_in;
    size_t want = frame_want(b, 64 * 1024);
    if (abuf_reserve(b, want) < 0)
        die(DIE_NOMEM, "out of memory");

    ssize_t n = read(c->ctl.fd, abuf_tail(b), want);
    if (n < 0 && errno == EINTR)
        return true;
    if (n < 0 && errno == EAGAIN)
        return false;
    if (n <= 0) {
        ctl_closed(ap, c);
        return false;
    }
    b->len += (size_t)n;

    for (;;) {
        const char *body;
        uint32_t len;
        frame_res_t fr = frame_next(b, &body, &len);
        if (fr == FRAME_MORE)
            break;
        int rv = -1;
        if (fr == FRAME_OK && len > 0 && body[0] == MSG_REPLY)
            rv =
                abuf_append(&ap->up_obuf.b, body - FRAME_LEN, FRAME_LEN + len);
        else if (fr == FRAME_OK)
            rv = up_push(&ap->up_obuf.b, (uint32_t)c->pid, body, len);
        if (rv < 0) {
            /* a child that speaks nonsense is cut off, not obeyed */
            kill(c->pid, SIGKILL);
            ctl_closed(ap, c);
            return false;
        }
        abuf_consume(b, FRAME_LEN + len);
    }
    obuf_mark(ap, &ap->up_obuf);
    abuf_trim(b, KEEP_CHILD);
    return (size_t)n == want || c->ctl.hup;
}

/* This loop's own pipe for spliced payloads: a child's pipe may be read
 * by its writer too (through /proc/self/fd), this one by nobody else. */
static bool spipe_open(alcove_t *ap)
{
    bool grown = false;
    if (ap->spipe[0] >= 0)
        return true;
    if (pipe2(ap->spipe, O_CLOEXEC | O_NONBLOCK) < 0) {
        ap->up_splice = false;
        return false;
    }
    ap->spipe[0] = fd_high(ap, ap->spipe[0]);
    ap->spipe[1] = fd_high(ap, ap->spipe[1]);
    (void)pipe_grow(ap, ap->spipe[1], &grown);
    return true;
}

/* A pipe that gave much at its last read streams: what follows goes
 * upstream by splice(2), without a copy through this process. What moved
 * into spipe is announced by a frame header, and follows it (loop.c,
 * obuf_flush). Small output is copied, and many frames go in one write. */
static bool stdio_splice(alcove_t *ap, child_t *c, fdref_t *r)
{
    if (!r->big || !ap->up_splice || ap->splice.left > 0 || !spipe_open(ap))
        return false;
    ssize_t moved;
    do
        moved = splice(r->fd, NULL, ap->spipe[1], NULL, READ_CHUNK,
                       SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    while (moved < 0 && errno == EINTR);
    if (moved <= 0)
        return false; /* nothing, or the end: read as usual */
    size_t n = (size_t)moved;
    r->big = n >= SPLICE_MIN;
    if (up_header(&ap->up_obuf.b,
                  r->kind == FD_STDOUT ? MSG_STDOUT : MSG_STDERR,
                  (uint32_t)c->pid, n) < 0)
        die(DIE_NOMEM, "out of memory");
    ap->splice =
        (upsplice_t){.src = r, .before = ap->up_obuf.b.len, .left = n};
    if (r->kind == FD_STDOUT)
        (void)pipe_grow(ap, r->fd, &c->out_grown);
    obuf_mark(ap, &ap->up_obuf);
    if (c->flowcontrol > 0)
        c->flowcontrol--;
    return true;
}

static bool stdio_read(alcove_t *ap, child_t *c, fdref_t *r)
{
    /* left readable: setcpid/5 will queue it; a dead child's output is
     * read whatever its flow control, or its exit would never come */
    if (c->flowcontrol == 0 && !c->exited)
        return false;
    /* its bytes are on their way upstream: read again once they are */
    if (ap->splice.src == r || stdio_splice(ap, c, r))
        return false;

    char *p = up_begin(&ap->up_obuf.b, READ_CHUNK);
    if (p == NULL)
        die(DIE_NOMEM, "out of memory");
    ssize_t n = read(r->fd, p, READ_CHUNK);
    if (n < 0 && errno == EINTR)
        return true;
    if (n < 0 && errno == EAGAIN && !c->exited)
        return false;
    if (n <= 0) {
        /* EOF, or a dead child's pipe is empty: whatever else writes to
         * it now is a stray descendant, not the child */
        ref_close(r);
        return false;
    }
    up_commit(&ap->up_obuf.b, r->kind == FD_STDOUT ? MSG_STDOUT : MSG_STDERR,
              (uint32_t)c->pid, (size_t)n);
    r->big = n >= SPLICE_MIN;
    /* a full default pipe: this child streams its output */
    if (r->kind == FD_STDOUT && n >= 65536)
        (void)pipe_grow(ap, r->fd, &c->out_grown);
    obuf_mark(ap, &ap->up_obuf);
    if (c->flowcontrol > 0)
        c->flowcontrol--;
    /* a dead child's pipe is read to its end: no edge may come again */
    return n == READ_CHUNK || c->exited || r->hup;
}

void child_read(alcove_t *ap, fdref_t *r)
{
    child_t *c = r->child;
    bool more;
    if (r->fd < 0)
        return;
    if (r->kind == FD_CTL)
        more = ctl_read(ap, c);
    else
        more = stdio_read(ap, c, r);

    if (more)
        rq_push(ap, r);
    else if (c->flowcontrol != 0 || r->fd < 0)
        r->readable = false;
    child_finish(ap, c);
}

/* Drain what a dead child left in its pipes, then report its exit. */
static void child_exited(alcove_t *ap, child_t *c, int status)
{
    c->exited = true;
    c->status = status;
    fdref_t *refs[] = {&c->ctl, &c->out, &c->err};
    for (size_t i = 0; i < 3; i++) {
        fdref_t *r = refs[i];
        if (r->queued) {
            unqueue(&ap->rq_head, &ap->rq_tail, r);
            unqueue(&ap->park_head, &ap->park_tail, r);
            r->queued = false;
        }
        bool more = true;
        while (more && r->fd >= 0)
            more = r->kind == FD_CTL ? ctl_read(ap, c) : stdio_read(ap, c, r);
        if (r->fd >= 0 && r->kind == FD_CTL)
            ctl_closed(ap, c);
    }
    child_finish(ap, c);
}

void child_reaped(alcove_t *ap, pid_t pid, int status)
{
    /* waitpid(WUNTRACED) and ptrace report stops too: not an exit */
    if (!WIFEXITED(status) && !WIFSIGNALED(status))
        return;
    child_t *c = child_get(ap, pid);
    if (c && !c->exited)
        child_exited(ap, c, status);
}

void child_reap(alcove_t *ap)
{
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
        child_reaped(ap, pid, status);
}
