/* SPDX-License-Identifier: ISC */
/* File descriptors and Sockets of the call table: opening, reading,
 * writing, duplicating and closing descriptors, sockets. Dispatch
 * refuses the loop's own descriptors and notes the new ones (the
 * table's flags). */
#include "calls/calls.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "wire/cstruct.h"

/* A read larger than this is refused: the reply would not fit a frame. */
#define READ_MAX (64 * 1024 * 1024)

int alcove_sys_close(alcove_t *ap, const alcove_args_t *args, build_t *b)
{
    (void)ap;
    if (close(args->close.fd) < 0 && errno != EINTR)
        return reply_errno(b, errno);
    return reply_ok(b);
}

int alcove_sys_open(alcove_t *ap, const alcove_args_t *args, build_t *b)
{
    (void)ap;
    const args_open_t *a = &args->open;
    const char *path = arg_str(&a->path);
    if (path == NULL)
        return reply_errno(b, EINVAL);
    int fd;
    do
        fd = open(path, (int)a->flags, (mode_t)a->mode);
    while (fd < 0 && errno == EINTR);
    if (fd < 0)
        return reply_errno(b, errno);
    return reply_ok_int(b, fd);
}

int alcove_sys_dup(alcove_t *ap, const alcove_args_t *args, build_t *b)
{
    (void)ap;
    int fd = dup(args->dup.fd);
    if (fd < 0)
        return reply_errno(b, errno);
    return reply_ok_int(b, fd);
}

int alcove_sys_read(alcove_t *ap, const alcove_args_t *args, build_t *b)
{
    (void)ap;
    const args_read_t *a = &args->read;
    if (a->count < 0 || a->count > READ_MAX)
        return reply_errno(b, EINVAL);

    char *buf = malloc(a->count > 0 ? (size_t)a->count : 1);
    if (buf == NULL)
        return reply_errno(b, ENOMEM);
    ssize_t n;
    do
        n = read(a->fd, buf, (size_t)a->count);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        put_error(b, errno);
    else
        put_ok_binary(b, buf, (size_t)n);
    free(buf);
    return CALL_REPLY;
}

int alcove_sys_write(alcove_t *ap, const alcove_args_t *args, build_t *b)
{
    (void)ap;
    const args_write_t *a = &args->write;
    ssize_t n;
    do
        n = write(a->fd, a->buf.s, a->buf.n);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return reply_errno(b, errno);
    return reply_ok_int(b, n);
}

int alcove_sys_lseek(alcove_t *ap, const alcove_args_t *args, build_t *b)
{
    (void)ap;
    const args_lseek_t *a = &args->lseek;
    if ((off_t)a->offset != a->offset) /* a 32-bit off_t */
        return reply_errno(b, EINVAL);
    if (lseek(a->fd, (off_t)a->offset, a->whence) < 0)
        return reply_errno(b, errno);
    return reply_ok(b);
}

/* The commands whose third argument is an integer. Those taking a
 * pointer (locks, owner structures, hints) would let the caller make the
 * kernel read or write any address of the process. */
static bool fcntl_int_cmd(int64_t cmd)
{
    static const int cmds[] = {
        F_DUPFD,         F_GETFD,      F_SETFD,  F_GETFL,
        F_SETFL,         F_GETOWN,     F_SETOWN,
#ifdef F_DUPFD_CLOEXEC
        F_DUPFD_CLOEXEC,
#endif
#ifdef F_GETSIG
        F_GETSIG,        F_SETSIG,
#endif
#ifdef F_GETLEASE
        F_GETLEASE,      F_SETLEASE,
#endif
#ifdef F_NOTIFY
        F_NOTIFY,
#endif
#ifdef F_GETPIPE_SZ
        F_GETPIPE_SZ,    F_SETPIPE_SZ,
#endif
#ifdef F_ADD_SEALS
        F_ADD_SEALS,     F_GET_SEALS,
#endif
    };
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
        if (cmds[i] == cmd)
            return true;
    return false;
}

int alcove_sys_fcntl(alcove_t *ap, const alcove_args_t *args, build_t *b)
{
    (void)ap;
    const args_fcntl_t *a = &args->fcntl;
    if (!fcntl_int_cmd(a->cmd))
        return reply_errno(b, EINVAL);
    int rv = fcntl(a->fd, (int)a->cmd, (long)a->arg);
    if (rv < 0)
        return reply_errno(b, errno);
    return reply_ok_int(b, rv);
}

/* Fill set from the fds in a; *nfds grows past the highest. */
static void fdset_from(const arg_ints_t *a, fd_set *set, int *nfds)
{
    FD_ZERO(set);
    for (size_t i = 0; i < a->n; i++) {
        FD_SET((int)a->v[i], set);
        if (a->v[i] >= *nfds)
            *nfds = (int)a->v[i] + 1;
    }
}

/* Every fd of a must be open: Linux ignores, and hands back as they
 * were, the bits of the sets past the end of its descriptor table.
 * Returns 0 or an errno value. */
static int fds_check(const arg_ints_t *a)
{
    for (size_t i = 0; i < a->n; i++) {
        if (a->v[i] < 0 || a->v[i] >= FD_SETSIZE)
            return EINVAL;
        if (fcntl((int)a->v[i], F_GETFD) < 0)
            return EBADF;
    }
    return 0;
}

static void put_fdset(build_t *b, const fd_set *set, int nfds)
{
    for (int fd = 0; fd < nfds; fd++) {
        if (FD_ISSET(fd, set)) {
            put_list(b, 1);
            put_int(b, fd);
        }
    }
    put_nil(b);
}

static int64_t now_us(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* select(2), restarted after a signal with what is left of the timeout
 * (deadline_us < 0: none). The sets are rebuilt on every try. */
static int select_until(const arg_ints_t *const fds[3], fd_set set[3],
                        int64_t deadline_us)
{
    for (;;) {
        int nfds = 0;
        for (int i = 0; i < 3; i++)
            fdset_from(fds[i], &set[i], &nfds);
        struct timeval tv, *tvp = NULL;
        if (deadline_us >= 0) {
            int64_t left = deadline_us - now_us();
            if (left < 0)
                left = 0;
            tv = (struct timeval){.tv_sec = (time_t)(left / 1000000),
                                  .tv_usec = (suseconds_t)(left % 1000000)};
            tvp = &tv;
        }
        int n = select(nfds, &set[0], &set[1], &set[2], tvp);
        if (n >= 0 || errno != EINTR)
            return n < 0 ? -1 : nfds;
    }
}

/* A timeout past this is for ever, as far as a reply is concerned: it
 * keeps the deadline arithmetic far from overflow. */
#define SELECT_MAX_SEC ((int64_t)100 * 365 * 24 * 3600)

int alcove_sys_select(alcove_t *ap, const alcove_args_t *args, build_t *b)
{
    (void)ap;
    const args_select_t *a = &args->select;
    const arg_ints_t *const fds[3] = {&a->readfds, &a->writefds,
                                      &a->exceptfds};
    for (int i = 0; i < 3; i++) {
        int err = fds_check(fds[i]);
        if (err != 0)
            return reply_errno(b, err);
    }

    int64_t deadline_us = -1;
    if (a->timeout.set) {
        int64_t sec = a->timeout.sec, usec = a->timeout.usec;
        if (sec < 0 || usec < 0 || usec > 999999)
            return reply_errno(b, EINVAL);
        if (sec <= SELECT_MAX_SEC)
            deadline_us = now_us() + sec * 1000000 + usec;
    }

    fd_set set[3];
    int nfds = select_until(fds, set, deadline_us);
    if (nfds < 0)
        return reply_errno(b, errno);
    put_tuple(b, 4);
    put_ok(b);
    for (int i = 0; i < 3; i++)
        put_fdset(b, &set[i], nfds);
    return CALL_REPLY;
}

int alcove_sys_socket(alcove_t *ap, const alcove_args_t *args, build_t *b)
{
    (void)ap;
    const args_socket_t *a = &args->socket;
    int fd = socket((int)a->domain, (int)a->type, a->protocol);
    if (fd < 0)
        return reply_errno(b, errno);
    return reply_ok_int(b, fd);
}

/* A connect(2) interrupted by a signal goes on in the background (a
 * second connect would say EALREADY): wait for it and take its result. */
static int connect_finish(int fd)
{
    struct pollfd pfd = {.fd = fd, .events = POLLOUT};
    int n;
    do
        n = poll(&pfd, 1, -1);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return -1;
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        return -1;
    errno = err;
    return err == 0 ? 0 : -1;
}

int alcove_sys_connect(alcove_t *ap, const alcove_args_t *args, build_t *b)
{
    (void)ap;
    const args_connect_t *a = &args->connect;
    const struct cstruct *cs = a->sockaddr;
    if (cs->len > sizeof(struct sockaddr_storage))
        return reply_errno(b, EINVAL);
    /* [] or <<>>: no address */
    const struct sockaddr *sa =
        cs->len == 0 ? NULL : (const struct sockaddr *)cstruct_value(cs);
    int rv = connect(a->fd, sa, (socklen_t)cs->len);
    if (rv < 0 && errno == EINTR)
        rv = connect_finish(a->fd);
    return reply_rv(b, rv);
}
