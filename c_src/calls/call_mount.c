/* SPDX-License-Identifier: ISC */
/* Mounting and unmounting file systems, and changing the root mount. */
#include "calls/calls.h"

#include <errno.h>
#include <sys/mount.h>
#include <sys/param.h> /* before sys/mount.h on the BSDs */
#include <unistd.h>
#ifdef __linux__
#include <sys/syscall.h>
#endif

#include "wire/codec.h"

/* Elsewhere (NetBSD, Solaris) the calls have no handler. */
#if defined(__linux__) || defined(__FreeBSD__) || defined(__OpenBSD__) ||     \
    defined(__APPLE__)

static int reply_rv(ei_x_buff *x, int rv)
{
    return rv < 0 ? reply_errno(x, errno) : reply_ok(x);
}

/* A string that may be NULL: empty means NULL. Returns -1 for a string
 * holding a NUL byte. */
static int opt_str(const alcove_arg_t *a, const char **s)
{
    *s = NULL;
    if (a->n == 0)
        return 0;
    *s = arg_str(a);
    return *s == NULL ? -1 : 0;
}

/* Data is bytes for the file system, not a path: passed as they are, a
 * NUL among them included (empty is NULL). A NUL follows them (args.c). */
static const char *mount_data(const alcove_arg_t *a)
{
    return a->n == 0 ? NULL : a->s;
}

#ifdef __linux__
int alcove_sys_mount(alcove_t *ap, const alcove_arg_t *arg, ei_x_buff *x)
{
    (void)ap;
    const char *source, *fstype;
    const char *target = arg_str(&arg[1]);
    /* arg[5], Options, is for Solaris */
    if (target == NULL || opt_str(&arg[0], &source) < 0 ||
        opt_str(&arg[2], &fstype) < 0)
        return reply_errno(x, EINVAL);
    const char *data = mount_data(&arg[4]);
    return reply_rv(
        x, mount(source, target, fstype, (unsigned long)arg[3].i, data));
}

int alcove_sys_umount(alcove_t *ap, const alcove_arg_t *arg, ei_x_buff *x)
{
    (void)ap;
    const char *path = arg_str(&arg[0]);
    return path == NULL ? reply_errno(x, EINVAL) : reply_rv(x, umount(path));
}

int alcove_sys_umount2(alcove_t *ap, const alcove_arg_t *arg, ei_x_buff *x)
{
    (void)ap;
    const char *path = arg_str(&arg[0]);
    return path == NULL ? reply_errno(x, EINVAL)
                        : reply_rv(x, umount2(path, (int)arg[1].i));
}

int alcove_sys_pivot_root(alcove_t *ap, const alcove_arg_t *arg, ei_x_buff *x)
{
    (void)ap;
    const char *new_root = arg_str(&arg[0]), *put_old = arg_str(&arg[1]);
    if (new_root == NULL || put_old == NULL)
        return reply_errno(x, EINVAL);
    /* glibc has no wrapper */
    return reply_rv(x, (int)syscall(SYS_pivot_root, new_root, put_old));
}

#else /* the BSDs and macOS */
/* mount(type, dir, flags, data): Source is not used */
int alcove_sys_mount(alcove_t *ap, const alcove_arg_t *arg, ei_x_buff *x)
{
    (void)ap;
    const char *fstype;
    const char *target = arg_str(&arg[1]);
    if (target == NULL || opt_str(&arg[2], &fstype) < 0)
        return reply_errno(x, EINVAL);
    const char *data = mount_data(&arg[4]);
    return reply_rv(x, mount(fstype, target, (int)arg[3].i, (void *)data));
}

int alcove_sys_umount(alcove_t *ap, const alcove_arg_t *arg, ei_x_buff *x)
{
    (void)ap;
    const char *path = arg_str(&arg[0]);
    return path == NULL ? reply_errno(x, EINVAL)
                        : reply_rv(x, unmount(path, 0));
}
#endif

#endif
