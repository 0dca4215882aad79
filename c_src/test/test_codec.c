/* SPDX-License-Identifier: ISC */
/* Term decoding: every decoder must refuse a term cut short, whatever
 * its length field claims. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "wire/codec.h"

/* Encode with ei, then decode every prefix: only the whole term may
 * decode, and no prefix may be read past (ASan and valgrind tell). */
typedef int (*decode_fn)(dec_t *d);

static int all_prefixes_fail(const ei_x_buff *x, decode_fn fn)
{
    for (int n = 0; n < x->index; n++) {
        char *copy = malloc((size_t)n + 1);
        memcpy(copy, x->buff, (size_t)n);
        dec_t d;
        int ok = dec_init(&d, copy, (size_t)n) == 0 && fn(&d) == 0;
        free(copy);
        if (ok)
            return 0;
    }
    return 1;
}

static int whole_decodes(const ei_x_buff *x, decode_fn fn)
{
    dec_t d;
    return dec_init(&d, x->buff, (size_t)x->index) == 0 && fn(&d) == 0 &&
           d.idx == d.len;
}

static int64_t got_i;
static const char *got_p;
static size_t got_n;
static char got_atom[MAXATOMLEN_UTF8];

static int fn_int(dec_t *d) { return dec_int64(d, &got_i); }
static int fn_bin(dec_t *d) { return dec_binary(d, &got_p, &got_n); }
static int fn_atom(dec_t *d) { return dec_atom(d, got_atom); }

static int fn_args(dec_t *d)
{
    int arity;
    int64_t v;
    dec_list_t l;
    if (dec_tuple(d, &arity) < 0 || arity != 2 || dec_list(d, &l) < 0)
        return -1;
    for (int i = 0; i < l.n; i++)
        if (dec_list_int64(d, &l, i, &v) < 0)
            return -1;
    if (dec_list_end(d, &l) < 0)
        return -1;
    return dec_binary(d, &got_p, &got_n);
}

static void test_ints(void)
{
    const long long vals[] = {0,
                              255,
                              -1,
                              256,
                              INT32_MIN,
                              INT32_MAX,
                              (long long)INT32_MAX + 1,
                              INT64_MIN,
                              INT64_MAX};
    for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
        ei_x_buff x;
        ei_x_new_with_version(&x);
        ei_x_encode_longlong(&x, vals[i]);
        CHECK(whole_decodes(&x, fn_int) && got_i == vals[i]);
        CHECK(all_prefixes_fail(&x, fn_int));
        ei_x_free(&x);
    }
    /* a bignum beyond 64 bits is refused */
    const char big[] = {(char)131, 'n', 9, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
    dec_t d;
    CHECK(dec_init(&d, big, sizeof(big)) == 0 && dec_int64(&d, &got_i) < 0);
}

static void test_binary(void)
{
    ei_x_buff x;
    ei_x_new_with_version(&x);
    ei_x_encode_binary(&x, "abc\0def", 7);
    CHECK(whole_decodes(&x, fn_bin) && got_n == 7);
    CHECK(memcmp(got_p, "abc\0def", 7) == 0);
    CHECK(all_prefixes_fail(&x, fn_bin));
    ei_x_free(&x);

    /* a length field far past the end */
    const char lie[] = {(char)131,  'm',        0x7f, (char)0xff,
                        (char)0xff, (char)0xff, 'a'};
    dec_t d;
    CHECK(dec_init(&d, lie, sizeof(lie)) == 0 &&
          dec_binary(&d, &got_p, &got_n) < 0 && d.idx == 1);
}

static void test_atom(void)
{
    ei_x_buff x;
    ei_x_new_with_version(&x);
    ei_x_encode_atom(&x, "sigterm");
    CHECK(whole_decodes(&x, fn_atom) && strcmp(got_atom, "sigterm") == 0);
    CHECK(all_prefixes_fail(&x, fn_atom));
    ei_x_free(&x);

    /* a type mismatch leaves the position unchanged */
    ei_x_new_with_version(&x);
    ei_x_encode_long(&x, 1);
    dec_t d;
    CHECK(dec_init(&d, x.buff, (size_t)x.index) == 0);
    CHECK(dec_atom(&d, got_atom) < 0 && d.idx == 1);
    CHECK(dec_binary(&d, &got_p, &got_n) < 0 && d.idx == 1);
    ei_x_free(&x);
}

static void test_lists(void)
{
    /* {[1,2,3], <<"z">>}: a list of small integers is a string */
    ei_x_buff x;
    ei_x_new_with_version(&x);
    ei_x_encode_tuple_header(&x, 2);
    ei_x_encode_string(&x, "\1\2\3");
    ei_x_encode_binary(&x, "z", 1);
    CHECK(whole_decodes(&x, fn_args) && got_n == 1 && *got_p == 'z');
    CHECK(all_prefixes_fail(&x, fn_args));
    ei_x_free(&x);

    /* {[1000, -1], <<>>}: a proper list */
    ei_x_new_with_version(&x);
    ei_x_encode_tuple_header(&x, 2);
    ei_x_encode_list_header(&x, 2);
    ei_x_encode_long(&x, 1000);
    ei_x_encode_long(&x, -1);
    ei_x_encode_empty_list(&x);
    ei_x_encode_binary(&x, "", 0);
    CHECK(whole_decodes(&x, fn_args) && got_n == 0);
    CHECK(all_prefixes_fail(&x, fn_args));
    ei_x_free(&x);

    /* {[], <<"q">>}: the empty list is consumed like any other */
    ei_x_new_with_version(&x);
    ei_x_encode_tuple_header(&x, 2);
    ei_x_encode_empty_list(&x);
    ei_x_encode_binary(&x, "q", 1);
    CHECK(whole_decodes(&x, fn_args) && got_n == 1 && *got_p == 'q');
    ei_x_free(&x);

    /* a list claiming more elements than there are bytes */
    const char lie[] = {(char)131,  'l',        0x7f, (char)0xff,
                        (char)0xff, (char)0xff, 'j'};
    dec_t d;
    dec_list_t l;
    CHECK(dec_init(&d, lie, sizeof(lie)) == 0 && dec_list(&d, &l) < 0);

    /* a tuple claiming a huge arity */
    const char tup[] = {(char)131,  'i',        0x7f,
                        (char)0xff, (char)0xff, (char)0xff};
    int arity;
    CHECK(dec_init(&d, tup, sizeof(tup)) == 0 && dec_tuple(&d, &arity) < 0);
}

static void test_version(void)
{
    dec_t d;
    CHECK(dec_init(&d, "", 0) < 0);
    CHECK(dec_init(&d, "\x82", 1) < 0);
}

int main(void)
{
    test_version();
    test_ints();
    test_binary();
    test_atom();
    test_lists();
    return DONE();
}
