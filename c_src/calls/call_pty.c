/* SPDX-License-Identifier: ISC */
/*
 * Terminals of the call table: a process moves its stdio onto a new
 * pseudo-terminal, in a session of its own whose controlling terminal
 * it is, and passes the master up its control socket (a PTY frame,
 * SCM_RIGHTS); its parent makes the master its stdin and stdout
 * (core/child_io.c), and sets the window size through it.
 */
#include "calls/calls.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include "core/spawn.h"

#define WINSIZE_MAX 0xffff

#if CALL_pty
static void fd_close(int *fd)
{
    if (*fd >= 0)
        close(*fd);
}

static int open_retry(const char *path, int flags)
{
    int fd;
    do
        fd = open(path, flags);
    while (fd < 0 && errno == EINTR);
    return fd;
}

/* The slave of master m, opened without a path where the kernel can
 * (TIOCGPTPEER, Linux 4.13): in a new mount namespace /dev/pts may not
 * be the master's. */
static int slave_open(int m)
{
#ifdef TIOCGPTPEER
    int s = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (s >= 0 || (errno != EINVAL && errno != ENOTTY))
        return s;
#endif
    char name[64];
    int rv = ptsname_r(m, name, sizeof(name));
    if (rv != 0) {
        errno = rv;
        return -1;
    }
    return open_retry(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
}

/* The PTY frame, with the master: blocking, as an exec's flush is. */
static int send_master(int sock, int master)
{
    char frame[FRAME_LEN + 1];
    put32(frame, 1);
    frame[FRAME_LEN] = MSG_PTY;
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    memset(&u, 0, sizeof(u));
    size_t off = 0;
    while (off < sizeof(frame)) {
        struct iovec iov = {.iov_base = frame + off,
                            .iov_len = sizeof(frame) - off};
        struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
        if (off == 0) {
            m.msg_control = u.buf;
            m.msg_controllen = sizeof(u.buf);
            struct cmsghdr *h = CMSG_FIRSTHDR(&m);
            h->cmsg_level = SOL_SOCKET;
            h->cmsg_type = SCM_RIGHTS;
            h->cmsg_len = CMSG_LEN(sizeof(int));
            memcpy(CMSG_DATA(h), &master, sizeof(int));
        }
        ssize_t n = sendmsg(sock, &m, MSG_NOSIGNAL);
        if (n > 0) {
            off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            struct pollfd p = {.fd = sock, .events = POLLOUT};
            (void)poll(&p, 1, -1);
            continue;
        }
        return -1;
    }
    return 0;
}

int alcove_sys_pty(alcove_t *ap, const alcove_args_t *args, build_t *b)
{
    const args_pty_t *a = &args->pty;
    if (a->rows > WINSIZE_MAX || a->cols > WINSIZE_MAX)
        return CALL_BADARG;
    /* the port's upstream is the VM's pipes: no descriptor goes there */
    int sock = ap->life.spawned ? spawn_child_ctl
               : ap->depth > 0  ? ap->up.out.fd
                                : -1;
    if (sock < 0)
        return reply_errno(b, ENOTSUP);

    __attribute__((cleanup(fd_close))) int m =
        open_retry("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (m < 0 || unlockpt(m) < 0)
        return reply_errno(b, errno);
    __attribute__((cleanup(fd_close))) int s = slave_open(m);
    if (s < 0)
        return reply_errno(b, errno);
    struct winsize ws = {.ws_row = (unsigned short)a->rows,
                         .ws_col = (unsigned short)a->cols};
    if (ioctl(m, TIOCSWINSZ, &ws) < 0)
        return reply_errno(b, errno);
    /* a session leader already (setsid/2 before) may take a terminal */
    if (setsid() < 0 && getsid(0) != getpid())
        return reply_errno(b, errno);
    if (ioctl(s, TIOCSCTTY, 0) < 0)
        return reply_errno(b, errno);
    /* the PTY frame must not cut into a frame half written upstream */
    if (!ap->life.spawned && flush_blocking(ap, &ap->up.obuf) < 0)
        return reply_errno(b, EPIPE);
    for (int fd = 0; fd < 3; fd++)
        if (dup2(s, fd) < 0)
            return reply_errno(b, errno);
    if (send_master(sock, m) < 0)
        return reply_errno(b, errno);
    if (ap->life.spawned)
        spawn_child_pty = true;
    return reply_ok(b);
}
#endif

#if CALL_ptysize
int alcove_sys_ptysize(alcove_t *ap, const alcove_args_t *args, build_t *b)
{
    const args_ptysize_t *a = &args->ptysize;
    if (a->rows > WINSIZE_MAX || a->cols > WINSIZE_MAX)
        return CALL_BADARG;
    child_t *c = child_get(ap, a->pid);
    if (c == NULL)
        return reply_errno(b, ESRCH);
    if (!c->pty)
        return reply_errno(b, ENOTTY);
    int fd = c->out.fd >= 0 ? c->out.fd : c->in.fd;
    if (fd < 0)
        return reply_errno(b, EBADF);
    /* the kernel sends SIGWINCH to the terminal's foreground group */
    struct winsize ws = {.ws_row = (unsigned short)a->rows,
                         .ws_col = (unsigned short)a->cols};
    return reply_rv(b, ioctl(fd, TIOCSWINSZ, &ws));
}
#endif
