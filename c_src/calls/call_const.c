/* SPDX-License-Identifier: ISC */
/* Constants of the call table: calls that map names to the values of
 * this system and back. */
#include "calls/calls.h"

#include <sys/resource.h>

#include "wire/codec.h"

static int reply_lookup(const alcove_const_table_t *t, const char *name,
                        build_t *b)
{
    int64_t v;
    if (alcove_const_lookup(t, name, &v) < 0)
        put_atom(b, "unknown");
    else
        put_int(b, v);
    return CALL_REPLY;
}

int alcove_sys_signal_constant(alcove_t *ap, const alcove_args_t *args,
                               build_t *b)
{
    (void)ap;
    return reply_lookup(&alcove_const_signal, args->signal_constant.name, b);
}

#if CALL_clone_constant
int alcove_sys_clone_constant(alcove_t *ap, const alcove_args_t *args,
                              build_t *b)
{
    (void)ap;
    return reply_lookup(&alcove_const_clone, args->clone_constant.name, b);
}
#endif

int alcove_sys_file_constant(alcove_t *ap, const alcove_args_t *args,
                             build_t *b)
{
    (void)ap;
    return reply_lookup(&alcove_const_file, args->file_constant.name, b);
}

int alcove_sys_fcntl_constant(alcove_t *ap, const alcove_args_t *args,
                              build_t *b)
{
    (void)ap;
    return reply_lookup(&alcove_const_fcntl, args->fcntl_constant.name, b);
}

int alcove_sys_ioctl_constant(alcove_t *ap, const alcove_args_t *args,
                              build_t *b)
{
    (void)ap;
    return reply_lookup(&alcove_const_ioctl, args->ioctl_constant.name, b);
}

int alcove_sys_mount_constant(alcove_t *ap, const alcove_args_t *args,
                              build_t *b)
{
    (void)ap;
    return reply_lookup(&alcove_const_mount, args->mount_constant.name, b);
}

int alcove_sys_prctl_constant(alcove_t *ap, const alcove_args_t *args,
                              build_t *b)
{
    (void)ap;
    return reply_lookup(&alcove_const_prctl, args->prctl_constant.name, b);
}

int alcove_sys_ptrace_constant(alcove_t *ap, const alcove_args_t *args,
                               build_t *b)
{
    (void)ap;
    return reply_lookup(&alcove_const_ptrace, args->ptrace_constant.name, b);
}

/* RLIM_INFINITY (and on Linux RLIM_SAVED_*, the same) is an rlim_t: the
 * table's int64 makes it -1, which #alcove_rlimit{} does not take. The
 * value goes back unsigned, as getrlimit gives it. */
int alcove_sys_rlimit_constant(alcove_t *ap, const alcove_args_t *args,
                               build_t *b)
{
    (void)ap;
    int64_t v;
    if (alcove_const_lookup(&alcove_const_rlimit, args->rlimit_constant.name,
                            &v) == 0 &&
        v < 0) {
        put_uint(b, (uint64_t)(rlim_t)v);
        return CALL_REPLY;
    }
    return reply_lookup(&alcove_const_rlimit, args->rlimit_constant.name, b);
}

int alcove_sys_seccomp_constant(alcove_t *ap, const alcove_args_t *args,
                                build_t *b)
{
    (void)ap;
    return reply_lookup(&alcove_const_seccomp, args->seccomp_constant.name, b);
}

int alcove_sys_syscall_constant(alcove_t *ap, const alcove_args_t *args,
                                build_t *b)
{
    (void)ap;
    return reply_lookup(&alcove_const_syscall, args->syscall_constant.name, b);
}

#if CALL_cap_constant
int alcove_sys_cap_constant(alcove_t *ap, const alcove_args_t *args,
                            build_t *b)
{
    (void)ap;
    return reply_lookup(&alcove_const_cap, args->cap_constant.name, b);
}
#endif

int alcove_sys_errno_id(alcove_t *ap, const alcove_args_t *args, build_t *b)
{
    (void)ap;
    put_atom(b, errno_name(args->errno_id.errnum));
    return CALL_REPLY;
}

#define DEFINE_TABLE(name) &alcove_const_##name,
static const alcove_const_table_t *const define_tables[] = {
    ALCOVE_DEFINE_TABLES(DEFINE_TABLE)};
#undef DEFINE_TABLE

/* The names ORed as Erlang's bor would: a negative value makes the
 * result negative, and rlimit's negative values are rlim_t, unsigned
 * (see rlimit_constant). A name with a NUL is in no table. */
int alcove_sys_constant_value(alcove_t *ap, const alcove_args_t *args,
                              build_t *b)
{
    (void)ap;
    const arg_argv_t *names = &args->constant_value.names;
    const size_t ntab = sizeof(define_tables) / sizeof(define_tables[0]);
    uint64_t bits = 0;
    bool neg = false;
    for (size_t i = 0; i < names->n; i++) {
        int64_t v = 0;
        size_t t = 0;
        while (t < ntab &&
               alcove_const_lookup(define_tables[t], names->v[i], &v) < 0)
            t++;
        if (t == ntab || names->nul) {
            put_atom(b, "unknown");
            return CALL_REPLY;
        }
        bits |= (uint64_t)v;
        neg = neg || (v < 0 && define_tables[t] != &alcove_const_rlimit);
    }
    if (neg || bits <= INT64_MAX)
        put_int(b, (int64_t)bits);
    else
        put_uint(b, bits);
    return CALL_REPLY;
}
