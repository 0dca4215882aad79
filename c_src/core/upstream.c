/* SPDX-License-Identifier: ISC */
/*
 * The upstream channel: requests read from it and run or routed
 * (up_read, up_frames), and the writer of every buffered output
 * (obuf_flush), upstream's and children's stdin and control sockets.
 *
 * A child's stdout or stderr that streams goes upstream by splice(2),
 * without a copy through this process: its bytes are moved into this
 * loop's own pipe (spipe), announced by a frame header in up.obuf, and
 * moved on to upstream once everything before them is written. While
 * they are on their way, the child's pipe is not read.
 */
#include "core/alcove.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <unistd.h>

void up_watch(alcove_t *ap, int in, int out)
{
    ap->up.in = (fdref_t){.fd = in, .kind = FD_UP_IN, .writable = true};
    ap->up.out = (fdref_t){.fd = out, .kind = FD_UP_OUT, .writable = true};
    ap->up.obuf.ref = &ap->up.out;
    if (set_nonblock(in) < 0 || set_nonblock(out) < 0)
        die(DIE_SYS, "fcntl");
    struct stat st;
    ap->up.can_splice =
        fstat(out, &st) == 0 && (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode));
    fd_watch(ap, &ap->up.in, EPOLLIN);
    fd_watch(ap, &ap->up.out, 0);
    /* requests may already be waiting */
    ap->up.in.readable = true;
    rq_push(ap, &ap->up.in);
}

/* Run or route each whole frame held in the upstream buffer; -1 on a
 * frame too large to be a request. Apart from up_read so that the fuzzer
 * (fuzz/fuzz_port.c) feeds this very code without a descriptor. */
int up_frames(alcove_t *ap)
{
    abuf_t *b = &ap->up.ibuf;
    for (;;) {
        const char *body;
        uint32_t len;
        frame_res_t fr = frame_next(b, &body, &len);
        if (fr == FRAME_MORE)
            break;
        if (fr == FRAME_TOOBIG)
            return -1;

        down_hdr_t h;
        if (down_parse(body, len, &h) == 0)
            dispatch(ap, &h);
        else
            dispatch_short(ap, body, len);
        if (ap->life.newchild)
            return 0; /* the parent's buffers are gone */
        abuf_consume(b, FRAME_LEN + len);
        if (ap->life.leaving)
            return 0; /* exit/3: what follows is answered by CLOSED */
    }
    abuf_trim(b, KEEP_UP);
    return 0;
}

void up_read(alcove_t *ap)
{
    abuf_t *b = &ap->up.ibuf;
    size_t want = frame_want(b, READ_CHUNK);
    if (abuf_reserve(b, want) < 0)
        die(DIE_NOMEM, "out of memory");

    ssize_t n = read(ap->up.in.fd, abuf_tail(b), want);
    if (n < 0) {
        if (errno == EINTR) {
            rq_push(ap, &ap->up.in);
            return;
        }
        if (errno != EAGAIN) {
            ap->up.closed = true;
            return;
        }
        /* requests handed over by a re-exec may be waiting: run them */
        ap->up.in.readable = false;
    } else if (n == 0) {
        /* the same, before shutting down */
        ap->up.closed = true;
    } else {
        b->len += (size_t)n;
        if ((size_t)n == want || ap->up.in.hup)
            rq_push(ap, &ap->up.in);
        else
            ap->up.in.readable = false;
    }

    if (up_frames(ap) < 0)
        die(DIE_PROTO, "frame too large");
}

void send_up(alcove_t *ap, uint8_t type, pid_t pid, const char *p, size_t n)
{
    char *dst = up_begin(&ap->up.obuf.b, n);
    if (dst == NULL)
        die(DIE_NOMEM, "out of memory");
    if (n > 0)
        memcpy(dst, p, n);
    up_commit(&ap->up.obuf.b, type, (uint32_t)pid, n);
    obuf_mark(ap, &ap->up.obuf);
}

/* An event of this process itself: its fork chain is empty here and
 * grows on the way up. */
void send_event(alcove_t *ap, ei_x_buff *x)
{
    char hdr[FRAME_LEN + UP_HDR];
    put32(hdr, (uint32_t)(UP_HDR + x->index));
    hdr[4] = MSG_EVENT;
    put16(hdr + 5, 0);
    if (abuf_append(&ap->up.obuf.b, hdr, sizeof(hdr)) < 0 ||
        abuf_append(&ap->up.obuf.b, x->buff, (size_t)x->index) < 0)
        die(DIE_NOMEM, "out of memory");
    obuf_mark(ap, &ap->up.obuf);
}

/* This loop's own pipe for spliced payloads: a child's pipe may be read
 * by its writer too (through /proc/self/fd), this one by nobody else. */
static bool spipe_open(alcove_t *ap)
{
    bool grown = false;
    if (ap->up.spipe[0] >= 0)
        return true;
    if (pipe2(ap->up.spipe, O_CLOEXEC | O_NONBLOCK) < 0) {
        ap->up.can_splice = false;
        return false;
    }
    ap->up.spipe[0] = fd_high(ap, ap->up.spipe[0]);
    ap->up.spipe[1] = fd_high(ap, ap->up.spipe[1]);
    (void)pipe_grow(ap, ap->up.spipe[1], &grown);
    return true;
}

/* A pipe that gave much at its last read streams: what follows goes
 * upstream by splice(2), without a copy through this process. What moved
 * into spipe is announced by a frame header, and follows it (obuf_flush).
 * Small output is copied, and many frames go in one write. */
bool stdio_splice(alcove_t *ap, child_t *c, fdref_t *r)
{
    if (!r->big || !ap->up.can_splice || ap->up.splice.left > 0 ||
        !spipe_open(ap))
        return false;
    ssize_t moved;
    do
        moved = splice(r->fd, NULL, ap->up.spipe[1], NULL, READ_CHUNK,
                       SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    while (moved < 0 && errno == EINTR);
    if (moved <= 0)
        return false; /* nothing, or the end: read as usual */
    size_t n = (size_t)moved;
    r->big = n >= SPLICE_MIN;
    if (up_header(&ap->up.obuf.b,
                  r->kind == FD_STDOUT ? MSG_STDOUT : MSG_STDERR,
                  (uint32_t)c->pid, n) < 0)
        die(DIE_NOMEM, "out of memory");
    ap->up.splice =
        (upsplice_t){.src = r, .before = ap->up.obuf.b.len, .left = n};
    if (r->kind == FD_STDOUT)
        (void)pipe_grow(ap, r->fd, &c->out_grown);
    obuf_mark(ap, &ap->up.obuf);
    if (c->flowcontrol > 0)
        c->flowcontrol--;
    return true;
}

static void splice_done(alcove_t *ap)
{
    /* its pipe is read again, in turn */
    fdref_t *r = ap->up.splice.src;
    ap->up.splice.src = NULL;
    if (r) {
        r->readable = true;
        if (!r->queued)
            rq_push(ap, r);
    }
}

void splice_release(alcove_t *ap, const fdref_t *r)
{
    if (r == NULL || ap->up.splice.src == r)
        ap->up.splice.src = NULL;
}

/* Read what is left of the payload into the head of the upstream buffer,
 * where it belongs (everything before it is written). */
static void unsplice(alcove_t *ap)
{
    upsplice_t *sp = &ap->up.splice;
    abuf_t b = {.data = NULL};
    if (abuf_reserve(&b, sp->left + ap->up.obuf.b.len) < 0)
        die(DIE_NOMEM, "out of memory");
    while (b.len < sp->left) {
        ssize_t n = read(ap->up.spipe[0], abuf_tail(&b), sp->left - b.len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            die(DIE_SYS, "read: the payload pipe ran dry");
        b.len += (size_t)n;
    }
    if (abuf_append(&b, abuf_head(&ap->up.obuf.b), ap->up.obuf.b.len) < 0)
        die(DIE_NOMEM, "out of memory");
    abuf_free(&ap->up.obuf.b);
    ap->up.obuf.b = b;
    sp->left = 0;
    splice_done(ap);
}

/* Move a spliced payload upstream: 1 on progress, 0 when upstream is
 * full, -1 when it is gone. spipe holds every byte announced and only
 * this process reads it: empty, it is a broken invariant. */
static int splice_more(alcove_t *ap, int out)
{
    upsplice_t *sp = &ap->up.splice;
    ssize_t n = splice(ap->up.spipe[0], NULL, out, NULL, sp->left,
                       SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    if (n < 0 && errno != EINTR && errno != EAGAIN && errno != EPIPE &&
        errno != ECONNRESET) {
        /* refused (a seccomp filter, an upstream splice cannot write to):
         * the payload goes at the head of the buffer, copied */
        ap->up.can_splice = false;
        unsplice(ap);
        return 1;
    }
    if (n < 0)
        return errno == EINTR ? 1 : errno == EAGAIN ? 0 : -1;
    if (n == 0)
        die(DIE_SYS, "splice: the payload pipe ran dry");
    sp->left -= (size_t)n;
    if (sp->left == 0)
        splice_done(ap);
    return 1;
}

int obuf_flush(alcove_t *ap, obuf_t *o)
{
    upsplice_t *sp = o == &ap->up.obuf ? &ap->up.splice : NULL;
    for (;;) {
        if (sp && sp->left > 0 && sp->before == 0) {
            int rv = splice_more(ap, o->ref->fd);
            if (rv < 0)
                return -1;
            if (rv == 0)
                goto blocked;
            continue;
        }
        size_t len = sp && sp->left > 0 ? sp->before : o->b.len;
        if (len == 0)
            break;
        ssize_t n = write(o->ref->fd, abuf_head(&o->b), len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN) {
                /* a child's stdin that fills up is streamed to */
                if (o->ref->kind == FD_STDIN &&
                    pipe_grow(ap, o->ref->fd, &o->ref->child->in_grown))
                    continue;
                goto blocked;
            }
            return -1;
        }
        abuf_consume(&o->b, (size_t)n);
        if (sp && sp->left > 0)
            sp->before -= (size_t)n;
    }
    fd_want_out(ap, o->ref, false);
    abuf_trim(&o->b, o->ref->kind == FD_UP_OUT ? KEEP_UP : KEEP_CHILD);
    return 0;
blocked:
    o->ref->writable = false;
    fd_want_out(ap, o->ref, true);
    return 0;
}

static bool obuf_pending(const alcove_t *ap, const obuf_t *o)
{
    return o->b.len > 0 || (o == &ap->up.obuf && ap->up.splice.left > 0);
}

int flush_blocking(alcove_t *ap, obuf_t *o)
{
    while (obuf_pending(ap, o)) {
        if (obuf_flush(ap, o) < 0)
            return -1;
        if (obuf_pending(ap, o)) {
            struct pollfd pfd = {.fd = o->ref->fd, .events = POLLOUT};
            if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
                return -1;
        }
    }
    return 0;
}
