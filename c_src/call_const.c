/* SPDX-License-Identifier: ISC */
/* Calls that map names to the values of this system and back. */
#include "calls.h"

#include "codec.h"

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

int alcove_sys_errno_id(alcove_t *ap, const alcove_arg_t *arg, ei_x_buff *x)
{
    (void)ap;
    return enc_atom(x, errno_name((int)arg[0].i)) < 0 ? CALL_BADARG
                                                      : CALL_REPLY;
}
