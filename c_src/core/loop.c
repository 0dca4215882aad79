/* SPDX-License-Identifier: ISC */
/*
 * The event loop. Descriptors are watched edge-triggered; a readable one
 * goes on a FIFO ready queue and is read a chunk at a time, so the cost
 * of an event does not depend on how many children exist, and one busy
 * child cannot starve the others. Writes are gathered and flushed once
 * per turn of the loop.
 */
#include "core/alcove.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* How many ready descriptors one turn serves before flushing. */
#define TURN_BUDGET 64
/* How long shutdown waits for children before SIGKILL. */
#define SHUTDOWN_MS 5000

int set_nonblock(int fd)
{
    int on = 1;
    if (ioctl(fd, FIONBIO, &on) == 0)
        return 0;
    /* a seccomp filter may deny ioctl */
    int fl = fcntl(fd, F_GETFL);
    return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

void fd_watch(alcove_t *ap, fdref_t *r, uint32_t events)
{
    struct epoll_event ev = {.events = events | EPOLLET, .data.ptr = r};
    if (epoll_ctl(ap->epfd, EPOLL_CTL_ADD, r->fd, &ev) < 0)
        die(DIE_SYS, "epoll_ctl");
    r->events = events;
}

/* Writability is watched only while a write is blocked: a socket or
 * pipe that is merely drained by its reader would otherwise wake this
 * process for nothing on every read. */
static void fd_want_out(alcove_t *ap, fdref_t *r, bool on)
{
    uint32_t events = on ? r->events | EPOLLOUT : r->events & ~EPOLLOUT;
    if (events == r->events || r->fd < 0)
        return;
    struct epoll_event ev = {.events = events | EPOLLET, .data.ptr = r};
    if (epoll_ctl(ap->epfd, EPOLL_CTL_MOD, r->fd, &ev) < 0)
        die(DIE_SYS, "epoll_ctl");
    r->events = events;
}

void rq_push(alcove_t *ap, fdref_t *r)
{
    if (r->queued)
        return;
    r->queued = true;
    r->next = NULL;
    if (ap->rq_tail)
        ap->rq_tail->next = r;
    else
        ap->rq_head = r;
    ap->rq_tail = r;
}

static fdref_t *rq_pop(alcove_t *ap)
{
    fdref_t *r = ap->rq_head;
    if (r == NULL)
        return NULL;
    ap->rq_head = r->next;
    if (ap->rq_head == NULL)
        ap->rq_tail = NULL;
    r->queued = false;
    return r;
}

static void park(alcove_t *ap, fdref_t *r)
{
    r->queued = true;
    r->next = NULL;
    if (ap->park_tail)
        ap->park_tail->next = r;
    else
        ap->park_head = r;
    ap->park_tail = r;
}

static void unpark(alcove_t *ap)
{
    fdref_t *r = ap->park_head;
    ap->park_head = ap->park_tail = NULL;
    while (r) {
        fdref_t *next = r->next;
        r->queued = false;
        rq_push(ap, r);
        r = next;
    }
}

void obuf_mark(alcove_t *ap, obuf_t *o)
{
    if (o->dirty)
        return;
    o->dirty = true;
    o->next = ap->dirty;
    ap->dirty = o;
}

bool pipe_grow(alcove_t *ap, int fd, bool *grown)
{
#ifdef F_SETPIPE_SZ
    if (*grown || ap->pipes_grown >= PIPE_GROW_MAX ||
        fcntl(fd, F_SETPIPE_SZ, PIPE_BIG) < 0)
        return false;
    *grown = true;
    ap->pipes_grown++;
    return true;
#else
    (void)ap;
    (void)fd;
    (void)grown;
    return false;
#endif
}

static void splice_done(alcove_t *ap)
{
    /* its pipe is read again, in turn */
    fdref_t *r = ap->splice.src;
    ap->splice.src = NULL;
    if (r) {
        r->readable = true;
        if (!r->queued)
            rq_push(ap, r);
    }
}

/* Read what is left of the payload into the head of the upstream buffer,
 * where it belongs (everything before it is written). */
static void unsplice(alcove_t *ap)
{
    upsplice_t *sp = &ap->splice;
    abuf_t b = {.data = NULL};
    if (abuf_reserve(&b, sp->left + ap->up_obuf.b.len) < 0)
        die(DIE_NOMEM, "out of memory");
    while (b.len < sp->left) {
        ssize_t n = read(ap->spipe[0], abuf_tail(&b), sp->left - b.len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            die(DIE_SYS, "read: the payload pipe ran dry");
        b.len += (size_t)n;
    }
    if (abuf_append(&b, abuf_head(&ap->up_obuf.b), ap->up_obuf.b.len) < 0)
        die(DIE_NOMEM, "out of memory");
    abuf_free(&ap->up_obuf.b);
    ap->up_obuf.b = b;
    sp->left = 0;
    splice_done(ap);
}

/* Move a spliced payload upstream: 1 on progress, 0 when upstream is
 * full, -1 when it is gone. spipe holds every byte announced and only
 * this process reads it: empty, it is a broken invariant. */
static int splice_more(alcove_t *ap, int out)
{
    upsplice_t *sp = &ap->splice;
    ssize_t n = splice(ap->spipe[0], NULL, out, NULL, sp->left,
                       SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    if (n < 0 && errno != EINTR && errno != EAGAIN && errno != EPIPE &&
        errno != ECONNRESET) {
        /* refused (a seccomp filter, an upstream splice cannot write to):
         * the payload goes at the head of the buffer, copied */
        ap->up_splice = false;
        unsplice(ap);
        return 1;
    }
    if (n < 0)
        return errno == EINTR ? 1 : errno == EAGAIN ? 0 : -1;
    if (n == 0)
        die(DIE_SYS, "splice: the payload pipe ran dry");
    sp->left -= (size_t)n;
    if (sp->left == 0)
        splice_done(ap);
    return 1;
}

/* Write what o holds (and, upstream, a spliced payload where it belongs);
 * 0 when empty or blocked, -1 when the reader is gone. */
static int obuf_flush(alcove_t *ap, obuf_t *o)
{
    upsplice_t *sp = o == &ap->up_obuf ? &ap->splice : NULL;
    for (;;) {
        if (sp && sp->left > 0 && sp->before == 0) {
            int rv = splice_more(ap, o->ref->fd);
            if (rv < 0)
                return -1;
            if (rv == 0)
                goto blocked;
            continue;
        }
        size_t len = sp && sp->left > 0 ? sp->before : o->b.len;
        if (len == 0)
            break;
        ssize_t n = write(o->ref->fd, abuf_head(&o->b), len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN) {
                /* a child's stdin that fills up is streamed to */
                if (o->ref->kind == FD_STDIN &&
                    pipe_grow(ap, o->ref->fd, &o->ref->child->in_grown))
                    continue;
                goto blocked;
            }
            return -1;
        }
        abuf_consume(&o->b, (size_t)n);
        if (sp && sp->left > 0)
            sp->before -= (size_t)n;
    }
    fd_want_out(ap, o->ref, false);
    abuf_trim(&o->b, o->ref->kind == FD_UP_OUT ? KEEP_UP : KEEP_CHILD);
    return 0;
blocked:
    o->ref->writable = false;
    fd_want_out(ap, o->ref, true);
    return 0;
}

static bool obuf_pending(const alcove_t *ap, const obuf_t *o)
{
    return o->b.len > 0 || (o == &ap->up_obuf && ap->splice.left > 0);
}

int flush_blocking(alcove_t *ap, obuf_t *o)
{
    while (obuf_pending(ap, o)) {
        if (obuf_flush(ap, o) < 0)
            return -1;
        if (obuf_pending(ap, o)) {
            struct pollfd pfd = {.fd = o->ref->fd, .events = POLLOUT};
            if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
                return -1;
        }
    }
    return 0;
}

static void flush_one(alcove_t *ap, obuf_t *o)
{
    fdref_t *r = o->ref;
    if (r->fd < 0) {
        abuf_free(&o->b);
        return;
    }
    int rv = obuf_flush(ap, o);
    switch (r->kind) {
    case FD_UP_OUT:
        if (rv < 0)
            ap->up_closed = true; /* nobody to serve: shut down */
        else if (o->b.len < LOW_WATER && ap->park_head)
            unpark(ap);
        break;
    case FD_STDIN:
        if (rv < 0) {
            /* the reader is gone: what was queued can never arrive */
            abuf_free(&o->b);
            close(r->fd);
            r->fd = -1;
        }
        child_wrote(ap, r->child);
        break;
    default: /* FD_CTL: a dead child's socket is closed on its EOF */
        if (rv < 0)
            abuf_free(&o->b);
        break;
    }
}

static void flush_dirty(alcove_t *ap)
{
    while (ap->dirty) {
        obuf_t *o = ap->dirty;
        ap->dirty = o->next;
        o->dirty = false;
        if (o->ref->writable || o->ref->fd < 0)
            flush_one(ap, o);
    }
}

/* Run or route each whole frame held in the upstream buffer; -1 on a
 * frame too large to be a request. Apart from up_read so that the fuzzer
 * (fuzz/fuzz_port.c) feeds this very code without a descriptor. */
int up_frames(alcove_t *ap)
{
    abuf_t *b = &ap->up_ibuf;
    for (;;) {
        const char *body;
        uint32_t len;
        frame_res_t fr = frame_next(b, &body, &len);
        if (fr == FRAME_MORE)
            break;
        if (fr == FRAME_TOOBIG)
            return -1;

        down_hdr_t h;
        if (down_parse(body, len, &h) == 0)
            dispatch(ap, &h);
        else
            dispatch_short(ap, body, len);
        if (ap->newchild)
            return 0; /* the parent's buffers are gone */
        abuf_consume(b, FRAME_LEN + len);
        if (ap->leaving)
            return 0; /* exit/3: what follows is answered by CLOSED */
    }
    abuf_trim(b, KEEP_UP);
    return 0;
}

/* Read requests from upstream and run or route each whole frame. */
static void up_read(alcove_t *ap)
{
    abuf_t *b = &ap->up_ibuf;
    size_t want = frame_want(b, READ_CHUNK);
    if (abuf_reserve(b, want) < 0)
        die(DIE_NOMEM, "out of memory");

    ssize_t n = read(ap->up_in.fd, abuf_tail(b), want);
    if (n < 0) {
        if (errno == EINTR) {
            rq_push(ap, &ap->up_in);
            return;
        }
        if (errno != EAGAIN) {
            ap->up_closed = true;
            return;
        }
        /* requests handed over by a re-exec may be waiting: run them */
        ap->up_in.readable = false;
    } else if (n == 0) {
        /* the same, before shutting down */
        ap->up_closed = true;
    } else {
        b->len += (size_t)n;
        if ((size_t)n == want || ap->up_in.hup)
            rq_push(ap, &ap->up_in);
        else
            ap->up_in.readable = false;
    }

    if (up_frames(ap) < 0)
        die(DIE_PROTO, "frame too large");
}

static void serve(alcove_t *ap)
{
    for (int budget = TURN_BUDGET; budget > 0; budget--) {
        fdref_t *r = rq_pop(ap);
        if (r == NULL)
            return;
        switch (r->kind) {
        case FD_UP_IN:
            up_read(ap);
            if (ap->newchild)
                return;
            break;
        case FD_SIGNAL:
            sig_read(ap);
            break;
        default:
            if (ap->up_obuf.b.len >= HIGH_WATER)
                park(ap, r);
            else
                child_read(ap, r);
            break;
        }
    }
}

static void on_event(alcove_t *ap, const struct epoll_event *ev)
{
    fdref_t *r = ev->data.ptr;
    if (ev->events & EPOLLOUT) {
        r->writable = true;
        if (r->kind == FD_UP_OUT)
            obuf_mark(ap, &ap->up_obuf);
        else if (r->kind == FD_STDIN)
            obuf_mark(ap, &r->child->stdin_out);
        else if (r->kind == FD_CTL)
            obuf_mark(ap, &r->child->ctl_out);
    }
    if (ev->events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        if (r->kind == FD_STDIN) {
            /* the reader closed its end: flushing will find it */
            r->writable = true;
            obuf_mark(ap, &r->child->stdin_out);
            return;
        }
        if (r->kind == FD_UP_OUT)
            return;
        /* the data and the EOF may come in this one event: a short read
         * must not end the reading then, no other event will come */
        if (ev->events & (EPOLLHUP | EPOLLERR))
            r->hup = true;
        r->readable = true;
        if (!r->queued)
            rq_push(ap, r);
    }
}

int alcove_loop(alcove_t *ap)
{
    struct epoll_event ev[64];

    for (;;) {
        flush_dirty(ap);
        if (ap->leaving) {
            flush_blocking(ap, &ap->up_obuf);
            alcove_shutdown(ap);
        }
        if (ap->up_closed)
            alcove_shutdown(ap);

        int n = epoll_wait(ap->epfd, ev, 64, ap->rq_head ? 0 : -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            die(DIE_SYS, "epoll_wait");
        }
        for (int i = 0; i < n; i++)
            on_event(ap, &ev[i]);

        serve(ap);
        if (ap->newchild)
            return 0;
    }
}

static void up_watch(alcove_t *ap, int in, int out)
{
    ap->up_in = (fdref_t){.fd = in, .kind = FD_UP_IN, .writable = true};
    ap->up_out = (fdref_t){.fd = out, .kind = FD_UP_OUT, .writable = true};
    ap->up_obuf.ref = &ap->up_out;
    if (set_nonblock(in) < 0 || set_nonblock(out) < 0)
        die(DIE_SYS, "fcntl");
    struct stat st;
    ap->up_splice =
        fstat(out, &st) == 0 && (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode));
    fd_watch(ap, &ap->up_in, EPOLLIN);
    fd_watch(ap, &ap->up_out, 0);
    /* requests may already be waiting */
    ap->up_in.readable = true;
    rq_push(ap, &ap->up_in);
}

static void loop_init(alcove_t *ap, int in, int out, bool fresh)
{
    ap->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (ap->epfd < 0)
        die(DIE_SYS, "epoll_create1");
    ap->epfd = fd_high(ap, ap->epfd);
    if (sig_init(ap, fresh) < 0)
        die(DIE_SYS, "signal pipe");
    up_watch(ap, in, out);
}

/* Orphans of the programs below are reparented here and reaped, not
 * left to init. */
static void subreaper(void)
{
#ifdef PR_SET_CHILD_SUBREAPER
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
        die(DIE_SYS, "prctl");
#endif
}

void alcove_init(alcove_t *ap, int in, int out)
{
    bool grown = false;
    ap->pid = getpid();
    subreaper();
    /* the VM's pipes carry every byte: make them large if they are pipes */
    if (ap->depth == 0) {
        (void)pipe_grow(ap, in, &grown);
        grown = false;
        (void)pipe_grow(ap, out, &grown);
    }
    if (ei_x_new(&ap->x) < 0)
        die(DIE_NOMEM, "out of memory");
    const int own[] = {in, out, ap->upctl};
    fdspace_init(ap, own, sizeof(own) / sizeof(own[0]));
    ap->spipe[0] = ap->spipe[1] = -1;
    loop_init(ap, in, out, true);
}

/* A control process must not outlive its parent. The kernel forgets
 * this on every change of credentials, so dispatch calls this again
 * after each call the table flags creds (setuid and its kin). In a new
 * PID namespace the parent is not visible (getppid() is 0). */
void pdeathsig_arm(alcove_t *ap)
{
    if (ap->depth == 0)
        return;
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
        die(DIE_SYS, "prctl");
    pid_t now = getppid();
    if (now != ap->ppid && now != 0)
        _exit(0);
}

static void close_run(int lo, int hi)
{
#ifdef SYS_close_range
    if (syscall(SYS_close_range, (unsigned)lo, (unsigned)hi, 0U) == 0)
        return;
#endif
    for (int fd = lo; fd <= hi; fd++)
        close(fd);
}

/* In a new child forked the usual way, its siblings' descriptors are
 * not its own: close them by runs (they are mostly contiguous). */
static void close_siblings(const alcove_t *ap)
{
    int maxfd = -1;
    for (const child_t *c = ap->first; c; c = c->next) {
        const int fds[] = {c->ctl.fd, c->in.fd, c->out.fd, c->err.fd};
        for (size_t i = 0; i < 4; i++)
            if (fds[i] > maxfd)
                maxfd = fds[i];
    }
    uint64_t *map = maxfd < 0 ? NULL : calloc((size_t)maxfd / 64 + 1, 8);
    for (const child_t *c = ap->first; c; c = c->next) {
        const int fds[] = {c->ctl.fd, c->in.fd, c->out.fd, c->err.fd};
        for (size_t i = 0; i < 4; i++) {
            if (fds[i] < 0)
                continue;
            if (map)
                map[fds[i] / 64] |= 1ULL << (fds[i] % 64);
            else
                close(fds[i]);
        }
    }
    for (int fd = 0; map && fd <= maxfd;) {
        if (!(map[fd / 64] & (1ULL << (fd % 64)))) {
            fd++;
            continue;
        }
        int lo = fd;
        while (fd <= maxfd && (map[fd / 64] & (1ULL << (fd % 64))))
            fd++;
        close_run(lo, fd - 1);
    }
    free(map);
}

/* A new child starts with no children. Its parent's entries are left as
 * they are, reachable from ap->inherited (a leak checker sees them):
 * freeing them would write to every page of the parent's heap they are
 * on, a copy of each. */
static void forget_siblings(alcove_t *ap)
{
    inherited_t *in = malloc(sizeof(*in));
    if (in == NULL)
        die(DIE_NOMEM, "out of memory");
    *in = (inherited_t){
        .first = ap->first, .bucket = ap->bucket, .older = ap->inherited};
    ap->inherited = in;
    ap->bucket = NULL;
    ap->nbucket = ap->nchild = 0;
    ap->first = ap->last = NULL;
}

/* Called in a new child, with its control socket: drop everything that
 * belongs to the parent and start over as a child's event loop. */
void alcove_become_child(alcove_t *ap, int ctl, bool unshared)
{
    pid_t ppid = ap->pid;

    /* unshared, the parent's own descriptors were never copied */
    if (!unshared) {
        if (ap->depth > 0) {
            close(ap->up_in.fd);
            close(ap->up_out.fd);
        }
        close(ap->epfd);
        if (ap->upctl >= 0)
            close(ap->upctl);
        close(ap->sigpipe[0]);
        close(ap->sigpipe[1]);
        if (ap->spipe[0] >= 0) {
            close(ap->spipe[0]);
            close(ap->spipe[1]);
        }
        close_siblings(ap);
    }
    ap->spipe[0] = ap->spipe[1] = -1;
    ap->upctl = -1;
    forget_siblings(ap);
    abuf_free(&ap->up_ibuf);
    abuf_free(&ap->up_obuf.b);
    ap->up_obuf.dirty = false;
    ap->splice = (upsplice_t){.src = NULL};
    ap->rq_head = ap->rq_tail = ap->park_head = ap->park_tail = NULL;
    ap->dirty = NULL;

    ap->depth++;
    ap->pid = getpid();
    ap->pipes_grown = 0;
    memcpy(ap->filter, ap->child_filter, sizeof(ap->filter));

    ap->ppid = ppid;
    pdeathsig_arm(ap);

    subreaper();
    ctl = fd_high(ap, ctl);
    int out = fcntl(ctl, F_DUPFD_CLOEXEC, ap->fd_base);
    if (out < 0) {
        ap->fork_fast = false;
        out = fcntl(ctl, F_DUPFD_CLOEXEC, 3);
    }
    if (out < 0)
        die(DIE_SYS, "dup");
    loop_init(ap, ctl, out, false);
    ap->newchild = true;
}

static int ms_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int)((t.tv_sec - t0->tv_sec) * 1000 +
                 (t.tv_nsec - t0->tv_nsec) / 1000000);
}

/* Orphans of exec'd programs are reparented to this process (it is a
 * subreaper): they are not in the table, the kernel lists them. */
static void kill_adopted(alcove_t *ap)
{
#ifdef __linux__
    /* no snprintf nor strtol: stop_children is async-signal-safe */
    char buf[4096];
    int fd = open("/proc/thread-self/children", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    ssize_t n = read(fd, buf, sizeof(buf));
    close(fd);
    long pid = 0;
    for (ssize_t i = 0; i < n; i++) {
        if (buf[i] >= '0' && buf[i] <= '9' && pid < INT32_MAX / 10) {
            pid = pid * 10 + (buf[i] - '0');
            continue;
        }
        if (pid > 0 && child_get(ap, (pid_t)pid) == NULL)
            kill((pid_t)pid, SIGKILL);
        pid = 0;
    }
#else
    (void)ap;
#endif
}

static void drain_sigpipe(alcove_t *ap, int ms)
{
    struct pollfd pfd = {.fd = ap->sigpipe[0], .events = POLLIN};
    if (poll(&pfd, 1, ms) > 0) {
        char buf[4096];
        while (read(ap->sigpipe[0], buf, sizeof(buf)) > 0)
            ;
    }
}

/* Stop every child and wait for them.
 *
 * Programs get their signaloneof signal and, SHUTDOWN_MS later, SIGKILL.
 * Event loop children see their control socket close and do the same
 * for their own children, so they are given longer, the more so the
 * higher in the tree: a parent that killed them first would orphan
 * their children.
 *
 * Async-signal-safe: upstream gone during a blocking call, the SIGIO
 * handler (sig.c) runs it. So it allocates nothing and changes no list:
 * a child found dead is only marked. */
void stop_children(alcove_t *ap)
{
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int below =
        ap->maxforkdepth > ap->depth ? ap->maxforkdepth - ap->depth : 1;
    int kill_programs = SHUTDOWN_MS;
    int kill_loops = kill_programs + 250 * below;
    int give_up = kill_loops + 1000;

    /* what is spliced is in spipe: the children's pipes may close */
    ap->splice.src = NULL;
    for (child_t *c = ap->first; c; c = c->next) {
        c->in_loop = c->ctl.fd >= 0;
        child_closefds(c);
        /* an exited one was reaped, only its output was awaited */
        if (!c->exited && !c->in_loop && c->signaloneof > 0)
            kill(c->pid, c->signaloneof);
    }

    bool programs_killed = false, loops_killed = false;
    for (;;) {
        int st;
        pid_t pid;
        while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
            child_t *c = child_get(ap, pid);
            /* a traced child reports its stops too */
            if (c && (WIFEXITED(st) || WIFSIGNALED(st)))
                c->exited = true;
        }
        if (pid < 0)
            break; /* no child left */

        int t = ms_since(&t0);
        if (t >= give_up)
            break;
        if (t >= kill_programs && !programs_killed) {
            for (child_t *c = ap->first; c; c = c->next)
                if (!c->in_loop && !c->exited)
                    kill(c->pid, SIGKILL);
            kill_adopted(ap);
            programs_killed = true;
        }
        if (t >= kill_loops && !loops_killed) {
            for (child_t *c = ap->first; c; c = c->next)
                if (!c->exited)
                    kill(c->pid, SIGKILL);
            kill_adopted(ap);
            loops_killed = true;
        }
        drain_sigpipe(ap, 100);
    }
}

/* Stop every child, send what is left upstream and exit. */
void alcove_shutdown(alcove_t *ap)
{
    stop_children(ap);
    obuf_flush(ap, &ap->up_obuf);
    exit(ap->leave_status);
}

/* An event of this process itself: its fork chain is empty here and
 * grows on the way up. */
void send_event(alcove_t *ap, ei_x_buff *x)
{
    char hdr[FRAME_LEN + UP_HDR];
    put32(hdr, (uint32_t)(UP_HDR + x->index));
    hdr[4] = MSG_EVENT;
    put16(hdr + 5, 0);
    if (abuf_append(&ap->up_obuf.b, hdr, sizeof(hdr)) < 0 ||
        abuf_append(&ap->up_obuf.b, x->buff, (size_t)x->index) < 0)
        die(DIE_NOMEM, "out of memory");
    obuf_mark(ap, &ap->up_obuf);
}
