/* SPDX-License-Identifier: ISC */
/* Framing: buffers, frame boundaries and the rewrites made at each hop. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "wire/frame.h"

static void put_frame(abuf_t *b, const char *body, uint32_t n)
{
    char len[4];
    put32(len, n);
    abuf_append(b, len, 4);
    abuf_append(b, body, n);
}

static void test_buffer(void)
{
    abuf_t b = {0};
    CHECK(abuf_append(&b, "hello", 5) == 0);
    CHECK(b.len == 5 && memcmp(abuf_head(&b), "hello", 5) == 0);
    abuf_consume(&b, 2);
    CHECK(b.len == 3 && memcmp(abuf_head(&b), "llo", 3) == 0);
    /* growing keeps the unconsumed bytes */
    char big[100000];
    memset(big, 'x', sizeof(big));
    CHECK(abuf_append(&b, big, sizeof(big)) == 0);
    CHECK(b.len == 3 + sizeof(big) && memcmp(abuf_head(&b), "llox", 4) == 0);
    abuf_consume(&b, b.len);
    CHECK(b.len == 0 && b.off == 0);
    abuf_trim(&b, 64 * 1024);
    CHECK(b.data == NULL && b.cap == 0);
    /* an impossible size fails instead of wrapping */
    CHECK(abuf_reserve(&b, SIZE_MAX - 2) == -1);
    abuf_free(&b);
}

static void test_frame_next(void)
{
    abuf_t b = {0};
    const char *body;
    uint32_t len;

    CHECK(frame_next(&b, &body, &len) == FRAME_MORE);
    abuf_append(&b, "\0\0", 2);
    CHECK(frame_next(&b, &body, &len) == FRAME_MORE); /* half a length */
    abuf_append(&b, "\0\3ab", 4);
    CHECK(frame_next(&b, &body, &len) == FRAME_MORE); /* 2 of 3 bytes */
    abuf_append(&b, "c", 1);
    CHECK(frame_next(&b, &body, &len) == FRAME_OK);
    CHECK(len == 3 && memcmp(body, "abc", 3) == 0);
    abuf_consume(&b, FRAME_LEN + len);

    put_frame(&b, "", 0); /* an empty frame is whole */
    CHECK(frame_next(&b, &body, &len) == FRAME_OK && len == 0);
    abuf_consume(&b, FRAME_LEN);

    /* a length larger than any frame is refused before any data */
    char hdr[4];
    put32(hdr, FRAME_MAX + 1);
    abuf_append(&b, hdr, 4);
    CHECK(frame_next(&b, &body, &len) == FRAME_TOOBIG);
    abuf_free(&b);

    /* no 64 KiB ceiling: a 1 MiB frame */
    size_t n = 1 << 20;
    char *p = malloc(n);
    memset(p, 'z', n);
    put_frame(&b, p, (uint32_t)n);
    CHECK(frame_next(&b, &body, &len) == FRAME_OK && len == n &&
          body[n - 1] == 'z');
    free(p);
    abuf_free(&b);
}

static void test_want(void)
{
    abuf_t b = {0};
    char hdr[4];
    CHECK(frame_want(&b, 100) == 100); /* no length yet */
    put32(hdr, 1000);
    abuf_append(&b, hdr, 4);
    abuf_append(&b, "abc", 3);
    CHECK(frame_want(&b, 100) == 997); /* the rest of the frame */
    CHECK(frame_want(&b, 5000) == 5000);
    abuf_free(&b);
    put32(hdr, FRAME_MAX + 1); /* never more than a frame can hold */
    abuf_append(&b, hdr, 4);
    CHECK(frame_want(&b, 100) == 100);
    abuf_free(&b);
}

static void test_down(void)
{
    /* CALL id 7 through [100, 200], call 6, args "xy" */
    char body[] = {MSG_CALL, 0, 0, 0, 7,         0, 2, 0,   0,  0,
                   100,      0, 0, 0, (char)200, 0, 6, 'x', 'y'};
    down_hdr_t h;
    CHECK(down_parse(body, sizeof(body), &h) == 0);
    CHECK(h.type == MSG_CALL && h.id == 7 && h.n == 2);
    CHECK(get32(h.pids) == 100 && h.restlen == 4);

    abuf_t out = {0};
    CHECK(down_pop(&out, &h) == 0);
    const char *nb;
    uint32_t nlen;
    CHECK(frame_next(&out, &nb, &nlen) == FRAME_OK);
    CHECK(nlen == sizeof(body) - 4);
    down_hdr_t h2;
    CHECK(down_parse(nb, nlen, &h2) == 0);
    CHECK(h2.type == MSG_CALL && h2.id == 7 && h2.n == 1);
    CHECK(get32(h2.pids) == 200 && h2.restlen == 4);
    CHECK(memcmp(h2.rest, "\0\6xy", 4) == 0);
    abuf_free(&out);

    /* truncated: too short for the header, or for the PIDs it claims */
    CHECK(down_parse(body, 6, &h) == -1);
    CHECK(down_parse(body, 10, &h) == -1);
    char many[] = {MSG_CALL, 0, 0, 0, 1, (char)0xff, (char)0xff, 0, 0, 0, 1};
    CHECK(down_parse(many, sizeof(many), &h) == -1);
}

static void test_up(void)
{
    /* STDOUT from [300] with "hi", received by the parent of 300's
     * parent: it pushes 42 */
    abuf_t out = {0};
    char *p = up_begin(&out, 16);
    CHECK(p != NULL);
    memcpy(p, "hi", 2);
    up_commit(&out, MSG_STDOUT, 300, 2);

    const char *body;
    uint32_t len;
    CHECK(frame_next(&out, &body, &len) == FRAME_OK);
    CHECK(len == 3 + 4 + 2 && body[0] == MSG_STDOUT && get16(body + 1) == 1);
    CHECK(get32(body + 3) == 300 && memcmp(body + 7, "hi", 2) == 0);

    abuf_t out2 = {0};
    CHECK(up_push(&out2, 42, body, len) == 0);
    const char *b2;
    uint32_t l2;
    CHECK(frame_next(&out2, &b2, &l2) == FRAME_OK);
    CHECK(l2 == len + 4 && b2[0] == MSG_STDOUT && get16(b2 + 1) == 2);
    CHECK(get32(b2 + 3) == 42 && get32(b2 + 7) == 300);
    CHECK(memcmp(b2 + 11, "hi", 2) == 0);

    /* a frame too short to carry its chain is refused */
    CHECK(up_push(&out2, 1, body, 2) == -1);
    abuf_free(&out);
    abuf_free(&out2);
}

static void test_reply(void)
{
    abuf_t out = {0};
    char t[REPLY_HDR + 3] = {0};
    t[REPLY_HDR] = 'a';
    CHECK(reply_frame(&out, t, sizeof(t), 0xdeadbeef, 2) == 0);
    const char *body;
    uint32_t len;
    CHECK(frame_next(&out, &body, &len) == FRAME_OK && len == 6 + 3);
    CHECK(body[0] == MSG_REPLY && get32(body + 1) == 0xdeadbeef);
    CHECK(body[5] == 2 && body[6] == 'a');
    abuf_free(&out);
}

int main(void)
{
    test_buffer();
    test_frame_next();
    test_want();
    test_down();
    test_up();
    test_reply();
    return DONE();
}
