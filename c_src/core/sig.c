/* SPDX-License-Identifier: ISC */
/*
 * Signals reach the loop through a self-pipe: the handler writes the
 * whole siginfo_t (smaller than PIPE_BUF, so the write is atomic) and the
 * loop reads it back.
 *
 * As in the reference, the port starts with every signal it can catch
 * set to sig_info: one sent from outside (kill -USR1, kill -TERM, a
 * sibling's kill/4) becomes the event {signal, Name, Info} and never
 * kills an event loop; children inherit their parent's choices. Apart:
 *  - SIGKILL and SIGSTOP cannot be caught; glibc keeps two real-time
 *    signals for itself (sigaction fails: they stay sig_dfl).
 *  - SIGCHLD, SIGPIPE and SIGIO are the loop's own (loop_owned): their
 *    handler stays whatever the user chooses, which says whether events
 *    are sent and what an exec'd program starts with. SIGCHLD is
 *    reported sig_dfl and reaped by the loop; sig_info hands reaping to
 *    the caller (waitpid/4). A SIGPIPE the loop raises itself, writing to
 *    a closed pipe, is no event: the write's EPIPE is handled. SIGIO
 *    watches upstream during calls that may block (sig_block_calls).
 *  - A fault raised by the kernel (SIGSEGV, SIGBUS, SIGFPE, SIGILL: the
 *    faulting instruction would run again for ever; SIGSYS: a seccomp
 *    trap left the call undone, its result garbage) kills the process,
 *    whatever the disposition: only one sent by kill() is an event.
 */
#include "core/alcove.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "wire/build.h"
#include "wire/consts.h"

static int sig_wfd = -1;
/* The process the handler serves, for the upstream check. */
static alcove_t *sig_ap;

static const int owned[] = {SIGCHLD, SIGPIPE, SIGIO};

static bool loop_owned(int signum)
{
    return signum == SIGCHLD || signum == SIGPIPE || signum == SIGIO;
}

static bool fault(int signum)
{
    return signum == SIGSEGV || signum == SIGBUS || signum == SIGFPE ||
           signum == SIGILL || signum == SIGSYS;
}

static int set_handler(int signum, void (*h)(int))
{
    struct sigaction sa = {.sa_handler = h};
    sigemptyset(&sa.sa_mask);
    return sigaction(signum, &sa, NULL);
}

/* The default action, now: the process dies of signum. */
static void die_of(int signum)
{
    sigset_t set;
    (void)set_handler(signum, SIG_DFL);
    sigemptyset(&set);
    sigaddset(&set, signum);
    (void)sigprocmask(SIG_UNBLOCK, &set, NULL);
    (void)raise(signum); /* the default action of each is to die */
}

/* SIGIO from the upstream descriptor, armed while a call may block: if
 * upstream is gone (the VM killed, the parent dead), nobody will ever
 * read the reply nor stop this process's children. Stop them and exit,
 * from here: the call is not going to return. Data arriving is no
 * reason: it waits for the call to end (SA_RESTART restarts it; select,
 * which is not restarted, retries). A pipe's writer closing sends
 * POLL_IN, not POLL_HUP: poll(2) tells. */
static void up_check(alcove_t *ap)
{
    struct pollfd pfd = {.fd = ap->up.in.fd, .events = POLLIN | POLLRDHUP};
    if (poll(&pfd, 1, 0) == 1 &&
        (pfd.revents & (POLLHUP | POLLRDHUP | POLLERR))) {
        stop_children(ap);
        _exit(ap->life.status);
    }
}

static void on_signal(int signum, siginfo_t *info, void *ctx)
{
    (void)ctx;
    int saved = errno;
    if (fault(signum) && info->si_code > 0)
        die_of(signum);
    if (signum == SIGIO && sig_ap && info->si_code > 0 &&
        info->si_fd == sig_ap->up.in.fd) {
        up_check(sig_ap);
        errno = saved;
        return;
    }
    if (signum == SIGPIPE && info->si_code == SI_USER &&
        info->si_pid == getpid()) {
        errno = saved;
        return;
    }
    (void)!write(sig_wfd, info, sizeof(*info));
    errno = saved;
}

static int catch_signal(int signum, bool nocldstop)
{
    struct sigaction sa = {.sa_sigaction = on_signal,
                           .sa_flags = SA_SIGINFO | SA_RESTART};
    if (nocldstop)
        sa.sa_flags |= SA_NOCLDSTOP;
    sigfillset(&sa.sa_mask);
    return sigaction(signum, &sa, NULL);
}

/* The loop's own handler for signum, as ap->sig.disp wants it. */
static int catch_owned(alcove_t *ap, int signum)
{
    /* sig_info reports stops and continues (ptrace's too) */
    return catch_signal(signum, signum == SIGCHLD &&
                                    ap->sig.disp[SIGCHLD] != SIGDISP_INFO);
}

/* The signals glibc keeps for itself (sigaction refuses them) may come
 * ignored from whoever started the port, and an ignored signal stays
 * ignored across exec: they are set to their default by the system
 * call itself. An all-zero kernel sigaction is SIG_DFL on every
 * architecture. */
static void reserved_default(int signum)
{
#if defined(__linux__) && defined(SYS_rt_sigaction)
    unsigned long ksa[8] = {0};
    (void)syscall(SYS_rt_sigaction, signum, ksa, NULL, (size_t)(NSIG / 8));
#else
    (void)signum;
#endif
}

/* The port's start: sig_info for all it can catch (see above). */
static int sig_defaults(alcove_t *ap)
{
    for (int i = 1; i < NSIG; i++) {
        if (i == SIGKILL || i == SIGSTOP || loop_owned(i))
            continue;
        if (catch_signal(i, false) == 0)
            ap->sig.disp[i] = SIGDISP_INFO;
        else
            reserved_default(i);
    }
    ap->sig.disp[SIGPIPE] = SIGDISP_INFO;
    ap->sig.disp[SIGIO] = SIGDISP_INFO;
    ap->sig.disp[SIGCHLD] = SIGDISP_DFL;
    for (size_t i = 0; i < sizeof(owned) / sizeof(owned[0]); i++)
        if (catch_owned(ap, owned[i]) < 0)
            return -1;
    return 0;
}

int sig_init(alcove_t *ap, bool fresh)
{
    if (pipe2(ap->sig.pipe, O_CLOEXEC | O_NONBLOCK) < 0)
        return -1;
    ap->sig.pipe[0] = fd_high(ap, ap->sig.pipe[0]);
    ap->sig.pipe[1] = fd_high(ap, ap->sig.pipe[1]);
    sig_wfd = ap->sig.pipe[1];
    sig_ap = ap;
    ap->sig.ref = (fdref_t){.fd = ap->sig.pipe[0], .kind = FD_SIGNAL};
    fd_watch(ap, &ap->sig.ref, EPOLLIN);
    ap->sig.up_async = false;
    /* a forked child keeps the handlers it was forked with; a new image
     * (the port, a re-exec) has none */
    return fresh ? sig_defaults(ap) : 0;
}

static void send_signal_event(alcove_t *ap, const siginfo_t *si)
{
    ei_x_buff x;
    if (ei_x_new_with_version(&x) < 0)
        die(DIE_NOMEM, "out of memory");
    const char *name = alcove_const_name(&alcove_const_signal, si->si_signo);
    build_t b = {.x = &x};
    put_tuple(&b, 3);
    put_atom(&b, "signal");
    if (name)
        put_atom(&b, name);
    else
        put_int(&b, si->si_signo);
    put_binary(&b, si, sizeof(*si));
    send_event(ap, &x);
    ei_x_free(&x);
}

void sig_read(alcove_t *ap)
{
    siginfo_t si[16];
    bool chld = false;

    for (;;) {
        ssize_t n = read(ap->sig.pipe[0], si, sizeof(si));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        for (size_t i = 0; i < (size_t)n / sizeof(si[0]); i++) {
            if (si[i].si_signo == SIGCHLD)
                chld = true;
            if (si[i].si_signo > 0 && si[i].si_signo < NSIG &&
                ap->sig.disp[si[i].si_signo] == SIGDISP_INFO)
                send_signal_event(ap, &si[i]);
        }
    }
    ap->sig.ref.readable = false;
    /* under sig_info the caller reaps, with waitpid/4 */
    if (chld && ap->sig.disp[SIGCHLD] != SIGDISP_INFO)
        child_reap(ap);
}

int sig_set(alcove_t *ap, int signum, sigdisp_t disp)
{
    sigdisp_t old = ap->sig.disp[signum];
    ap->sig.disp[signum] = disp;
    int rv = loop_owned(signum)     ? catch_owned(ap, signum)
             : disp == SIGDISP_INFO ? catch_signal(signum, false)
             : disp == SIGDISP_IGN  ? set_handler(signum, SIG_IGN)
                                    : set_handler(signum, SIG_DFL);
    if (rv < 0) {
        ap->sig.disp[signum] = old;
        return -1;
    }
    /* reaping is the loop's again: children that exited meanwhile sent
     * their SIGCHLD already */
    if (signum == SIGCHLD && old == SIGDISP_INFO && disp != SIGDISP_INFO)
        child_reap(ap);
    return 0;
}

/* Before exec, which sets every caught signal back to its default: the
 * new program starts with the default dispositions but those the user
 * set to sig_ign, and with no signal blocked. Only the loop's own
 * signals need a call: they are caught whatever the user chose. */
void sig_reset(alcove_t *ap)
{
    sigset_t none;
    for (size_t i = 0; i < sizeof(owned) / sizeof(owned[0]); i++)
        if (ap->sig.disp[owned[i]] == SIGDISP_IGN)
            (void)set_handler(owned[i], SIG_IGN);
    sigemptyset(&none);
    (void)sigprocmask(SIG_SETMASK, &none, NULL);
}

/* The child of spawn/4, before it execs: the dispositions the program
 * gets (the user's ignored signals ignored, the others default) and no
 * signal blocked. Its handlers are its own (no CLONE_SIGHAND): none of
 * the loop's runs in it, even before exec. */
void sig_default(const alcove_t *ap)
{
    sigset_t none;
    for (int signum = 1; signum < NSIG; signum++)
        if (signum != SIGKILL && signum != SIGSTOP)
            (void)set_handler(signum, ap->sig.disp[signum] == SIGDISP_IGN
                                          ? SIG_IGN
                                          : SIG_DFL);
    sigemptyset(&none);
    (void)sigprocmask(SIG_SETMASK, &none, NULL);
}

/* After a failed exec: back to what the loop needs. */
void sig_restore(alcove_t *ap)
{
    for (size_t i = 0; i < sizeof(owned) / sizeof(owned[0]); i++)
        if (ap->sig.disp[owned[i]] == SIGDISP_IGN)
            (void)catch_owned(ap, owned[i]);
}

/* Calls that may block for ever (CALLF_BLOCK: waitpid, read, ...) run
 * with SIGIO armed on the upstream descriptor (O_ASYNC), so that the
 * process still stops when upstream goes (up_check). Armed only around
 * such calls: the rest of the time the event loop watches upstream, and
 * a request arriving costs no signal. F_SETSIG fills si_fd, which tells
 * this SIGIO from one sent by kill(). */
void sig_block_calls(alcove_t *ap, bool on)
{
    int fd = ap->up.in.fd;
    if (fd < 0)
        return;
    if (!ap->sig.up_async) {
        int fl = fcntl(fd, F_GETFL);
        if (fl < 0 || fcntl(fd, F_SETOWN, getpid()) < 0 ||
            fcntl(fd, F_SETSIG, SIGIO) < 0)
            return; /* not watched: a hangup waits for the call's end */
        ap->sig.up_flags = fl & ~O_ASYNC;
        ap->sig.up_async = true;
    }
    if (fcntl(fd, F_SETFL,
              on ? ap->sig.up_flags | O_ASYNC : ap->sig.up_flags) < 0)
        return;
    /* upstream may have gone before the signal was armed */
    if (on)
        up_check(ap);
}
