/* SPDX-License-Identifier: ISC */
/*
 * What a process does with a request from upstream: pass it down the
 * fork chain, or run it here, or write to a child's stdin. Running a
 * call here, dispatch applies the rules its table entry's flags give
 * (gen/calls.eterm), before and after the handler.
 */
#include "calls/calls.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <stdlib.h>
#include <string.h>

#include "core/reexec.h"
#include "wire/build.h"
#include "wire/codec.h"
#include "wire/reply.h"

/* A reply buffer larger than this is given back once the reply is sent:
 * kept, one 64 MiB read would hold 64 MiB of this process for the rest
 * of its life. */
#define REPLY_KEEP (1024 * 1024)

static void reply_send(alcove_t *ap, uint32_t id, uint8_t status)
{
    /* a reply no frame can carry: the parent would cut this process off,
     * the driver would wait for ever */
    if ((size_t)ap->x.index - FRAME_LEN > FRAME_MAX)
        status = ALCOVE_BADARG;
    if (status != ALCOVE_OK && status != ALCOVE_EXEC)
        ap->x.index = REPLY_HDR;
    if (reply_frame(&ap->up.obuf.b, ap->x.buff, (size_t)ap->x.index, id,
                    status) < 0)
        die(DIE_NOMEM, "out of memory");
    obuf_mark(ap, &ap->up.obuf);
    if (ap->x.buffsz > REPLY_KEEP) {
        ei_x_free(&ap->x);
        if (ei_x_new(&ap->x) < 0)
            die(DIE_NOMEM, "out of memory");
    }
}

static void reply_status(alcove_t *ap, uint32_t id, uint8_t status)
{
    ap->x.index = REPLY_HDR;
    reply_send(ap, id, status);
}

/* Start a reply term after the space kept for the frame header. */
static build_t reply_begin(alcove_t *ap)
{
    ap->x.index = REPLY_HDR;
    if (ei_x_encode_version(&ap->x) < 0)
        die(DIE_NOMEM, "out of memory");
    return (build_t){.x = &ap->x};
}

/* A reply that is only {error, Errno}. */
static void reply_error(alcove_t *ap, uint32_t id, int errnum)
{
    build_t b = reply_begin(ap);
    put_error(&b, errnum);
    reply_send(ap, id, ALCOVE_OK);
}

bool call_filtered(const alcove_t *ap, size_t nr)
{
    return ap->opt.filter[nr / 8] & (1u << (nr % 8));
}

/* The result term put to b from mark on. */
static int result_term(const build_t *b, int mark, dec_t *d)
{
    return dec_init_raw(d, b->x->buff + mark, (size_t)(b->x->index - mark));
}

/* Whether the result is {error, _}: the call failed. */
static bool result_failed(const build_t *b, int mark)
{
    dec_t d;
    int arity;
    char atom[MAXATOMLEN_UTF8];
    return result_term(b, mark, &d) == 0 && dec_tuple(&d, &arity) == 0 &&
           arity == 2 && dec_atom(&d, atom) == 0 && strcmp(atom, "error") == 0;
}

/* newfd: the N of an {ok, N} result, if it names a descriptor, is one
 * the call made. Only N at fd_base or above matters to fd_note, and for
 * those the check costs a system call (fcntl's other results, such as
 * flags, are no descriptors). */
static void note_result_fd(alcove_t *ap, const build_t *b, int mark)
{
    dec_t d;
    int arity;
    int64_t n;
    char atom[MAXATOMLEN_UTF8];
    if (result_term(b, mark, &d) < 0 || dec_tuple(&d, &arity) < 0 ||
        arity != 2 || dec_atom(&d, atom) < 0 || strcmp(atom, "ok") != 0 ||
        dec_int64(&d, &n) < 0 || n < ap->fds.base || n > INT32_MAX)
        return;
    if (fcntl((int)n, F_GETFD) >= 0)
        fd_note(ap, n);
}

/* The rules applied before the handler: 0 to run it, else the errno of
 * the result, or -1 once the rule did what the call asks (an eof, whose
 * request is answered later, but in a sequence). One of the loop's own
 * descriptors (ownfd) becomes -1, which every system call refuses with
 * ebadf: the handler checks its other arguments first, as for any bad
 * descriptor. */
static int call_before(alcove_t *ap, const alcove_call_t *call,
                       alcove_args_t *args, run_mode_t mode)
{
    /* the port's exec needs the driver's control connection: nothing
     * else would tell the driver that it happened */
    if (call->flags & CALLF_EXEC && ap->depth == 0 && ap->up.ctl < 0 &&
        mode != RUN_SPAWNED)
        return ENOTSUP;
    if (!(call->flags & (CALLF_STDIO | CALLF_OWNFD)))
        return 0;
    for (int i = 0; i < call->nargs; i++) {
        if (call->args[i].type != T_FD)
            continue;
        int *fd = args_fd(call, args, i), stream;
        child_t *c;
        if (call->flags & CALLF_STDIO && mode != RUN_SPAWNED &&
            (c = child_stdio(ap, *fd, &stream)) != NULL) {
            int err = child_eof(ap, c, stream, ap->req_id, mode == RUN_ALONE);
            return err == 0 ? -1 : err;
        }
        if (call->flags & CALLF_OWNFD && fd_internal(ap, *fd))
            *fd = -1;
    }
    return 0;
}

/* The rules applied after a handler's result, put from mark on: a
 * result of {error, _} is no success. */
static void call_after(alcove_t *ap, const alcove_call_t *call,
                       const build_t *b, int mark)
{
    if (call->flags & CALLF_EXIT)
        ap->life.leaving = true; /* the loop sends the reply, then exits */
    if (!(call->flags &
          (CALLF_NEWFD | CALLF_ANYFD | CALLF_CREDS | CALLF_NOFASTFORK)) ||
        result_failed(b, mark))
        return;
    if (call->flags & CALLF_NEWFD)
        note_result_fd(ap, b, mark);
    if (call->flags & CALLF_ANYFD)
        fd_probe(ap);
    if (call->flags & CALLF_CREDS)
        pdeathsig_arm(ap);
    if (call->flags & CALLF_NOFASTFORK)
        ap->fds.fork_fast = false;
}

/* spawn/4's child dies with its parent, as any child does: a change of
 * credentials clears that. */
static void spawned_after(const alcove_call_t *call, const build_t *b,
                          int mark)
{
#ifdef PR_SET_PDEATHSIG
    if (call->flags & CALLF_CREDS && !result_failed(b, mark))
        (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
#else
    (void)call;
    (void)b;
    (void)mark;
#endif
}

int dispatch_call(alcove_t *ap, size_t nr, const char *buf, size_t len,
                  build_t *b, run_mode_t mode)
{
    alcove_args_t args;

    if (call_filtered(ap, nr))
        return CALL_UNDEF;
    const alcove_call_t *call = &alcove_calls[nr];
    switch (args_decode(call, buf, len, &args)) {
    case ARGS_BADARG:
        return CALL_BADARG;
    case ARGS_ENOTSUP:
        return reply_errno(b, ENOTSUP);
    case ARGS_SKIP:
        return CALL_SKIP;
    }

    /* Checked after decoding: a build without handlers (the fuzzer's,
     * fuzz/fuzz_port.c) still decodes every call's arguments. */
    if (call->fn == NULL)
        return CALL_UNDEF;

    if (call->fn != alcove_enotsup) {
        int err = call_before(ap, call, &args, mode);
        if (err < 0)
            return mode == RUN_ALONE ? CALL_LATER : reply_ok(b);
        if (err > 0)
            return reply_errno(b, err);
    }
    int mark = build_mark(b);
    bool block = call->flags & CALLF_BLOCK && mode != RUN_SPAWNED;
    if (block)
        sig_block_calls(ap, true);
    int rv = call->fn(ap, &args, b);
    if (block)
        sig_block_calls(ap, false);
    switch (rv) {
    case CALL_REPLY:
        if (b->failed) {
            /* a term no frame can carry */
            build_rewind(b, mark);
            return CALL_BADARG;
        }
        if (mode == RUN_SPAWNED)
            spawned_after(call, b, mark);
        else
            call_after(ap, call, b, mark);
        break;
    case CALL_BADARG:
        build_rewind(b, mark);
        break;
    }
    return rv;
}

static void run(alcove_t *ap, const down_hdr_t *h)
{
    if (h->restlen < 2) {
        reply_status(ap, h->id, ALCOVE_BADARG);
        return;
    }
    size_t nr = get16(h->rest);
    if (nr >= alcove_ncalls) {
        reply_status(ap, h->id, ALCOVE_BADARG);
        return;
    }

    ap->req_id = h->id;
    build_t b = reply_begin(ap);
    switch (
        dispatch_call(ap, nr, h->rest + 2, h->restlen - 2, &b, RUN_ALONE)) {
    case CALL_REPLY:
        reply_send(ap, h->id, ALCOVE_OK);
        break;
    case CALL_BADARG:
        reply_status(ap, h->id, ALCOVE_BADARG);
        break;
    case CALL_UNDEF:
        reply_status(ap, h->id, ALCOVE_UNDEF);
        break;
    }
}

void dispatch_reply_now(alcove_t *ap, build_t *b, uint8_t status)
{
    reply_send(ap, ap->req_id, b->failed ? ALCOVE_BADARG : status);
    *b = reply_begin(ap);
}

static void route(alcove_t *ap, const down_hdr_t *h)
{
    child_t *c = child_get(ap, (pid_t)get32(h->pids));
    if (c == NULL || c->ctl.fd < 0 || c->exited) {
        reply_status(ap, h->id, ALCOVE_BADPID);
        return;
    }
    if (down_pop(&c->ctl_out.b, h) < 0)
        die(DIE_NOMEM, "out of memory");
    obuf_mark(ap, &c->ctl_out);
}

/* eof/3: the last PID is meant to be a child of this process, and the
 * byte after it (none: stdin) names its stream. What is not a child is
 * esrch, a stream already closed ebadf, as the reference's close(2) of
 * the descriptor in cpid/2 answered. */
static void eof(alcove_t *ap, const down_hdr_t *h)
{
    int stream = h->restlen == 0 ? EOF_STDIN : (uint8_t)h->rest[0];
    if (h->restlen > 1 || stream > EOF_STDERR) {
        reply_status(ap, h->id, ALCOVE_BADARG);
        return;
    }
    child_t *c = child_get(ap, (pid_t)get32(h->pids));
    int err = c == NULL ? ESRCH : child_eof(ap, c, stream, h->id, true);
    if (err != 0)
        reply_error(ap, h->id, err);
}

/* stdin/3: the last PID is a child of this process. */
static void stdio(alcove_t *ap, const down_hdr_t *h)
{
    child_t *c = child_get(ap, (pid_t)get32(h->pids));
    if (c == NULL || c->in.fd < 0 || c->eof_pending) {
        reply_status(ap, h->id, ALCOVE_BADPID);
        return;
    }
    if (c->nacks == c->capacks) {
        size_t n = c->capacks ? c->capacks * 2 : 4;
        stdin_ack_t *a = realloc(c->acks, n * sizeof(*a));
        if (a == NULL)
            die(DIE_NOMEM, "out of memory");
        c->acks = a;
        c->capacks = n;
    }
    if (abuf_append(&c->stdin_out.b, h->rest, h->restlen) < 0)
        die(DIE_NOMEM, "out of memory");
    c->stdin_total += h->restlen;
    c->acks[c->nacks++] = (stdin_ack_t){.id = h->id, .end = c->stdin_total};
    obuf_mark(ap, &c->stdin_out);
}

/* The answer to an exec of alcove, sent by the new image. */
void reply_ok_to(alcove_t *ap, uint32_t id)
{
    build_t b = reply_begin(ap);
    put_ok(&b);
    reply_send(ap, id, ALCOVE_OK);
}

/* A frame too short for its header, or for the PIDs it counts: if it
 * holds a request id, the request is answered, so that its sender does
 * not wait for ever. */
void dispatch_short(alcove_t *ap, const char *body, uint32_t len)
{
    if (len >= 1 + 4 && (uint8_t)body[0] != MSG_SHUTDOWN &&
        (uint8_t)body[0] != MSG_HELLO)
        reply_status(ap, get32(body + 1), ALCOVE_BADARG);
}

void dispatch(alcove_t *ap, const down_hdr_t *h)
{
    switch (h->type) {
    case MSG_CALL:
        if (h->n == 0)
            run(ap, h);
        else
            route(ap, h);
        break;
    case MSG_STDIN:
    case MSG_EOF:
        if (h->n == 0)
            reply_status(ap, h->id, ALCOVE_BADPID);
        else if (h->n > 1)
            route(ap, h);
        else if (h->type == MSG_EOF)
            eof(ap, h);
        else
            stdio(ap, h);
        break;
    case MSG_SHUTDOWN:
        ap->up.closed = true;
        break;
    case MSG_HELLO:
        /* the driver's, first of all: never answered */
        if (h->n == 0)
            ctl_hello(ap, h->rest, h->restlen);
        else
            reply_status(ap, h->id, ALCOVE_BADARG);
        break;
    default:
        reply_status(ap, h->id, ALCOVE_BADARG);
        break;
    }
}

int alcove_enotsup(alcove_t *ap, const alcove_args_t *args, build_t *b)
{
    (void)ap;
    (void)args;
    return reply_errno(b, ENOTSUP);
}
