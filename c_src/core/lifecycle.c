/* SPDX-License-Identifier: ISC */
/*
 * A process's life: the port starting its event loop (alcove_init), a
 * new child becoming its own (alcove_become_child, after spawn.c's
 * fork), the parent-death signal, children reaped and their exit
 * reported once their output is read, and the end: every child stopped,
 * what is left sent upstream (alcove_shutdown).
 */
#include "core/alcove.h"

#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "wire/build.h"
#include "wire/consts.h"

/* How long shutdown waits for children before SIGKILL. */
#define SHUTDOWN_MS 5000

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
    const int own[] = {in, out, ap->up.ctl};
    fdspace_init(ap, own, sizeof(own) / sizeof(own[0]));
    ap->up.spipe[0] = ap->up.spipe[1] = -1;
    loop_init(ap, in, out, true);
}

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
    for (const child_t *c = ap->kids.first; c; c = c->next) {
        const int fds[] = {c->ctl.fd, c->in.fd,     c->out.fd,
                           c->err.fd, c->notify.fd, c->passed};
        for (size_t i = 0; i < 6; i++)
            if (fds[i] > maxfd)
                maxfd = fds[i];
    }
    uint64_t *map = maxfd < 0 ? NULL : calloc((size_t)maxfd / 64 + 1, 8);
    for (const child_t *c = ap->kids.first; c; c = c->next) {
        const int fds[] = {c->ctl.fd, c->in.fd,     c->out.fd,
                           c->err.fd, c->notify.fd, c->passed};
        for (size_t i = 0; i < 6; i++) {
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

void alcove_become_child(alcove_t *ap, int ctl, bool unshared)
{
    pid_t ppid = ap->pid;

    /* unshared, the parent's own descriptors were never copied */
    if (!unshared) {
        if (ap->depth > 0) {
            close(ap->up.in.fd);
            close(ap->up.out.fd);
        }
        close(ap->ev.epfd);
        if (ap->up.ctl >= 0)
            close(ap->up.ctl);
        close(ap->sig.pipe[0]);
        close(ap->sig.pipe[1]);
        if (ap->up.spipe[0] >= 0) {
            close(ap->up.spipe[0]);
            close(ap->up.spipe[1]);
        }
        close_siblings(ap);
    }
    ap->up.spipe[0] = ap->up.spipe[1] = -1;
    ap->up.ctl = -1;
    /* a new child starts with no children */
    children_forget(ap);
    abuf_free(&ap->up.ibuf);
    abuf_free(&ap->up.obuf.b);
    ap->up.obuf.dirty = false;
    ap->up.splice = (upsplice_t){.src = NULL};
    ap->ev.rq_head = ap->ev.rq_tail = ap->ev.park_head = ap->ev.park_tail =
        NULL;
    ap->ev.dirty = NULL;

    ap->depth++;
    ap->pid = getpid();
    ap->fds.pipes_grown = 0;
    memcpy(ap->opt.filter, ap->opt.child_filter, sizeof(ap->opt.filter));

    ap->ppid = ppid;
    pdeathsig_arm(ap);

    subreaper();
    ctl = fd_high(ap, ctl);
    int out = fcntl(ctl, F_DUPFD_CLOEXEC, ap->fds.base);
    if (out < 0) {
        ap->fds.fork_fast = false;
        out = fcntl(ctl, F_DUPFD_CLOEXEC, 3);
    }
    if (out < 0)
        die(DIE_SYS, "dup");
    loop_init(ap, ctl, out, false);
    ap->life.newchild = true;
}

/* How a child ended: {exit_status, N} or {termsig, Signal}. */
static void put_status(build_t *b, int status)
{
    put_tuple(b, 2);
    if (WIFEXITED(status)) {
        put_atom(b, "exit_status");
        put_int(b, WEXITSTATUS(status));
        return;
    }
    const char *name =
        alcove_const_name(&alcove_const_signal, WTERMSIG(status));
    put_atom(b, "termsig");
    if (name)
        put_atom(b, name);
    else
        put_int(b, WTERMSIG(status));
}

static int64_t usec(struct timeval tv)
{
    return (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
}

/* {exit_report, #{...}}: how the child ended and what wait4(2) says it
 * used (maxrss in KiB, times in microseconds). */
static void put_report(build_t *b, const child_t *c)
{
    const struct rusage *ru = &c->ru;
    const struct {
        const char *key;
        int64_t val;
    } fig[] = {
        {"utime", usec(ru->ru_utime)}, {"stime", usec(ru->ru_stime)},
        {"maxrss", ru->ru_maxrss},     {"minflt", ru->ru_minflt},
        {"majflt", ru->ru_majflt},     {"inblock", ru->ru_inblock},
        {"oublock", ru->ru_oublock},   {"nvcsw", ru->ru_nvcsw},
        {"nivcsw", ru->ru_nivcsw},
    };
    int n = (int)(sizeof(fig) / sizeof(fig[0]));
    put_tuple(b, 2);
    put_atom(b, "exit_report");
    put_map(b, n + 1);
    put_atom(b, "status");
    put_status(b, c->status);
    for (int i = 0; i < n; i++) {
        put_atom(b, fig[i].key);
        put_int(b, fig[i].val);
    }
}

static void send_child_event(alcove_t *ap, const child_t *c,
                             void (*put)(build_t *, const child_t *))
{
    ei_x_buff x;
    if (ei_x_new_with_version(&x) < 0)
        die(DIE_NOMEM, "out of memory");
    build_t b = {.x = &x};
    put(&b, c);
    send_up(ap, MSG_EVENT, c->pid, x.buff, (size_t)x.index);
    ei_x_free(&x);
}

static void put_exit(build_t *b, const child_t *c)
{
    put_status(b, c->status);
}

/* The exit of a child, once all it wrote has gone upstream: the
 * reference's event if its option is set, then the report if asked. */
static void send_exit(alcove_t *ap, child_t *c)
{
    if (WIFEXITED(c->status) ? ap->opt.exit_status : ap->opt.termsig)
        send_child_event(ap, c, put_exit);
    if (ap->opt.exit_report)
        send_child_event(ap, c, put_report);
}

void child_finish(alcove_t *ap, child_t *c)
{
    if (!c->exited || c->ctl.fd >= 0 || c->out.fd >= 0 || c->err.fd >= 0)
        return;
    /* writes to stdin that can no longer happen still get their answer:
     * every one of them, as nothing is left to write */
    abuf_free(&c->stdin_out.b);
    child_wrote(ap, c);
    /* its descendants' notified calls fail (enosys) from now on */
    notify_close(ap, c);
    send_exit(ap, c);
    child_del(ap, c);
}

void child_reaped(alcove_t *ap, pid_t pid, int status, const struct rusage *ru)
{
    /* waitpid(WUNTRACED) and ptrace report stops too: not an exit */
    if (!WIFEXITED(status) && !WIFSIGNALED(status))
        return;
    child_t *c = child_get(ap, pid);
    if (c && !c->exited) {
        c->exited = true;
        c->status = status;
        c->ru = *ru;
        child_drain(ap, c);
        child_finish(ap, c);
    }
}

void child_reap(alcove_t *ap)
{
    int status;
    struct rusage ru;
    pid_t pid;
    while ((pid = wait4(-1, &status, WNOHANG, &ru)) > 0)
        child_reaped(ap, pid, status, &ru);
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
    struct pollfd pfd = {.fd = ap->sig.pipe[0], .events = POLLIN};
    if (poll(&pfd, 1, ms) > 0) {
        char buf[4096];
        while (read(ap->sig.pipe[0], buf, sizeof(buf)) > 0)
            ;
    }
}

void stop_children(alcove_t *ap)
{
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int below = ap->opt.maxforkdepth > ap->depth
                    ? ap->opt.maxforkdepth - ap->depth
                    : 1;
    int kill_programs = SHUTDOWN_MS;
    int kill_loops = kill_programs + 250 * below;
    int give_up = kill_loops + 1000;

    /* what is spliced is in spipe: the children's pipes may close */
    splice_release(ap, NULL);
    for (child_t *c = ap->kids.first; c; c = c->next) {
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
            for (child_t *c = ap->kids.first; c; c = c->next)
                if (!c->in_loop && !c->exited)
                    kill(c->pid, SIGKILL);
            kill_adopted(ap);
            programs_killed = true;
        }
        if (t >= kill_loops && !loops_killed) {
            for (child_t *c = ap->kids.first; c; c = c->next)
                if (!c->exited)
                    kill(c->pid, SIGKILL);
            kill_adopted(ap);
            loops_killed = true;
        }
        drain_sigpipe(ap, 100);
    }
}

void alcove_shutdown(alcove_t *ap)
{
    stop_children(ap);
    obuf_flush(ap, &ap->up.obuf);
    exit(ap->life.status);
}
