/* SPDX-License-Identifier: ISC */
/* Namespaces and sockets. */
#include "calls/calls.h"

#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include "wire/codec.h"
#include "wire/cstruct.h"

static int reply_rv(ei_x_buff *x, int rv)
{
    return rv < 0 ? reply_errno(x, errno) : reply_ok(x);
}

#ifdef __linux__
int alcove_sys_setns(alcove_t *ap, const alcove_arg_t *arg, ei_x_buff *x)
{
    (void)ap;
    return reply_rv(x, setns((int)arg[0].i, (int)arg[1].i));
}

int alcove_sys_unshare(alcove_t *ap, const alcove_arg_t *arg, ei_x_buff *x)
{
    (void)ap;
    return reply_rv(x, unshare((int)arg[0].i));
}
#endif

int alcove_sys_socket(alcove_t *ap, const alcove_arg_t *arg, ei_x_buff *x)
{
    int fd = socket((int)arg[0].i, (int)arg[1].i, (int)arg[2].i);
    if (fd < 0)
        return reply_errno(x, errno);
    fd_note(ap, fd);
    return reply_ok_int(x, fd);
}

/* A connect(2) interrupted by a signal goes on in the background (a
 * second connect would say EALREADY): wait for it and take its result. */
static int connect_finish(int fd)
{
    struct pollfd pfd = {.fd = fd, .events = POLLOUT};
    int n;
    do
        n = poll(&pfd, 1, -1);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return -1;
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        return -1;
    errno = err;
    return err == 0 ? 0 : -1;
}

int alcove_sys_connect(alcove_t *ap, const alcove_arg_t *arg, ei_x_buff *x)
{
    (void)ap;
    int fd = (int)arg[0].i;
    const struct cstruct *cs = arg[1].cs;
    if (cs->len > sizeof(struct sockaddr_storage))
        return reply_errno(x, EINVAL);
    /* [] or <<>>: no address */
    const struct sockaddr *sa =
        cs->len == 0 ? NULL : (const struct sockaddr *)cstruct_value(cs);
    int rv = connect(fd, sa, (socklen_t)cs->len);
    if (rv < 0 && errno == EINTR)
        rv = connect_finish(fd);
    return reply_rv(x, rv);
}
