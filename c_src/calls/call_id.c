/* SPDX-License-Identifier: ISC */
/* Identity, and Limits, priorities, sessions, of the call table: user
 * and group IDs, supplementary groups, resource limits, priorities,
 * process groups, sessions and the host name. Dispatch re-arms the
 * parent death signal after a change of credentials (the creds flag). */
#include "calls/calls.h"

#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

int alcove_sys_getuid(alcove_t *ap, const alcove_args_t *args, build_t *b)
{
    (void)ap;
    (void)args;
    return reply_int(b, getuid());
}

int alcove_sys_getgid(alcove_t *ap, const alcove_args_t *args, build_t *b)
{
    (void)ap;
    (void)args;
    return reply_int(b, getgid());
}

int alcove_sys_setuid(alcove_t *ap, const alcove_args_t *args, build_t *b)
{
    (void)ap;
    return reply_rv(b, setuid((uid_t)args->setuid.uid));
}

int alcove_sys_setgid(alcove_t *ap, const alcove_args_t *args, build_t *b)
{
    (void)ap;
    return reply_rv(b, setgid((gid_t)args->setgid.gid));
}

#if CALL_getresuid
/* {ok, Real, Effective, Saved} */
static int reply_ids(build_t *b, int64_t r, int64_t e, int64_t s)
{
    put_tuple(b, 4);
    put_ok(b);
    put_int(b, r);
    put_int(b, e);
    put_int(b, s);
    return CALL_REPLY;
}

int alcove_sys_getresuid(alcove_t *ap, const alcove_args_t *args, build_t *b)
{
    (void)ap;
    (void)args;
    uid_t r, e, s;
    if (getresuid(&r, &e, &s) < 0)
        return reply_errno(b, errno);
    return reply_ids(b, r, e, s);
}

int alcove_sys_getresgid(alcove_t *ap, const alcove_args_t *args, build_t *b)
{
    (void)ap;
    (void)args;
    gid_t r, e, s;
    if (getresgid(&r, &e, &s) < 0)
        return reply_errno(b, errno);
    return reply_ids(b, r, e, s);
}

int alcove_sys_setresuid(alcove_t *ap, const alcove_args_t *args, build_t *b)
{
    (void)ap;
    const args_setresuid_t *a = &args->setresuid;
    return reply_rv(b, setresuid(a->ruid, a->euid, a->suid));
}

int alcove_sys_setresgid(alcove_t *ap, const alcove_args_t *args, build_t *b)
{
    (void)ap;
    const args_setresgid_t *a = &args->setresgid;
    return reply_rv(b, setresgid(a->rgid, a->egid, a->sgid));
}
#endif

static int reply_groups(build_t *b, const gid_t *gids, int n)
{
    put_tuple(b, 2);
    put_ok(b);
    for (int i = 0; i < n; i++) {
        put_list(b, 1);
        put_int(b, gids[i]);
    }
    put_nil(b);
    return CALL_REPLY;
}

int alcove_sys_getgroups(alcove_t *ap, const alcove_args_t *args, build_t *b)
{
    (void)ap;
    (void)args;
    int n = getgroups(0, NULL);
    if (n < 0)
        return reply_errno(b, errno);
    gid_t *gids = calloc((size_t)n + 1, sizeof(gid_t));
    if (gids == NULL)
        return reply_errno(b, ENOMEM);
    /* the process is single threaded: the count cannot change between
     * the two calls */
    n = getgroups(n, gids);
    int rv = n < 0 ? reply_errno(b, errno) : reply_groups(b, gids, n);
    free(gids);
    return rv;
}

int alcove_sys_setgroups(alcove_t *ap, const alcove_args_t *args, build_t *b)
{
    (void)ap;
    const arg_ints_t *groups = &args->setgroups.groups;
    size_t n = groups->n;
    if (n > NGROUPS_MAX)
        return reply_errno(b, EINVAL);
    gid_t *gids = calloc(n + 1, sizeof(gid_t));
    if (gids == NULL)
        return reply_errno(b, ENOMEM);
    for (size_t i = 0; i < n; i++)
        gids[i] = (gid_t)groups->v[i];
    int rv = reply_rv(b, setgroups(n, gids));
    free(gids);
    return rv;
}

int alcove_sys_getrlimit(alcove_t *ap, const alcove_args_t *args, build_t *b)
{
    (void)ap;
    struct rlimit rl;
    if (getrlimit((int)args->getrlimit.resource, &rl) < 0)
        return reply_errno(b, errno);
    /* {ok, #alcove_rlimit{cur, max}}: RLIM_INFINITY is the largest rlim_t */
    put_tuple(b, 2);
    put_ok(b);
    put_tuple(b, 3);
    put_atom(b, "alcove_rlimit");
    put_uint(b, (uint64_t)rl.rlim_cur);
    put_uint(b, (uint64_t)rl.rlim_max);
    return CALL_REPLY;
}

int alcove_sys_setrlimit(alcove_t *ap, const alcove_args_t *args, build_t *b)
{
    const args_setrlimit_t *a = &args->setrlimit;
    struct rlimit rl = {.rlim_cur = (rlim_t)a->limit.cur,
                        .rlim_max = (rlim_t)a->limit.max};
    /* a value rlim_t cannot hold must not wrap into a smaller limit */
    if ((uint64_t)rl.rlim_cur != a->limit.cur ||
        (uint64_t)rl.rlim_max != a->limit.max)
        return reply_errno(b, EINVAL);
    if (setrlimit((int)a->resource, &rl) < 0)
        return reply_errno(b, errno);
    /* fewer descriptors, fewer children: a fork past them would fail with
     * emfile halfway, this way it is refused (eagain); a lower maxchild
     * set by the user is kept */
    if (a->resource == RLIMIT_NOFILE) {
        int32_t n = maxchild_of(
            rl.rlim_cur == RLIM_INFINITY ? UINT64_MAX : (uint64_t)rl.rlim_cur);
        if (n < ap->opt.maxchild)
            ap->opt.maxchild = n;
    }
    return reply_ok(b);
}

/* Each child takes four descriptors in its parent, and the loop a few. */
int32_t maxchild_of(uint64_t nofile)
{
    if (nofile > 1 << 28)
        return 1 << 24;
    return nofile < 16 ? 0 : (int32_t)(nofile / 4) - 4;
}

int alcove_sys_getpriority(alcove_t *ap, const alcove_args_t *args, build_t *b)
{
    (void)ap;
    /* -1 is a valid priority: only errno tells a failure */
    errno = 0;
    int prio =
        getpriority((int)args->getpriority.which, (id_t)args->getpriority.who);
    if (prio == -1 && errno != 0)
        return reply_errno(b, errno);
    return reply_ok_int(b, prio);
}

int alcove_sys_setpriority(alcove_t *ap, const alcove_args_t *args, build_t *b)
{
    (void)ap;
    const args_setpriority_t *a = &args->setpriority;
    return reply_rv(b, setpriority((int)a->which, (id_t)a->who, a->prio));
}

int alcove_sys_getpgrp(alcove_t *ap, const alcove_args_t *args, build_t *b)
{
    (void)ap;
    (void)args;
    return reply_int(b, getpgrp());
}

int alcove_sys_setpgid(alcove_t *ap, const alcove_args_t *args, build_t *b)
{
    (void)ap;
    return reply_rv(b, setpgid(args->setpgid.pid, args->setpgid.pgid));
}

int alcove_sys_getsid(alcove_t *ap, const alcove_args_t *args, build_t *b)
{
    (void)ap;
    pid_t sid = getsid(args->getsid.pid);
    if (sid < 0)
        return reply_errno(b, errno);
    return reply_ok_int(b, sid);
}

int alcove_sys_setsid(alcove_t *ap, const alcove_args_t *args, build_t *b)
{
    (void)ap;
    (void)args;
    pid_t sid = setsid();
    if (sid < 0)
        return reply_errno(b, errno);
    return reply_ok_int(b, sid);
}

/* Room for any host name: POSIX allows 255 bytes (HOST_NAME_MAX is 64 on
 * Linux, but not defined everywhere). */
#define HOSTNAME_MAX 256

int alcove_sys_gethostname(alcove_t *ap, const alcove_args_t *args, build_t *b)
{
    (void)ap;
    (void)args;
    char name[HOSTNAME_MAX + 1] = {0};
    if (gethostname(name, HOSTNAME_MAX) < 0)
        return reply_errno(b, errno);
    /* a truncated name may lack its NUL: the last byte stays 0 */
    put_ok_binary(b, name, strlen(name));
    return CALL_REPLY;
}

int alcove_sys_sethostname(alcove_t *ap, const alcove_args_t *args, build_t *b)
{
    (void)ap;
    const arg_bytes_t *a = &args->sethostname.name;
    const char *name = arg_str(a);
    /* the kernel refuses a name past HOST_NAME_MAX with einval; the BSDs
     * take the length as an int */
    if (name == NULL || a->n > INT_MAX)
        return reply_errno(b, EINVAL);
    return reply_rv(b, sethostname(name, a->n));
}
