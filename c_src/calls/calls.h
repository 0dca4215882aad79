/* SPDX-License-Identifier: ISC */
/*
 * The call table's C side: argument types, the decoded arguments of each
 * call by name (generated into gen/alcove_args.h) and the one signature
 * every handler has. The table itself is generated from gen/calls.eterm
 * into gen/alcove_calls.c.
 *
 * A handler reads its arguments by name, args->open.path, so that a
 * change to the table breaks the build, not the call; it builds its
 * reply with wire/build.h, and returns CALL_*. What the table's flags
 * say (descriptors made, credentials changed, the loop's descriptors
 * refused, ...) dispatch applies, not the handler.
 */
#ifndef ALCOVE_CALLS_H
#define ALCOVE_CALLS_H

#include <errno.h>

#include "core/alcove.h"
#include "wire/build.h"
#include "wire/consts.h"

typedef enum {
    T_INT32,    /* int32_t, pid_t */
    T_FD,       /* int: a descriptor */
    T_UINT32,   /* uint32_t */
    T_INT64,    /* int64_t */
    T_UINT64,   /* uint64_t */
    T_IODATA,   /* arg_bytes_t */
    T_ARGV,     /* arg_argv_t */
    T_ATOM,     /* const char *: the atom's text */
    T_CONSTANT, /* int64_t */
    T_FLAGS,    /* int64_t: the ORed values */
    T_ENUM,     /* int: the index in atoms (ARG_<call>_<arg>_<atom>) */
    T_CALLS,    /* arg_bytes_t: call numbers, a byte each */
    T_RLIMIT,   /* arg_rlimit_t */
    T_TIMEVAL,  /* arg_timeval_t */
    T_INTLIST,  /* arg_ints_t: a list of int32 or uint32 */
    T_NIODATA,  /* arg_bytes_t, s NULL for the atom null */
    T_PTRARG,   /* const struct cstruct *: an integer, an atom of table, a
                   binary or a Cstruct */
    T_CSTRUCT,  /* const struct cstruct *: a binary or a Cstruct */
    T_SEQUENCE, /* arg_seq_t: the calls of sequence/3 */
} argtype_t;

typedef struct {
    argtype_t type;
    size_t off;                        /* of the argument in alcove_args_t */
    const alcove_const_table_t *table; /* T_CONSTANT, T_FLAGS, T_PTRARG */
    const char *const *atoms;          /* T_ENUM, NULL-terminated */
} argspec_t;

struct cstruct;

/* Bytes, followed by a NUL that is not counted in n. */
typedef struct {
    const char *s;
    size_t n;
} arg_bytes_t;

typedef struct {
    char **v; /* NULL-terminated */
    size_t n;
    bool nul; /* an element holds a NUL byte */
} arg_argv_t;

typedef struct {
    uint64_t cur, max;
} arg_rlimit_t;

typedef struct {
    bool set; /* false for [] */
    int64_t sec, usec;
} arg_timeval_t;

typedef struct {
    const int64_t *v;
    size_t n;
} arg_ints_t;

/* The calls of a sequence: a list of binaries, left where the request
 * holds it (the arena is reused by each call of the sequence). */
typedef struct {
    const char *list; /* the list term, without a version byte */
    size_t len;
    int n;
} arg_seq_t;

#include "gen/alcove_args.h"

/* What a handler returns. Failed system calls are CALL_REPLY with an
 * {error, Errno} term: see reply.h. */
enum {
    CALL_REPLY = 0,  /* the term built is the result */
    CALL_BADARG = 1, /* arguments out of range for the call */
    CALL_CHILD = 2,  /* this is a new child: there is no reply to send */
    CALL_LATER = 3,  /* the loop answers later, by the request's id */
    CALL_UNDEF = 4,  /* forbidden by filter/3,4, or no such call here */
    CALL_SKIP = 5,   /* in a sequence, not run: see ARGS_SKIP */
};

typedef int alcove_fn_t(alcove_t *ap, const alcove_args_t *args, build_t *b);

/* The flags of gen/calls.eterm (its header says what each means). */
enum {
    CALLF_EXEC = 1 << 0,
    CALLF_EXIT = 1 << 1,
    CALLF_BLOCK = 1 << 2,
    CALLF_NEWFD = 1 << 3,
    CALLF_ANYFD = 1 << 4,
    CALLF_OWNFD = 1 << 5,
    CALLF_STDIO = 1 << 6,
    CALLF_CREDS = 1 << 7,
    CALLF_NOFASTFORK = 1 << 8,
    CALLF_NOSPAWN = 1 << 9,
};

typedef struct {
    const char *name;
    alcove_fn_t *fn;
    uint8_t nargs;
    uint16_t flags;
    const argspec_t *args;
} alcove_call_t;

#define ALCOVE_MAXARGS 8

extern const alcove_call_t alcove_calls[];
extern const size_t alcove_ncalls;

/* ARGS_SKIP: in a sequence, an argument names a result that is an
 * accepted error (args_refs): the call is not run. */
enum { ARGS_OK = 0, ARGS_BADARG = -1, ARGS_ENOTSUP = -2, ARGS_SKIP = -3 };

/* Decode the arguments of call from the term in buf[0, len) into args.
 * Memory for strings lives until the next call to args_decode. */
int args_decode(const alcove_call_t *call, const char *buf, size_t len,
                alcove_args_t *args);

/* Argument i, a T_FD, of call. */
int *args_fd(const alcove_call_t *call, alcove_args_t *args, int i);

/* The results that the calls of a running sequence may name by
 * {result, K}, K from 1: n of them, kind[K - 1] what result K is, v[K - 1]
 * its integer (N or {ok, N}). Naming an accepted error makes the call
 * ARGS_SKIP, from set to K - 1; naming any other result is a bad
 * argument. While a sequence is checked, v is NULL and each stands for
 * 0. */
enum { REF_NONE = 0, REF_INT = 1, REF_ERROR = 2 };

typedef struct {
    const int64_t *v;
    const uint8_t *kind;
    size_t n;
    size_t from;
} args_refs_t;

extern args_refs_t args_refs;

/* How a call runs: a request of its own; one of a sequence (never
 * answered later, CALL_LATER); one of the child of spawn/4, whose
 * memory is its parent's (the rules that would change the loop's state
 * are not applied: it is about to exec or die). */
typedef enum { RUN_ALONE, RUN_INSEQ, RUN_SPAWNED } run_mode_t;

/* Run call number nr (below alcove_ncalls) with the arguments in
 * buf[0, len), the table's rules applied (dispatch.c). Its result term
 * is put to b for CALL_REPLY; CALL_BADARG and CALL_UNDEF put nothing. */
int dispatch_call(alcove_t *ap, size_t nr, const char *buf, size_t len,
                  build_t *b, run_mode_t mode);

/* Whether filter/3,4 forbids call number nr in this process. */
bool call_filtered(const alcove_t *ap, size_t nr);

/* Send the reply b holds now, with status (ALCOVE_EXEC: the answer if
 * the exec that follows succeeds), and start b again. */
void dispatch_reply_now(alcove_t *ap, build_t *b, uint8_t status);

/* The handler of a call that this system does not have. */
alcove_fn_t alcove_enotsup;

/* A path or other C string argument: NULL if it holds a NUL byte. */
static inline const char *arg_str(const arg_bytes_t *a)
{
    return a->s != NULL && __builtin_strlen(a->s) == a->n ? a->s : NULL;
}

/* Replies every handler makes: each returns what the handler returns. */
static inline int reply_errno(build_t *b, int errnum)
{
    put_error(b, errnum);
    return CALL_REPLY;
}

static inline int reply_ok(build_t *b)
{
    put_ok(b);
    return CALL_REPLY;
}

static inline int reply_int(build_t *b, int64_t v)
{
    put_int(b, v);
    return CALL_REPLY;
}

static inline int reply_ok_int(build_t *b, int64_t v)
{
    put_ok_int(b, v);
    return CALL_REPLY;
}

static inline int reply_bool(build_t *b, bool v)
{
    put_bool(b, v);
    return CALL_REPLY;
}

/* ok for rv 0, else {error, errno}: the result of most system calls. */
static inline int reply_rv(build_t *b, int rv)
{
    return rv < 0 ? reply_errno(b, errno) : reply_ok(b);
}

#endif
