/* SPDX-License-Identifier: ISC */
/* Calls on files, descriptors and directories. */
#include "calls/calls.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "wire/codec.h"

/* Bounds of a readdir reply: it has to fit a frame. */
#define READDIR_MAX_ENTRIES 1000000
#define READDIR_MAX_BYTES (64 * 1024 * 1024)

int alcove_sys_lseek(alcove_t *ap, const alcove_arg_t *arg, ei_x_buff *x)
{
    (void)ap;
    if ((off_t)arg[1].i != arg[1].i) /* a 32-bit off_t */
        return reply_errno(x, EINVAL);
    if (lseek((int)arg[0].i, (off_t)arg[1].i, (int)arg[2].i) < 0)
        return reply_errno(x, errno);
    return reply_ok(x);
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

int alcove_sys_fcntl(alcove_t *ap, const alcove_arg_t *arg, ei_x_buff *x)
{
    if (fd_internal(ap, arg[0].i))
        return reply_errno(x, EBADF);
    if (!fcntl_int_cmd(arg[1].i))
        return reply_errno(x, EINVAL);
    int rv = fcntl((int)arg[0].i, (int)arg[1].i, (long)arg[2].i);
    if (rv < 0)
        return reply_errno(x, errno);
    if (arg[1].i == F_DUPFD || arg[1].i == F_DUPFD_CLOEXEC)
        fd_note(ap, rv);
    return reply_ok_int(x, rv);
}

/* Fill set from the fds in a; *nfds grows past the highest. */
static void fdset_from(const alcove_arg_t *a, fd_set *set, int *nfds)
{
    FD_ZERO(set);
    for (size_t i = 0; i < a->n; i++) {
        FD_SET((int)a->ints[i], set);
        if (a->ints[i] >= *nfds)
            *nfds = (int)a->ints[i] + 1;
    }
}

/* Every fd of a must be open: Linux ignores, and hands back as they
 * were, the bits of the sets past the end of its descriptor table.
 * Returns 0 or an errno value. */
static int fds_check(const alcove_arg_t *a)
{
    for (size_t i = 0; i < a->n; i++) {
        if (a->ints[i] < 0 || a->ints[i] >= FD_SETSIZE)
            return EINVAL;
        if (fcntl((int)a->ints[i], F_GETFD) < 0)
            return EBADF;
    }
    return 0;
}

static int enc_fdset(ei_x_buff *x, const fd_set *set, int nfds)
{
    int rv = 0;
    for (int fd = 0; fd < nfds; fd++)
        if (FD_ISSET(fd, set))
            rv |= ei_x_encode_list_header(x, 1) | enc_int(x, fd);
    return rv | ei_x_encode_empty_list(x);
}

static int64_t now_us(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* select(2), restarted after a signal with what is left of the timeout
 * (deadline_us < 0: none). The sets are rebuilt on every try. */
static int select_until(const alcove_arg_t *arg, fd_set set[3],
                        int64_t deadline_us)
{
    for (;;) {
        int nfds = 0;
        for (int i = 0; i < 3; i++)
            fdset_from(&arg[i], &set[i], &nfds);
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

int alcove_sys_select(alcove_t *ap, const alcove_arg_t *arg, ei_x_buff *x)
{
    (void)ap;
    for (int i = 0; i < 3; i++) {
        int err = fds_check(&arg[i]);
        if (err != 0)
            return reply_errno(x, err);
    }

    int64_t deadline_us = -1;
    if (arg[3].n != 0) {
        int64_t sec = arg[3].i, usec = arg[3].i2;
        if (sec < 0 || usec < 0 || usec > 999999)
            return reply_errno(x, EINVAL);
        if (sec <= SELECT_MAX_SEC)
            deadline_us = now_us() + sec * 1000000 + usec;
    }

    fd_set set[3];
    int nfds = select_until(arg, set, deadline_us);
    if (nfds < 0)
        return reply_errno(x, errno);
    int rv = ei_x_encode_tuple_header(x, 4) | enc_ok(x);
    for (int i = 0; i < 3; i++)
        rv |= enc_fdset(x, &set[i], nfds);
    return rv < 0 ? CALL_BADARG : CALL_REPLY;
}

static int reply_rv(ei_x_buff *x, int rv)
{
    return rv < 0 ? reply_errno(x, errno) : reply_ok(x);
}

/* The calls on paths: a path holding a NUL byte is einval. */
static int path1(ei_x_buff *x, const alcove_arg_t *arg,
                 int (*fn)(const char *))
{
    const char *path = arg_str(&arg[0]);
    return path == NULL ? reply_errno(x, EINVAL) : reply_rv(x, fn(path));
}

static int path_mode(ei_x_buff *x, const alcove_arg_t *arg,
                     int (*fn)(const char *, mode_t))
{
    const char *path = arg_str(&arg[0]);
    return path == NULL ? reply_errno(x, EINVAL)
                        : reply_rv(x, fn(path, (mode_t)arg[1].i));
}

static int path2(ei_x_buff *x, const alcove_arg_t *arg,
                 int (*fn)(const char *, const char *))
{
    const char *from = arg_str(&arg[0]), *to = arg_str(&arg[1]);
    return from == NULL || to == NULL ? reply_errno(x, EINVAL)
                                      : reply_rv(x, fn(from, to));
}

int alcove_sys_chdir(alcove_t *ap, const alcove_arg_t *arg, ei_x_buff *x)
{
    (void)ap;
    return path1(x, arg, chdir);
}

int alcove_sys_chmod(alcove_t *ap, const alcove_arg_t *arg, ei_x_buff *x)
{
    (void)ap;
    return path_mode(x, arg, chmod);
}

int alcove_sys_chown(alcove_t *ap, const alcove_arg_t *arg, ei_x_buff *x)
{
    (void)ap;
    const char *path = arg_str(&arg[0]);
    if (path == NULL)
        return reply_errno(x, EINVAL);
    return reply_rv(x, chown(path, (uid_t)arg[1].i, (gid_t)arg[2].i));
}

int alcove_sys_chroot(alcove_t *ap, const alcove_arg_t *arg, ei_x_buff *x)
{
    (void)ap;
    return path1(x, arg, chroot);
}

int alcove_sys_getcwd(alcove_t *ap, const alcove_arg_t *arg, ei_x_buff *x)
{
    (void)ap;
    (void)arg;
    /* NULL, 0: sized by libc (glibc, musl and the BSDs), however long */
    char *cwd = getcwd(NULL, 0);
    if (cwd == NULL)
        return reply_errno(x, errno);
    int rv = ei_x_encode_tuple_header(x, 2) | enc_ok(x) |
             enc_binary(x, cwd, strlen(cwd));
    free(cwd);
    return rv < 0 ? CALL_BADARG : CALL_REPLY;
}

int alcove_sys_link(alcove_t *ap, const alcove_arg_t *arg, ei_x_buff *x)
{
    (void)ap;
    return path2(x, arg, link);
}

int alcove_sys_symlink(alcove_t *ap, const alcove_arg_t *arg, ei_x_buff *x)
{
    (void)ap;
    return path2(x, arg, symlink);
}

int alcove_sys_unlink(alcove_t *ap, const alcove_arg_t *arg, ei_x_buff *x)
{
    (void)ap;
    return path1(x, arg, unlink);
}

int alcove_sys_mkdir(alcove_t *ap, const alcove_arg_t *arg, ei_x_buff *x)
{
    (void)ap;
    return path_mode(x, arg, mkdir);
}

int alcove_sys_mkfifo(alcove_t *ap, const alcove_arg_t *arg, ei_x_buff *x)
{
    (void)ap;
    return path_mode(x, arg, mkfifo);
}

int alcove_sys_rmdir(alcove_t *ap, const alcove_arg_t *arg, ei_x_buff *x)
{
    (void)ap;
    return path1(x, arg, rmdir);
}

/* Encode the names of dir as a list, one cons cell at a time as the
 * count is not known up front. Returns 0, or an errno value. */
static int enc_names(ei_x_buff *x, DIR *dir)
{
    size_t count = 0, bytes = 0;
    for (;;) {
        errno = 0;
        struct dirent *de = readdir(dir);
        if (de == NULL)
            break;
        size_t len = strlen(de->d_name);
        if (++count > READDIR_MAX_ENTRIES ||
            (bytes += len + 16) > READDIR_MAX_BYTES)
            return ENOMEM;
        int rv =
            ei_x_encode_list_header(x, 1) | enc_binary(x, de->d_name, len);
        if (rv < 0)
            return ENOMEM;
    }
    if (errno != 0)
        return errno;
    return ei_x_encode_empty_list(x) < 0 ? ENOMEM : 0;
}

int alcove_sys_readdir(alcove_t *ap, const alcove_arg_t *arg, ei_x_buff *x)
{
    (void)ap;
    const char *path = arg_str(&arg[0]);
    if (path == NULL)
        return reply_errno(x, EINVAL);
    DIR *dir = opendir(path);
    if (dir == NULL)
        return reply_errno(x, errno);
    int start = x->index;
    int err = (ei_x_encode_tuple_header(x, 2) | enc_ok(x)) < 0
                  ? ENOMEM
                  : enc_names(x, dir);
    (void)closedir(dir);
    if (err == 0)
        return CALL_REPLY;
    x->index = start; /* drop the names encoded so far */
    return reply_errno(x, err);
}
