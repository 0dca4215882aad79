/* SPDX-License-Identifier: ISC */
/* Cstructs: the decoder must refuse every malformed or cut short term
 * and out of bounds sizes; the buffer it lays out must hold the plain
 * parts and pointers to the right memory; the encoders must give back
 * the shape that came in. */
#include <stdlib.h>
#include <string.h>

#include "calls/calls.h"
#include "check.h"
#include "wire/cstruct.h"

/* The decoder's memory: malloc (not calloc, so that nothing relies on
 * zeroed memory), all freed at once. */
static void *pool[4096];
static size_t npool;

static void *test_alloc(size_t n)
{
    if (npool == sizeof(pool) / sizeof(pool[0]))
        return NULL;
    void *p = malloc(n);
    if (p != NULL)
        memset(p, 0xa5, n);
    return pool[npool++] = p;
}

static void pool_free(void)
{
    while (npool > 0)
        free(pool[--npool]);
}

static int decode(const char *buf, size_t len, bool ints,
                  const alcove_const_table_t *table, cstruct_t *cs)
{
    dec_t d;
    if (dec_init(&d, buf, len) < 0)
        return ARGS_BADARG;
    int rv = cstruct_decode(&d, table, ints, test_alloc, cs);
    /* a term that decodes is read to its end */
    if (rv == ARGS_OK && d.idx != d.len)
        return ARGS_BADARG;
    return rv;
}

static int decode_x(const ei_x_buff *x, bool ints, cstruct_t *cs)
{
    return decode(x->buff, (size_t)x->index, ints, &alcove_const_prctl, cs);
}

/* Only the whole term decodes: every prefix of it is refused. */
static bool prefixes_fail(const ei_x_buff *x, bool ints)
{
    for (int n = 0; n < x->index; n++) {
        char *copy = malloc((size_t)n + 1);
        memcpy(copy, x->buff, (size_t)n);
        cstruct_t cs;
        int rv = decode(copy, (size_t)n, ints, &alcove_const_prctl, &cs);
        free(copy);
        pool_free();
        if (rv == ARGS_OK)
            return false;
    }
    return true;
}

static void x_ptr_n(ei_x_buff *x, long long n)
{
    ei_x_encode_tuple_header(x, 2);
    ei_x_encode_atom(x, "ptr");
    ei_x_encode_longlong(x, n);
}

static void x_ptr_bin(ei_x_buff *x, const char *p, long n)
{
    ei_x_encode_tuple_header(x, 2);
    ei_x_encode_atom(x, "ptr");
    ei_x_encode_binary(x, p, n);
}

/* [<<1,2,3>>, {ptr, 8}, {ptr, <<"abc">>}, <<>>, {ptr, 0}, <<4>>] */
static void x_sample(ei_x_buff *x)
{
    ei_x_new_with_version(x);
    ei_x_encode_list_header(x, 6);
    ei_x_encode_binary(x, "\1\2\3", 3);
    x_ptr_n(x, 8);
    x_ptr_bin(x, "abc", 3);
    ei_x_encode_binary(x, "", 0);
    x_ptr_n(x, 0);
    ei_x_encode_binary(x, "\4", 1);
    ei_x_encode_empty_list(x);
}

static bool slack_zeroed(const char *p)
{
    for (size_t i = 0; i < CSTRUCT_SLACK; i++)
        if (p[i] != 0)
            return false;
    return true;
}

static char *ptr_at(const cstruct_t *cs, size_t off)
{
    char *p;
    memcpy(&p, cs->buf + off, sizeof(p));
    return p;
}

/* The layout: plain parts copied in place, each pointer a word holding
 * the address of its memory, sizes and offsets as the list says. */
static void test_layout(void)
{
    ei_x_buff x;
    cstruct_t cs;
    const size_t w = sizeof(void *);
    x_sample(&x);
    CHECK(decode_x(&x, false, &cs) == ARGS_OK);
    CHECK(cs.kind == CS_LIST);
    CHECK(cs.nel == 6);
    CHECK(cs.len == 3 + w + w + 0 + w + 1);
    CHECK(memcmp(cs.buf, "\1\2\3", 3) == 0);
    CHECK(cs.el[1].ptr && cs.el[1].off == 3 && cs.el[1].len == 8);
    CHECK(ptr_at(&cs, 3) == cs.el[1].mem);
    CHECK(memcmp(cs.el[1].mem, "\0\0\0\0\0\0\0\0", 8) == 0);
    CHECK(cs.el[2].ptr && cs.el[2].off == 3 + w && cs.el[2].len == 3);
    CHECK(ptr_at(&cs, 3 + w) == cs.el[2].mem);
    CHECK(memcmp(ptr_at(&cs, 3 + w), "abc", 3) == 0);
    /* a copy, not a pointer into the term */
    CHECK(cs.el[2].mem < x.buff || cs.el[2].mem >= x.buff + x.index);
    CHECK(!cs.el[3].ptr && cs.el[3].off == 3 + 2 * w && cs.el[3].len == 0);
    /* {ptr, 0}: NULL */
    CHECK(cs.el[4].ptr && cs.el[4].len == 0 && cs.el[4].mem == NULL);
    CHECK(ptr_at(&cs, 3 + 2 * w) == NULL);
    CHECK(cs.buf[3 + 3 * w] == 4);
    /* zeroes after the buffer and each pointer's memory: C strings,
     * structures a little short */
    CHECK(slack_zeroed(cs.buf + cs.len));
    CHECK(slack_zeroed(cs.el[1].mem + 8));
    CHECK(slack_zeroed(cs.el[2].mem + 3));
    CHECK(cstruct_value(&cs) == (unsigned long)cs.buf);
    pool_free();
    ei_x_free(&x);
}

/* Every prefix of each shape is refused: a list, its elements, an
 * integer, an atom of the table, a binary. */
static void test_prefixes(void)
{
    ei_x_buff x;
    x_sample(&x);
    CHECK(prefixes_fail(&x, false));
    CHECK(prefixes_fail(&x, true));
    ei_x_free(&x);

    ei_x_new_with_version(&x);
    ei_x_encode_longlong(&x, -123456789012LL);
    CHECK(prefixes_fail(&x, true));
    ei_x_free(&x);

    ei_x_new_with_version(&x);
    ei_x_encode_atom(&x, "pr_set_name");
    CHECK(prefixes_fail(&x, true));
    ei_x_free(&x);

    ei_x_new_with_version(&x);
    ei_x_encode_binary(&x, "pseudonym", 9);
    CHECK(prefixes_fail(&x, false));
    ei_x_free(&x);

    ei_x_new_with_version(&x);
    ei_x_encode_list_header(&x, 1);
    x_ptr_n(&x, 100000);
    ei_x_encode_empty_list(&x);
    CHECK(prefixes_fail(&x, false));
    ei_x_free(&x);
}

static int decode_one_el(void (*el)(ei_x_buff *, long long), long long n)
{
    ei_x_buff x;
    cstruct_t cs;
    ei_x_new_with_version(&x);
    ei_x_encode_list_header(&x, 1);
    el(&x, n);
    ei_x_encode_empty_list(&x);
    int rv = decode_x(&x, false, &cs);
    if (rv == ARGS_OK && cs.el[0].len != (size_t)n)
        rv = ARGS_BADARG;
    pool_free();
    ei_x_free(&x);
    return rv;
}

/* {ptr, N}: 0..CSTRUCT_PTR_MAX bytes, nothing outside. */
static void test_ptr_bounds(void)
{
    CHECK(decode_one_el(x_ptr_n, 0) == ARGS_OK);
    CHECK(decode_one_el(x_ptr_n, CSTRUCT_PTR_MAX) == ARGS_OK);
    CHECK(decode_one_el(x_ptr_n, -1) == ARGS_BADARG);
    CHECK(decode_one_el(x_ptr_n, -(1LL << 40)) == ARGS_BADARG);
    CHECK(decode_one_el(x_ptr_n, CSTRUCT_PTR_MAX + 1LL) == ARGS_BADARG);
    CHECK(decode_one_el(x_ptr_n, 1LL << 62) == ARGS_BADARG);
}

static void x_list_of(ei_x_buff *x, int n)
{
    ei_x_new_with_version(x);
    ei_x_encode_list_header(x, n);
    for (int i = 0; i < n; i++)
        ei_x_encode_binary(x, "x", 1);
    ei_x_encode_empty_list(x);
}

/* At most CSTRUCT_EL_MAX elements. */
static void test_el_max(void)
{
    ei_x_buff x;
    cstruct_t cs;
    x_list_of(&x, CSTRUCT_EL_MAX);
    CHECK(decode_x(&x, false, &cs) == ARGS_OK && cs.len == CSTRUCT_EL_MAX);
    pool_free();
    ei_x_free(&x);
    x_list_of(&x, CSTRUCT_EL_MAX + 1);
    CHECK(decode_x(&x, false, &cs) == ARGS_BADARG);
    pool_free();
    ei_x_free(&x);
}

/* Terms that are no Cstruct; the elements are put in a list. */
static void el_ptr_atom(ei_x_buff *x)
{
    ei_x_encode_tuple_header(x, 2);
    ei_x_encode_atom(x, "ptr");
    ei_x_encode_atom(x, "atom");
}

static void el_foo(ei_x_buff *x)
{
    ei_x_encode_tuple_header(x, 2);
    ei_x_encode_atom(x, "foo");
    ei_x_encode_long(x, 1);
}

static void el_ptr3(ei_x_buff *x)
{
    ei_x_encode_tuple_header(x, 3);
    ei_x_encode_atom(x, "ptr");
    ei_x_encode_long(x, 1);
    ei_x_encode_long(x, 2);
}

static void el_int(ei_x_buff *x) { ei_x_encode_long(x, 1); }

static void el_list(ei_x_buff *x)
{
    ei_x_encode_list_header(x, 1);
    ei_x_encode_binary(x, "", 0);
    ei_x_encode_empty_list(x);
}

static void el_ptr_bigint(ei_x_buff *x)
{
    ei_x_encode_tuple_header(x, 2);
    ei_x_encode_atom(x, "ptr");
    ei_x_encode_ulonglong(x, ~0ULL);
}

static void term_string(ei_x_buff *x) { ei_x_encode_string(x, "abc"); }
static void term_atom(ei_x_buff *x) { ei_x_encode_atom(x, "pr_set_name"); }
static void term_tuple(ei_x_buff *x) { ei_x_encode_tuple_header(x, 0); }

static void term_improper(ei_x_buff *x)
{
    ei_x_encode_list_header(x, 1);
    ei_x_encode_binary(x, "", 0);
    ei_x_encode_binary(x, "", 0);
}

static void test_malformed(void)
{
    void (*els[])(ei_x_buff *) = {el_ptr_atom, el_foo,  el_ptr3,
                                  el_int,      el_list, el_ptr_bigint};
    void (*terms[])(ei_x_buff *) = {term_string, term_atom, term_tuple,
                                    term_improper};
    ei_x_buff x;
    cstruct_t cs;
    for (size_t k = 0; k < sizeof(els) / sizeof(els[0]); k++) {
        ei_x_new_with_version(&x);
        ei_x_encode_list_header(&x, 1);
        els[k](&x);
        ei_x_encode_empty_list(&x);
        /* no table: an atom is no integer either */
        CHECK(decode(x.buff, (size_t)x.index, true, NULL, &cs) == ARGS_BADARG);
        pool_free();
        ei_x_free(&x);
    }
    for (size_t k = 0; k < sizeof(terms) / sizeof(terms[0]); k++) {
        ei_x_new_with_version(&x);
        terms[k](&x);
        CHECK(decode(x.buff, (size_t)x.index, true, NULL, &cs) == ARGS_BADARG);
        pool_free();
        ei_x_free(&x);
    }
}

/* Integers and atoms: only for ptrarg (ints); an atom unknown to the
 * table is ARGS_ENOTSUP. */
static void test_ints(void)
{
    ei_x_buff x;
    cstruct_t cs;
    ei_x_new_with_version(&x);
    ei_x_encode_longlong(&x, -2);
    CHECK(decode_x(&x, true, &cs) == ARGS_OK && cs.kind == CS_INT &&
          cs.i == -2 && cstruct_value(&cs) == (unsigned long)-2L);
    CHECK(decode_x(&x, false, &cs) == ARGS_BADARG);
    ei_x_free(&x);

    int64_t v;
    CHECK(alcove_const_lookup(&alcove_const_prctl, "pr_set_name", &v) == 0);
    ei_x_new_with_version(&x);
    ei_x_encode_atom(&x, "pr_set_name");
    CHECK(decode_x(&x, true, &cs) == ARGS_OK && cs.kind == CS_INT &&
          cs.i == v);
    CHECK(decode_x(&x, false, &cs) == ARGS_BADARG);
    ei_x_free(&x);

    ei_x_new_with_version(&x);
    ei_x_encode_atom(&x, "pr_no_such_thing");
    CHECK(decode_x(&x, true, &cs) == ARGS_ENOTSUP);
    ei_x_free(&x);
    pool_free();
}

/* Encode cs, then compare with the term expected. */
static bool encodes_as(void (*enc)(build_t *, const cstruct_t *),
                       const cstruct_t *cs, const ei_x_buff *want)
{
    ei_x_buff got;
    ei_x_new_with_version(&got);
    build_t b = {.x = &got};
    enc(&b, cs);
    bool ok = !b.failed && got.index == want->index &&
              memcmp(got.buff, want->buff, (size_t)got.index) == 0;
    ei_x_free(&got);
    return ok;
}

/* The encoders give back what the memory holds now, in the shape of the
 * argument; encode_buf the buffer itself, <<>> for an integer. */
static void test_encode(void)
{
    ei_x_buff x, want;
    cstruct_t cs;
    x_sample(&x);
    CHECK(decode_x(&x, false, &cs) == ARGS_OK);
    /* as a system call would: write through the pointers and in place */
    memcpy(cs.el[1].mem, "ABCDEFGH", 8);
    cs.el[2].mem[0] = 'x';
    cs.buf[0] = 9;
    ei_x_new_with_version(&want);
    ei_x_encode_list_header(&want, 6);
    ei_x_encode_binary(&want, "\11\2\3", 3);
    x_ptr_bin(&want, "ABCDEFGH", 8);
    x_ptr_bin(&want, "xbc", 3);
    ei_x_encode_binary(&want, "", 0);
    /* {ptr, 0}: the NULL pointer, a zero word of the buffer */
    static const char null_word[sizeof(void *)];
    ei_x_encode_binary(&want, null_word, sizeof(null_word));
    ei_x_encode_binary(&want, "\4", 1);
    ei_x_encode_empty_list(&want);
    CHECK(encodes_as(cstruct_encode, &cs, &want));
    ei_x_free(&want);

    ei_x_new_with_version(&want);
    ei_x_encode_binary(&want, cs.buf, (long)cs.len);
    CHECK(encodes_as(cstruct_encode_buf, &cs, &want));
    ei_x_free(&want);
    ei_x_free(&x);
    pool_free();

    /* [] */
    ei_x_new_with_version(&x);
    ei_x_encode_empty_list(&x);
    CHECK(decode_x(&x, false, &cs) == ARGS_OK && cs.len == 0);
    CHECK(encodes_as(cstruct_encode, &cs, &x));
    ei_x_free(&x);

    /* a binary */
    ei_x_new_with_version(&x);
    ei_x_encode_binary(&x, "pseudonym", 9);
    CHECK(decode_x(&x, false, &cs) == ARGS_OK && cs.kind == CS_BIN &&
          cs.len == 9 && slack_zeroed(cs.buf + 9));
    CHECK(encodes_as(cstruct_encode, &cs, &x));
    CHECK(encodes_as(cstruct_encode_buf, &cs, &x));
    ei_x_free(&x);

    /* an integer, and <<>> for its buffer */
    ei_x_new_with_version(&x);
    ei_x_encode_longlong(&x, 1LL << 40);
    CHECK(decode_x(&x, true, &cs) == ARGS_OK);
    CHECK(encodes_as(cstruct_encode, &cs, &x));
    ei_x_free(&x);
    ei_x_new_with_version(&want);
    ei_x_encode_binary(&want, "", 0);
    CHECK(encodes_as(cstruct_encode_buf, &cs, &want));
    ei_x_free(&want);
    pool_free();
}

int main(void)
{
    test_layout();
    test_prefixes();
    test_ptr_bounds();
    test_el_max();
    test_malformed();
    test_ints();
    test_encode();
    return DONE();
}
