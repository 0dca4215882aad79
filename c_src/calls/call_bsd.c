/* SPDX-License-Identifier: ISC */
/*
 * FreeBSD and OpenBSD of the call table: jails, procctl and Capsicum,
 * pledge and unveil. Elsewhere the call table answers them with
 * {error, enotsup} and this file is empty.
 */
#include "calls/calls.h"

#include <errno.h>
#include <unistd.h>

#include "wire/cstruct.h"

#ifdef __FreeBSD__
#include <sys/param.h>
#include <sys/types.h>
#include <sys/capsicum.h>
#include <sys/jail.h>
#include <sys/procctl.h>
#include <sys/wait.h>
#endif

#if CALL_jail
int alcove_sys_jail(alcove_t *ap, const alcove_args_t *args, build_t *b)
{
    (void)ap;
    const cstruct_t *cs = args->jail.jail;
    /* the kernel reads a whole struct jail from the buffer */
    if (cs->len < sizeof(struct jail))
        return reply_errno(b, EINVAL);
    int jid = jail((struct jail *)cs->buf);
    if (jid < 0)
        return reply_errno(b, errno);
    return reply_ok_int(b, jid);
}

int alcove_sys_jail_attach(alcove_t *ap, const alcove_args_t *args, build_t *b)
{
    (void)ap;
    return reply_rv(b, jail_attach(args->jail_attach.jid));
}

int alcove_sys_jail_remove(alcove_t *ap, const alcove_args_t *args, build_t *b)
{
    (void)ap;
    return reply_rv(b, jail_remove(args->jail_remove.jid));
}

/* {ok, Buf, Data}: the buffer, and Data in the shape it came in, both
 * holding what the kernel wrote */
int alcove_sys_procctl(alcove_t *ap, const alcove_args_t *args, build_t *b)
{
    (void)ap;
    const args_procctl_t *a = &args->procctl;
    if (procctl((idtype_t)a->idtype, (id_t)a->id, (int)a->cmd,
                (void *)cstruct_value(a->data)) < 0)
        return reply_errno(b, errno);
    put_tuple(b, 3);
    put_ok(b);
    cstruct_encode_buf(b, a->data);
    cstruct_encode(b, a->data);
    return CALL_REPLY;
}

int alcove_sys_cap_enter(alcove_t *ap, const alcove_args_t *args, build_t *b)
{
    (void)ap;
    (void)args;
    return reply_rv(b, cap_enter());
}

int alcove_sys_cap_getmode(alcove_t *ap, const alcove_args_t *args, build_t *b)
{
    (void)ap;
    (void)args;
    u_int mode;
    if (cap_getmode(&mode) < 0)
        return reply_errno(b, errno);
    return reply_ok_int(b, mode);
}

/* The rights arrive ORed into one value. A right carries the index of
 * its word as bit 57 or 58 (CAPRIGHT), the top bits clear: only rights
 * of one word can be ORed, and cap_rights_init(3) asserts on any other
 * value. */
int alcove_sys_cap_rights_limit(alcove_t *ap, const alcove_args_t *args,
                                build_t *b)
{
    (void)ap;
    uint64_t v = (uint64_t)args->cap_rights_limit.rights;
    uint64_t word = v >> 57;
    cap_rights_t rights;
    if (v == 0)
        cap_rights_init(&rights);
    else if (word == 1 || word == 2)
        cap_rights_init(&rights, v);
    else
        return reply_errno(b, EINVAL);
    return reply_rv(b, cap_rights_limit(args->cap_rights_limit.fd, &rights));
}

int alcove_sys_cap_fcntls_limit(alcove_t *ap, const alcove_args_t *args,
                                build_t *b)
{
    (void)ap;
    const args_cap_fcntls_limit_t *a = &args->cap_fcntls_limit;
    if (a->rights < 0 || a->rights > UINT32_MAX)
        return reply_errno(b, EINVAL);
    return reply_rv(b, cap_fcntls_limit(a->fd, (uint32_t)a->rights));
}

int alcove_sys_cap_fcntls_get(alcove_t *ap, const alcove_args_t *args,
                              build_t *b)
{
    (void)ap;
    uint32_t rights;
    if (cap_fcntls_get(args->cap_fcntls_get.fd, &rights) < 0)
        return reply_errno(b, errno);
    return reply_ok_int(b, rights);
}

/* The ioctls arrive ORed into one value: the one request allowed, or
 * none for 0 (the empty list). */
int alcove_sys_cap_ioctls_limit(alcove_t *ap, const alcove_args_t *args,
                                build_t *b)
{
    (void)ap;
    const args_cap_ioctls_limit_t *a = &args->cap_ioctls_limit;
    cap_ioctl_t cmd = (cap_ioctl_t)a->ioctls;
    return reply_rv(b, cap_ioctls_limit(a->fd, &cmd, a->ioctls == 0 ? 0 : 1));
}
#endif

#if CALL_pledge || CALL_unveil
/* A nullable string: NULL for null, -1 for a string holding a NUL. */
static int nullable(const arg_bytes_t *a, const char **s)
{
    *s = a->s;
    return a->s != NULL && arg_str(a) == NULL ? -1 : 0;
}

int alcove_sys_pledge(alcove_t *ap, const alcove_args_t *args, build_t *b)
{
    (void)ap;
    const char *promises, *execpromises;
    if (nullable(&args->pledge.promises, &promises) < 0 ||
        nullable(&args->pledge.execpromises, &execpromises) < 0)
        return reply_errno(b, EINVAL);
    return reply_rv(b, pledge(promises, execpromises));
}

int alcove_sys_unveil(alcove_t *ap, const alcove_args_t *args, build_t *b)
{
    (void)ap;
    const char *path, *permissions;
    if (nullable(&args->unveil.path, &path) < 0 ||
        nullable(&args->unveil.permissions, &permissions) < 0)
        return reply_errno(b, EINVAL);
    return reply_rv(b, unveil(path, permissions));
}
#endif
