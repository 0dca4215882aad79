/* SPDX-License-Identifier: ISC */
/*
 * Byte buffers and the framing of the wire protocol.
 *
 * Every message, on the port's stdin/stdout and on each child's control
 * socket, is a frame: a 32-bit big-endian length, then that many bytes.
 *
 * Downstream (towards the process that runs a call):
 *   CALL     type:8 id:32 n:16 pid:32*n nr:16 args
 *   STDIN    type:8 id:32 n:16 pid:32*n data        (n >= 1)
 *   EOF      type:8 id:32 n:16 pid:32*n [stream:8]  (n >= 1; EOF_STDIN,
 *                                                    EOF_STDOUT, EOF_STDERR)
 *   SHUTDOWN type:8                                  (also to a child
 *                                                    whose stdin eof/3
 *                                                    closed)
 *   HELLO    type:8 id:32 n:16 secret:128 name       (port only, first:
 *            the control connection to the driver, see reexec.h)
 * Each hop pops the first PID and passes the frame to that child.
 *
 * Upstream (towards Erlang):
 *   REPLY    type:8 id:32 status:8 term             (passed on as it is)
 *   STDOUT, STDERR, EVENT, CLOSED
 *            type:8 n:16 pid:32*n payload
 *   EXEC     type:8 id:32   the port is about to exec for request id
 *   PTY      type:8         a child's pty master, passed with the frame
 *                           (SCM_RIGHTS), taken by its parent: call_pty.c
 *   LISTENER type:8 n:16     (n = 0) a child's seccomp listener, the
 *                            descriptor carried by SCM_RIGHTS: taken by
 *                            its parent, never passed on (core/notify.c)
 * Each hop pushes the PID of the child the frame came from, so the fork
 * chain is built on the way up and no hop needs to know its own place.
 */
#ifndef ALCOVE_FRAME_H
#define ALCOVE_FRAME_H

#include <stddef.h>
#include <stdint.h>

/* The frame types (MSG_*), the stream byte of EOF (EOF_*) and the sizes
 * FRAME_LEN, FRAME_MAX (a larger frame is a broken peer, not a big
 * request: the Erlang side splits stdin into pieces far below it),
 * DOWN_HDR (type id n), UP_HDR (type n) and REPLY_HDR, kept with the
 * Erlang side's in gen/facts.eterm. */
#include "gen/alcove_facts.h"

typedef struct {
    char *data;
    size_t off; /* first unconsumed byte */
    size_t len; /* bytes held from off */
    size_t cap;
} abuf_t;

int abuf_reserve(abuf_t *b, size_t n);
int abuf_append(abuf_t *b, const void *p, size_t n);
void abuf_consume(abuf_t *b, size_t n);
/* Give back an empty buffer larger than keep: a child's buffers keep
 * little (a port may have thousands), the upstream ones keep what a
 * stream needs, so that the hot path does not allocate. */
void abuf_trim(abuf_t *b, size_t keep);
void abuf_free(abuf_t *b);

static inline char *abuf_head(const abuf_t *b) { return b->data + b->off; }
static inline char *abuf_tail(const abuf_t *b)
{
    return b->data + b->off + b->len;
}

static inline uint16_t get16(const void *p)
{
    const uint8_t *c = p;
    return (uint16_t)(c[0] << 8 | c[1]);
}

static inline uint32_t get32(const void *p)
{
    const uint8_t *c = p;
    return (uint32_t)c[0] << 24 | (uint32_t)c[1] << 16 | (uint32_t)c[2] << 8 |
           c[3];
}

static inline void put16(void *p, uint16_t v)
{
    uint8_t *c = p;
    c[0] = (uint8_t)(v >> 8);
    c[1] = (uint8_t)v;
}

static inline void put32(void *p, uint32_t v)
{
    uint8_t *c = p;
    c[0] = (uint8_t)(v >> 24);
    c[1] = (uint8_t)(v >> 16);
    c[2] = (uint8_t)(v >> 8);
    c[3] = (uint8_t)v;
}

typedef enum { FRAME_MORE = 0, FRAME_OK = 1, FRAME_TOOBIG = -1 } frame_res_t;

/* How much to read next into b: chunk, or the rest of a larger frame so
 * that it arrives in one read. */
size_t frame_want(const abuf_t *b, size_t chunk);

/* Is a whole frame at the head of b? Sets its body and length if so. */
frame_res_t frame_next(const abuf_t *b, const char **body, uint32_t *len);

typedef struct {
    uint8_t type;
    uint32_t id;
    uint16_t n;
    const char *pids; /* n big-endian PIDs */
    const char *rest; /* after the PIDs */
    size_t restlen;
} down_hdr_t;

/* Parse a downstream header; -1 if the body is too short for it. */
int down_parse(const char *body, uint32_t len, down_hdr_t *h);

/* Append the frame for the next hop: h without its first PID. */
int down_pop(abuf_t *out, const down_hdr_t *h);

/* Append an upstream frame received from child pid, with pid pushed. */
int up_push(abuf_t *out, uint32_t pid, const char *body, uint32_t len);

/* Reserve room for an upstream frame of type from pid holding up to max
 * payload bytes; returns where the payload goes, or NULL. Finish it with
 * up_commit once the payload length is known. */
char *up_begin(abuf_t *out, size_t max);
void up_commit(abuf_t *out, uint8_t type, uint32_t pid, size_t n);
/* The header alone of such a frame, its n payload bytes to follow from
 * elsewhere (splice(2)); -1 without memory. */
int up_header(abuf_t *out, uint8_t type, uint32_t pid, size_t n);

/* Append a reply frame: header, then the term in t[REPLY_HDR, tlen). The
 * header bytes of t are overwritten. */
int reply_frame(abuf_t *out, char *t, size_t tlen, uint32_t id,
                uint8_t status);

#endif
