/* SPDX-License-Identifier: ISC */
/* Landlock of the call table (Linux 5.13 and later): a ruleset made, its
 * rules added, the process restricted by it, and the names of its
 * constants. The structures are the kernel's, written here: the
 * system's headers may be older than the kernel (calls/landlock.h). */
#include "calls/calls.h"

#include <limits.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "calls/landlock.h"

#if CALL_landlock_create_ruleset || CALL_landlock_restrict_self
static inline bool u32_ok(int64_t v) { return v >= 0 && v <= UINT32_MAX; }
#endif

#if CALL_landlock_create_ruleset
int alcove_sys_landlock_create_ruleset(alcove_t *ap, const alcove_args_t *args,
                                       build_t *b)
{
    (void)ap;
#ifdef SYS_landlock_create_ruleset
    const args_landlock_create_ruleset_t *a = &args->landlock_create_ruleset;
    if (!u32_ok(a->flags))
        return reply_errno(b, EINVAL);
    /* struct landlock_ruleset_attr of ABI 6: a kernel before takes it
     * whole while the fields it lacks are 0 (e2big otherwise) */
    struct {
        uint64_t handled_access_fs, handled_access_net, scoped;
    } attr = {(uint64_t)a->handled_access_fs, (uint64_t)a->handled_access_net,
              (uint64_t)a->scoped};
    /* the version and errata queries take no attribute */
    bool none = attr.handled_access_fs == 0 && attr.handled_access_net == 0 &&
                attr.scoped == 0 && a->flags != 0;
    long fd = syscall(SYS_landlock_create_ruleset, none ? NULL : &attr,
                      none ? 0 : sizeof(attr), (uint32_t)a->flags);
    return fd < 0 ? reply_errno(b, errno) : reply_ok_int(b, fd);
#else
    (void)args;
    return reply_errno(b, ENOTSUP);
#endif
}
#endif

#if CALL_landlock_add_rule
int alcove_sys_landlock_add_rule(alcove_t *ap, const alcove_args_t *args,
                                 build_t *b)
{
    (void)ap;
#ifdef SYS_landlock_add_rule
    const args_landlock_add_rule_t *a = &args->landlock_add_rule;
    struct {
        uint64_t allowed_access;
        int32_t parent_fd;
    } __attribute__((packed)) beneath = {(uint64_t)a->allowed_access, -1};
    struct {
        uint64_t allowed_access, port;
    } port = {(uint64_t)a->allowed_access, (uint64_t)a->target};
    /* an unknown type has no attribute: the kernel checks the ruleset's
     * descriptor, then refuses the type (einval), as for any */
    int type = 0;
    const void *attr = NULL;
    if (a->rule_type == LANDLOCK_RULE_PATH_BENEATH) {
        if (a->target < INT_MIN || a->target > INT_MAX)
            return reply_errno(b, EBADF);
        beneath.parent_fd = (int32_t)a->target;
        type = LANDLOCK_RULE_PATH_BENEATH;
        attr = &beneath;
    } else if (a->rule_type == LANDLOCK_RULE_NET_PORT) {
        type = LANDLOCK_RULE_NET_PORT;
        attr = &port;
    }
    return reply_rv(b, (int)syscall(SYS_landlock_add_rule, a->ruleset_fd, type,
                                    attr, a->flags));
#else
    (void)args;
    return reply_errno(b, ENOTSUP);
#endif
}
#endif

#if CALL_landlock_restrict_self
int alcove_sys_landlock_restrict_self(alcove_t *ap, const alcove_args_t *args,
                                      build_t *b)
{
    (void)ap;
#ifdef SYS_landlock_restrict_self
    const args_landlock_restrict_self_t *a = &args->landlock_restrict_self;
    if (!u32_ok(a->flags))
        return reply_errno(b, EINVAL);
    return reply_rv(b, (int)syscall(SYS_landlock_restrict_self, a->ruleset_fd,
                                    (uint32_t)a->flags));
#else
    (void)args;
    return reply_errno(b, ENOTSUP);
#endif
}
#endif

int alcove_sys_landlock_constant(alcove_t *ap, const alcove_args_t *args,
                                 build_t *b)
{
    (void)ap;
    int64_t v;
    if (alcove_const_lookup(&alcove_const_landlock,
                            args->landlock_constant.name, &v) < 0)
        put_atom(b, "unknown");
    else
        put_int(b, v);
    return CALL_REPLY;
}
