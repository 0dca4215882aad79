/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer harness over the port's input path: the bytes of one input
 * are what a process reads from upstream (the port's stdin, a child's
 * control socket). They go through the port's own code: up_frames() (the
 * frame loop of up_read, without the read), down_parse, dispatch, the
 * routing down the fork chain and the argument decoding of every call of
 * the table, up to the handler.
 *
 * No handler is linked (c_src/calls/ and alcove.c are left out): the
 * weak pointers of the call table are NULL and dispatch answers undef
 * once the arguments are decoded. The system calls a hostile request
 * could reach are therefore never made; a check at start proves the
 * table holds no handler, and fork, exec, mount, kill and their kin are
 * replaced below by functions that abort, so that a path to one would be
 * a crash, not a mount.
 *
 * Three processes are simulated, two hops of a fork chain:
 *
 *   port (depth 0)   children P1 (event loop), P2 (has exec'd: control
 *                    socket closed, stdin open), P3 (exited, output
 *                    being drained)
 *   P1   (depth 1)   children Q1 (event loop), Q2 (has exec'd)
 *
 * The children are entries of the real child table (child_add) on
 * socket pairs and pipes, with no process behind them. The input is fed
 * to the port; what it routes to P1 is fed to P1's loop; what P1 routes
 * to Q1 is checked. Each output is checked against a model of the
 * protocol (frame.h, reply.h), written apart from the port's code: the
 * frames forwarded to a child are byte for byte the input frames with the
 * first PID popped, and the replies are exactly, in order, the ones the
 * requests call for. A mismatch aborts, like a memory error.
 *
 * The PIDs are above the kernel's PID_MAX_LIMIT (2^22): no real process
 * has them. fuzz/gen_corpus.escript writes seeds for the same PIDs.
 *
 * Built with -DFUZZ_REPLAY and without libFuzzer, the same file is a
 * program that runs the files named on its command line once: the
 * fuzzer's corpus under valgrind, which also sees reads inside libei
 * (ASan cannot: libei is not instrumented).
 */
#include "core/alcove.h"
#include "calls/calls.h"
#include "wire/reply.h"

#include <dirent.h>
#include <errno.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define P1 5000001
#define P2 5000002
#define P3 5000003
#define Q1 6000001
#define Q2 6000002

/* Descriptors are recreated when a request closes one (eof/2 closes a
 * child's stdin): the numbers stay low unless one leaks. */
#define FD_BOUND 64

/* ---------------------------------------------------------------- */
/* Nothing may be forked, executed, mounted or killed. */

static void forbidden(const char *what) __attribute__((noreturn));
static void forbidden(const char *what)
{
    fprintf(stderr, "fuzz_port: %s() reached from the input path\n", what);
    abort();
}

pid_t fork(void) { forbidden("fork"); }
pid_t vfork(void) { forbidden("vfork"); }
int execve(const char *p, char *const a[], char *const e[])
{
    (void)p, (void)a, (void)e;
    forbidden("execve");
}
int execv(const char *p, char *const a[])
{
    (void)p, (void)a;
    forbidden("execv");
}
int execvp(const char *p, char *const a[])
{
    (void)p, (void)a;
    forbidden("execvp");
}
int execvpe(const char *p, char *const a[], char *const e[])
{
    (void)p, (void)a, (void)e;
    forbidden("execvpe");
}
int fexecve(int fd, char *const a[], char *const e[])
{
    (void)fd, (void)a, (void)e;
    forbidden("fexecve");
}
int mount(const char *s, const char *t, const char *f, unsigned long fl,
          const void *d)
{
    (void)s, (void)t, (void)f, (void)fl, (void)d;
    forbidden("mount");
}
int umount(const char *t)
{
    (void)t;
    forbidden("umount");
}
int umount2(const char *t, int fl)
{
    (void)t, (void)fl;
    forbidden("umount2");
}
int kill(pid_t pid, int sig)
{
    (void)pid, (void)sig;
    forbidden("kill");
}
int killpg(pid_t pg, int sig)
{
    (void)pg, (void)sig;
    forbidden("killpg");
}
long ptrace(enum __ptrace_request req, ...)
{
    (void)req;
    forbidden("ptrace");
}
int setns(int fd, int type)
{
    (void)fd, (void)type;
    forbidden("setns");
}
int unshare(int flags)
{
    (void)flags;
    forbidden("unshare");
}
int chroot(const char *p)
{
    (void)p;
    forbidden("chroot");
}

/* HELLO names a socket to connect to: none is reached from here. */
int connect(int fd, const struct sockaddr *sa, socklen_t len)
{
    (void)fd, (void)sa, (void)len;
    errno = ECONNREFUSED;
    return -1;
}

/* spawn.c clones and lifecycle.c closes ranges through syscall(2): the
 * dangerous numbers abort, the rest go to libc. */
long syscall(long nr, ...)
{
    static long (*real)(long, ...);
    va_list ap;
    long a[6];

    switch (nr) {
    case SYS_clone:
    case SYS_clone3:
    case SYS_fork:
    case SYS_vfork:
    case SYS_execve:
    case SYS_execveat:
    case SYS_kill:
    case SYS_tkill:
    case SYS_tgkill:
    case SYS_mount:
    case SYS_umount2:
    case SYS_pivot_root:
    case SYS_setns:
    case SYS_unshare:
    case SYS_ptrace:
    case SYS_reboot:
        forbidden("syscall");
    }
    va_start(ap, nr);
    for (int i = 0; i < 6; i++)
        a[i] = va_arg(ap, long);
    va_end(ap);
    if (real == NULL)
        real = (long (*)(long, ...))dlsym(RTLD_NEXT, "syscall");
    return real(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}

/* die() is linked as it is, but reached through the linker's --wrap:
 * the port's die() calls _exit, which libFuzzer would not notice. Every
 * die() on this path is a finding: a frame too large is answered by
 * up_frames() returning -1, and the harness allocates nothing huge. */
void __wrap_die(int code, const char *why) __attribute__((noreturn));
void __wrap_die(int code, const char *why)
{
    fprintf(stderr, "fuzz_port: die(%d, %s)\n", code, why);
    abort();
}

static void fail(const char *what) __attribute__((noreturn));
static void fail(const char *what)
{
    fprintf(stderr, "fuzz_port: %s\n", what);
    abort();
}

/* ---------------------------------------------------------------- */
/* The simulated processes. */

typedef struct {
    pid_t pid;
    bool exec;   /* control socket closed: the child ran exec */
    bool exited; /* reaped, its output still being read */
} fake_t;

typedef struct {
    alcove_t ap;
    const fake_t *fakes;
    size_t nfakes;
} proc_t;

static const fake_t port_fakes[] = {
    {P1, false, false}, {P2, true, false}, {P3, false, true}};
static const fake_t p1_fakes[] = {{Q1, false, false}, {Q2, true, false}};

static proc_t port, p1;

static int fd_check(int fd)
{
    if (fd < 0)
        fail("out of descriptors");
    if (fd >= FD_BOUND)
        fail("descriptor leak: a descriptor number past FD_BOUND");
    return fd;
}

static void pipe_pair(int fd[2])
{
    if (pipe2(fd, O_CLOEXEC) < 0)
        fail("pipe2");
    fd_check(fd[0]);
    fd_check(fd[1]);
}

/* A child's stdin, new or after eof/3 closed it: its reader is never
 * read, since nothing is flushed. */
static void stdin_open(alcove_t *ap, child_t *c)
{
    int fd[2];
    pipe_pair(fd);
    close(fd[0]);
    c->in =
        (fdref_t){.fd = fd[1], .kind = FD_STDIN, .child = c, .writable = true};
    if (set_nonblock(fd[1]) < 0)
        fail("fcntl");
    fd_watch(ap, &c->in, 0);
}

/* A child's stdout or stderr after eof/3 closed it: nothing writes. */
static void output_open(alcove_t *ap, child_t *c, fdref_t *r, fdkind_t kind)
{
    int fd[2];
    pipe_pair(fd);
    close(fd[1]);
    *r = (fdref_t){.fd = fd[0], .kind = (uint8_t)kind, .child = c};
    if (set_nonblock(fd[0]) < 0)
        fail("fcntl");
    fd_watch(ap, r, EPOLLIN);
}

static void fake_add(alcove_t *ap, const fake_t *f)
{
    int ctl[2], in[2], out[2], err[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ctl) < 0)
        fail("socketpair");
    fd_check(ctl[0]);
    fd_check(ctl[1]);
    pipe_pair(in);
    pipe_pair(out);
    pipe_pair(err);
    child_t *c = child_add(ap, f->pid, ctl[0], in[1], out[0], err[0]);
    close(ctl[1]);
    close(in[0]);
    close(out[1]);
    close(err[1]);
    if (f->exec) {
        close(c->ctl.fd);
        c->ctl.fd = -1;
    }
    if (f->exited) {
        c->exited = true;
        c->status = 0;
    }
}

static void proc_init(proc_t *p, int depth, pid_t pid, const fake_t *fakes,
                      size_t nfakes)
{
    alcove_t *ap = &p->ap;
    memset(p, 0, sizeof(*p));
    p->fakes = fakes;
    p->nfakes = nfakes;
    ap->depth = depth;
    ap->pid = pid;
    ap->opt.maxchild = 1024;
    ap->opt.maxforkdepth = 16;
    ap->opt.exit_status = 1;
    ap->opt.termsig = 1;
    ap->opt.flowcontrol = -1;
    ap->opt.signaloneof = SIGTERM;
    ap->ev.epfd = fd_check(epoll_create1(EPOLL_CLOEXEC));
    ap->up.in = (fdref_t){.fd = -1, .kind = FD_UP_IN};
    ap->up.out = (fdref_t){.fd = -1, .kind = FD_UP_OUT};
    ap->up.obuf.ref = &ap->up.out;
    if (ei_x_new(&ap->x) < 0)
        fail("ei_x_new");
    for (size_t i = 0; i < nfakes; i++)
        fake_add(ap, &fakes[i]);
}

/* Back to the state after proc_init, between inputs. */
static void proc_reset(proc_t *p)
{
    alcove_t *ap = &p->ap;
    for (child_t *c = ap->kids.first; c; c = c->next) {
        abuf_free(&c->ctl_in);
        abuf_free(&c->ctl_out.b);
        abuf_free(&c->stdin_out.b);
        c->ctl_out.dirty = c->stdin_out.dirty = false;
        c->nacks = 0;
        c->stdin_total = c->stdin_written = 0;
        c->eof_pending = false;
        if (c->in.fd < 0)
            stdin_open(ap, c);
        if (c->out.fd < 0)
            output_open(ap, c, &c->out, FD_STDOUT);
        if (c->err.fd < 0)
            output_open(ap, c, &c->err, FD_STDERR);
    }
    abuf_free(&ap->up.ibuf);
    abuf_free(&ap->up.obuf.b);
    ap->up.obuf.dirty = false;
    ap->ev.dirty = NULL;
    ap->up.closed = false;
    if (ap->ev.rq_head || ap->ev.park_head || ap->life.newchild ||
        ap->life.leaving || ap->kids.n != p->nfakes)
        fail("the input path changed the event loop's state");
}

/* The input, in a buffer of exactly its size: a read past the last frame
 * is a heap overflow ASan sees. */
static void feed(alcove_t *ap, const uint8_t *data, size_t size)
{
    abuf_t *b = &ap->up.ibuf;
    abuf_free(b);
    b->data = malloc(size > 0 ? size : 1);
    if (b->data == NULL)
        fail("out of memory");
    if (size > 0)
        memcpy(b->data, data, size);
    b->len = b->cap = size;
}

/* ---------------------------------------------------------------- */
/* The model: what a process must answer and forward for a stream of
 * requests, from frame.h and reply.h alone. */

enum { R_RUN, R_BADPID, R_BADARG, R_ACK, R_ESRCH, R_EBADF };

typedef struct {
    uint32_t id;
    int kind;
} want_t;

typedef struct {
    want_t *w;
    size_t n, cap;
} wants_t;

static void want(wants_t *ws, uint32_t id, int kind)
{
    if (ws->n == ws->cap) {
        ws->cap = ws->cap ? ws->cap * 2 : 64;
        ws->w = realloc(ws->w, ws->cap * sizeof(*ws->w));
        if (ws->w == NULL)
            fail("out of memory");
    }
    ws->w[ws->n++] = (want_t){id, kind};
}

/* A child's stdin as the port keeps it. Nothing reaches the pipe (the
 * harness never flushes), so a write is answered only when eof/2 finds
 * that every byte before it is written: that is, for empty writes. */
typedef struct {
    pid_t pid;
    bool route;   /* calls pass to it */
    bool in_open; /* stdin/eof reach it */
    bool out_open, err_open;
    bool eof_pending;
    uint64_t total; /* bytes queued */
    uint32_t *acks; /* ids of writes not yet answered... */
    uint64_t *ends; /* ...and total once each is written */
    size_t nacks;
} mchild_t;

typedef struct {
    mchild_t c[4];
    size_t n;
} model_t;

static void model_init(model_t *m, const fake_t *fakes, size_t n)
{
    for (size_t i = 0; i < m->n; i++) {
        free(m->c[i].acks);
        free(m->c[i].ends);
    }
    memset(m, 0, sizeof(*m));
    m->n = n;
    for (size_t i = 0; i < n; i++)
        m->c[i] = (mchild_t){.pid = fakes[i].pid,
                             .route = !fakes[i].exec && !fakes[i].exited,
                             .in_open = true,
                             .out_open = true,
                             .err_open = true};
}

static mchild_t *model_get(model_t *m, uint32_t pid)
{
    for (size_t i = 0; i < m->n; i++)
        if ((uint32_t)m->c[i].pid == pid)
            return &m->c[i];
    return NULL;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           p[3];
}

/* A child in its event loop whose stdin eof/3 closed is told to shut
 * down: a SHUTDOWN frame, no id, no PID. */
static void model_shutdown(abuf_t *fwd)
{
    static const uint8_t f[11] = {0, 0, 0, 7, MSG_SHUTDOWN};
    if (abuf_append(fwd, f, sizeof(f)) < 0)
        fail("out of memory");
}

/* eof/3 of stdout or stderr (stream 1, 2), or of stdin with a SHUTDOWN
 * to fwd when the child is in its loop and is fwd_pid. */
static void model_eof(mchild_t *c, wants_t *ws, uint32_t id, int stream,
                      uint32_t fwd_pid, abuf_t *fwd)
{
    bool *open = stream == 1 ? &c->out_open : &c->err_open;
    if (stream == 0 && (!c->in_open || c->eof_pending)) {
        want(ws, id, R_EBADF);
        return;
    }
    if (stream > 0) {
        want(ws, id, *open ? R_ACK : R_EBADF);
        *open = false;
        return;
    }
    /* answer the writes already in the pipe (none but empty ones) and
     * close stdin once all is written */
    size_t i = 0;
    while (i < c->nacks && c->ends[i] == 0)
        want(ws, c->acks[i++], R_ACK);
    if (i > 0) {
        memmove(c->acks, c->acks + i, (c->nacks - i) * sizeof(*c->acks));
        memmove(c->ends, c->ends + i, (c->nacks - i) * sizeof(*c->ends));
        c->nacks -= i;
    }
    if (c->total == 0) {
        c->in_open = false;
        want(ws, id, R_ACK);
        if (c->route && (uint32_t)c->pid == fwd_pid)
            model_shutdown(fwd);
    } else {
        c->eof_pending = true;
    }
}

static void model_stdio(model_t *m, wants_t *ws, uint8_t type, uint32_t id,
                        uint32_t pid, const uint8_t *data, size_t datalen,
                        uint32_t fwd_pid, abuf_t *fwd)
{
    mchild_t *c = model_get(m, pid);
    if (type == MSG_EOF) {
        /* the stream: none is stdin, else one byte, 0 to 2 */
        int stream = datalen == 0 ? 0 : data[0];
        if (datalen > 1 || stream > 2)
            want(ws, id, R_BADARG);
        else if (c == NULL)
            want(ws, id, R_ESRCH);
        else
            model_eof(c, ws, id, stream, fwd_pid, fwd);
        return;
    }
    if (c == NULL || !c->in_open || c->eof_pending) {
        want(ws, id, R_BADPID);
        return;
    }
    c->acks = realloc(c->acks, (c->nacks + 1) * sizeof(*c->acks));
    c->ends = realloc(c->ends, (c->nacks + 1) * sizeof(*c->ends));
    if (c->acks == NULL || c->ends == NULL)
        fail("out of memory");
    c->total += datalen;
    c->acks[c->nacks] = id;
    c->ends[c->nacks++] = c->total;
}

/* Walk the stream as the process must: fill ws with the replies due and
 * fwd with the frames for the child fwd_pid. */
static void model_run(model_t *m, const uint8_t *p, size_t len, wants_t *ws,
                      uint32_t fwd_pid, abuf_t *fwd)
{
    ws->n = 0;
    while (len >= 4) {
        uint32_t flen = be32(p);
        if (flen > FRAME_MAX || len - 4 < flen)
            break;
        const uint8_t *body = p + 4;
        p += 4 + (size_t)flen;
        len -= 4 + (size_t)flen;

        /* too short for its header or its PIDs: answered badarg when
         * its id can be read (dispatch_short), else dropped */
        bool is_short =
            flen < 7 || (flen - 7) / 4 < ((size_t)body[5] << 8 | body[6]);
        if (is_short) {
            if (flen >= 5 && body[0] != MSG_SHUTDOWN && body[0] != MSG_HELLO)
                want(ws, be32(body + 1), R_BADARG);
            continue;
        }
        uint8_t type = body[0];
        uint32_t id = be32(body + 1);
        size_t n = (size_t)body[5] << 8 | body[6];
        uint32_t pid0 = n > 0 ? be32(body + 7) : 0;
        size_t datalen = flen - 7 - 4 * n;

        bool pass = false;
        switch (type) {
        case MSG_CALL:
            if (n == 0)
                want(ws, id, R_RUN);
            else
                pass = true;
            break;
        case MSG_STDIN:
        case MSG_EOF:
            if (n == 0)
                want(ws, id, R_BADPID);
            else if (n == 1)
                model_stdio(m, ws, type, id, pid0, body + 11, datalen, fwd_pid,
                            fwd);
            else
                pass = true;
            break;
        case MSG_SHUTDOWN:
            break;
        case MSG_HELLO:
            /* the driver's control connection: no answer */
            if (n > 0)
                want(ws, id, R_BADARG);
            break;
        default:
            want(ws, id, R_BADARG);
            break;
        }
        if (!pass)
            continue;
        mchild_t *c = model_get(m, pid0);
        if (c == NULL || !c->route) {
            want(ws, id, R_BADPID);
            continue;
        }
        if (pid0 != fwd_pid)
            continue;
        /* the same frame, four bytes shorter, with n - 1 PIDs */
        uint8_t hdr[11];
        put32(hdr, flen - 4);
        hdr[4] = type;
        put32(hdr + 5, id);
        put16(hdr + 9, (uint16_t)(n - 1));
        if (abuf_append(fwd, hdr, sizeof(hdr)) < 0 ||
            abuf_append(fwd, body + 11, flen - 11) < 0)
            fail("out of memory");
    }
}

/* The bytes a buffer holds; an empty one may have no memory at all. */
static const uint8_t *held(const abuf_t *b)
{
    return b->data != NULL ? (const uint8_t *)b->data + b->off
                           : (const uint8_t *)"";
}

/* ok, or {error, err} */
static bool term_is(const char *buf, size_t len, const char *err)
{
    int idx = 0, version, arity;
    char a[MAXATOMLEN_UTF8];
    if (ei_decode_version(buf, &idx, &version) < 0)
        return false;
    if (err != NULL) {
        if (ei_decode_tuple_header(buf, &idx, &arity) < 0 || arity != 2 ||
            ei_decode_atom(buf, &idx, a) < 0 || strcmp(a, "error") != 0 ||
            ei_decode_atom(buf, &idx, a) < 0 || strcmp(a, err) != 0)
            return false;
    } else if (ei_decode_atom(buf, &idx, a) < 0 || strcmp(a, "ok") != 0) {
        return false;
    }
    return (size_t)idx == len;
}

/* The replies a process wrote upstream are exactly the ones due. */
static void check_replies(const abuf_t *b, const wants_t *ws)
{
    const uint8_t *p = held(b);
    size_t len = b->len, i = 0;
    for (; len > 0; i++) {
        if (len < 4 || len - 4 < be32(p))
            fail("a reply frame is cut short");
        uint32_t flen = be32(p);
        const uint8_t *body = p + 4;
        p += 4 + (size_t)flen;
        len -= 4 + (size_t)flen;
        if (flen < 6 || body[0] != MSG_REPLY)
            fail("upstream: a frame that is not a reply");
        if (i >= ws->n)
            fail("a reply that no request asked for");
        if (be32(body + 1) != ws->w[i].id)
            fail("a reply with the wrong id, or out of order");
        uint8_t status = body[5];
        const char *term = (const char *)body + 6;
        size_t tlen = flen - 6;
        bool ok;
        switch (ws->w[i].kind) {
        case R_RUN:
            /* no handler: badarg, undef, or enotsup for a call this
             * system lacks or an atom it does not know */
            ok = (status == ALCOVE_BADARG || status == ALCOVE_UNDEF)
                     ? tlen == 0
                     : status == ALCOVE_OK && term_is(term, tlen, "enotsup");
            break;
        case R_BADPID:
            ok = status == ALCOVE_BADPID && tlen == 0;
            break;
        case R_BADARG:
            ok = status == ALCOVE_BADARG && tlen == 0;
            break;
        case R_ESRCH:
            ok = status == ALCOVE_OK && term_is(term, tlen, "esrch");
            break;
        case R_EBADF:
            ok = status == ALCOVE_OK && term_is(term, tlen, "ebadf");
            break;
        default: /* R_ACK */
            ok = status == ALCOVE_OK && term_is(term, tlen, NULL);
            break;
        }
        if (!ok)
            fail("a reply with the wrong status or term");
    }
    if (i != ws->n)
        fail("a request left without its reply");
}

static void check_forward(const abuf_t *got, const abuf_t *want_fwd)
{
    if (got->len != want_fwd->len ||
        memcmp(held(got), held(want_fwd), got->len) != 0)
        fail("the frames routed to a child are not the requests, popped");
}

/* ---------------------------------------------------------------- */

static model_t mport, mp1;
static wants_t wport, wp1;
static abuf_t fwd_p1, fwd_q1;

static void setup(void)
{
    /* the build links no handler: every entry is NULL or the answer of
     * a call this system lacks */
    for (size_t i = 0; i < alcove_ncalls; i++)
        if (alcove_calls[i].fn != NULL &&
            alcove_calls[i].fn != alcove_enotsup) {
            fprintf(stderr, "fuzz_port: handler of %s is linked\n",
                    alcove_calls[i].name);
            abort();
        }
    proc_init(&port, 0, 4999999, port_fakes, 3);
    proc_init(&p1, 1, P1, p1_fakes, 2);
    /* a filter in P1, as filter/3 leaves it: kill and socket are undef */
    for (size_t i = 0; i < alcove_ncalls; i++)
        if (strcmp(alcove_calls[i].name, "kill") == 0 ||
            strcmp(alcove_calls[i].name, "socket") == 0)
            p1.ap.opt.filter[i / 8] |= (uint8_t)(1u << (i % 8));
}

static child_t *child_of(proc_t *p, pid_t pid)
{
    child_t *c = child_get(&p->ap, pid);
    if (c == NULL)
        fail("a simulated child left the table");
    return c;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool ready;
    if (!ready) {
        setup();
        ready = true;
    }
    model_init(&mport, port_fakes, 3);
    model_init(&mp1, p1_fakes, 2);
    fwd_p1.len = fwd_p1.off = 0;
    fwd_q1.len = fwd_q1.off = 0;

    /* the port */
    model_run(&mport, data, size, &wport, P1, &fwd_p1);
    feed(&port.ap, data, size);
    /* -1: a length past FRAME_MAX, where the real port dies (DIE_PROTO)
     * and the model stops too */
    (void)up_frames(&port.ap);
    check_replies(&port.ap.up.obuf.b, &wport);
    check_forward(&child_of(&port, P1)->ctl_out.b, &fwd_p1);

    /* P1: its control socket brings what the port routed to it */
    abuf_t *to_p1 = &child_of(&port, P1)->ctl_out.b;
    model_run(&mp1, held(to_p1), to_p1->len, &wp1, Q1, &fwd_q1);
    feed(&p1.ap, held(to_p1), to_p1->len);
    if (up_frames(&p1.ap) < 0)
        fail("a routed frame is too large");
    check_replies(&p1.ap.up.obuf.b, &wp1);
    check_forward(&child_of(&p1, Q1)->ctl_out.b, &fwd_q1);

    proc_reset(&port);
    proc_reset(&p1);
    return 0;
}

#ifdef FUZZ_REPLAY
static int replay(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        perror(path);
        return 1;
    }
    uint8_t *buf = malloc(st.st_size > 0 ? (size_t)st.st_size : 1);
    ssize_t n = buf ? read(fd, buf, (size_t)st.st_size) : -1;
    close(fd);
    if (n != st.st_size) {
        fprintf(stderr, "%s: short read\n", path);
        free(buf);
        return 1;
    }
    LLVMFuzzerTestOneInput(buf, (size_t)n);
    free(buf);
    return 0;
}

/* Run each file, or each file of each directory, once. */
int main(int argc, char *argv[])
{
    int bad = 0, runs = 0;
    for (int i = 1; i < argc; i++) {
        DIR *d = opendir(argv[i]);
        if (d == NULL) {
            bad |= replay(argv[i]);
            runs++;
            continue;
        }
        struct dirent *e;
        char path[4096];
        while ((e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.')
                continue;
            snprintf(path, sizeof(path), "%s/%s", argv[i], e->d_name);
            bad |= replay(path);
            runs++;
        }
        closedir(d);
    }
    fprintf(stderr, "fuzz_port: %d inputs replayed\n", runs);
    return bad;
}
#endif
