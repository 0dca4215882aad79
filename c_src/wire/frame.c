/* SPDX-License-Identifier: ISC */
#include "wire/frame.h"

#include <stdlib.h>
#include <string.h>

int abuf_reserve(abuf_t *b, size_t n)
{
    if (b->cap - b->off - b->len >= n)
        return 0;

    if (b->off > 0) {
        memmove(b->data, b->data + b->off, b->len);
        b->off = 0;
        if (b->cap - b->len >= n)
            return 0;
    }

    if (n > SIZE_MAX / 2 - b->len)
        return -1;

    size_t cap = b->cap ? b->cap : 4096;
    while (cap - b->len < n)
        cap *= 2;

    char *p = realloc(b->data, cap);
    if (p == NULL)
        return -1;
    b->data = p;
    b->cap = cap;
    return 0;
}

int abuf_append(abuf_t *b, const void *p, size_t n)
{
    /* an empty buffer has no memory: NULL + 0 and memcpy to NULL are
     * undefined behaviour, even for 0 bytes (an empty stdin frame) */
    if (n == 0)
        return 0;
    if (abuf_reserve(b, n) < 0)
        return -1;
    memcpy(abuf_tail(b), p, n);
    b->len += n;
    return 0;
}

void abuf_consume(abuf_t *b, size_t n)
{
    b->off += n;
    b->len -= n;
    if (b->len == 0)
        b->off = 0;
}

void abuf_trim(abuf_t *b, size_t keep)
{
    if (b->len == 0 && b->cap > keep)
        abuf_free(b);
}

void abuf_free(abuf_t *b)
{
    free(b->data);
    b->data = NULL;
    b->off = b->len = b->cap = 0;
}

size_t frame_want(const abuf_t *b, size_t chunk)
{
    if (b->len < FRAME_LEN)
        return chunk;
    uint64_t need = (uint64_t)get32(abuf_head(b)) + FRAME_LEN;
    if (need > FRAME_MAX + FRAME_LEN || need <= b->len ||
        need - b->len <= chunk)
        return chunk;
    return (size_t)(need - b->len);
}

frame_res_t frame_next(const abuf_t *b, const char **body, uint32_t *len)
{
    if (b->len < FRAME_LEN)
        return FRAME_MORE;

    uint32_t n = get32(abuf_head(b));
    if (n > FRAME_MAX)
        return FRAME_TOOBIG;
    if (b->len - FRAME_LEN < n)
        return FRAME_MORE;

    *body = abuf_head(b) + FRAME_LEN;
    *len = n;
    return FRAME_OK;
}

int down_parse(const char *body, uint32_t len, down_hdr_t *h)
{
    if (len < DOWN_HDR)
        return -1;

    h->type = (uint8_t)body[0];
    h->id = get32(body + 1);
    h->n = get16(body + 5);
    if ((len - DOWN_HDR) / 4 < h->n)
        return -1;

    h->pids = body + DOWN_HDR;
    h->rest = h->pids + 4 * (size_t)h->n;
    h->restlen = len - DOWN_HDR - 4 * (size_t)h->n;
    return 0;
}

int down_pop(abuf_t *out, const down_hdr_t *h)
{
    size_t tail = 4 * (size_t)(h->n - 1) + h->restlen;
    if (abuf_reserve(out, FRAME_LEN + DOWN_HDR + tail) < 0)
        return -1;

    char *p = abuf_tail(out);
    put32(p, (uint32_t)(DOWN_HDR + tail));
    p[4] = (char)h->type;
    put32(p + 5, h->id);
    put16(p + 9, (uint16_t)(h->n - 1));
    /* PIDs after the first and the rest are contiguous in the source */
    memcpy(p + FRAME_LEN + DOWN_HDR, h->pids + 4, tail);
    out->len += FRAME_LEN + DOWN_HDR + tail;
    return 0;
}

int up_push(abuf_t *out, uint32_t pid, const char *body, uint32_t len)
{
    if (len < UP_HDR || get16(body + 1) == UINT16_MAX)
        return -1;

    size_t n = FRAME_LEN + UP_HDR + 4 + (len - UP_HDR);
    if (abuf_reserve(out, n) < 0)
        return -1;

    char *p = abuf_tail(out);
    put32(p, (uint32_t)(n - FRAME_LEN));
    p[4] = body[0];
    put16(p + 5, (uint16_t)(get16(body + 1) + 1));
    put32(p + 7, pid);
    memcpy(p + 11, body + UP_HDR, len - UP_HDR);
    out->len += n;
    return 0;
}

char *up_begin(abuf_t *out, size_t max)
{
    if (abuf_reserve(out, FRAME_LEN + UP_HDR + 4 + max) < 0)
        return NULL;
    return abuf_tail(out) + FRAME_LEN + UP_HDR + 4;
}

static void up_hdr(char *p, uint8_t type, uint32_t pid, size_t n)
{
    put32(p, (uint32_t)(UP_HDR + 4 + n));
    p[4] = (char)type;
    put16(p + 5, 1);
    put32(p + 7, pid);
}

void up_commit(abuf_t *out, uint8_t type, uint32_t pid, size_t n)
{
    up_hdr(abuf_tail(out), type, pid, n);
    out->len += FRAME_LEN + UP_HDR + 4 + n;
}

int up_header(abuf_t *out, uint8_t type, uint32_t pid, size_t n)
{
    if (abuf_reserve(out, FRAME_LEN + UP_HDR + 4) < 0)
        return -1;
    up_hdr(abuf_tail(out), type, pid, n);
    out->len += FRAME_LEN + UP_HDR + 4;
    return 0;
}

int reply_frame(abuf_t *out, char *t, size_t tlen, uint32_t id, uint8_t status)
{
    put32(t, (uint32_t)(tlen - FRAME_LEN));
    t[4] = MSG_REPLY;
    put32(t + 5, id);
    t[9] = (char)status;
    return abuf_append(out, t, tlen);
}
