/* SPDX-License-Identifier: ISC */
/*
 * sequence/3: calls run one after the other for one request, so that
 * building a sandbox costs one round trip instead of one per call.
 *
 * Each call is a binary: its number (16 bits), the number of errno names
 * it accepts (8 bits), each name after its length byte, then its
 * arguments as any call's (alcove_proto:arg/2 makes them). Every call
 * is checked before the first runs: a bad one is badarg, a forbidden one
 * undef, and nothing has happened. Then each runs through dispatch, its
 * rules applied as for a request of its own.
 */
#include "calls/calls.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "core/spawn.h"
#include "wire/codec.h"
#include "wire/frame.h"
#include "wire/reply.h"

typedef struct {
    size_t nr;
    const char *accept; /* naccept names, each after its length */
    int naccept;
    const char *args;
    size_t len;
} seq_call_t;

/* The results of the calls run so far, in order (result i from starts[i]),
 * and what each is for {result, K}; kept from sequence to sequence. */
static ei_x_buff results;
static int64_t *vals;
static uint8_t *kind;
static int *starts;
static size_t nvals;
/* The call running, for spawn/4's parent when its child is killed. */
static int now;
static seq_call_t now_call;

static int seq_parse(const char *p, size_t n, seq_call_t *c)
{
    if (n < 3)
        return -1;
    c->nr = get16(p);
    c->naccept = (uint8_t)p[2];
    c->accept = p + 3;
    size_t at = 3;
    for (int i = 0; i < c->naccept; i++) {
        if (at >= n)
            return -1;
        at += 1 + (uint8_t)p[at];
        if (at > n)
            return -1;
    }
    c->args = p + at;
    c->len = n - at;
    return c->nr < alcove_ncalls ? 0 : -1;
}

/* Call i of the sequence, into c. */
static int seq_next(dec_t *d, seq_call_t *c)
{
    const char *p;
    size_t n;
    return dec_binary(d, &p, &n) < 0 ? -1 : seq_parse(p, n, c);
}

static int seq_start(const arg_seq_t *s, dec_t *d)
{
    dec_list_t l;
    return dec_init_raw(d, s->list, s->len) < 0 || dec_list(d, &l) < 0 ? -1
                                                                       : 0;
}

static bool ends_process(size_t nr)
{
    return alcove_calls[nr].flags & (CALLF_EXEC | CALLF_EXIT);
}

static bool holds_sequence(size_t nr)
{
    const alcove_call_t *call = &alcove_calls[nr];
    for (int i = 0; i < call->nargs; i++)
        if (call->args[i].type == T_SEQUENCE)
            return true;
    return false;
}

/* Whether call i of n may be in spawn/4's child: the last an exec, none
 * that would change what it shares with its parent. */
static bool spawnable(size_t nr, int i, int n)
{
    uint16_t flags = alcove_calls[nr].flags;
    return !(flags & CALLF_NOSPAWN) && (i != n - 1 || flags & CALLF_EXEC);
}

/* Every call, before any runs: CALL_REPLY when all may run. */
static int seq_check(alcove_t *ap, const arg_seq_t *s, run_mode_t mode)
{
    dec_t d;
    seq_call_t c;
    alcove_args_t args;
    if (seq_start(s, &d) < 0)
        return CALL_BADARG;
    int rv = CALL_REPLY;
    for (int i = 0; i < s->n; i++) {
        args_refs = (args_refs_t){.v = NULL, .n = (size_t)i};
        if (seq_next(&d, &c) < 0 || holds_sequence(c.nr) ||
            (ends_process(c.nr) && i != s->n - 1) ||
            (mode == RUN_SPAWNED && !spawnable(c.nr, i, s->n)) ||
            args_decode(&alcove_calls[c.nr], c.args, c.len, &args) ==
                ARGS_BADARG)
            return CALL_BADARG;
        if (call_filtered(ap, c.nr))
            rv = CALL_UNDEF;
    }
    return rv;
}

/* Whether the result at mark is an integer, N or {ok, N}: *n. */
static bool seq_val(int mark, int64_t *n)
{
    dec_t d;
    int arity;
    char atom[MAXATOMLEN_UTF8];
    if (dec_init_raw(&d, results.buff + mark, (size_t)(results.index - mark)) <
        0)
        return false;
    if (dec_int64(&d, n) == 0)
        return true;
    return dec_tuple(&d, &arity) == 0 && arity == 2 &&
           dec_atom(&d, atom) == 0 && strcmp(atom, "ok") == 0 &&
           dec_int64(&d, n) == 0 && d.idx == d.len;
}

/* What the result at mark is: REF_INT (its integer in *n), REF_ERROR
 * for {error, E} with E accepted by c, REF_NONE for anything else but
 * another {error, E}: -1, *reason then where E starts. */
static int seq_kind(const seq_call_t *c, int mark, int64_t *n, int *reason)
{
    dec_t d;
    int arity;
    char atom[MAXATOMLEN_UTF8];
    if (dec_init_raw(&d, results.buff + mark, (size_t)(results.index - mark)) <
            0 ||
        dec_tuple(&d, &arity) < 0 || arity != 2 || dec_atom(&d, atom) < 0 ||
        strcmp(atom, "error") != 0)
        return seq_val(mark, n) ? REF_INT : REF_NONE;
    *reason = mark + d.idx;
    if (dec_atom(&d, atom) < 0)
        return -1;
    size_t len = strlen(atom);
    const char *p = c->accept;
    for (int i = 0; i < c->naccept; p += 1 + (uint8_t)*p, i++)
        if ((uint8_t)*p == len && memcmp(p + 1, atom, len) == 0)
            return REF_ERROR;
    return -1;
}

/* Result from put again at the end: an accepted {error, E}, small (the
 * buffer may move as it grows: copied out first). */
static int seq_copy(build_t *rb, size_t from)
{
    char t[16 + MAXATOMLEN_UTF8];
    size_t n = (size_t)(starts[from + 1] - starts[from]);
    if (n > sizeof(t))
        return -1;
    memcpy(t, results.buff + starts[from], n);
    put_raw(rb, t, n);
    return 0;
}

/* [R1, ..., Rn | Tail]: the n results before end, then the tail. */
static void put_results(build_t *b, int n, int end)
{
    if (n > 0) {
        put_list(b, n);
        put_raw(b, results.buff, (size_t)end);
    }
}

/* What an exec answers if it succeeds: every result, then its ok; sent
 * now. False if that answer could not be made. */
static bool seq_exec_reply(alcove_t *ap, build_t *b, int n)
{
    put_tuple(b, 2);
    put_ok(b);
    put_list(b, n + 1);
    put_raw(b, results.buff, (size_t)results.index);
    put_ok(b);
    put_nil(b);
    bool ok = !b->failed;
    dispatch_reply_now(ap, b, ALCOVE_EXEC);
    return ok;
}

static int seq_fail(build_t *b, const seq_call_t *c, int i, int mark,
                    int reason, const char *why)
{
    put_tuple(b, 3);
    put_atom(b, "error");
    put_tuple(b, 3);
    put_int(b, i + 1);
    put_atom(b, alcove_calls[c->nr].name);
    if (why != NULL)
        put_atom(b, why);
    else
        put_raw(b, results.buff + reason, (size_t)(results.index - reason));
    put_results(b, i, mark);
    put_nil(b);
    return CALL_REPLY;
}

/* Room for the results of n calls (made by spawn/4's parent, so that its
 * child allocates none of it). */
static void seq_room(size_t n)
{
    if (results.buff == NULL && ei_x_new(&results) < 0)
        die(DIE_NOMEM, "out of memory");
    if (n <= nvals)
        return;
    int64_t *v = realloc(vals, n * sizeof(*v));
    if (v != NULL)
        vals = v;
    uint8_t *k = realloc(kind, n * sizeof(*k));
    if (k != NULL)
        kind = k;
    int *a = realloc(starts, (n + 1) * sizeof(*a));
    if (a != NULL)
        starts = a;
    if (v == NULL || k == NULL || a == NULL)
        die(DIE_NOMEM, "out of memory");
    nvals = n;
}

static int seq_run(alcove_t *ap, const arg_seq_t *s, build_t *b,
                   run_mode_t mode)
{
    dec_t d;
    seq_call_t c;
    build_t rb = {.x = &results};

    seq_room((size_t)s->n);
    results.index = 0;
    /* checked before (seq_check): the same bytes read again */
    if (seq_start(s, &d) < 0)
        return CALL_BADARG;
    for (int i = 0; i < s->n; i++) {
        if (seq_next(&d, &c) < 0)
            return CALL_BADARG;
        starts[i] = starts[i + 1] = build_mark(&rb);
        now_call = c;
        now = i;
        /* an answer too large for a frame was answered badarg: no exec */
        if (i == s->n - 1 && alcove_calls[c.nr].flags & CALLF_EXEC &&
            mode == RUN_INSEQ && !seq_exec_reply(ap, b, i))
            return CALL_LATER;
        args_refs = (args_refs_t){.v = vals, .kind = kind, .n = (size_t)i};
        int mark = starts[i], reason = 0, k;
        switch (dispatch_call(ap, c.nr, c.args, c.len, &rb, mode)) {
        case CALL_REPLY:
            if ((k = seq_kind(&c, mark, &vals[i], &reason)) < 0)
                return seq_fail(b, &c, i, mark, reason, NULL);
            kind[i] = (uint8_t)k;
            break;
        case CALL_SKIP:
            /* the error it names is its result, and accepted as well */
            if (seq_copy(&rb, args_refs.from) < 0)
                return seq_fail(b, &c, i, mark, 0, "badarg");
            kind[i] = REF_ERROR;
            break;
        case CALL_CHILD:
            return CALL_CHILD;
        case CALL_UNDEF:
            return seq_fail(b, &c, i, mark, 0, "undef");
        default:
            return seq_fail(b, &c, i, mark, 0, "badarg");
        }
        starts[i + 1] = build_mark(&rb);
    }
    /* spawn/4's exec did not run: its error was accepted, or named one */
    if (mode == RUN_SPAWNED && s->n > 0) {
        int reason = 0;
        int64_t v;
        (void)seq_kind(&c, starts[s->n - 1], &v, &reason);
        return seq_fail(b, &c, s->n - 1, starts[s->n - 1], reason,
                        reason > 0 ? NULL : "badarg");
    }
    put_tuple(b, 2);
    put_ok(b);
    put_results(b, s->n, results.index);
    put_nil(b);
    return CALL_REPLY;
}

/* What a sequence leaves: a huge one's results are not kept. */
static int seq_done(int rv)
{
    args_refs = (args_refs_t){0};
    if (results.buffsz > 1024 * 1024) {
        ei_x_free(&results);
        results = (ei_x_buff){0};
    }
    return rv;
}

int alcove_sys_sequence(alcove_t *ap, const alcove_args_t *args, build_t *b)
{
    const arg_seq_t *s = &args->sequence.calls;
    int rv = seq_check(ap, s, RUN_INSEQ);
    if (rv == CALL_REPLY)
        rv = seq_run(ap, s, b, RUN_INSEQ);
    return seq_done(rv);
}

#if CALL_spawn
/* spawn/4's child runs the calls on a copy of its parent's state (it
 * shares its memory: the results and the reply are its parent's), then
 * execs, or fails: its answer is then in the reply, and it dies as a
 * sandbox whose step failed does. */
typedef struct {
    alcove_t copy;
    const arg_seq_t *s;
    build_t *b;
    int rv;
    volatile bool failed;
} spawned_t;

static int seq_spawned(void *arg)
{
    spawned_t *sp = arg;
    sp->copy.life.spawned = true;
    /* a child dies with its parent (in a new PID namespace, its parent
     * is none: 0) */
    pid_t ppid;
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 ||
        ((ppid = getppid()) != sp->copy.pid && ppid != 0))
        _exit(DIE_SYS);
    sp->rv = seq_run(&sp->copy, sp->s, sp->b, RUN_SPAWNED);
    sp->failed = true;
    (void)kill(getpid(), SIGKILL);
    _exit(DIE_SYS);
}

/* The cgroup v2 directory at path, for the child to be born in. */
static int cgroup_open(const char *path)
{
    int fd;
    do
        fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
    while (fd < 0 && errno == EINTR);
    return fd;
}

static void fd_close(int *fd)
{
    if (*fd >= 0)
        close(*fd);
}

/* spawn/4, and spawn_into/5 unless cgroup is NULL. */
static int seq_spawn(alcove_t *ap, int64_t flags, const arg_bytes_t *cgroup,
                     const arg_seq_t *calls, build_t *b)
{
    /* copied first: checking the calls decodes them over the path */
    char path[PATH_MAX] = "";
    if (cgroup != NULL && cgroup->n < sizeof(path) && arg_str(cgroup) != NULL)
        memcpy(path, cgroup->s, cgroup->n + 1);
    int rv = seq_check(ap, calls, RUN_SPAWNED);
    if (rv != CALL_REPLY || calls->n == 0)
        return seq_done(rv == CALL_REPLY ? CALL_BADARG : rv);
    __attribute__((cleanup(fd_close))) int fd = -1;
    if (cgroup != NULL) {
        if (cgroup->n >= sizeof(path))
            return seq_done(reply_errno(b, ENAMETOOLONG));
        if (path[0] == '\0')
            return seq_done(reply_errno(b, cgroup->n == 0 ? ENOENT : EINVAL));
        if ((fd = cgroup_open(path)) < 0)
            return seq_done(reply_errno(b, errno));
    }
    seq_room((size_t)calls->n);
    dec_t d;
    now = 0;
    if (seq_start(calls, &d) < 0 || seq_next(&d, &now_call) < 0)
        return seq_done(CALL_BADARG);
    starts[0] = 0;
    spawned_t sp = {.copy = *ap, .s = calls, .b = b};
    int begin = build_mark(b);
    pid_t pid;
    if (spawn_shared(ap, flags, fd, seq_spawned, &sp, &pid) < 0)
        return seq_done(reply_errno(b, errno));
    if (sp.failed)
        return seq_done(sp.rv);
    /* killed from outside before its exec: in the call it was making
     * (what it had put of an answer dropped) */
    if (!sp.copy.life.execing) {
        build_rewind(b, begin);
        return seq_done(seq_fail(b, &now_call, now, starts[now], 0, "killed"));
    }
    return seq_done(reply_ok_int(b, pid));
}

int alcove_sys_spawn(alcove_t *ap, const alcove_args_t *args, build_t *b)
{
    return seq_spawn(ap, args->spawn.flags, NULL, &args->spawn.calls, b);
}

int alcove_sys_spawn_into(alcove_t *ap, const alcove_args_t *args, build_t *b)
{
    const args_spawn_into_t *a = &args->spawn_into;
    return seq_spawn(ap, a->flags, &a->cgroup, &a->calls, b);
}
#endif
