/* SPDX-License-Identifier: ISC */
#include "wire/build.h"

#include "core/alcove.h"
#include "wire/codec.h"
#include "wire/frame.h"

/* ei's encoders fail only when they cannot grow the buffer. */
static void grown(int rv)
{
    if (rv < 0)
        die(DIE_NOMEM, "out of memory");
}

void put_tuple(build_t *b, int arity)
{
    if (!b->failed)
        grown(ei_x_encode_tuple_header(b->x, arity));
}

void put_map(build_t *b, int arity)
{
    if (!b->failed)
        grown(ei_x_encode_map_header(b->x, arity));
}

void put_list(build_t *b, int n)
{
    if (!b->failed)
        grown(ei_x_encode_list_header(b->x, n));
}

void put_nil(build_t *b)
{
    if (!b->failed)
        grown(ei_x_encode_empty_list(b->x));
}

void put_atom(build_t *b, const char *a)
{
    if (!b->failed)
        grown(ei_x_encode_atom(b->x, a));
}

void put_ok(build_t *b) { put_atom(b, "ok"); }

void put_bool(build_t *b, bool v)
{
    if (!b->failed)
        grown(ei_x_encode_boolean(b->x, v));
}

void put_int(build_t *b, int64_t v)
{
    if (!b->failed)
        grown(ei_x_encode_longlong(b->x, v));
}

void put_uint(build_t *b, uint64_t v)
{
    if (!b->failed)
        grown(ei_x_encode_ulonglong(b->x, v));
}

/* No frame carries more than FRAME_MAX, and ei keeps its index in an
 * int: a reply growing past FRAME_MAX stops here, long before the index
 * could wrap (ei would then write past the end of its buffer). */
static bool fits(build_t *b, size_t n)
{
    if (b->x->index < 0 || n > FRAME_MAX ||
        (size_t)b->x->index > FRAME_MAX - n)
        b->failed = true;
    return !b->failed;
}

void put_binary(build_t *b, const void *p, size_t n)
{
    if (!b->failed && fits(b, n))
        grown(ei_x_encode_binary(b->x, p, (int)n));
}

void put_raw(build_t *b, const void *p, size_t n)
{
    if (!b->failed && fits(b, n))
        grown(ei_x_append_buf(b->x, p, (int)n));
}

void put_error(build_t *b, int errnum)
{
    put_tuple(b, 2);
    put_atom(b, "error");
    put_atom(b, errno_name(errnum));
}

void put_ok_int(build_t *b, int64_t v)
{
    put_tuple(b, 2);
    put_ok(b);
    put_int(b, v);
}

void put_ok_binary(build_t *b, const void *p, size_t n)
{
    put_tuple(b, 2);
    put_ok(b);
    put_binary(b, p, n);
}

int build_mark(const build_t *b) { return b->x->index; }

void build_rewind(build_t *b, int mark)
{
    b->x->index = mark;
    b->failed = false;
}
