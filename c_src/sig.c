/* SPDX-License-Identifier: ISC */
/*
 * Signals reach the loop through a self-pipe: the handler writes the
 * whole siginfo_t (smaller than PIPE_BUF, so the write is atomic) and the
 * loop reads it back. SIGCHLD is always caught, for reaping; the user's
 * sigaction/4 choices are kept apart from it in ap->sigdisp.
 */
#include "alcove.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "codec.h"
#include "consts.h"

static int sig_wfd = -1;

static void on_signal(int signum, siginfo_t *info, void *ctx)
{
    (void)signum;
    (void)ctx;
    int saved = errno;
    (void)!write(sig_wfd, info, sizeof(*info));
    errno = saved;
}

static int catch_signal(int signum)
{
    struct sigaction sa = {.sa_sigaction = on_signal,
                           .sa_flags = SA_SIGINFO | SA_RESTART};
    if (signum == SIGCHLD)
        sa.sa_flags |= SA_NOCLDSTOP;
    sigfillset(&sa.sa_mask);
    return sigaction(signum, &sa, NULL);
}

static int set_handler(int signum, void (*h)(int))
{
    struct sigaction sa = {.sa_handler = h};
    sigemptyset(&sa.sa_mask);
    return sigaction(signum, &sa, NULL);
}

int sig_init(alcove_t *ap)
{
    if (pipe2(ap->sigpipe, O_CLOEXEC | O_NONBLOCK) < 0)
        return -1;
    ap->sigpipe[0] = fd_high(ap, ap->sigpipe[0]);
    ap->sigpipe[1] = fd_high(ap, ap->sigpipe[1]);
    sig_wfd = ap->sigpipe[1];
    ap->sigref = (fdref_t){.fd = ap->sigpipe[0], .kind = FD_SIGNAL};
    fd_watch(ap, &ap->sigref, EPOLLIN);
    /* a write to a closed pipe is an error to handle, not a death */
    if (set_handler(SIGPIPE, SIG_IGN) < 0)
        return -1;
    return catch_signal(SIGCHLD);
}

static void send_signal_event(alcove_t *ap, const siginfo_t *si)
{
    ei_x_buff x;
    if (ei_x_new_with_version(&x) < 0)
        die(DIE_NOMEM, "out of memory");
    const char *name = alcove_const_name(&alcove_const_signal, si->si_signo);
    int rv = ei_x_encode_tuple_header(&x, 3) | enc_atom(&x, "signal") |
             (name ? enc_atom(&x, name) : enc_int(&x, si->si_signo)) |
             enc_binary(&x, si, sizeof(*si));
    if (rv == 0)
        send_event(ap, &x);
    ei_x_free(&x);
}

void sig_read(alcove_t *ap)
{
    siginfo_t si[16];
    bool chld = false;

    for (;;) {
        ssize_t n = read(ap->sigpipe[0], si, sizeof(si));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        for (size_t i = 0; i < (size_t)n / sizeof(si[0]); i++) {
            if (si[i].si_signo == SIGCHLD)
                chld = true;
            if (si[i].si_signo > 0 && si[i].si_signo < NSIG &&
                ap->sigdisp[si[i].si_signo] == SIGDISP_INFO)
                send_signal_event(ap, &si[i]);
        }
    }
    ap->sigref.readable = false;
    if (chld)
        child_reap(ap);
}

/* SIGCHLD and SIGPIPE stay as the loop needs them; what the user chose
 * for them is applied at exec. */
static bool loop_owned(int signum)
{
    return signum == SIGCHLD || signum == SIGPIPE;
}

int sig_set(alcove_t *ap, int signum, sigdisp_t disp)
{
    if (!loop_owned(signum)) {
        int rv = disp == SIGDISP_INFO  ? catch_signal(signum)
                 : disp == SIGDISP_IGN ? set_handler(signum, SIG_IGN)
                                       : set_handler(signum, SIG_DFL);
        if (rv < 0)
            return -1;
    }
    ap->sigdisp[signum] = disp;
    return 0;
}

/* Before exec: the new program starts with the user's dispositions only. */
void sig_reset(alcove_t *ap)
{
    for (int i = 1; i < NSIG; i++) {
        if (loop_owned(i))
            set_handler(i, ap->sigdisp[i] == SIGDISP_IGN ? SIG_IGN : SIG_DFL);
        else if (ap->sigdisp[i] == SIGDISP_INFO)
            set_handler(i, SIG_DFL);
    }
}

/* After a failed exec: back to what the loop needs. */
void sig_restore(alcove_t *ap)
{
    set_handler(SIGPIPE, SIG_IGN);
    catch_signal(SIGCHLD);
    for (int i = 1; i < NSIG; i++)
        if (!loop_owned(i) && ap->sigdisp[i] == SIGDISP_INFO)
            catch_signal(i);
}
