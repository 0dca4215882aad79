/* SPDX-License-Identifier: ISC */
/* Mounts and Namespaces of the call table: mounting and unmounting file
 * systems, changing the root mount, joining and making namespaces; of the
 * new mount API, the calls that change a mount's attributes, copy a tree
 * of mounts and move one. */
#include "calls/calls.h"

#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/param.h> /* before sys/mount.h on the BSDs */
#include <unistd.h>
#ifdef __linux__
#include <sys/syscall.h>
#endif
#include <stdint.h>

#if CALL_mount
/* A string that may be NULL: empty means NULL. Returns -1 for a string
 * holding a NUL byte. */
static int opt_str(const arg_bytes_t *a, const char **s)
{
    *s = NULL;
    if (a->n == 0)
        return 0;
    *s = arg_str(a);
    return *s == NULL ? -1 : 0;
}

/* Data is bytes for the file system, not a path: passed as they are, a
 * NUL among them included (empty is NULL). A NUL follows them (args.c). */
static const char *mount_data(const arg_bytes_t *a)
{
    return a->n == 0 ? NULL : a->s;
}

int alcove_sys_mount(alcove_t *ap, const alcove_args_t *args, build_t *b)
{
    (void)ap;
    const args_mount_t *a = &args->mount;
    const char *source, *fstype;
    const char *target = arg_str(&a->target);
    /* Options is for Solaris */
    if (target == NULL || opt_str(&a->source, &source) < 0 ||
        opt_str(&a->fstype, &fstype) < 0)
        return reply_errno(b, EINVAL);
    const char *data = mount_data(&a->data);
#ifdef __linux__
    return reply_rv(
        b, mount(source, target, fstype, (unsigned long)a->flags, data));
#else
    /* the BSDs and macOS: mount(type, dir, flags, data), no source */
    return reply_rv(b, mount(fstype, target, (int)a->flags, (void *)data));
#endif
}
#endif

#if CALL_umount
int alcove_sys_umount(alcove_t *ap, const alcove_args_t *args, build_t *b)
{
    (void)ap;
    const char *path = arg_str(&args->umount.path);
    if (path == NULL)
        return reply_errno(b, EINVAL);
#ifdef __linux__
    return reply_rv(b, umount(path));
#else
    return reply_rv(b, unmount(path, 0));
#endif
}
#endif

#if CALL_umount2
int alcove_sys_umount2(alcove_t *ap, const alcove_args_t *args, build_t *b)
{
    (void)ap;
    const char *path = arg_str(&args->umount2.path);
    return path == NULL ? reply_errno(b, EINVAL)
                        : reply_rv(b, umount2(path, (int)args->umount2.flags));
}
#endif

#if CALL_pivot_root
int alcove_sys_pivot_root(alcove_t *ap, const alcove_args_t *args, build_t *b)
{
    (void)ap;
    const char *new_root = arg_str(&args->pivot_root.new_root);
    const char *put_old = arg_str(&args->pivot_root.put_old);
    if (new_root == NULL || put_old == NULL)
        return reply_errno(b, EINVAL);
    /* glibc has no wrapper */
    return reply_rv(b, (int)syscall(SYS_pivot_root, new_root, put_old));
}
#endif

#if CALL_setns
int alcove_sys_setns(alcove_t *ap, const alcove_args_t *args, build_t *b)
{
    (void)ap;
    return reply_rv(b, setns(args->setns.fd, (int)args->setns.nstype));
}
#endif

#if CALL_unshare
int alcove_sys_unshare(alcove_t *ap, const alcove_args_t *args, build_t *b)
{
    (void)ap;
    return reply_rv(b, unshare((int)args->unshare.flags));
}
#endif

/* The new mount API: called through syscall(2), as musl and glibc before
 * 2.36 have no wrappers. A system whose headers lack one answers enotsup.
 * Flags and dirfds are checked here, as the casts to the kernel's unsigned
 * int and int would change them. */
#if CALL_mount_setattr || CALL_open_tree || CALL_move_mount
static inline bool dirfd_ok(int64_t fd)
{
    return fd >= INT_MIN && fd <= INT_MAX;
}
static inline bool flags_ok(int64_t flags)
{
    return flags >= 0 && flags <= UINT_MAX;
}
#endif

#if CALL_mount_setattr
int alcove_sys_mount_setattr(alcove_t *ap, const alcove_args_t *args,
                             build_t *b)
{
    (void)ap;
#ifdef SYS_mount_setattr
    const args_mount_setattr_t *a = &args->mount_setattr;
    const char *path = arg_str(&a->path);
    if (path == NULL || !flags_ok(a->flags))
        return reply_errno(b, EINVAL);
    if (!dirfd_ok(a->dirfd))
        return reply_errno(b, EBADF);
    /* struct mount_attr, size version 0, as the kernel reads it: not in
     * every libc's headers. userns_fd is read with MOUNT_ATTR_IDMAP only:
     * out of range, it makes that einval rather than name descriptor 0,
     * which is the loop's own. */
    struct {
        uint64_t attr_set, attr_clr, propagation, userns_fd;
    } attr = {(uint64_t)a->attr_set, (uint64_t)a->attr_clr,
              (uint64_t)a->propagation, UINT64_MAX};
    return reply_rv(b,
                    (int)syscall(SYS_mount_setattr, (int)a->dirfd, path,
                                 (unsigned int)a->flags, &attr, sizeof(attr)));
#else
    (void)args;
    return reply_errno(b, ENOTSUP);
#endif
}
#endif

#if CALL_open_tree
int alcove_sys_open_tree(alcove_t *ap, const alcove_args_t *args, build_t *b)
{
    (void)ap;
#ifdef SYS_open_tree
    const args_open_tree_t *a = &args->open_tree;
    const char *path = arg_str(&a->path);
    if (path == NULL || !flags_ok(a->flags))
        return reply_errno(b, EINVAL);
    if (!dirfd_ok(a->dirfd))
        return reply_errno(b, EBADF);
    long fd =
        syscall(SYS_open_tree, (int)a->dirfd, path, (unsigned int)a->flags);
    return fd < 0 ? reply_errno(b, errno) : reply_ok_int(b, fd);
#else
    (void)args;
    return reply_errno(b, ENOTSUP);
#endif
}
#endif

#if CALL_move_mount
int alcove_sys_move_mount(alcove_t *ap, const alcove_args_t *args, build_t *b)
{
    (void)ap;
#ifdef SYS_move_mount
    const args_move_mount_t *a = &args->move_mount;
    const char *from = arg_str(&a->from_path);
    const char *to = arg_str(&a->to_path);
    if (from == NULL || to == NULL || !flags_ok(a->flags))
        return reply_errno(b, EINVAL);
    if (!dirfd_ok(a->from_dirfd) || !dirfd_ok(a->to_dirfd))
        return reply_errno(b, EBADF);
    return reply_rv(b, (int)syscall(SYS_move_mount, (int)a->from_dirfd, from,
                                    (int)a->to_dirfd, to,
                                    (unsigned int)a->flags));
#else
    (void)args;
    return reply_errno(b, ENOTSUP);
#endif
}
#endif
