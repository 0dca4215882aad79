/* SPDX-License-Identifier: ISC */
/* Seccomp notification: a filter whose listener goes to the parent's
 * event loop, and the parent's answers (the design: core/notify.c). */
#include "calls/calls.h"

#include <errno.h>

#include <limits.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "wire/cstruct.h"

#ifdef __linux__
#include <linux/seccomp.h>
#endif

#if CALL_seccomp_notify_filter
int alcove_sys_seccomp_notify_filter(alcove_t *ap, const alcove_args_t *args,
                                     build_t *b)
{
    const args_seccomp_notify_filter_t *a = &args->seccomp_notify_filter;
#ifdef SECCOMP_FILTER_FLAG_NEW_LISTENER
    /* the port's upstream is the VM: no loop above to watch it */
    if (ap->depth == 0 || a->flags < 0 || a->flags > UINT_MAX)
        return reply_errno(b, EINVAL);
    long fd =
        syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
                (unsigned int)a->flags | SECCOMP_FILTER_FLAG_NEW_LISTENER,
                cstruct_value(a->prog));
    if (fd < 0)
        return reply_errno(b, errno);
    /* installed: if the parent cannot have the listener, the calls it
     * notifies fail (enosys), as once the listener is closed */
    int rv = notify_send(ap, (int)fd);
    int err = errno;
    close((int)fd);
    return rv < 0 ? reply_errno(b, err) : reply_ok(b);
#else
    (void)ap;
    (void)a;
    return reply_errno(b, ENOTSUP);
#endif
}
#endif

#if CALL_seccomp_notify_respond
int alcove_sys_seccomp_notify_respond(alcove_t *ap, const alcove_args_t *args,
                                      build_t *b)
{
    const args_seccomp_notify_respond_t *a = &args->seccomp_notify_respond;
#if defined(SECCOMP_IOCTL_NOTIF_SEND) &&                                      \
    defined(SECCOMP_USER_NOTIF_FLAG_CONTINUE)
    struct seccomp_notif_resp r = {.id = a->id};
    switch (a->action) {
    case ARG_seccomp_notify_respond_action_continue:
        if (a->value != 0)
            return reply_errno(b, EINVAL);
        r.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
        break;
    case ARG_seccomp_notify_respond_action_errno:
        if (a->value < 1 || a->value > 4095)
            return reply_errno(b, EINVAL);
        r.error = -(int32_t)a->value;
        break;
    default:
        r.val = a->value;
        break;
    }
    /* the listener of a child that is gone went with it */
    child_t *c = child_get(ap, a->pid);
    if (c == NULL || c->notify.fd < 0)
        return reply_errno(b, ENOENT);
    int rv;
    do
        rv = ioctl(c->notify.fd, SECCOMP_IOCTL_NOTIF_SEND, &r);
    while (rv < 0 && errno == EINTR);
    return reply_rv(b, rv);
#else
    (void)ap;
    (void)a;
    return reply_errno(b, ENOTSUP);
#endif
}
#endif
