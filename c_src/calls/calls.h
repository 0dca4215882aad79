/* SPDX-License-Identifier: ISC */
/*
 * The call table's C side: argument types, decoded arguments and the one
 * signature every handler has. The table itself is generated from
 * gen/calls.eterm into gen/alcove_calls.c.
 */
#ifndef ALCOVE_CALLS_H
#define ALCOVE_CALLS_H

#include "core/alcove.h"
#include "wire/codec.h"
#include "wire/consts.h"

typedef enum {
    T_INT32,
    T_UINT32,
    T_INT64,
    T_UINT64,
    T_IODATA,   /* s, n: a NUL-terminated copy */
    T_ARGV,     /* v: NULL-terminated, n elements; i: 1 if one holds a NUL */
    T_ATOM,     /* s: the atom's text */
    T_CONSTANT, /* i */
    T_FLAGS,    /* i: the ORed values */
    T_ENUM,     /* i: the index in atoms */
    T_CALLS,    /* s, n: call numbers, a byte each */
    T_RLIMIT,   /* u, u2: #alcove_rlimit{cur, max} */
    T_TIMEVAL,  /* n: 0 for [], else 1 with i, i2: #alcove_timeval{} */
    T_INTLIST,  /* ints, n: a list of int32 or uint32 */
    T_NIODATA,  /* s, n: like T_IODATA, or s NULL for the atom null */
    T_PTRARG,   /* cs: an integer, an atom of table, a binary or a Cstruct */
    T_CSTRUCT,  /* cs: a binary or a Cstruct */
} argtype_t;

typedef struct {
    argtype_t type;
    const alcove_const_table_t *table; /* T_CONSTANT, T_FLAGS */
    const char *const *atoms;          /* T_ENUM, NULL-terminated */
} argspec_t;

struct cstruct;

typedef struct {
    int64_t i, i2;
    uint64_t u, u2;
    const char *s;
    size_t n;
    char **v;
    int64_t *ints;
    struct cstruct *cs;
} alcove_arg_t;

/* What a handler returns. Failed system calls are CALL_REPLY with an
 * {error, Errno} term: see reply.h. */
enum {
    CALL_REPLY = 0,  /* the term in x is the result */
    CALL_BADARG = 1, /* arguments out of range for the call */
    CALL_CHILD = 2,  /* this is a new child: there is no reply to send */
    CALL_LATER = 3,  /* the loop answers later, by the request's id */
};

typedef int alcove_fn_t(alcove_t *ap, const alcove_arg_t *arg, ei_x_buff *x);

/* CALLF_BLOCK: the call may block for ever (sig_block_calls). */
enum { CALLF_EXEC = 1, CALLF_EXIT = 2, CALLF_BLOCK = 4 };

typedef struct {
    const char *name;
    alcove_fn_t *fn;
    uint8_t nargs;
    uint8_t flags;
    const argspec_t *args;
} alcove_call_t;

#define ALCOVE_MAXARGS 8

extern const alcove_call_t alcove_calls[];
extern const size_t alcove_ncalls;

enum { ARGS_OK = 0, ARGS_BADARG = -1, ARGS_ENOTSUP = -2 };

/* Decode the arguments of call from the term in buf[0, len). Memory for
 * strings lives until the next call to args_decode. */
int args_decode(const alcove_call_t *call, const char *buf, size_t len,
                alcove_arg_t *arg);

/* The handler of a call that this system does not have. */
alcove_fn_t alcove_enotsup;

/* A path or other C string argument: NULL if it holds a NUL byte. */
static inline const char *arg_str(const alcove_arg_t *a)
{
    return a->s != NULL && __builtin_strlen(a->s) == a->n ? a->s : NULL;
}

/* Replies every handler makes: each returns what the handler returns. */
static inline int reply_errno(ei_x_buff *x, int errnum)
{
    return enc_error(x, errnum) < 0 ? CALL_BADARG : CALL_REPLY;
}

static inline int reply_ok(ei_x_buff *x)
{
    return enc_ok(x) < 0 ? CALL_BADARG : CALL_REPLY;
}

static inline int reply_int(ei_x_buff *x, int64_t v)
{
    return enc_int(x, v) < 0 ? CALL_BADARG : CALL_REPLY;
}

static inline int reply_ok_int(ei_x_buff *x, int64_t v)
{
    return enc_ok_int(x, v) < 0 ? CALL_BADARG : CALL_REPLY;
}

static inline int reply_bool(ei_x_buff *x, bool b)
{
    return ei_x_encode_boolean(x, b) < 0 ? CALL_BADARG : CALL_REPLY;
}

#endif
