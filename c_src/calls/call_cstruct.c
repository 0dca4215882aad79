/* SPDX-License-Identifier: ISC */
/* C structures of the call table (see wire/cstruct.h): calls that
 * take C structures or give them back. Each Cstruct argument goes in
 * as cstruct_value() and comes back holding what its memory holds after
 * the call. */
#include "calls/calls.h"

#include <errno.h>
#include <limits.h>
#include <sys/ioctl.h>

#ifdef __linux__
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include "wire/cstruct.h"

#if CALL_prctl || CALL_ptrace
static bool int_range(int64_t v) { return v >= INT_MIN && v <= INT_MAX; }

/* {ok, Result, V1, ..., Vn}: the arguments as their memory holds them;
 * an integer as itself, or (int_empty: ptrace, as in the reference) as
 * <<>>. */
static int reply_cstructs(build_t *b, int64_t result,
                          const struct cstruct *const *cs, int n,
                          bool int_empty)
{
    put_tuple(b, n + 2);
    put_ok(b);
    put_int(b, result);
    for (int i = 0; i < n; i++) {
        if (int_empty && cs[i]->kind == CS_INT)
            put_binary(b, "", 0);
        else
            cstruct_encode(b, cs[i]);
    }
    return CALL_REPLY;
}
#endif

#if CALL_prctl
int alcove_sys_prctl(alcove_t *ap, const alcove_args_t *args, build_t *b)
{
    (void)ap;
    const args_prctl_t *a = &args->prctl;
    if (!int_range(a->option))
        return reply_errno(b, EINVAL);
    int rv =
        prctl((int)a->option, cstruct_value(a->arg2), cstruct_value(a->arg3),
              cstruct_value(a->arg4), cstruct_value(a->arg5));
    if (rv < 0)
        return reply_errno(b, errno);
    const struct cstruct *const cs[] = {a->arg2, a->arg3, a->arg4, a->arg5};
    return reply_cstructs(b, rv, cs, 4, false);
}
#endif

#if CALL_ptrace
int alcove_sys_ptrace(alcove_t *ap, const alcove_args_t *args, build_t *b)
{
    (void)ap;
    const args_ptrace_t *a = &args->ptrace;
    if (!int_range(a->request))
        return reply_errno(b, EINVAL);
    /* PTRACE_PEEK* return the word read, which may be -1: only errno
     * tells a failure */
    errno = 0;
    long rv = ptrace((int)a->request, a->pid, (void *)cstruct_value(a->addr),
                     (void *)cstruct_value(a->data));
    if (rv == -1 && errno != 0)
        return reply_errno(b, errno);
    const struct cstruct *const cs[] = {a->addr, a->data};
    return reply_cstructs(b, rv, cs, 2, true);
}
#endif

#if CALL_seccomp
int alcove_sys_seccomp(alcove_t *ap, const alcove_args_t *args, build_t *b)
{
    (void)ap;
    const args_seccomp_t *a = &args->seccomp;
    if (a->operation < 0 || a->operation > UINT_MAX || a->flags < 0 ||
        a->flags > UINT_MAX)
        return reply_errno(b, EINVAL);
    long rv = syscall(SYS_seccomp, (unsigned int)a->operation,
                      (unsigned int)a->flags, cstruct_value(a->prog));
    return reply_rv(b, rv < 0 ? -1 : 0);
}
#endif

int alcove_sys_ioctl(alcove_t *ap, const alcove_args_t *args, build_t *b)
{
    (void)ap;
    const args_ioctl_t *a = &args->ioctl;
    int rv;
    do
        rv = ioctl(a->fd, (unsigned long)a->request, cstruct_value(a->argp));
    while (rv < 0 && errno == EINTR);
    if (rv < 0)
        return reply_errno(b, errno);
    put_tuple(b, 3);
    put_ok(b);
    put_int(b, rv);
    cstruct_encode_buf(b, a->argp);
    return CALL_REPLY;
}

int alcove_sys_alloc(alcove_t *ap, const alcove_args_t *args, build_t *b)
{
    (void)ap;
    const struct cstruct *cs = args->alloc.cstruct;
    /* a Cstruct is a non-empty list (the reference's type); connect and
     * procctl take [] for none, alloc has nothing to lay out */
    if (cs->kind == CS_LIST && cs->nel == 0)
        return CALL_BADARG;
    put_tuple(b, 3);
    put_ok(b);
    cstruct_encode_buf(b, cs);
    cstruct_encode(b, cs);
    return CALL_REPLY;
}

int alcove_sys_iolist_to_bin(alcove_t *ap, const alcove_args_t *args,
                             build_t *b)
{
    (void)ap;
    put_binary(b, args->iolist_to_bin.data.s, args->iolist_to_bin.data.n);
    return CALL_REPLY;
}
