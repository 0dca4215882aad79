/* SPDX-License-Identifier: ISC */
/*
 * A child's I/O: frames from its control socket, passed upstream; its
 * stdout and stderr, read into frames upstream (or spliced: upstream.c);
 * writes to its stdin, answered once their bytes are in the pipe; and
 * eof/3 on any of the three. A child that moved its stdio onto a
 * pseudo-terminal (pty/4) passes its master up its control socket: the
 * master is then its stdin and stdout here.
 */
#include "core/alcove.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef MSG_CMSG_CLOEXEC
#define MSG_CMSG_CLOEXEC 0
#endif

static void ack(alcove_t *ap, uint32_t id)
{
    char t[REPLY_HDR + 8];
    int idx = REPLY_HDR;
    ei_encode_version(t, &idx);
    ei_encode_atom(t, &idx, "ok");
    if (reply_frame(&ap->up.obuf.b, t, (size_t)idx, id, 0) < 0)
        die(DIE_NOMEM, "out of memory");
    obuf_mark(ap, &ap->up.obuf);
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
        if (c->eof_answer)
            ack(ap, c->eof_id);
        if (c->ctl.fd >= 0 && !c->exited)
            ctl_shutdown(ap, c);
    }
}

int child_eof(alcove_t *ap, child_t *c, int stream, uint32_t id, bool answer)
{
    if (stream == EOF_STDIN) {
        /* answered once what was written before is in the pipe */
        if (c->in.fd < 0 || c->eof_pending)
            return EBADF;
        c->eof_pending = true;
        c->eof_answer = answer;
        c->eof_id = id;
        child_wrote(ap, c);
        return 0;
    }
    fdref_t *r = stream == EOF_STDOUT ? &c->out : &c->err;
    if (r->fd < 0)
        return EBADF;
    rq_drop(ap, r);
    /* what was spliced from it is in spipe and still goes upstream */
    splice_release(ap, r);
    ref_close(r);
    if (answer)
        ack(ap, id);
    /* an exit that waited for this pipe's end is reported now */
    child_finish(ap, c);
    return 0;
}

static void ctl_closed(alcove_t *ap, child_t *c)
{
    ref_close(&c->ctl);
    abuf_free(&c->ctl_in);
    abuf_free(&c->ctl_out.b);
    send_up(ap, MSG_CLOSED, c->pid, NULL, 0);
}

/* A read of the control socket that takes a descriptor sent with it (a
 * pty master, a seccomp listener), kept until the PTY or LISTENER frame
 * sent with it, which arrives with it or after it. A descriptor past
 * that one is nonsense, closed. *fds: one came, and the read stopped
 * after the bytes sent with it (the kernel ends a read there), however
 * much more is queued. */
static ssize_t ctl_recv(child_t *c, void *p, size_t want, bool *fds)
{
    union {
        char buf[CMSG_SPACE(sizeof(int) * 4)];
        struct cmsghdr align;
    } u;
    struct iovec iov = {.iov_base = p, .iov_len = want};
    struct msghdr m = {.msg_iov = &iov,
                       .msg_iovlen = 1,
                       .msg_control = u.buf,
                       .msg_controllen = sizeof(u.buf)};
    ssize_t n = recvmsg(c->ctl.fd, &m, MSG_CMSG_CLOEXEC);
    /* a seccomp filter of this loop's may refuse recvmsg and allow read
     * (alcove_sandbox:port_calls/0): no descriptor comes then */
    if (n < 0 && errno != EAGAIN && errno != EINTR)
        return read(c->ctl.fd, p, want);
    if (n < 0)
        return n;
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(&m); cm;
         cm = CMSG_NXTHDR(&m, cm)) {
        if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
            continue;
        size_t k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < k; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(fd));
            *fds = true;
            if (c->passed < 0)
                c->passed = fd;
            else
                close(fd);
        }
    }
    return n;
}

/* What the child's loop left in its stdout pipe before it moved to the
 * pty goes upstream first; the pipe is then closed. */
static void pty_drain(alcove_t *ap, child_t *c)
{
    fdref_t *r = &c->out;
    rq_drop(ap, r);
    splice_release(ap, r);
    for (;;) {
        char *p = up_begin(&ap->up.obuf.b, READ_CHUNK);
        if (p == NULL)
            die(DIE_NOMEM, "out of memory");
        ssize_t n = read(r->fd, p, READ_CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        up_commit(&ap->up.obuf.b, MSG_STDOUT, (uint32_t)c->pid, (size_t)n);
        obuf_mark(ap, &ap->up.obuf);
    }
    ref_close(r);
}

/* A PTY frame: the master received with it becomes the child's stdin
 * (a copy) and stdout; the bytes queued for stdin go to it. Its stderr
 * pipe, which the child closed, ends as usual. -1: no master came with
 * it, or what came is no pty master. */
static int pty_take(alcove_t *ap, child_t *c)
{
    int fd = c->passed;
    c->passed = -1;
#ifdef TIOCGPTN
    unsigned int ptn;
    if (fd < 0 || c->pty || ioctl(fd, TIOCGPTN, &ptn) < 0) {
#else
    if (fd < 0 || c->pty || !isatty(fd)) {
#endif
        if (fd >= 0)
            close(fd);
        return -1;
    }
    fd = fd_high(ap, fd);
    bool want_in = c->in.fd >= 0 && !c->eof_pending;
    int in = want_in ? fd_high(ap, fcntl(fd, F_DUPFD_CLOEXEC, 3)) : -1;
    /* no descriptor left for its stdin (emfile): the child is cut off
     * rather than the port. O_NONBLOCK is the master's, in's too. */
    if ((want_in && in < 0) || set_nonblock(fd) < 0) {
        if (in >= 0)
            close(in);
        close(fd);
        return -1;
    }
    if (c->out.fd >= 0)
        pty_drain(ap, c);
    ap->fds.pipes_grown -= c->in_grown + c->out_grown;
    c->in_grown = c->out_grown = false;
    c->out = (fdref_t){.fd = fd, .kind = FD_STDOUT, .child = c};
    fd_watch(ap, &c->out, EPOLLIN);
    if (in >= 0) {
        ref_close(&c->in);
        c->in = (fdref_t){
            .fd = in, .kind = FD_STDIN, .child = c, .writable = true};
        fd_watch(ap, &c->in, 0);
        if (c->stdin_out.b.len > 0)
            obuf_mark(ap, &c->stdin_out);
    }
    c->pty = true;
    return 0;
}

/* Frames from a child's control socket: replies pass through, the rest
 * get the child's PID pushed on their fork chain; a PTY or LISTENER
 * frame is this process's to take. */
static bool ctl_read(alcove_t *ap, child_t *c)
{
    abuf_t *b = &c->ctl_in;
    size_t want = frame_want(b, 64 * 1024);
    if (abuf_reserve(b, want) < 0)
        die(DIE_NOMEM, "out of memory");

    bool fds = false;
    ssize_t n = ctl_recv(c, abuf_tail(b), want, &fds);
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
        if (fr == FRAME_OK && len == UP_HDR && body[0] == MSG_LISTENER) {
            notify_adopt(ap, c);
            rv = 0;
        } else if (fr == FRAME_OK && len > 0 && body[0] == MSG_REPLY)
            rv =
                abuf_append(&ap->up.obuf.b, body - FRAME_LEN, FRAME_LEN + len);
        else if (fr == FRAME_OK && len == 1 && body[0] == MSG_PTY)
            rv = pty_take(ap, c);
        else if (fr == FRAME_OK)
            rv = up_push(&ap->up.obuf.b, (uint32_t)c->pid, body, len);
        if (rv < 0) {
            /* a child that speaks nonsense is cut off, not obeyed */
            kill(c->pid, SIGKILL);
            ctl_closed(ap, c);
            return false;
        }
        abuf_consume(b, FRAME_LEN + len);
    }
    obuf_mark(ap, &ap->up.obuf);
    abuf_trim(b, KEEP_CHILD);
    return (size_t)n == want || c->ctl.hup || fds;
}

static bool stdio_read(alcove_t *ap, child_t *c, fdref_t *r)
{
    /* left readable: setcpid/5 will queue it; a dead child's output is
     * read whatever its flow control, or its exit would never come */
    if (c->flowcontrol == 0 && !c->exited)
        return false;
    /* its bytes are on their way upstream: read again once they are */
    if (ap->up.splice.src == r || stdio_splice(ap, c, r))
        return false;

    char *p = up_begin(&ap->up.obuf.b, READ_CHUNK);
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
    up_commit(&ap->up.obuf.b, r->kind == FD_STDOUT ? MSG_STDOUT : MSG_STDERR,
              (uint32_t)c->pid, (size_t)n);
    r->big = n >= SPLICE_MIN;
    /* a full default pipe: this child streams its output */
    if (r->kind == FD_STDOUT && n >= 65536)
        (void)pipe_grow(ap, r->fd, &c->out_grown);
    obuf_mark(ap, &ap->up.obuf);
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
    if (r->kind == FD_NOTIFY) {
        if (notify_read(ap, c))
            rq_push(ap, r);
        else
            r->readable = false;
        return;
    }
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

void child_read_ctl(alcove_t *ap, child_t *c)
{
    rq_drop(ap, &c->ctl);
    while (c->ctl.fd >= 0 && ctl_read(ap, c))
        ;
}

void child_drain(alcove_t *ap, child_t *c)
{
    fdref_t *refs[] = {&c->ctl, &c->out, &c->err};
    for (size_t i = 0; i < 3; i++) {
        fdref_t *r = refs[i];
        rq_drop(ap, r);
        bool more = true;
        while (more && r->fd >= 0)
            more = r->kind == FD_CTL ? ctl_read(ap, c) : stdio_read(ap, c, r);
        if (r->fd >= 0 && r->kind == FD_CTL)
            ctl_closed(ap, c);
    }
}
