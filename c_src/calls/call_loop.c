/* SPDX-License-Identifier: ISC */
/* Calls about the event loop itself: options, children, filters. */
#include "calls/calls.h"

#include <errno.h>
#include <string.h>

#include "wire/codec.h"

int alcove_sys_getopt(alcove_t *ap, const alcove_arg_t *arg, ei_x_buff *x)
{
    int o = opt_by_name(arg[0].s);
    return o < 0 ? reply_bool(x, false) : reply_int(x, *opt_field(ap, o));
}

int alcove_sys_setopt(alcove_t *ap, const alcove_arg_t *arg, ei_x_buff *x)
{
    int o = opt_by_name(arg[0].s);
    if (o < 0 || !opt_valid(o, arg[1].i))
        return reply_bool(x, false);
    *opt_field(ap, o) = (int32_t)arg[1].i;
    return reply_bool(x, true);
}

/* A child whose control socket is closed has exec'd (or exited): the
 * reference says so with -2, which prx reads as exec'd. */
static int fdctl(const child_t *c) { return c->ctl.fd < 0 ? -2 : c->ctl.fd; }

int alcove_sys_cpid(alcove_t *ap, const alcove_arg_t *arg, ei_x_buff *x)
{
    (void)arg;
    if (ap->kids.n > 0 && ei_x_encode_list_header(x, (long)ap->kids.n) < 0)
        return CALL_BADARG;
    for (child_t *c = ap->kids.first; c; c = c->next) {
        if (ei_x_encode_tuple_header(x, 8) < 0 ||
            enc_atom(x, "alcove_pid") < 0 || enc_int(x, c->pid) < 0 ||
            enc_int(x, c->flowcontrol) < 0 || enc_int(x, c->signaloneof) < 0 ||
            enc_int(x, fdctl(c)) < 0 || enc_int(x, c->in.fd) < 0 ||
            enc_int(x, c->out.fd) < 0 || enc_int(x, c->err.fd) < 0)
            return CALL_BADARG;
    }
    return ei_x_encode_empty_list(x) < 0 ? CALL_BADARG : CALL_REPLY;
}

int alcove_sys_getcpid(alcove_t *ap, const alcove_arg_t *arg, ei_x_buff *x)
{
    child_t *c = child_get(ap, (pid_t)arg[0].i);
    const char *opt = arg[1].s;
    if (c == NULL)
        return reply_bool(x, false);
    if (strcmp(opt, "pid") == 0)
        return reply_int(x, c->pid);
    if (strcmp(opt, "flowcontrol") == 0)
        return reply_int(x, c->flowcontrol);
    if (strcmp(opt, "signaloneof") == 0)
        return reply_int(x, c->signaloneof);
    if (strcmp(opt, "fdctl") == 0)
        return reply_int(x, fdctl(c));
    if (strcmp(opt, "stdin") == 0)
        return reply_int(x, c->in.fd);
    if (strcmp(opt, "stdout") == 0)
        return reply_int(x, c->out.fd);
    if (strcmp(opt, "stderr") == 0)
        return reply_int(x, c->err.fd);
    return reply_bool(x, false);
}

int alcove_sys_setcpid(alcove_t *ap, const alcove_arg_t *arg, ei_x_buff *x)
{
    child_t *c = child_get(ap, (pid_t)arg[0].i);
    const char *opt = arg[1].s;
    int64_t v = arg[2].i;
    if (c == NULL)
        return reply_bool(x, false);
    if (strcmp(opt, "flowcontrol") == 0 && v >= -1) {
        c->flowcontrol = (int32_t)v;
        /* output held back by flow control can be read now */
        if (v != 0) {
            if (c->out.readable && c->out.fd >= 0)
                rq_push(ap, &c->out);
            if (c->err.readable && c->err.fd >= 0)
                rq_push(ap, &c->err);
        }
        return reply_bool(x, true);
    }
    if (strcmp(opt, "signaloneof") == 0 && v >= 0 && v < NSIG) {
        c->signaloneof = (int32_t)v;
        return reply_bool(x, true);
    }
    return reply_bool(x, false);
}

int alcove_sys_version(alcove_t *ap, const alcove_arg_t *arg, ei_x_buff *x)
{
    (void)ap;
    (void)arg;
    return enc_binary(x, ALCOVE_VERSION, sizeof(ALCOVE_VERSION) - 1) < 0
               ? CALL_BADARG
               : CALL_REPLY;
}

static bool calls_valid(const alcove_arg_t *a)
{
    for (size_t i = 0; i < a->n; i++)
        if ((uint8_t)a->s[i] >= alcove_ncalls)
            return false;
    return true;
}

static void calls_add(uint8_t *set, const alcove_arg_t *a)
{
    for (size_t i = 0; i < a->n; i++) {
        uint8_t nr = (uint8_t)a->s[i];
        set[nr / 8] |= (uint8_t)(1u << (nr % 8));
    }
}

int alcove_sys_filter(alcove_t *ap, const alcove_arg_t *arg, ei_x_buff *x)
{
    if (!calls_valid(&arg[0]) || !calls_valid(&arg[1])) {
        if (ei_x_encode_tuple_header(x, 2) < 0 || enc_atom(x, "error") < 0 ||
            enc_atom(x, "einval") < 0)
            return CALL_BADARG;
        return CALL_REPLY;
    }
    /* a call once forbidden stays forbidden */
    calls_add(ap->opt.filter, &arg[0]);
    calls_add(ap->opt.child_filter, &arg[1]);
    return enc_ok(x) < 0 ? CALL_BADARG : CALL_REPLY;
}
