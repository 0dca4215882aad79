/* SPDX-License-Identifier: ISC */
/*
 * What a process does with a request from upstream: pass it down the
 * fork chain, or run it here, or write to a child's stdin.
 */
#include "calls/calls.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "wire/codec.h"
#include "core/reexec.h"
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
    if (status != ALCOVE_OK)
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
static void reply_begin(alcove_t *ap)
{
    ap->x.index = REPLY_HDR;
    if (ei_x_encode_version(&ap->x) < 0)
        die(DIE_NOMEM, "out of memory");
}

static bool filtered(const uint8_t *set, size_t nr)
{
    return set[nr / 8] & (1u << (nr % 8));
}

static void run(alcove_t *ap, const down_hdr_t *h)
{
    alcove_arg_t arg[ALCOVE_MAXARGS];

    if (h->restlen < 2) {
        reply_status(ap, h->id, ALCOVE_BADARG);
        return;
    }
    size_t nr = get16(h->rest);
    if (nr >= alcove_ncalls) {
        reply_status(ap, h->id, ALCOVE_BADARG);
        return;
    }
    if (filtered(ap->opt.filter, nr)) {
        reply_status(ap, h->id, ALCOVE_UNDEF);
        return;
    }

    const alcove_call_t *call = &alcove_calls[nr];
    switch (args_decode(call, h->rest + 2, h->restlen - 2, arg)) {
    case ARGS_BADARG:
        reply_status(ap, h->id, ALCOVE_BADARG);
        return;
    case ARGS_ENOTSUP:
        reply_begin(ap);
        if (enc_error(&ap->x, ENOTSUP) < 0)
            die(DIE_NOMEM, "out of memory");
        reply_send(ap, h->id, ALCOVE_OK);
        return;
    }

    /* Checked after decoding: a build without handlers (the fuzzer's,
     * fuzz/fuzz_port.c) still decodes every call's arguments. */
    if (call->fn == NULL) {
        reply_status(ap, h->id, ALCOVE_UNDEF);
        return;
    }

    reply_begin(ap);
    ap->req_id = h->id;
    bool block = call->flags & CALLF_BLOCK;
    if (block)
        sig_block_calls(ap, true);
    int rv = call->fn(ap, arg, &ap->x);
    if (block)
        sig_block_calls(ap, false);
    switch (rv) {
    case CALL_REPLY:
        reply_send(ap, h->id, ALCOVE_OK);
        break;
    case CALL_BADARG:
        reply_status(ap, h->id, ALCOVE_BADARG);
        break;
    case CALL_CHILD:
    case CALL_LATER:
        break;
    }
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
    int err = c == NULL ? ESRCH : child_eof(ap, c, stream, h->id);
    if (err == 0)
        return;
    reply_begin(ap);
    if (enc_error(&ap->x, err) < 0)
        die(DIE_NOMEM, "out of memory");
    reply_send(ap, h->id, ALCOVE_OK);
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
    reply_begin(ap);
    if (enc_ok(&ap->x) < 0)
        die(DIE_NOMEM, "out of memory");
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

int alcove_enotsup(alcove_t *ap, const alcove_arg_t *arg, ei_x_buff *x)
{
    (void)ap;
    (void)arg;
    return enc_error(x, ENOTSUP) < 0 ? CALL_BADARG : CALL_REPLY;
}
