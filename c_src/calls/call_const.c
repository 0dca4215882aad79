/* SPDX-License-Identifier: ISC */
/* Calls that map names to the values of this system and back. */
#include "calls/calls.h"

#include <sys/resource.h>

#include "wire/codec.h"

static int reply_lookup(const alcove_const_table_t *t, const char *name,
                        ei_x_buff *x)
{
    int64_t v;
    int rv = alcove_const_lookup(t, name, &v) < 0 ? enc_atom(x, "unknown")
                                                  : enc_int(x, v);
    return rv < 0 ? CALL_BADARG : CALL_REPLY;
}

int alcove_sys_signal_constant(alcove_t *ap, const alcove_arg_t *arg,
                               ei_x_buff *x)
{
    (void)ap;
    return reply_lookup(&alcove_const_signal, arg[0].s, x);
}

#ifdef __linux__
int alcove_sys_clone_constant(alcove_t *ap, const alcove_arg_t *arg,
                              ei_x_buff *x)
{
    (void)ap;
    return reply_lookup(&alcove_const_clone, arg[0].s, x);
}
#endif

int alcove_sys_file_constant(alcove_t *ap, const alcove_arg_t *arg,
                             ei_x_buff *x)
{
    (void)ap;
    return reply_lookup(&alcove_const_file, arg[0].s, x);
}

int alcove_sys_fcntl_constant(alcove_t *ap, const alcove_arg_t *arg,
                              ei_x_buff *x)
{
    (void)ap;
    return reply_lookup(&alcove_const_fcntl, arg[0].s, x);
}

int alcove_sys_ioctl_constant(alcove_t *ap, const alcove_arg_t *arg,
                              ei_x_buff *x)
{
    (void)ap;
    return reply_lookup(&alcove_const_ioctl, arg[0].s, x);
}

int alcove_sys_mount_constant(alcove_t *ap, const alcove_arg_t *arg,
                              ei_x_buff *x)
{
    (void)ap;
    return reply_lookup(&alcove_const_mount, arg[0].s, x);
}

int alcove_sys_prctl_constant(alcove_t *ap, const alcove_arg_t *arg,
                              ei_x_buff *x)
{
    (void)ap;
    return reply_lookup(&alcove_const_prctl, arg[0].s, x);
}

int alcove_sys_ptrace_constant(alcove_t *ap, const alcove_arg_t *arg,
                               ei_x_buff *x)
{
    (void)ap;
    return reply_lookup(&alcove_const_ptrace, arg[0].s, x);
}

/* RLIM_INFINITY (and on Linux RLIM_SAVED_*, the same) is an rlim_t: the
 * table's int64 makes it -1, which #alcove_rlimit{} does not take. The
 * value goes back unsigned, as getrlimit gives it. */
int alcove_sys_rlimit_constant(alcove_t *ap, const alcove_arg_t *arg,
                               ei_x_buff *x)
{
    (void)ap;
    int64_t v;
    if (alcove_const_lookup(&alcove_const_rlimit, arg[0].s, &v) == 0 && v < 0)
        return ei_x_encode_ulonglong(x, (unsigned long long)(rlim_t)v) < 0
                   ? CALL_BADARG
                   : CALL_REPLY;
    return reply_lookup(&alcove_const_rlimit, arg[0].s, x);
}

int alcove_sys_seccomp_constant(alcove_t *ap, const alcove_arg_t *arg,
                                ei_x_buff *x)
{
    (void)ap;
    return reply_lookup(&alcove_const_seccomp, arg[0].s, x);
}

int alcove_sys_syscall_constant(alcove_t *ap, const alcove_arg_t *arg,
                                ei_x_buff *x)
{
    (void)ap;
    return reply_lookup(&alcove_const_syscall, arg[0].s, x);
}

#ifdef __FreeBSD__
int alcove_sys_cap_constant(alcove_t *ap, const alcove_arg_t *arg,
                            ei_x_buff *x)
{
    (void)ap;
    return reply_lookup(&alcove_const_cap, arg[0].s, x);
}
#endif

int alcove_sys_errno_id(alcove_t *ap, const alcove_arg_t *arg, ei_x_buff *x)
{
    (void)ap;
    return enc_atom(x, errno_name((int)arg[0].i)) < 0 ? CALL_BADARG
                                                      : CALL_REPLY;
}

#define DEFINE_TABLE(name) &alcove_const_##name,
static const alcove_const_table_t *const define_tables[] = {
    ALCOVE_DEFINE_TABLES(DEFINE_TABLE)};
#undef DEFINE_TABLE

/* The names ORed as Erlang's bor would: a negative value makes the
 * result negative, and rlimit's negative values are rlim_t, unsigned
 * (see rlimit_constant). A name with a NUL is in no table. */
int alcove_sys_constant_value(alcove_t *ap, const alcove_arg_t *arg,
                              ei_x_buff *x)
{
    (void)ap;
    const size_t ntab = sizeof(define_tables) / sizeof(define_tables[0]);
    uint64_t bits = 0;
    bool neg = false;
    for (size_t i = 0; i < arg[0].n; i++) {
        int64_t v = 0;
        size_t t = 0;
        while (t < ntab &&
               alcove_const_lookup(define_tables[t], arg[0].v[i], &v) < 0)
            t++;
        if (t == ntab || arg[0].i != 0)
            return enc_atom(x, "unknown") < 0 ? CALL_BADARG : CALL_REPLY;
        bits |= (uint64_t)v;
        neg = neg || (v < 0 && define_tables[t] != &alcove_const_rlimit);
    }
    int rv = neg || bits <= INT64_MAX
                 ? enc_int(x, (int64_t)bits)
                 : ei_x_encode_ulonglong(x, (unsigned long long)bits);
    return rv < 0 ? CALL_BADARG : CALL_REPLY;
}
