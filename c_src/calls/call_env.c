/* SPDX-License-Identifier: ISC */
/* Environment of the call table: the environment of a process and its
 * title. */
#include "calls/calls.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

int alcove_sys_environ(alcove_t *ap, const alcove_args_t *args, build_t *b)
{
    (void)ap;
    (void)args;
    for (char **e = environ; e != NULL && *e != NULL; e++) {
        put_list(b, 1);
        put_binary(b, *e, strlen(*e));
    }
    put_nil(b);
    return CALL_REPLY;
}

int alcove_sys_getenv(alcove_t *ap, const alcove_args_t *args, build_t *b)
{
    (void)ap;
    /* a name holding a NUL byte is in no environment */
    const char *name = arg_str(&args->getenv.name);
    const char *v = name == NULL ? NULL : getenv(name);
    if (v == NULL)
        return reply_bool(b, false);
    put_binary(b, v, strlen(v));
    return CALL_REPLY;
}

int alcove_sys_setenv(alcove_t *ap, const alcove_args_t *args, build_t *b)
{
    (void)ap;
    const args_setenv_t *a = &args->setenv;
    const char *name = arg_str(&a->name);
    const char *value = arg_str(&a->value);
    if (name == NULL || value == NULL)
        return reply_errno(b, EINVAL);
    return reply_rv(b, setenv(name, value, a->overwrite));
}

int alcove_sys_unsetenv(alcove_t *ap, const alcove_args_t *args, build_t *b)
{
    (void)ap;
    const char *name = arg_str(&args->unsetenv.name);
    if (name == NULL)
        return reply_errno(b, EINVAL);
    return reply_rv(b, unsetenv(name));
}

int alcove_sys_clearenv(alcove_t *ap, const alcove_args_t *args, build_t *b)
{
    (void)ap;
    (void)args;
#ifdef __linux__
    if (clearenv() < 0)
        return reply_errno(b, errno);
#else
    /* not every BSD has clearenv(3): an empty environ is the same, and
     * setenv(3) copies it before adding to it */
    static char *empty[] = {NULL};
    environ = empty;
#endif
    return reply_ok(b);
}

#if CALL_setproctitle
#if defined(__FreeBSD__) || defined(__OpenBSD__) || defined(__NetBSD__)
int alcove_sys_setproctitle(alcove_t *ap, const alcove_args_t *args,
                            build_t *b)
{
    (void)ap;
    const char *name = arg_str(&args->setproctitle.name);
    if (name == NULL)
        return reply_errno(b, EINVAL);
    setproctitle("%s", name);
    return reply_ok(b);
}
#else
/* Linux: the kernel shows the memory of the arguments as the command line: the
 * title is written there, the rest zeroed, so that it ends there. */
int alcove_sys_setproctitle(alcove_t *ap, const alcove_args_t *args,
                            build_t *b)
{
    const char *name = arg_str(&args->setproctitle.name);
    if (name == NULL)
        return reply_errno(b, EINVAL);
    if (ap->title == NULL || ap->titlelen < 2)
        return reply_errno(b, ENOTSUP);
    size_t n = strnlen(name, ap->titlelen - 1);
    memcpy(ap->title, name, n);
    memset(ap->title + n, 0, ap->titlelen - n);
    return reply_ok(b);
}
#endif
#endif
