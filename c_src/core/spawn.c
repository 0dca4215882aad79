/* SPDX-License-Identifier: ISC */
/*
 * Creating a child: its stdio pipes and control socket, then fork(2) or
 * clone(2). The child keeps stdin, stdout and stderr on 0, 1 and 2 and
 * its control socket close-on-exec, so a program it execs holds nothing
 * of alcove's.
 */
#include "calls/calls.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <linux/futex.h>
#include <linux/sched.h>
#endif

#include "core/spawn.h"

/* fd[0..1] stdin, [2..3] stdout, [4..5] stderr, [6..7] control,
 * [8..9] ready: closed by the child once it is its own event loop */
#define SPAWN_FDS 10
typedef struct {
    int fd[SPAWN_FDS];
} fds_t;

/* How long a parent waits for its new child to be ready: it is a few
 * system calls away, unless something stopped it. */
#define READY_MS 5000

static void fds_close(fds_t *f)
{
    int saved = errno;
    for (size_t i = 0; i < SPAWN_FDS; i++)
        if (f->fd[i] >= 0)
            close(f->fd[i]);
    errno = saved;
}

#ifdef __linux__
/* Flags that would share memory, descriptors or the parent with the
 * child: the event loop needs a child of its own. */
#define CLONE_DENY                                                            \
    (CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD |       \
     CLONE_VFORK | CLONE_PARENT | CLONE_SETTLS | CLONE_PARENT_SETTID |        \
     CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID | CLONE_PIDFD | 0xff)
#endif

#ifdef __linux__
/* clone3(2) into the cgroup v2 directory open at cgroup: glibc has no
 * wrapper. Without CLONE_VM nor a stack, the child goes on as after
 * fork(). */
static pid_t clone_into(uint64_t flags, int cgroup)
{
#if defined(SYS_clone3) && defined(CLONE_INTO_CGROUP)
    struct clone_args ca = {
        .flags = flags | CLONE_INTO_CGROUP,
        .exit_signal = SIGCHLD,
        .cgroup = (uint64_t)cgroup,
    };
    return (pid_t)syscall(SYS_clone3, &ca, sizeof(ca));
#else
    (void)flags;
    (void)cgroup;
    errno = ENOSYS;
    return -1;
#endif
}
#endif

static pid_t fork_or_clone(int64_t flags, int cgroup)
{
    if (flags == 0 && cgroup < 0)
        return fork();
#ifdef __linux__
    if ((uint64_t)flags & (uint64_t)CLONE_DENY || flags < 0 ||
        flags > UINT32_MAX) {
        errno = EINVAL;
        return -1;
    }
    if (cgroup >= 0)
        return clone_into((uint64_t)flags, cgroup);
    /* like fork(), in new namespaces: no new stack, no shared memory */
    return (pid_t)syscall(SYS_clone, (unsigned long)flags | SIGCHLD, NULL,
                          NULL, NULL, 0UL);
#else
    (void)cgroup;
    errno = EINVAL;
    return -1;
#endif
}

/* Wait for the child to close its end of the ready pipe (or die). */
static void ready_wait(int fd)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    int n;
    do
        n = poll(&pfd, 1, READY_MS);
    while (n < 0 && errno == EINTR);
    char b;
    while (n > 0 && read(fd, &b, 1) < 0 && errno == EINTR)
        ;
}

#ifdef __linux__
/* A child cloned with CLONE_FILES shares this process's descriptors until
 * it has its own copy (fdspace.c): touch none before it writes its ready
 * byte, once it is its own event loop. Its death shows as an exit to
 * waitid(2) (this process still holds the pipe's write end, so no end of
 * file); one that is not ready in time is killed, so that it never runs
 * on a table this process goes on changing. */
static void unshared_wait(int fd, pid_t pid)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        clock_gettime(CLOCK_MONOTONIC, &t);
        if ((t.tv_sec - t0.tv_sec) * 1000 +
                (t.tv_nsec - t0.tv_nsec) / 1000000 >=
            READY_MS)
            break;
        int n = poll(&pfd, 1, 10);
        if (n > 0) {
            char b;
            while (read(fd, &b, 1) < 0 && errno == EINTR)
                ;
            return;
        }
        siginfo_t si = {.si_pid = 0};
        if (n == 0 &&
            waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 &&
            si.si_pid == pid)
            return;
    }
    (void)kill(pid, SIGKILL);
}

/* fork(2), but sharing the descriptor table: see fdspace.c */
static pid_t fork_files(alcove_t *ap)
{
    pid_t pid = (pid_t)syscall(SYS_clone, CLONE_FILES | SIGCHLD, NULL, NULL,
                               NULL, 0UL);
    if (pid < 0 && (errno == EINVAL || errno == EPERM || errno == ENOSYS)) {
        /* refused (valgrind, a filter): fork the usual way from now on */
        ap->fds.fork_fast = false;
        return fork();
    }
    return pid;
}
#endif

/* This process's ends of a child's descriptors. */
static const size_t mine[] = {1, 2, 4, 6, 8};

/* The descriptors of a new child, this process's ends with its other
 * descriptors; the ready pipe only if asked. */
static int spawn_fds(alcove_t *ap, fds_t *f, bool ready)
{
    if (ap->kids.n >= (size_t)ap->opt.maxchild ||
        ap->depth >= ap->opt.maxforkdepth) {
        errno = EAGAIN;
        return -1;
    }
    if (pipe2(&f->fd[0], O_CLOEXEC) < 0 || pipe2(&f->fd[2], O_CLOEXEC) < 0 ||
        pipe2(&f->fd[4], O_CLOEXEC) < 0 ||
        socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, &f->fd[6]) < 0 ||
        (ready && pipe2(&f->fd[8], O_CLOEXEC) < 0))
        return -1;
    for (size_t i = 0; i < sizeof(mine) / sizeof(mine[0]); i++)
        if (f->fd[mine[i]] >= 0)
            f->fd[mine[i]] = fd_high(ap, f->fd[mine[i]]);
    return 0;
}

/* A child's stdio on 0, 1 and 2: dup2 leaves them open across exec. */
static int spawn_stdio(const fds_t *f)
{
    return dup2(f->fd[0], STDIN_FILENO) < 0 ||
                   dup2(f->fd[3], STDOUT_FILENO) < 0 ||
                   dup2(f->fd[5], STDERR_FILENO) < 0
               ? -1
               : 0;
}

int spawn(alcove_t *ap, int64_t flags, int cgroup, pid_t *pid)
{
    __attribute__((cleanup(fds_close)))
    fds_t f = {{-1, -1, -1, -1, -1, -1, -1, -1, -1, -1}};

    if (spawn_fds(ap, &f, true) < 0)
        return -1;

    /* the child's ends must be below fd_base to be in its copy */
    bool fast = false;
    /* a signal must not reach the child before it has a signal pipe of
     * its own: its handler would write to this process's */
    sigset_t all, old;
    sigfillset(&all);
    sigprocmask(SIG_SETMASK, &all, &old);
#ifdef __linux__
    fast = ap->fds.fork_fast && flags == 0 && cgroup < 0;
    const size_t its[] = {0, 3, 5, 7, 9};
    for (size_t i = 0; i < sizeof(its) / sizeof(its[0]); i++)
        if (f.fd[its[i]] >= ap->fds.base)
            fast = false;
    *pid = fast ? fork_files(ap) : fork_or_clone(flags, cgroup);
    fast = fast && ap->fds.fork_fast;
#else
    *pid = fork_or_clone(flags, cgroup);
#endif
    if (*pid != 0) {
        int saved = errno;
        sigprocmask(SIG_SETMASK, &old, NULL);
        errno = saved;
    }
    if (*pid < 0)
        return -1;

    if (*pid == 0) {
        /* first of all: a copy of the low descriptors */
        if (fast && fdspace_unshare(ap) < 0)
            _exit(DIE_SYS);
        if (spawn_stdio(&f) < 0)
            _exit(DIE_SYS);
        int ctl = f.fd[7], ready = f.fd[9];
        f.fd[7] = f.fd[9] = -1;
        for (size_t i = 0; fast && i < sizeof(mine) / sizeof(mine[0]); i++)
            f.fd[mine[i]] = -1; /* high: not in this copy */
        fds_close(&f);
        for (size_t i = 0; i < SPAWN_FDS; i++)
            f.fd[i] = -1;
        alcove_become_child(ap, ctl, fast);
        sigprocmask(SIG_SETMASK, &old, NULL);
        /* it holds nothing of its parent's and dies with it: the parent
         * may give out its PID */
        if (fast && write(ready, "", 1) != 1)
            _exit(DIE_SYS);
        close(ready);
        return 1;
    }

    /* Answer only once the child is ready. Before, it still holds this
     * process's upstream pipes and has no parent-death signal: stopped
     * there (a SIGSTOP sent as soon as its PID is known), it would
     * outlive this process and, for the port, keep its stdout open, so
     * that the VM would never see the port exit. */
#ifdef __linux__
    if (fast)
        unshared_wait(f.fd[8], *pid);
#endif
    close(f.fd[9]);
    f.fd[9] = -1;
    if (!fast)
        ready_wait(f.fd[8]);

    child_add(ap, *pid, f.fd[6], f.fd[1], f.fd[2], f.fd[4]);
    f.fd[6] = f.fd[1] = f.fd[2] = f.fd[4] = -1;
    return 0;
}

#ifdef __linux__
/* The stack of spawn/4's child, made once: one child at a time, as its
 * parent waits for it. Below it, a guard of pages no one may touch, so
 * that a stack overflowing faults in the child instead of writing over
 * the memory it shares with its parent. Pages never touched cost
 * nothing. */
#define SHARED_STACK (1024 * 1024)
#define SHARED_GUARD (256 * 1024)
static char *shared_stack;

static char *stack_top(void)
{
    if (shared_stack == NULL) {
        char *p =
            mmap(NULL, SHARED_GUARD + SHARED_STACK, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
            return NULL;
        if (mprotect(p, SHARED_GUARD, PROT_NONE) < 0) {
            (void)munmap(p, SHARED_GUARD + SHARED_STACK);
            return NULL;
        }
        shared_stack = p;
    }
    return shared_stack + SHARED_GUARD + SHARED_STACK;
}

#if defined(__x86_64__) && defined(SYS_clone3) && defined(CLONE_INTO_CGROUP)
/* clone3(2) of a child on the stack of ca that runs fn(arg), then exits
 * with its result. glibc's clone(3) takes no cgroup, and a child sharing
 * this memory cannot return through syscall(2) onto the parent's stack:
 * the child's side is a few instructions, as in clone(3) itself. */
static pid_t shared_clone3(struct clone_args *ca, int (*fn)(void *), void *arg)
{
    register int (*run)(void *) __asm__("r12") = fn;
    register void *run_arg __asm__("r13") = arg;
    long rv;
    __asm__ volatile("syscall\n\t"
                     "test %%rax, %%rax\n\t"
                     "jnz 1f\n\t"
                     "xor %%ebp, %%ebp\n\t"
                     "mov %%r13, %%rdi\n\t"
                     "call *%%r12\n\t"
                     "mov %%eax, %%edi\n\t"
                     "mov %[nr_exit], %%eax\n\t"
                     "syscall\n\t"
                     "hlt\n"
                     "1:"
                     : "=a"(rv)
                     : "0"((long)SYS_clone3), "D"(ca), "S"(sizeof(*ca)),
                       "r"(run), "r"(run_arg), [nr_exit] "i"(SYS_exit)
                     : "rcx", "r11", "memory");
    if (rv < 0) {
        errno = (int)-rv;
        return -1;
    }
    return (pid_t)rv;
}
#define HAVE_SHARED_CLONE3 1
#endif

/* The child sharing this memory, on stack, into the cgroup v2 directory
 * open at cgroup unless it is -1; tid set, then cleared when it lets go
 * of the memory. */
static pid_t shared_clone(int64_t flags, int cgroup, char *stack,
                          int (*fn)(void *), void *arg, volatile pid_t *tid)
{
    uint64_t f = CLONE_VM | CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID |
                 (uint64_t)flags;
    if (cgroup < 0)
        return clone(fn, stack, (int)f | SIGCHLD, arg, tid, NULL, tid);
#ifdef HAVE_SHARED_CLONE3
    struct clone_args ca = {
        .flags = f | CLONE_INTO_CGROUP,
        .parent_tid = (uint64_t)(uintptr_t)tid,
        .child_tid = (uint64_t)(uintptr_t)tid,
        .exit_signal = SIGCHLD,
        .stack = (uint64_t)(uintptr_t)(stack - SHARED_STACK),
        .stack_size = SHARED_STACK,
        .cgroup = (uint64_t)cgroup,
    };
    return shared_clone3(&ca, fn, arg);
#else
    (void)fn;
    (void)arg;
    (void)tid;
    (void)stack;
    errno = ENOTSUP;
    return -1;
#endif
}

typedef struct {
    const fds_t *f;
    int (*fn)(void *);
    void *arg;
    int err; /* set by the child: its stdio failed */
} shared_t;

int spawn_child_ctl = -1;
bool spawn_child_pty;

static int shared_child(void *arg)
{
    shared_t *sh = arg;
    spawn_child_ctl = sh->f->fd[7];
    if (spawn_stdio(sh->f) < 0) {
        sh->err = errno;
        _exit(DIE_SYS);
    }
    return sh->fn(sh->arg);
}

/* Wait until the child has let go of the memory it shares with this
 * process: the kernel clears *tid then, at its exec or its death
 * (CLONE_CHILD_CLEARTID), whatever the child did with its descriptors.
 * Its end of done, close-on-exec, closing wakes this process at once.
 * Upstream gone meanwhile (the VM killed), nobody would stop the child:
 * it is killed. Signals stay blocked: the child shares errno. */
static void shared_wait(alcove_t *ap, int done, pid_t pid, volatile pid_t *tid)
{
    struct pollfd pfd[2] = {{.fd = ap->up.in.fd, .events = 0},
                            {.fd = done, .events = POLLIN}};
    nfds_t n = 2;
    while (*tid != 0) {
        if (poll(pfd, n, 100) > 0) {
            if (pfd[0].revents) {
                (void)kill(pid, SIGKILL);
                pfd[0].fd = -1;
            }
            /* closed, and not yet let go: the futex tells when */
            if (n == 2 && pfd[1].revents)
                n = 1;
        }
        pid_t t = *tid;
        if (n == 1 && t != 0) {
            struct timespec ts = {.tv_nsec = 100 * 1000 * 1000};
            (void)syscall(SYS_futex, tid, FUTEX_WAIT, t, &ts, NULL, 0);
        }
    }
}

int spawn_shared(alcove_t *ap, int64_t flags, int cgroup, int (*fn)(void *),
                 void *arg, pid_t *pid)
{
    __attribute__((cleanup(fds_close)))
    fds_t f = {{-1, -1, -1, -1, -1, -1, -1, -1, -1, -1}};

    if ((uint64_t)flags & (uint64_t)CLONE_DENY || flags < 0 ||
        flags > UINT32_MAX) {
        errno = EINVAL;
        return -1;
    }
    char *stack = stack_top();
    if (stack == NULL)
        return -1;
    /* the ready pipe is the done pipe here */
    if (spawn_fds(ap, &f, true) < 0)
        return -1;
    shared_t sh = {.f = &f, .fn = fn, .arg = arg};
    /* a credential change in the child makes the memory it shares
     * undumpable, for this process too: put back after */
    int dumpable = prctl(PR_GET_DUMPABLE);
    /* none of the loop's handlers may run in the child, nor in this
     * process while the child shares its errno */
    sigset_t all, old;
    sigfillset(&all);
    sigprocmask(SIG_SETMASK, &all, &old);
    /* set before clone returns here, cleared when the child lets go */
    volatile pid_t tid = 0;
    *pid = shared_clone(flags, cgroup, stack, shared_child, &sh, &tid);
    int saved = errno;
    if (*pid > 0) {
        close(f.fd[9]);
        f.fd[9] = -1;
        shared_wait(ap, f.fd[8], *pid, &tid);
        if (dumpable >= 0 && prctl(PR_GET_DUMPABLE) != dumpable)
            (void)prctl(PR_SET_DUMPABLE, dumpable);
    }
    sigprocmask(SIG_SETMASK, &old, NULL);
    bool pty = spawn_child_pty;
    spawn_child_pty = false;
    spawn_child_ctl = -1;
    if (*pid < 0) {
        errno = saved;
        return -1;
    }
    if (sh.err != 0) {
        (void)waitpid(*pid, NULL, 0);
        errno = sh.err;
        return -1;
    }
    child_t *c = child_add(ap, *pid, f.fd[6], f.fd[1], f.fd[2], f.fd[4]);
    f.fd[6] = f.fd[1] = f.fd[2] = f.fd[4] = -1;
    /* its stdio is the pty's by the time the answer says it runs */
    if (pty)
        child_read_ctl(ap, c);
    return 0;
}
#endif
