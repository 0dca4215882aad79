/* SPDX-License-Identifier: ISC */
/* Files and directories of the call table: paths, modes, owners, links,
 * the current and root directories, and directory listings. */
#include "calls/calls.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Bounds of a readdir reply: it has to fit a frame. */
#define READDIR_MAX_ENTRIES 1000000
#define READDIR_MAX_BYTES (64 * 1024 * 1024)

/* The calls on paths: a path holding a NUL byte is einval. */
static int path1(build_t *b, const arg_bytes_t *p, int (*fn)(const char *))
{
    const char *path = arg_str(p);
    return path == NULL ? reply_errno(b, EINVAL) : reply_rv(b, fn(path));
}

static int path_mode(build_t *b, const arg_bytes_t *p, uint32_t mode,
                     int (*fn)(const char *, mode_t))
{
    const char *path = arg_str(p);
    return path == NULL ? reply_errno(b, EINVAL)
                        : reply_rv(b, fn(path, (mode_t)mode));
}

static int path2(build_t *b, const arg_bytes_t *p1, const arg_bytes_t *p2,
                 int (*fn)(const char *, const char *))
{
    const char *from = arg_str(p1), *to = arg_str(p2);
    return from == NULL || to == NULL ? reply_errno(b, EINVAL)
                                      : reply_rv(b, fn(from, to));
}

int alcove_sys_chdir(alcove_t *ap, const alcove_args_t *args, build_t *b)
{
    (void)ap;
    return path1(b, &args->chdir.path, chdir);
}

int alcove_sys_chmod(alcove_t *ap, const alcove_args_t *args, build_t *b)
{
    (void)ap;
    return path_mode(b, &args->chmod.path, args->chmod.mode, chmod);
}

int alcove_sys_chown(alcove_t *ap, const alcove_args_t *args, build_t *b)
{
    (void)ap;
    const args_chown_t *a = &args->chown;
    const char *path = arg_str(&a->path);
    if (path == NULL)
        return reply_errno(b, EINVAL);
    return reply_rv(b, chown(path, (uid_t)a->owner, (gid_t)a->group));
}

int alcove_sys_chroot(alcove_t *ap, const alcove_args_t *args, build_t *b)
{
    (void)ap;
    return path1(b, &args->chroot.path, chroot);
}

int alcove_sys_getcwd(alcove_t *ap, const alcove_args_t *args, build_t *b)
{
    (void)ap;
    (void)args;
    /* NULL, 0: sized by libc (glibc, musl and the BSDs), however long */
    char *cwd = getcwd(NULL, 0);
    if (cwd == NULL)
        return reply_errno(b, errno);
    put_ok_binary(b, cwd, strlen(cwd));
    free(cwd);
    return CALL_REPLY;
}

int alcove_sys_link(alcove_t *ap, const alcove_args_t *args, build_t *b)
{
    (void)ap;
    return path2(b, &args->link.oldpath, &args->link.newpath, link);
}

int alcove_sys_symlink(alcove_t *ap, const alcove_args_t *args, build_t *b)
{
    (void)ap;
    return path2(b, &args->symlink.oldpath, &args->symlink.newpath, symlink);
}

int alcove_sys_unlink(alcove_t *ap, const alcove_args_t *args, build_t *b)
{
    (void)ap;
    return path1(b, &args->unlink.path, unlink);
}

int alcove_sys_mkdir(alcove_t *ap, const alcove_args_t *args, build_t *b)
{
    (void)ap;
    return path_mode(b, &args->mkdir.path, args->mkdir.mode, mkdir);
}

int alcove_sys_mkfifo(alcove_t *ap, const alcove_args_t *args, build_t *b)
{
    (void)ap;
    return path_mode(b, &args->mkfifo.path, args->mkfifo.mode, mkfifo);
}

int alcove_sys_rmdir(alcove_t *ap, const alcove_args_t *args, build_t *b)
{
    (void)ap;
    return path1(b, &args->rmdir.path, rmdir);
}

/* Put the names of dir as a list, one cons cell at a time as the count
 * is not known up front. Returns 0, or an errno value. */
static int put_names(build_t *b, DIR *dir)
{
    size_t count = 0, bytes = 0;
    for (;;) {
        errno = 0;
        struct dirent *de = readdir(dir);
        if (de == NULL)
            break;
        size_t len = strlen(de->d_name);
        if (++count > READDIR_MAX_ENTRIES ||
            (bytes += len + 16) > READDIR_MAX_BYTES)
            return ENOMEM;
        put_list(b, 1);
        put_binary(b, de->d_name, len);
    }
    if (errno != 0)
        return errno;
    put_nil(b);
    return b->failed ? ENOMEM : 0;
}

int alcove_sys_readdir(alcove_t *ap, const alcove_args_t *args, build_t *b)
{
    (void)ap;
    const char *path = arg_str(&args->readdir.path);
    if (path == NULL)
        return reply_errno(b, EINVAL);
    DIR *dir = opendir(path);
    if (dir == NULL)
        return reply_errno(b, errno);
    int start = build_mark(b);
    put_tuple(b, 2);
    put_ok(b);
    int err = put_names(b, dir);
    (void)closedir(dir);
    if (err == 0)
        return CALL_REPLY;
    build_rewind(b, start); /* drop the names put so far */
    return reply_errno(b, err);
}
