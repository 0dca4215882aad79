/* SPDX-License-Identifier: ISC */
/* Calls on file descriptors: open, read, write. */
#include "calls/calls.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "wire/codec.h"

/* A read larger than this is refused: the reply would not fit a frame. */
#define READ_MAX (64 * 1024 * 1024)

int alcove_sys_open(alcove_t *ap, const alcove_arg_t *arg, ei_x_buff *x)
{
    const char *path = arg_str(&arg[0]);
    if (path == NULL)
        return reply_errno(x, EINVAL);
    int fd;
    do
        fd = open(path, (int)arg[1].i, (mode_t)arg[2].i);
    while (fd < 0 && errno == EINTR);
    if (fd < 0)
        return reply_errno(x, errno);
    fd_note(ap, fd);
    return reply_ok_int(x, fd);
}

int alcove_sys_read(alcove_t *ap, const alcove_arg_t *arg, ei_x_buff *x)
{
    int64_t count = arg[1].i;
    if (count < 0 || count > READ_MAX)
        return reply_errno(x, EINVAL);
    if (fd_internal(ap, arg[0].i))
        return reply_errno(x, EBADF);

    char *buf = malloc(count > 0 ? (size_t)count : 1);
    if (buf == NULL)
        return reply_errno(x, ENOMEM);
    ssize_t n;
    do
        n = read((int)arg[0].i, buf, (size_t)count);
    while (n < 0 && errno == EINTR);
    int err = errno;
    int rv = n < 0 ? enc_error(x, err)
                   : (ei_x_encode_tuple_header(x, 2) | enc_ok(x) |
                      enc_binary(x, buf, (size_t)n));
    free(buf);
    return rv < 0 ? CALL_BADARG : CALL_REPLY;
}

int alcove_sys_write(alcove_t *ap, const alcove_arg_t *arg, ei_x_buff *x)
{
    ssize_t n;
    if (fd_internal(ap, arg[0].i))
        return reply_errno(x, EBADF);
    do
        n = write((int)arg[0].i, arg[1].s, arg[1].n);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return reply_errno(x, errno);
    return reply_ok_int(x, n);
}
