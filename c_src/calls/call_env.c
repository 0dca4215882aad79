/* SPDX-License-Identifier: ISC */
/* Calls on the environment of a process, its title, and iolist_to_bin. */
#include "calls/calls.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wire/codec.h"

extern char **environ;

int alcove_sys_environ(alcove_t *ap, const alcove_arg_t *arg, ei_x_buff *x)
{
    (void)ap;
    (void)arg;
    for (char **e = environ; e != NULL && *e != NULL; e++) {
        if (ei_x_encode_list_header(x, 1) < 0 ||
            enc_binary(x, *e, strlen(*e)) < 0)
            return CALL_BADARG;
    }
    return ei_x_encode_empty_list(x) < 0 ? CALL_BADARG : CALL_REPLY;
}

int alcove_sys_getenv(alcove_t *ap, const alcove_arg_t *arg, ei_x_buff *x)
{
    (void)ap;
    /* a name holding a NUL byte is in no environment */
    const char *name = arg_str(&arg[0]);
    const char *v = name == NULL ? NULL : getenv(name);
    if (v == NULL)
        return reply_bool(x, false);
    return enc_binary(x, v, strlen(v)) < 0 ? CALL_BADARG : CALL_REPLY;
}

int alcove_sys_setenv(alcove_t *ap, const alcove_arg_t *arg, ei_x_buff *x)
{
    (void)ap;
    const char *name = arg_str(&arg[0]);
    const char *value = arg_str(&arg[1]);
    if (name == NULL || value == NULL)
        return reply_errno(x, EINVAL);
    if (setenv(name, value, (int)arg[2].i) < 0)
        return reply_errno(x, errno);
    return reply_ok(x);
}

int alcove_sys_unsetenv(alcove_t *ap, const alcove_arg_t *arg, ei_x_buff *x)
{
    (void)ap;
    const char *name = arg_str(&arg[0]);
    if (name == NULL)
        return reply_errno(x, EINVAL);
    if (unsetenv(name) < 0)
        return reply_errno(x, errno);
    return reply_ok(x);
}

int alcove_sys_clearenv(alcove_t *ap, const alcove_arg_t *arg, ei_x_buff *x)
{
    (void)ap;
    (void)arg;
#ifdef __linux__
    if (clearenv() < 0)
        return reply_errno(x, errno);
#else
    /* not every BSD has clearenv(3): an empty environ is the same, and
     * setenv(3) copies it before adding to it */
    static char *empty[] = {NULL};
    environ = empty;
#endif
    return reply_ok(x);
}

#if defined(__FreeBSD__) || defined(__OpenBSD__) || defined(__NetBSD__)
int alcove_sys_setproctitle(alcove_t *ap, const alcove_arg_t *arg,
                            ei_x_buff *x)
{
    (void)ap;
    const char *name = arg_str(&arg[0]);
    if (name == NULL)
        return reply_errno(x, EINVAL);
    setproctitle("%s", name);
    return reply_ok(x);
}
#elif defined(__linux__)
/* The kernel shows the memory of the arguments as the command line: the
 * title is written there, the rest zeroed, so that it ends there. */
int alcove_sys_setproctitle(alcove_t *ap, const alcove_arg_t *arg,
                            ei_x_buff *x)
{
    const char *name = arg_str(&arg[0]);
    if (name == NULL)
        return reply_errno(x, EINVAL);
    if (ap->title == NULL || ap->titlelen < 2)
        return reply_errno(x, ENOTSUP);
    size_t n = strnlen(name, ap->titlelen - 1);
    memcpy(ap->title, name, n);
    memset(ap->title + n, 0, ap->titlelen - n);
    return reply_ok(x);
}
#endif

int alcove_sys_iolist_to_bin(alcove_t *ap, const alcove_arg_t *arg,
                             ei_x_buff *x)
{
    (void)ap;
    return enc_binary(x, arg[0].s, arg[0].n) < 0 ? CALL_BADARG : CALL_REPLY;
}
