/* SPDX-License-Identifier: ISC */
/*
 * Decoding a call's arguments, a tuple, by the types of the call table,
 * each into its member of alcove_args_t (at the offset the table gives).
 * Strings are copied, NUL-terminated, into one arena that is reused from
 * call to call, so the hot path allocates nothing once it has warmed up.
 */
#include "calls/calls.h"

#include <stdlib.h>
#include <string.h>

#include "wire/codec.h"
#include "wire/cstruct.h"

/* An argument as decoded, before it is stored by its type (store). */
typedef struct {
    int64_t i, i2;
    uint64_t u, u2;
    const char *s;
    size_t n;
    char **v;
    int64_t *ints;
    struct cstruct *cs;
} val_t;

static struct {
    char *p;
    size_t used, cap;
} arena;

/* Room for n bytes, aligned for pointers; NULL when out of memory. */
static void *arena_get(size_t n)
{
    size_t at = (arena.used + sizeof(void *) - 1) & ~(sizeof(void *) - 1);
    if (at + n > arena.cap) {
        /* strings point into the arena: it cannot move while in use, so
         * it is sized for the whole request before the first string */
        return NULL;
    }
    arena.used = at + n;
    return arena.p + at;
}

/* Out of memory is the loop's policy, die(DIE_NOMEM): a request that
 * decodes is never answered badarg for want of memory. */
static void arena_reset(size_t need)
{
    arena.used = 0;
    /* keep what a typical call needs; give back what a huge one took */
    if (need <= arena.cap &&
        (arena.cap <= 1024 * 1024 || need > arena.cap / 4))
        return;
    char *p = realloc(arena.p, need);
    if (p == NULL)
        die(DIE_NOMEM, "out of memory");
    arena.p = p;
    arena.cap = need;
}

/* Memory whose size is not bounded by the request (a Cstruct's {ptr, N}),
 * kept until the next call. A request may take no more than a reply can
 * carry back: 256 elements of {ptr, 16 MiB} would otherwise make the
 * port zero 4 GiB. */
static struct {
    void **p;
    size_t n, cap;
    size_t bytes;
} side;

static void *side_alloc(size_t n)
{
    if (n > FRAME_MAX - side.bytes)
        return NULL;
    if (side.n == side.cap) {
        size_t cap = side.cap ? side.cap * 2 : 16;
        void **p = realloc(side.p, cap * sizeof(*p));
        if (p == NULL)
            die(DIE_NOMEM, "out of memory");
        side.p = p;
        side.cap = cap;
    }
    void *m = calloc(1, n > 0 ? n : 1);
    if (m == NULL)
        die(DIE_NOMEM, "out of memory");
    side.p[side.n++] = m;
    side.bytes += n;
    return m;
}

static void side_release(void)
{
    for (size_t i = 0; i < side.n; i++)
        free(side.p[i]);
    side.n = 0;
    side.bytes = 0;
}

static const char *copy_str(const char *p, size_t n)
{
    char *s = arena_get(n + 1);
    if (s == NULL)
        return NULL;
    memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

static int dec_str(dec_t *d, val_t *a)
{
    const char *p;
    size_t n;
    if (dec_binary(d, &p, &n) < 0 || (a->s = copy_str(p, n)) == NULL)
        return ARGS_BADARG;
    a->n = n;
    return ARGS_OK;
}

static int dec_argv(dec_t *d, val_t *a)
{
    dec_list_t l;
    if (dec_list(d, &l) < 0 || l.bytes != NULL)
        return ARGS_BADARG;
    char **v = arena_get(((size_t)l.n + 1) * sizeof(char *));
    if (v == NULL)
        return ARGS_BADARG;
    for (int i = 0; i < l.n; i++) {
        val_t e;
        if (dec_str(d, &e) < 0)
            return ARGS_BADARG;
        if (strlen(e.s) != e.n)
            a->i = 1; /* a NUL inside: the handler says einval */
        v[i] = (char *)e.s;
    }
    v[l.n] = NULL;
    a->v = v;
    a->n = (size_t)l.n;
    return dec_list_end(d, &l) < 0 ? ARGS_BADARG : ARGS_OK;
}

static int lookup(const argspec_t *spec, const char *atom, int64_t *v)
{
    return alcove_const_lookup(spec->table, atom, v) < 0 ? ARGS_ENOTSUP
                                                         : ARGS_OK;
}

static int dec_constant(dec_t *d, const argspec_t *spec, int64_t *v)
{
    char atom[MAXATOMLEN_UTF8];
    if (dec_int64(d, v) == 0)
        return ARGS_OK;
    if (dec_atom(d, atom) < 0)
        return ARGS_BADARG;
    return lookup(spec, atom, v);
}

static int dec_flags(dec_t *d, const argspec_t *spec, val_t *a)
{
    dec_list_t l;
    int rv = ARGS_OK;
    if (dec_int64(d, &a->i) == 0)
        return ARGS_OK;
    if (dec_list(d, &l) < 0)
        return ARGS_BADARG;
    a->i = 0;
    for (int i = 0; i < l.n; i++) {
        int64_t v = 0;
        int r =
            l.bytes ? dec_list_int64(d, &l, i, &v) : dec_constant(d, spec, &v);
        if (r == ARGS_BADARG)
            return ARGS_BADARG;
        if (r == ARGS_ENOTSUP)
            rv = ARGS_ENOTSUP; /* keep reading: a bad term is badarg */
        a->i |= v;
    }
    if (dec_list_end(d, &l) < 0)
        return ARGS_BADARG;
    return rv;
}

static int dec_enum(dec_t *d, const argspec_t *spec, val_t *a)
{
    char atom[MAXATOMLEN_UTF8];
    if (dec_nil(d) == 0)
        atom[0] = '\0';
    else if (dec_atom(d, atom) < 0)
        return ARGS_BADARG;
    for (int i = 0; spec->atoms[i] != NULL; i++) {
        if (strcmp(spec->atoms[i], atom) == 0) {
            a->i = i;
            return ARGS_OK;
        }
    }
    return ARGS_BADARG;
}

static int dec_calls(dec_t *d, val_t *a)
{
    dec_list_t l;
    if (dec_list(d, &l) < 0)
        return ARGS_BADARG;
    char *s = arena_get((size_t)l.n + 1);
    if (s == NULL)
        return ARGS_BADARG;
    for (int i = 0; i < l.n; i++) {
        int64_t v;
        if (dec_list_int64(d, &l, i, &v) < 0 || v < 0 || v > 255)
            return ARGS_BADARG;
        s[i] = (char)v;
    }
    a->s = s;
    a->n = (size_t)l.n;
    return dec_list_end(d, &l) < 0 ? ARGS_BADARG : ARGS_OK;
}

static int dec_range(dec_t *d, int64_t lo, int64_t hi, int64_t *v)
{
    if (dec_int64(d, v) < 0 || *v < lo || *v > hi)
        return ARGS_BADARG;
    return ARGS_OK;
}

args_refs_t args_refs;

/* An integer, or in a sequence {result, K}: the integer of the result
 * of its call K (calls.h). */
static int dec_int_ref(dec_t *d, int64_t lo, int64_t hi, int64_t *v)
{
    dec_t at = *d;
    int arity;
    int64_t k;
    char atom[MAXATOMLEN_UTF8];
    if (dec_tuple(&at, &arity) < 0)
        return dec_range(d, lo, hi, v);
    if (arity != 2 || dec_atom(&at, atom) < 0 || strcmp(atom, "result") != 0 ||
        dec_int64(&at, &k) < 0 || k < 1 || (uint64_t)k > args_refs.n)
        return ARGS_BADARG;
    *d = at;
    *v = 0;
    if (args_refs.v == NULL)
        return ARGS_OK;
    switch (args_refs.kind[k - 1]) {
    case REF_INT:
        *v = args_refs.v[k - 1];
        return *v < lo || *v > hi ? ARGS_BADARG : ARGS_OK;
    case REF_ERROR:
        args_refs.from = (size_t)k - 1;
        return ARGS_SKIP;
    }
    return ARGS_BADARG;
}

/* A list of binaries, each a call: only checked here, and left in the
 * request (call_seq.c reads it). */
static int dec_seq(dec_t *d, val_t *a)
{
    const char *list = d->buf + d->idx;
    dec_list_t l;
    if (dec_list(d, &l) < 0 || (l.bytes != NULL && l.n > 0))
        return ARGS_BADARG;
    for (int i = 0; i < l.n; i++) {
        const char *p;
        size_t n;
        if (dec_binary(d, &p, &n) < 0)
            return ARGS_BADARG;
    }
    if (dec_list_end(d, &l) < 0)
        return ARGS_BADARG;
    a->s = list;
    a->n = (size_t)(d->buf + d->idx - list);
    a->i = l.n;
    return ARGS_OK;
}

/* {Tag, A, B}: the records #alcove_rlimit{} and #alcove_timeval{} */
static int dec_record(dec_t *d, const char *tag)
{
    int arity;
    char atom[MAXATOMLEN_UTF8];
    if (dec_tuple(d, &arity) < 0 || arity != 3 || dec_atom(d, atom) < 0 ||
        strcmp(atom, tag) != 0)
        return ARGS_BADARG;
    return ARGS_OK;
}

static int dec_rlimit(dec_t *d, val_t *a)
{
    if (dec_record(d, "alcove_rlimit") < 0 || dec_uint64(d, &a->u) < 0 ||
        dec_uint64(d, &a->u2) < 0)
        return ARGS_BADARG;
    return ARGS_OK;
}

static int dec_timeval(dec_t *d, val_t *a)
{
    if (dec_nil(d) == 0) {
        a->n = 0;
        return ARGS_OK;
    }
    a->n = 1;
    if (dec_record(d, "alcove_timeval") < 0 || dec_int64(d, &a->i) < 0 ||
        dec_int64(d, &a->i2) < 0)
        return ARGS_BADARG;
    return ARGS_OK;
}

static int dec_intlist(dec_t *d, val_t *a)
{
    dec_list_t l;
    if (dec_list(d, &l) < 0)
        return ARGS_BADARG;
    a->ints = arena_get(((size_t)l.n + 1) * sizeof(int64_t));
    if (a->ints == NULL)
        return ARGS_BADARG;
    for (int i = 0; i < l.n; i++) {
        int64_t v;
        if (dec_list_int64(d, &l, i, &v) < 0 || v < INT32_MIN ||
            v > UINT32_MAX)
            return ARGS_BADARG;
        a->ints[i] = v;
    }
    a->n = (size_t)l.n;
    return dec_list_end(d, &l) < 0 ? ARGS_BADARG : ARGS_OK;
}

static int dec_cstruct(dec_t *d, const argspec_t *spec, bool ints, val_t *a)
{
    a->cs = side_alloc(sizeof(*a->cs));
    if (a->cs == NULL)
        return ARGS_BADARG;
    return cstruct_decode(d, spec->table, ints, side_alloc, a->cs);
}

static int dec_one(dec_t *d, const argspec_t *spec, val_t *a)
{
    char atom[MAXATOMLEN_UTF8];
    switch (spec->type) {
    case T_INT32:
    case T_FD:
        return dec_int_ref(d, INT32_MIN, INT32_MAX, &a->i);
    case T_UINT32:
        return dec_range(d, 0, UINT32_MAX, &a->i);
    case T_INT64:
        return dec_int_ref(d, INT64_MIN, INT64_MAX, &a->i);
    case T_UINT64:
        return dec_uint64(d, &a->u) < 0 ? ARGS_BADARG : ARGS_OK;
    case T_IODATA:
        return dec_str(d, a);
    case T_NIODATA:
        if (dec_atom(d, atom) == 0)
            return strcmp(atom, "null") == 0 ? ARGS_OK : ARGS_BADARG;
        return dec_str(d, a);
    case T_ARGV:
        return dec_argv(d, a);
    case T_ATOM:
        if (dec_atom(d, atom) < 0 ||
            (a->s = copy_str(atom, strlen(atom))) == NULL)
            return ARGS_BADARG;
        a->n = strlen(atom);
        return ARGS_OK;
    case T_CONSTANT:
        return dec_constant(d, spec, &a->i);
    case T_FLAGS:
        return dec_flags(d, spec, a);
    case T_ENUM:
        return dec_enum(d, spec, a);
    case T_CALLS:
        return dec_calls(d, a);
    case T_RLIMIT:
        return dec_rlimit(d, a);
    case T_TIMEVAL:
        return dec_timeval(d, a);
    case T_INTLIST:
        return dec_intlist(d, a);
    case T_PTRARG:
        return dec_cstruct(d, spec, true, a);
    case T_CSTRUCT:
        return dec_cstruct(d, spec, false, a);
    case T_SEQUENCE:
        return dec_seq(d, a);
    }
    return ARGS_BADARG;
}

/* Put the decoded a where spec says, as the C type of its argument. */
static void store(const argspec_t *spec, const val_t *a, void *dst)
{
/* dst is the member of alcove_args_t of this type */
#define PUT(type, v) (*(type *)dst = (v))
    _Static_assert(sizeof(pid_t) == sizeof(int32_t), "pid_t is 32 bits");
    switch (spec->type) {
    case T_INT32:
        PUT(int32_t, (int32_t)a->i);
        break;
    case T_FD:
        PUT(int, (int)a->i);
        break;
    case T_UINT32:
        PUT(uint32_t, (uint32_t)a->i);
        break;
    case T_INT64:
    case T_CONSTANT:
    case T_FLAGS:
        PUT(int64_t, a->i);
        break;
    case T_UINT64:
        PUT(uint64_t, a->u);
        break;
    case T_ENUM:
        PUT(int, (int)a->i);
        break;
    case T_IODATA:
    case T_NIODATA:
    case T_CALLS:
        PUT(arg_bytes_t, ((arg_bytes_t){.s = a->s, .n = a->n}));
        break;
    case T_ARGV:
        PUT(arg_argv_t, ((arg_argv_t){.v = a->v, .n = a->n, .nul = a->i}));
        break;
    case T_ATOM:
        PUT(const char *, a->s);
        break;
    case T_RLIMIT:
        PUT(arg_rlimit_t, ((arg_rlimit_t){.cur = a->u, .max = a->u2}));
        break;
    case T_TIMEVAL:
        PUT(arg_timeval_t,
            ((arg_timeval_t){.set = a->n != 0, .sec = a->i, .usec = a->i2}));
        break;
    case T_INTLIST:
        PUT(arg_ints_t, ((arg_ints_t){.v = a->ints, .n = a->n}));
        break;
    case T_PTRARG:
    case T_CSTRUCT:
        PUT(const struct cstruct *, a->cs);
        break;
    case T_SEQUENCE:
        PUT(arg_seq_t,
            ((arg_seq_t){.list = a->s, .len = a->n, .n = (int)a->i}));
        break;
    }
#undef PUT
}

int args_decode(const alcove_call_t *call, const char *buf, size_t len,
                alcove_args_t *args)
{
    dec_t d;
    int arity;
    int rv = ARGS_OK;

    /* Every string and pointer fits in: each byte of input makes at most
     * one byte of string plus, per list element, a pointer. */
    side_release();
    if (len > SIZE_MAX / (sizeof(char *) + 2))
        return ARGS_BADARG;
    arena_reset(len * (sizeof(char *) + 2) + 64);

    if (dec_init(&d, buf, len) < 0 || dec_tuple(&d, &arity) < 0 ||
        arity != call->nargs)
        return ARGS_BADARG;

    for (int i = 0; i < arity; i++) {
        val_t a = {0};
        int r = dec_one(&d, &call->args[i], &a);
        if (r == ARGS_BADARG)
            return ARGS_BADARG;
        /* a skip is kept over enotsup: the call does not run */
        if (r == ARGS_SKIP || (r == ARGS_ENOTSUP && rv == ARGS_OK))
            rv = r;
        store(&call->args[i], &a, (char *)args + call->args[i].off);
    }
    return d.idx == d.len ? rv : ARGS_BADARG;
}

int *args_fd(const alcove_call_t *call, alcove_args_t *args, int i)
{
    return (int *)((char *)args + call->args[i].off);
}
