/* SPDX-License-Identifier: ISC */
/* Calls taking C structures (see cstruct.h): prctl, ptrace, seccomp,
 * ioctl and alloc. Each argument goes in as cstruct_value() and comes
 * back holding what its memory holds after the call. */
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

#include "wire/codec.h"
#include "wire/cstruct.h"

#ifdef __linux__
/* {ok, Result, V1, ..., Vn}: the arguments as their memory holds them;
 * an integer as itself, or (int_empty: ptrace, as in the reference) as
 * <<>>. */
static int reply_cstructs(ei_x_buff *x, int64_t result,
                          const alcove_arg_t *arg, int n, bool int_empty)
{
    if (ei_x_encode_tuple_header(x, n + 2) < 0 || enc_ok(x) < 0 ||
        enc_int(x, result) < 0)
        return CALL_BADARG;
    for (int i = 0; i < n; i++) {
        const cstruct_t *cs = arg[i].cs;
        if ((int_empty && cs->kind == CS_INT ? enc_binary(x, "", 0)
                                             : cstruct_encode(x, cs)) < 0)
            return CALL_BADARG;
    }
    return CALL_REPLY;
}

static bool int_range(int64_t v) { return v >= INT_MIN && v <= INT_MAX; }

int alcove_sys_prctl(alcove_t *ap, const alcove_arg_t *arg, ei_x_buff *x)
{
    if (!int_range(arg[0].i))
        return reply_errno(x, EINVAL);
    int rv = prctl((int)arg[0].i, cstruct_value(arg[1].cs),
                   cstruct_value(arg[2].cs), cstruct_value(arg[3].cs),
                   cstruct_value(arg[4].cs));
    if (rv < 0)
        return reply_errno(x, errno);
#ifdef PR_SET_SECCOMP
    if (arg[0].i == PR_SET_SECCOMP)
        ap->fds.fork_fast = false; /* see alcove_sys_seccomp */
#endif
    return reply_cstructs(x, rv, &arg[1], 4, false);
}

int alcove_sys_ptrace(alcove_t *ap, const alcove_arg_t *arg, ei_x_buff *x)
{
    (void)ap;
    if (!int_range(arg[0].i))
        return reply_errno(x, EINVAL);
    /* PTRACE_PEEK* return the word read, which may be -1: only errno
     * tells a failure */
    errno = 0;
    long rv = ptrace((int)arg[0].i, (pid_t)arg[1].i,
                     (void *)cstruct_value(arg[2].cs),
                     (void *)cstruct_value(arg[3].cs));
    if (rv == -1 && errno != 0)
        return reply_errno(x, errno);
    return reply_cstructs(x, rv, &arg[2], 2, true);
}

int alcove_sys_seccomp(alcove_t *ap, const alcove_arg_t *arg, ei_x_buff *x)
{
    if (arg[0].i < 0 || arg[0].i > UINT_MAX || arg[1].i < 0 ||
        arg[1].i > UINT_MAX)
        return reply_errno(x, EINVAL);
    long rv = syscall(SYS_seccomp, (unsigned int)arg[0].i,
                      (unsigned int)arg[1].i, cstruct_value(arg[2].cs));
    if (rv < 0)
        return reply_errno(x, errno);
    /* a filter may deny what a fast fork needs (clone with CLONE_FILES,
     * close_range) and cannot be taken back */
    ap->fds.fork_fast = false;
    return reply_ok(x);
}
#endif

int alcove_sys_ioctl(alcove_t *ap, const alcove_arg_t *arg, ei_x_buff *x)
{
    int rv;
    if (fd_internal(ap, arg[0].i))
        return reply_errno(x, EBADF);
    do
        rv = ioctl((int)arg[0].i, (unsigned long)arg[1].i,
                   cstruct_value(arg[2].cs));
    while (rv < 0 && errno == EINTR);
    if (rv < 0)
        return reply_errno(x, errno);
    /* some requests make descriptors (NS_GET_PARENT returns one, others
     * write theirs into argp) */
    fd_probe(ap);
    if (ei_x_encode_tuple_header(x, 3) < 0 || enc_ok(x) < 0 ||
        enc_int(x, rv) < 0 || cstruct_encode_buf(x, arg[2].cs) < 0)
        return CALL_BADARG;
    return CALL_REPLY;
}

int alcove_sys_alloc(alcove_t *ap, const alcove_arg_t *arg, ei_x_buff *x)
{
    (void)ap;
    /* a Cstruct is a non-empty list (the reference's type); connect and
     * procctl take [] for none, alloc has nothing to lay out */
    if (arg[0].cs->kind == CS_LIST && arg[0].cs->nel == 0)
        return CALL_BADARG;
    if (ei_x_encode_tuple_header(x, 3) < 0 || enc_ok(x) < 0 ||
        cstruct_encode_buf(x, arg[0].cs) < 0 ||
        cstruct_encode(x, arg[0].cs) < 0)
        return CALL_BADARG;
    return CALL_REPLY;
}
