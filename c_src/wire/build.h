/* SPDX-License-Identifier: ISC */
/*
 * The one way to build a reply term. Each put_ appends to the buffer in
 * the order written; out of memory is the loop's policy, die(DIE_NOMEM),
 * never a reply. The one failure a reply records is a term no frame can
 * carry (a binary past FRAME_MAX): from then on every put_ is a no-op,
 * and dispatch answers badarg, as for any reply too large for a frame.
 */
#ifndef ALCOVE_BUILD_H
#define ALCOVE_BUILD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ei.h>

typedef struct {
    ei_x_buff *x;
    bool failed; /* the term would not fit a frame */
} build_t;

void put_tuple(build_t *b, int arity);
/* The header of a map of arity pairs: each key, then its value. */
void put_map(build_t *b, int arity);
/* The header of a list of n elements, n > 0; its tail is put_nil. */
void put_list(build_t *b, int n);
void put_nil(build_t *b);
void put_atom(build_t *b, const char *a);
void put_ok(build_t *b);
void put_bool(build_t *b, bool v);
void put_int(build_t *b, int64_t v);
void put_uint(build_t *b, uint64_t v);
void put_binary(build_t *b, const void *p, size_t n);
/* {error, Name}: the errno value's name, as errno_id/3 gives it. */
void put_error(build_t *b, int errnum);
/* {ok, V} */
void put_ok_int(build_t *b, int64_t v);
/* {ok, Binary} */
void put_ok_binary(build_t *b, const void *p, size_t n);

/* Bytes that are already a term (or terms) in the external format. */
void put_raw(build_t *b, const void *p, size_t n);

/* A position to come back to: rewinding drops what was put after it,
 * a failure included. */
int build_mark(const build_t *b);
void build_rewind(build_t *b, int mark);

#endif
