/* SPDX-License-Identifier: ISC */
/* Event loop of the call table: calls about the loop itself, its
 * options, children, version and filters. */
#include "calls/calls.h"

#include <errno.h>
#include <string.h>

int alcove_sys_getopt(alcove_t *ap, const alcove_args_t *args, build_t *b)
{
    int o = opt_by_name(args->getopt.opt);
    return o < 0 ? reply_bool(b, false) : reply_int(b, *opt_field(ap, o));
}

int alcove_sys_setopt(alcove_t *ap, const alcove_args_t *args, build_t *b)
{
    const args_setopt_t *a = &args->setopt;
    int o = opt_by_name(a->opt);
    if (o < 0 || !opt_valid(o, a->val))
        return reply_bool(b, false);
    *opt_field(ap, o) = a->val;
    return reply_bool(b, true);
}

/* A child whose control socket is closed has exec'd (or exited): the
 * reference says so with -2, which prx reads as exec'd. */
static int fdctl(const child_t *c) { return c->ctl.fd < 0 ? -2 : c->ctl.fd; }

int alcove_sys_cpid(alcove_t *ap, const alcove_args_t *args, build_t *b)
{
    (void)args;
    if (ap->kids.n > 0)
        put_list(b, (int)ap->kids.n);
    for (child_t *c = ap->kids.first; c; c = c->next) {
        put_tuple(b, 8);
        put_atom(b, "alcove_pid");
        put_int(b, c->pid);
        put_int(b, c->flowcontrol);
        put_int(b, c->signaloneof);
        put_int(b, fdctl(c));
        put_int(b, c->in.fd);
        put_int(b, c->out.fd);
        put_int(b, c->err.fd);
    }
    put_nil(b);
    return CALL_REPLY;
}

int alcove_sys_getcpid(alcove_t *ap, const alcove_args_t *args, build_t *b)
{
    child_t *c = child_get(ap, args->getcpid.child);
    const char *opt = args->getcpid.opt;
    if (c == NULL)
        return reply_bool(b, false);
    if (strcmp(opt, "pid") == 0)
        return reply_int(b, c->pid);
    if (strcmp(opt, "flowcontrol") == 0)
        return reply_int(b, c->flowcontrol);
    if (strcmp(opt, "signaloneof") == 0)
        return reply_int(b, c->signaloneof);
    if (strcmp(opt, "fdctl") == 0)
        return reply_int(b, fdctl(c));
    if (strcmp(opt, "stdin") == 0)
        return reply_int(b, c->in.fd);
    if (strcmp(opt, "stdout") == 0)
        return reply_int(b, c->out.fd);
    if (strcmp(opt, "stderr") == 0)
        return reply_int(b, c->err.fd);
    return reply_bool(b, false);
}

int alcove_sys_setcpid(alcove_t *ap, const alcove_args_t *args, build_t *b)
{
    const args_setcpid_t *a = &args->setcpid;
    child_t *c = child_get(ap, a->child);
    const char *opt = a->opt;
    int32_t v = a->val;
    if (c == NULL)
        return reply_bool(b, false);
    if (strcmp(opt, "flowcontrol") == 0 && v >= -1) {
        c->flowcontrol = v;
        /* output held back by flow control can be read now */
        if (v != 0) {
            if (c->out.readable && c->out.fd >= 0)
                rq_push(ap, &c->out);
            if (c->err.readable && c->err.fd >= 0)
                rq_push(ap, &c->err);
        }
        return reply_bool(b, true);
    }
    if (strcmp(opt, "signaloneof") == 0 && v >= 0 && v < NSIG) {
        c->signaloneof = v;
        return reply_bool(b, true);
    }
    return reply_bool(b, false);
}

int alcove_sys_version(alcove_t *ap, const alcove_args_t *args, build_t *b)
{
    (void)ap;
    (void)args;
    put_binary(b, ALCOVE_VERSION, sizeof(ALCOVE_VERSION) - 1);
    return CALL_REPLY;
}

static bool calls_valid(const arg_bytes_t *a)
{
    for (size_t i = 0; i < a->n; i++)
        if ((uint8_t)a->s[i] >= alcove_ncalls)
            return false;
    return true;
}

static void calls_add(uint8_t *set, const arg_bytes_t *a)
{
    for (size_t i = 0; i < a->n; i++) {
        uint8_t nr = (uint8_t)a->s[i];
        set[nr / 8] |= (uint8_t)(1u << (nr % 8));
    }
}

int alcove_sys_filter(alcove_t *ap, const alcove_args_t *args, build_t *b)
{
    const args_filter_t *a = &args->filter;
    if (!calls_valid(&a->calls) || !calls_valid(&a->child_calls))
        return reply_errno(b, EINVAL);
    /* a call once forbidden stays forbidden */
    calls_add(ap->opt.filter, &a->calls);
    calls_add(ap->opt.child_filter, &a->child_calls);
    return reply_ok(b);
}
