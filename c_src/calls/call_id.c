/* SPDX-License-Identifier: ISC */
/* Calls on the identity of a process: user and group IDs, supplementary
 * groups, resource limits, priorities, process groups, sessions and the
 * host name. */
#include "calls/calls.h"

#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "wire/codec.h"

int alcove_sys_getuid(alcove_t *ap, const alcove_arg_t *arg, ei_x_buff *x)
{
    (void)ap;
    (void)arg;
    return reply_int(x, getuid());
}

int alcove_sys_getgid(alcove_t *ap, const alcove_arg_t *arg, ei_x_buff *x)
{
    (void)ap;
    (void)arg;
    return reply_int(x, getgid());
}

int alcove_sys_setuid(alcove_t *ap, const alcove_arg_t *arg, ei_x_buff *x)
{
    if (setuid((uid_t)arg[0].i) < 0)
        return reply_errno(x, errno);
    pdeathsig_arm(ap);
    return reply_ok(x);
}

int alcove_sys_setgid(alcove_t *ap, const alcove_arg_t *arg, ei_x_buff *x)
{
    if (setgid((gid_t)arg[0].i) < 0)
        return reply_errno(x, errno);
    pdeathsig_arm(ap);
    return reply_ok(x);
}

#if defined(__linux__) || defined(__FreeBSD__) || defined(__OpenBSD__)
/* {ok, Real, Effective, Saved} */
static int reply_ids(ei_x_buff *x, int64_t r, int64_t e, int64_t s)
{
    if (ei_x_encode_tuple_header(x, 4) < 0 || enc_ok(x) < 0 ||
        enc_int(x, r) < 0 || enc_int(x, e) < 0 || enc_int(x, s) < 0)
        return CALL_BADARG;
    return CALL_REPLY;
}

int alcove_sys_getresuid(alcove_t *ap, const alcove_arg_t *arg, ei_x_buff *x)
{
    (void)ap;
    (void)arg;
    uid_t r, e, s;
    if (getresuid(&r, &e, &s) < 0)
        return reply_errno(x, errno);
    return reply_ids(x, r, e, s);
}

int alcove_sys_getresgid(alcove_t *ap, const alcove_arg_t *arg, ei_x_buff *x)
{
    (void)ap;
    (void)arg;
    gid_t r, e, s;
    if (getresgid(&r, &e, &s) < 0)
        return reply_errno(x, errno);
    return reply_ids(x, r, e, s);
}

int alcove_sys_setresuid(alcove_t *ap, const alcove_arg_t *arg, ei_x_buff *x)
{
    if (setresuid((uid_t)arg[0].i, (uid_t)arg[1].i, (uid_t)arg[2].i) < 0)
        return reply_errno(x, errno);
    pdeathsig_arm(ap);
    return reply_ok(x);
}

int alcove_sys_setresgid(alcove_t *ap, const alcove_arg_t *arg, ei_x_buff *x)
{
    if (setresgid((gid_t)arg[0].i, (gid_t)arg[1].i, (gid_t)arg[2].i) < 0)
        return reply_errno(x, errno);
    pdeathsig_arm(ap);
    return reply_ok(x);
}
#endif

static int enc_groups(ei_x_buff *x, const gid_t *gids, int n)
{
    if (ei_x_encode_tuple_header(x, 2) < 0 || enc_ok(x) < 0)
        return CALL_BADARG;
    for (int i = 0; i < n; i++) {
        if (ei_x_encode_list_header(x, 1) < 0 || enc_int(x, gids[i]) < 0)
            return CALL_BADARG;
    }
    return ei_x_encode_empty_list(x) < 0 ? CALL_BADARG : CALL_REPLY;
}

int alcove_sys_getgroups(alcove_t *ap, const alcove_arg_t *arg, ei_x_buff *x)
{
    (void)ap;
    (void)arg;
    int n = getgroups(0, NULL);
    if (n < 0)
        return reply_errno(x, errno);
    gid_t *gids = calloc((size_t)n + 1, sizeof(gid_t));
    if (gids == NULL)
        return reply_errno(x, ENOMEM);
    /* the process is single threaded: the count cannot change between
     * the two calls */
    n = getgroups(n, gids);
    int rv = n < 0 ? reply_errno(x, errno) : enc_groups(x, gids, n);
    free(gids);
    return rv;
}

int alcove_sys_setgroups(alcove_t *ap, const alcove_arg_t *arg, ei_x_buff *x)
{
    (void)ap;
    size_t n = arg[0].n;
    if (n > NGROUPS_MAX)
        return reply_errno(x, EINVAL);
    gid_t *gids = calloc(n + 1, sizeof(gid_t));
    if (gids == NULL)
        return reply_errno(x, ENOMEM);
    for (size_t i = 0; i < n; i++)
        gids[i] = (gid_t)arg[0].ints[i];
    int rv = setgroups(n, gids) < 0 ? reply_errno(x, errno) : reply_ok(x);
    free(gids);
    return rv;
}

int alcove_sys_getrlimit(alcove_t *ap, const alcove_arg_t *arg, ei_x_buff *x)
{
    (void)ap;
    struct rlimit rl;
    if (getrlimit((int)arg[0].i, &rl) < 0)
        return reply_errno(x, errno);
    /* {ok, #alcove_rlimit{cur, max}}: RLIM_INFINITY is the largest rlim_t */
    if (ei_x_encode_tuple_header(x, 2) < 0 || enc_ok(x) < 0 ||
        ei_x_encode_tuple_header(x, 3) < 0 ||
        enc_atom(x, "alcove_rlimit") < 0 ||
        ei_x_encode_ulonglong(x, (unsigned long long)rl.rlim_cur) < 0 ||
        ei_x_encode_ulonglong(x, (unsigned long long)rl.rlim_max) < 0)
        return CALL_BADARG;
    return CALL_REPLY;
}

int alcove_sys_setrlimit(alcove_t *ap, const alcove_arg_t *arg, ei_x_buff *x)
{
    struct rlimit rl = {.rlim_cur = (rlim_t)arg[1].u,
                        .rlim_max = (rlim_t)arg[1].u2};
    /* a value rlim_t cannot hold must not wrap into a smaller limit */
    if ((uint64_t)rl.rlim_cur != arg[1].u ||
        (uint64_t)rl.rlim_max != arg[1].u2)
        return reply_errno(x, EINVAL);
    if (setrlimit((int)arg[0].i, &rl) < 0)
        return reply_errno(x, errno);
    /* fewer descriptors, fewer children: a fork past them would fail with
     * emfile halfway, this way it is refused (eagain); a lower maxchild
     * set by the user is kept */
    if (arg[0].i == RLIMIT_NOFILE) {
        int32_t n = maxchild_of(
            rl.rlim_cur == RLIM_INFINITY ? UINT64_MAX : (uint64_t)rl.rlim_cur);
        if (n < ap->opt.maxchild)
            ap->opt.maxchild = n;
    }
    return reply_ok(x);
}

/* Each child takes four descriptors in its parent, and the loop a few. */
int32_t maxchild_of(uint64_t nofile)
{
    if (nofile > 1 << 28)
        return 1 << 24;
    return nofile < 16 ? 0 : (int32_t)(nofile / 4) - 4;
}

int alcove_sys_getpriority(alcove_t *ap, const alcove_arg_t *arg, ei_x_buff *x)
{
    (void)ap;
    /* -1 is a valid priority: only errno tells a failure */
    errno = 0;
    int prio = getpriority((int)arg[0].i, (id_t)arg[1].i);
    if (prio == -1 && errno != 0)
        return reply_errno(x, errno);
    return reply_ok_int(x, prio);
}

int alcove_sys_setpriority(alcove_t *ap, const alcove_arg_t *arg, ei_x_buff *x)
{
    (void)ap;
    if (setpriority((int)arg[0].i, (id_t)arg[1].i, (int)arg[2].i) < 0)
        return reply_errno(x, errno);
    return reply_ok(x);
}

int alcove_sys_getpgrp(alcove_t *ap, const alcove_arg_t *arg, ei_x_buff *x)
{
    (void)ap;
    (void)arg;
    return reply_int(x, getpgrp());
}

int alcove_sys_setpgid(alcove_t *ap, const alcove_arg_t *arg, ei_x_buff *x)
{
    (void)ap;
    if (setpgid((pid_t)arg[0].i, (pid_t)arg[1].i) < 0)
        return reply_errno(x, errno);
    return reply_ok(x);
}

int alcove_sys_getsid(alcove_t *ap, const alcove_arg_t *arg, ei_x_buff *x)
{
    (void)ap;
    pid_t sid = getsid((pid_t)arg[0].i);
    if (sid < 0)
        return reply_errno(x, errno);
    return reply_ok_int(x, sid);
}

int alcove_sys_setsid(alcove_t *ap, const alcove_arg_t *arg, ei_x_buff *x)
{
    (void)ap;
    (void)arg;
    pid_t sid = setsid();
    if (sid < 0)
        return reply_errno(x, errno);
    return reply_ok_int(x, sid);
}

/* Room for any host name: POSIX allows 255 bytes (HOST_NAME_MAX is 64 on
 * Linux, but not defined everywhere). */
#define HOSTNAME_MAX 256

int alcove_sys_gethostname(alcove_t *ap, const alcove_arg_t *arg, ei_x_buff *x)
{
    (void)ap;
    (void)arg;
    char name[HOSTNAME_MAX + 1] = {0};
    if (gethostname(name, HOSTNAME_MAX) < 0)
        return reply_errno(x, errno);
    /* a truncated name may lack its NUL: the last byte stays 0 */
    if (ei_x_encode_tuple_header(x, 2) < 0 || enc_ok(x) < 0 ||
        enc_binary(x, name, strlen(name)) < 0)
        return CALL_BADARG;
    return CALL_REPLY;
}

int alcove_sys_sethostname(alcove_t *ap, const alcove_arg_t *arg, ei_x_buff *x)
{
    (void)ap;
    const char *name = arg_str(&arg[0]);
    /* the kernel refuses a name past HOST_NAME_MAX with einval; the BSDs
     * take the length as an int */
    if (name == NULL || arg[0].n > INT_MAX)
        return reply_errno(x, EINVAL);
    if (sethostname(name, arg[0].n) < 0)
        return reply_errno(x, errno);
    return reply_ok(x);
}
