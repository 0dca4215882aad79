/* SPDX-License-Identifier: ISC */
/*
 * Calls of FreeBSD (jails, procctl, Capsicum) and OpenBSD (pledge,
 * unveil). Elsewhere the call table answers them with {error, enotsup}
 * and this file is empty.
 */
#include "calls/calls.h"

#if defined(__FreeBSD__) || defined(__OpenBSD__)
#include <errno.h>
#include <unistd.h>

#include "wire/codec.h"
#include "wire/cstruct.h"
#endif

#ifdef __FreeBSD__
#include <sys/param.h>
#include <sys/types.h>
#include <sys/capsicum.h>
#include <sys/jail.h>
#include <sys/procctl.h>
#include <sys/wait.h>

int alcove_sys_jail(alcove_t *ap, const alcove_arg_t *arg, ei_x_buff *x)
{
    (void)ap;
    const cstruct_t *cs = arg[0].cs;
    /* the kernel reads a whole struct jail from the buffer */
    if (cs->len < sizeof(struct jail))
        return reply_errno(x, EINVAL);
    int jid = jail((struct jail *)cs->buf);
    if (jid < 0)
        return reply_errno(x, errno);
    return reply_ok_int(x, jid);
}

int alcove_sys_jail_attach(alcove_t *ap, const alcove_arg_t *arg, ei_x_buff *x)
{
    (void)ap;
    if (jail_attach((int)arg[0].i) < 0)
        return reply_errno(x, errno);
    return reply_ok(x);
}

int alcove_sys_jail_remove(alcove_t *ap, const alcove_arg_t *arg, ei_x_buff *x)
{
    (void)ap;
    if (jail_remove((int)arg[0].i) < 0)
        return reply_errno(x, errno);
    return reply_ok(x);
}

/* {ok, Buf, Data}: the buffer, and Data in the shape it came in, both
 * holding what the kernel wrote */
int alcove_sys_procctl(alcove_t *ap, const alcove_arg_t *arg, ei_x_buff *x)
{
    (void)ap;
    const cstruct_t *cs = arg[3].cs;
    if (procctl((idtype_t)arg[0].i, (id_t)arg[1].i, (int)arg[2].i,
                (void *)cstruct_value(cs)) < 0)
        return reply_errno(x, errno);
    if (ei_x_encode_tuple_header(x, 3) < 0 || enc_ok(x) < 0 ||
        cstruct_encode_buf(x, cs) < 0 || cstruct_encode(x, cs) < 0)
        return CALL_BADARG;
    return CALL_REPLY;
}

int alcove_sys_cap_enter(alcove_t *ap, const alcove_arg_t *arg, ei_x_buff *x)
{
    (void)ap;
    (void)arg;
    if (cap_enter() < 0)
        return reply_errno(x, errno);
    return reply_ok(x);
}

int alcove_sys_cap_getmode(alcove_t *ap, const alcove_arg_t *arg, ei_x_buff *x)
{
    (void)ap;
    (void)arg;
    u_int mode;
    if (cap_getmode(&mode) < 0)
        return reply_errno(x, errno);
    return reply_ok_int(x, mode);
}

/* The rights arrive ORed into one value. A right carries the index of
 * its word as bit 57 or 58 (CAPRIGHT), the top bits clear: only rights
 * of one word can be ORed, and cap_rights_init(3) asserts on any other
 * value. */
int alcove_sys_cap_rights_limit(alcove_t *ap, const alcove_arg_t *arg,
                                ei_x_buff *x)
{
    (void)ap;
    uint64_t v = (uint64_t)arg[1].i;
    uint64_t word = v >> 57;
    cap_rights_t rights;
    if (v == 0)
        cap_rights_init(&rights);
    else if (word == 1 || word == 2)
        cap_rights_init(&rights, v);
    else
        return reply_errno(x, EINVAL);
    if (cap_rights_limit((int)arg[0].i, &rights) < 0)
        return reply_errno(x, errno);
    return reply_ok(x);
}

int alcove_sys_cap_fcntls_limit(alcove_t *ap, const alcove_arg_t *arg,
                                ei_x_buff *x)
{
    (void)ap;
    if (arg[1].i < 0 || arg[1].i > UINT32_MAX)
        return reply_errno(x, EINVAL);
    if (cap_fcntls_limit((int)arg[0].i, (uint32_t)arg[1].i) < 0)
        return reply_errno(x, errno);
    return reply_ok(x);
}

int alcove_sys_cap_fcntls_get(alcove_t *ap, const alcove_arg_t *arg,
                              ei_x_buff *x)
{
    (void)ap;
    uint32_t rights;
    if (cap_fcntls_get((int)arg[0].i, &rights) < 0)
        return reply_errno(x, errno);
    return reply_ok_int(x, rights);
}

/* The ioctls arrive ORed into one value: the one request allowed, or
 * none for 0 (the empty list). */
int alcove_sys_cap_ioctls_limit(alcove_t *ap, const alcove_arg_t *arg,
                                ei_x_buff *x)
{
    (void)ap;
    cap_ioctl_t cmd = (cap_ioctl_t)arg[1].i;
    if (cap_ioctls_limit((int)arg[0].i, &cmd, arg[1].i == 0 ? 0 : 1) < 0)
        return reply_errno(x, errno);
    return reply_ok(x);
}
#endif

#ifdef __OpenBSD__
/* A nullable string: NULL for null, -1 for a string holding a NUL. */
static int nullable(const alcove_arg_t *a, const char **s)
{
    *s = a->s;
    return a->s != NULL && arg_str(a) == NULL ? -1 : 0;
}

int alcove_sys_pledge(alcove_t *ap, const alcove_arg_t *arg, ei_x_buff *x)
{
    (void)ap;
    const char *promises, *execpromises;
    if (nullable(&arg[0], &promises) < 0 ||
        nullable(&arg[1], &execpromises) < 0)
        return reply_errno(x, EINVAL);
    if (pledge(promises, execpromises) < 0)
        return reply_errno(x, errno);
    return reply_ok(x);
}

int alcove_sys_unveil(alcove_t *ap, const alcove_arg_t *arg, ei_x_buff *x)
{
    (void)ap;
    const char *path, *permissions;
    if (nullable(&arg[0], &path) < 0 || nullable(&arg[1], &permissions) < 0)
        return reply_errno(x, EINVAL);
    if (unveil(path, permissions) < 0)
        return reply_errno(x, errno);
    return reply_ok(x);
}
#endif
