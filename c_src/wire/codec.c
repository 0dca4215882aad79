/* SPDX-License-Identifier: ISC */
#include "wire/codec.h"

#include "wire/consts.h"

#include <string.h>

#include "wire/frame.h"

static int avail(const dec_t *d, size_t n)
{
    return d->idx >= 0 && d->idx <= d->len && (size_t)(d->len - d->idx) >= n;
}

static int tag(const dec_t *d)
{
    return avail(d, 1) ? (uint8_t)d->buf[d->idx] : -1;
}

/* The size of the integer term at the position, or 0 if it is not an
 * integer or does not fit. */
static size_t int_size(const dec_t *d)
{
    const char *p = d->buf + d->idx + 1;
    switch (tag(d)) {
    case ERL_SMALL_INTEGER_EXT:
        return avail(d, 2) ? 2 : 0;
    case ERL_INTEGER_EXT:
        return avail(d, 5) ? 5 : 0;
    case ERL_SMALL_BIG_EXT:
        if (!avail(d, 3) || (uint8_t)p[0] > 8)
            return 0;
        return avail(d, 3 + (uint8_t)p[0]) ? 3 + (size_t)(uint8_t)p[0] : 0;
    default:
        return 0;
    }
}

int dec_init_raw(dec_t *d, const char *buf, size_t len)
{
    if (len > INT32_MAX)
        return -1;
    d->buf = buf;
    d->len = (int)len;
    d->idx = 0;
    return 0;
}

int dec_init(dec_t *d, const char *buf, size_t len)
{
    int version;
    if (dec_init_raw(d, buf, len) < 0)
        return -1;
    if (tag(d) != 131) /* the version byte */
        return -1;
    return ei_decode_version(d->buf, &d->idx, &version);
}

int dec_tuple(dec_t *d, int *arity)
{
    switch (tag(d)) {
    case ERL_SMALL_TUPLE_EXT:
        if (!avail(d, 2))
            return -1;
        break;
    case ERL_LARGE_TUPLE_EXT:
        if (!avail(d, 5))
            return -1;
        break;
    default:
        return -1;
    }
    int idx = d->idx;
    if (ei_decode_tuple_header(d->buf, &idx, arity) < 0)
        return -1;
    /* each element takes at least a byte */
    if (*arity < 0 || *arity > d->len - idx)
        return -1;
    d->idx = idx;
    return 0;
}

int dec_int64(dec_t *d, int64_t *v)
{
    size_t n = int_size(d);
    long long ll;
    int idx = d->idx;
    if (n == 0 || ei_decode_longlong(d->buf, &idx, &ll) < 0)
        return -1;
    d->idx = idx;
    *v = ll;
    return 0;
}

int dec_uint64(dec_t *d, uint64_t *v)
{
    size_t n = int_size(d);
    unsigned long long ull;
    int idx = d->idx;
    if (n == 0 || ei_decode_ulonglong(d->buf, &idx, &ull) < 0)
        return -1;
    d->idx = idx;
    *v = ull;
    return 0;
}

int dec_atom(dec_t *d, char atom[MAXATOMLEN_UTF8])
{
    size_t hdr, n;
    switch (tag(d)) {
    case ERL_SMALL_ATOM_EXT:
    case ERL_SMALL_ATOM_UTF8_EXT:
        hdr = 2;
        if (!avail(d, hdr))
            return -1;
        n = (uint8_t)d->buf[d->idx + 1];
        break;
    case ERL_ATOM_EXT:
    case ERL_ATOM_UTF8_EXT:
        hdr = 3;
        if (!avail(d, hdr))
            return -1;
        n = get16(d->buf + d->idx + 1);
        break;
    default:
        return -1;
    }
    /* an atom holds at most 255 characters of up to 4 bytes */
    if (!avail(d, hdr + n) || n >= MAXATOMLEN_UTF8)
        return -1;
    int idx = d->idx;
    if (ei_decode_atom(d->buf, &idx, atom) < 0)
        return -1;
    d->idx = idx;
    return 0;
}

int dec_nil(dec_t *d)
{
    if (tag(d) != ERL_NIL_EXT)
        return -1;
    d->idx++;
    return 0;
}

int dec_binary(dec_t *d, const char **p, size_t *n)
{
    if (tag(d) != ERL_BINARY_EXT || !avail(d, 5))
        return -1;
    uint32_t len = get32(d->buf + d->idx + 1);
    if (!avail(d, 5 + (size_t)len))
        return -1;
    *p = d->buf + d->idx + 5;
    *n = len;
    d->idx += 5 + (int)len;
    return 0;
}

int dec_list(dec_t *d, dec_list_t *l)
{
    switch (tag(d)) {
    case ERL_NIL_EXT:
        l->n = 0;
        l->bytes = NULL;
        d->idx++;
        return 0;
    case ERL_STRING_EXT:
        if (!avail(d, 3))
            return -1;
        l->n = get16(d->buf + d->idx + 1);
        if (!avail(d, 3 + (size_t)l->n))
            return -1;
        l->bytes = d->buf + d->idx + 3;
        d->idx += 3 + l->n;
        return 0;
    case ERL_LIST_EXT: {
        if (!avail(d, 5))
            return -1;
        uint32_t n = get32(d->buf + d->idx + 1);
        /* each element and the tail take at least a byte */
        if (!avail(d, 5 + (size_t)n + 1))
            return -1;
        l->n = (int)n;
        l->bytes = NULL;
        d->idx += 5;
        return 0;
    }
    default:
        return -1;
    }
}

int dec_list_int64(dec_t *d, const dec_list_t *l, int i, int64_t *v)
{
    if (l->bytes != NULL) {
        *v = (uint8_t)l->bytes[i];
        return 0;
    }
    return dec_int64(d, v);
}

int dec_list_end(dec_t *d, const dec_list_t *l)
{
    if (l->bytes != NULL || l->n == 0)
        return 0; /* a string or [] has no separate tail */
    return dec_nil(d);
}

const char *errno_name(int errnum)
{
    const char *s = alcove_const_name(&alcove_const_errno, errnum);
    return s != NULL ? s : "unknown";
}
