/* SPDX-License-Identifier: ISC */
/* The reply builder: terms come out in the order put, and a term too
 * large for a frame is recorded as the first failure, after which every
 * put is a no-op. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "wire/build.h"
#include "wire/codec.h"
#include "wire/frame.h"

static void test_error(void)
{
    ei_x_buff x;
    ei_x_new_with_version(&x);
    build_t b = {.x = &x};
    put_error(&b, 1);
    CHECK(!b.failed);
    int idx = 1, arity;
    char atom[MAXATOMLEN_UTF8];
    CHECK(ei_decode_tuple_header(x.buff, &idx, &arity) == 0 && arity == 2);
    CHECK(ei_decode_atom(x.buff, &idx, atom) == 0 &&
          strcmp(atom, "error") == 0);
    CHECK(ei_decode_atom(x.buff, &idx, atom) == 0 &&
          strcmp(atom, "eperm") == 0);
    CHECK(idx == x.index);
    ei_x_free(&x);
    CHECK(strcmp(errno_name(11), "eagain") == 0);
    CHECK(strcmp(errno_name(-5), "unknown") == 0);
}

/* The same bytes as ei's encoders called one after the other. */
static void test_order(void)
{
    ei_x_buff want, got;
    ei_x_new_with_version(&want);
    ei_x_encode_tuple_header(&want, 4);
    ei_x_encode_atom(&want, "ok");
    ei_x_encode_longlong(&want, -7);
    ei_x_encode_ulonglong(&want, ~0ULL);
    ei_x_encode_list_header(&want, 1);
    ei_x_encode_binary(&want, "ab", 2);
    ei_x_encode_empty_list(&want);

    ei_x_new_with_version(&got);
    build_t b = {.x = &got};
    put_tuple(&b, 4);
    put_ok(&b);
    put_int(&b, -7);
    put_uint(&b, ~0ULL);
    put_list(&b, 1);
    put_binary(&b, "ab", 2);
    put_nil(&b);
    CHECK(!b.failed && got.index == want.index &&
          memcmp(got.buff, want.buff, (size_t)want.index) == 0);
    ei_x_free(&want);
    ei_x_free(&got);
}

/* A binary past FRAME_MAX fails the term; what follows is not put, and
 * a rewind to a mark before it clears the failure. */
static void test_too_large(void)
{
    ei_x_buff x;
    ei_x_new_with_version(&x);
    build_t b = {.x = &x};
    put_tuple(&b, 2);
    int mark = build_mark(&b);
    put_ok(&b);
    int before = x.index;
    put_binary(&b, "", (size_t)FRAME_MAX + 1);
    CHECK(b.failed && x.index == before);
    put_atom(&b, "after");
    put_int(&b, 1);
    CHECK(b.failed && x.index == before);
    build_rewind(&b, mark);
    CHECK(!b.failed && x.index == mark);
    put_atom(&b, "error");
    CHECK(!b.failed && x.index > mark);
    ei_x_free(&x);
}

int main(void)
{
    test_error();
    test_order();
    test_too_large();
    return DONE();
}
