/* SPDX-License-Identifier: ISC */
#include "wire/cstruct.h"

#include <string.h>

#include "calls/calls.h"

/* n bytes for the caller, then CSTRUCT_SLACK zeroes. */
static char *mem_alloc(cs_alloc_t alloc, size_t n)
{
    char *p = alloc(n + CSTRUCT_SLACK);
    if (p != NULL)
        memset(p + n, 0, CSTRUCT_SLACK);
    return p;
}

/* One element of a Cstruct list, read without copying: a plain binary,
 * {ptr, Size} or {ptr, Binary}. */
static int el_decode(dec_t *d, cs_el_t *el, const char **src)
{
    int arity;
    char atom[MAXATOMLEN_UTF8];
    int64_t n;
    size_t len;

    *src = NULL;
    el->ptr = false;
    if (dec_binary(d, src, &el->len) == 0)
        return ARGS_OK;

    if (dec_tuple(d, &arity) < 0 || arity != 2 || dec_atom(d, atom) < 0 ||
        strcmp(atom, "ptr") != 0)
        return ARGS_BADARG;
    el->ptr = true;
    if (dec_int64(d, &n) == 0) {
        if (n < 0 || n > CSTRUCT_PTR_MAX)
            return ARGS_BADARG;
        el->len = (size_t)n;
        return ARGS_OK;
    }
    if (dec_binary(d, src, &len) < 0 || len > CSTRUCT_PTR_MAX)
        return ARGS_BADARG;
    el->len = len;
    return ARGS_OK;
}

static int list_decode(dec_t *d, cs_alloc_t alloc, cstruct_t *cs)
{
    dec_list_t l;
    if (dec_list(d, &l) < 0 || l.bytes != NULL || l.n > CSTRUCT_EL_MAX)
        return ARGS_BADARG;

    const char **src = alloc(((size_t)l.n + 1) * sizeof(*src));
    cs->el = alloc(((size_t)l.n + 1) * sizeof(*cs->el));
    if (src == NULL || cs->el == NULL)
        return ARGS_BADARG;
    cs->nel = (size_t)l.n;
    cs->kind = CS_LIST;

    size_t size = 0;
    for (size_t i = 0; i < cs->nel; i++) {
        cs_el_t *el = &cs->el[i];
        if (el_decode(d, el, &src[i]) != ARGS_OK)
            return ARGS_BADARG;
        el->off = size;
        size += el->ptr ? sizeof(void *) : el->len;
    }
    if (dec_list_end(d, &l) < 0)
        return ARGS_BADARG;

    cs->len = size;
    cs->buf = mem_alloc(alloc, size);
    if (cs->buf == NULL)
        return ARGS_BADARG;
    for (size_t i = 0; i < cs->nel; i++) {
        cs_el_t *el = &cs->el[i];
        if (!el->ptr) {
            memcpy(cs->buf + el->off, src[i], el->len);
            continue;
        }
        /* {ptr, 0} and {ptr, <<>>} are NULL, as in the reference */
        el->mem = NULL;
        if (el->len > 0) {
            el->mem = mem_alloc(alloc, el->len);
            if (el->mem == NULL)
                return ARGS_BADARG;
            if (src[i] != NULL)
                memcpy(el->mem, src[i], el->len);
            else
                memset(el->mem, 0, el->len);
        }
        memcpy(cs->buf + el->off, &el->mem, sizeof(el->mem));
    }
    return ARGS_OK;
}

int cstruct_decode(dec_t *d, const alcove_const_table_t *table, bool ints,
                   cs_alloc_t alloc, cstruct_t *cs)
{
    char atom[MAXATOMLEN_UTF8];
    const char *p;

    memset(cs, 0, sizeof(*cs));
    if (ints && dec_int64(d, &cs->i) == 0) {
        cs->kind = CS_INT;
        return ARGS_OK;
    }
    if (ints && table != NULL && dec_atom(d, atom) == 0) {
        cs->kind = CS_INT;
        return alcove_const_lookup(table, atom, &cs->i) < 0 ? ARGS_ENOTSUP
                                                            : ARGS_OK;
    }
    if (dec_binary(d, &p, &cs->len) == 0) {
        cs->kind = CS_BIN;
        cs->buf = mem_alloc(alloc, cs->len);
        if (cs->buf == NULL)
            return ARGS_BADARG;
        memcpy(cs->buf, p, cs->len);
        return ARGS_OK;
    }
    return list_decode(d, alloc, cs);
}

unsigned long cstruct_value(const cstruct_t *cs)
{
    return cs->kind == CS_INT ? (unsigned long)cs->i : (unsigned long)cs->buf;
}

void cstruct_encode(build_t *b, const cstruct_t *cs)
{
    switch (cs->kind) {
    case CS_INT:
        put_int(b, cs->i);
        return;
    case CS_BIN:
        put_binary(b, cs->buf, cs->len);
        return;
    case CS_LIST:
        break;
    }
    if (cs->nel > 0)
        put_list(b, (int)cs->nel);
    for (size_t i = 0; i < cs->nel; i++) {
        const cs_el_t *el = &cs->el[i];
        if (el->ptr && el->mem == NULL) {
            /* a NULL pointer comes back as the word it is in the buffer */
            put_binary(b, cs->buf + el->off, sizeof(void *));
        } else if (el->ptr) {
            put_tuple(b, 2);
            put_atom(b, "ptr");
            put_binary(b, el->mem, el->len);
        } else {
            put_binary(b, cs->buf + el->off, el->len);
        }
    }
    put_nil(b);
}

void cstruct_encode_buf(build_t *b, const cstruct_t *cs)
{
    if (cs->kind == CS_INT)
        put_binary(b, "", 0);
    else
        put_binary(b, cs->buf, cs->len);
}
