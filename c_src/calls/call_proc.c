/* SPDX-License-Identifier: ISC */
/* Calls that create, replace, signal and wait for processes. */
#include "calls/calls.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "wire/codec.h"
#include "core/reexec.h"
#include "core/spawn.h"

static int spawn_reply(alcove_t *ap, int64_t flags, ei_x_buff *x)
{
    pid_t pid;
    switch (spawn(ap, flags, &pid)) {
    case 0:
        return enc_ok_int(x, pid) < 0 ? CALL_BADARG : CALL_REPLY;
    case 1:
        return CALL_CHILD;
    default:
        return enc_error(x, errno) < 0 ? CALL_BADARG : CALL_REPLY;
    }
}

int alcove_sys_fork(alcove_t *ap, const alcove_arg_t *arg, ei_x_buff *x)
{
    (void)arg;
    return spawn_reply(ap, 0, x);
}

#ifdef __linux__
/* no flags: a fork, as in the reference */
int alcove_sys_clone(alcove_t *ap, const alcove_arg_t *arg, ei_x_buff *x)
{
    return spawn_reply(ap, arg[0].i, x);
}
#endif

/* The new program gets blocking stdio and the user's signal handling,
 * and everything queued upstream is sent first: after exec, nobody is
 * left to send it. */
static void exec_prepare(alcove_t *ap)
{
    flush_blocking(ap, &ap->up.obuf);
    for (int fd = 0; fd < 3; fd++) {
        int fl = fcntl(fd, F_GETFL);
        if (fl >= 0 && fl & O_NONBLOCK)
            (void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    }
    sig_reset(ap);
#ifdef PR_SET_CHILD_SUBREAPER
    (void)prctl(PR_SET_CHILD_SUBREAPER, 0); /* it survives exec */
#endif
}

static int exec_failed(alcove_t *ap, ei_x_buff *x)
{
    int err = errno;
    sig_restore(ap);
#ifdef PR_SET_CHILD_SUBREAPER
    (void)prctl(PR_SET_CHILD_SUBREAPER, 1);
#endif
    if (ap->depth == 0) {
        (void)set_nonblock(STDIN_FILENO);
        (void)set_nonblock(STDOUT_FILENO);
    }
    return reply_errno(x, err);
}

/* The port tells the driver an exec is coming: what it writes next is
 * the new program's, unless the control connection says otherwise. */
static void exec_announce(alcove_t *ap)
{
    char frame[FRAME_LEN + 5];
    put32(frame, 5);
    frame[FRAME_LEN] = MSG_EXEC;
    put32(frame + FRAME_LEN + 1, ap->req_id);
    if (abuf_append(&ap->up.obuf.b, frame, sizeof(frame)) < 0)
        die(DIE_NOMEM, "out of memory");
}

typedef struct {
    const char *path; /* execve, execvp; NULL for fexecve */
    bool search;      /* execvp */
    int fd;           /* fexecve */
    char **argv, **envp;
} exec_t;

static void exec_do(const exec_t *e)
{
    if (e->path == NULL)
        fexecve(e->fd, e->argv, e->envp);
    else if (e->search)
        execvp(e->path, e->argv);
    else
        execve(e->path, e->argv, e->envp);
}

/* Every exec, in order. A success replies nothing here: a program that
 * is not alcove shows it by the control channel closing; alcove again
 * answers from the new image (reexec.h). */
static int exec_run(alcove_t *ap, const exec_t *e, ei_x_buff *x)
{
    /* the port's exec needs the driver's control connection: nothing
     * else would tell the driver that it happened */
    if (ap->depth == 0 && ap->up.ctl < 0)
        return reply_errno(x, ENOTSUP);
    /* alcove again: the same process of the chain goes on */
    bool again = e->path ? reexec_is_alcove_path(e->path, e->search)
                         : reexec_is_alcove_fd(e->fd);
    if (again && reexec_prepare(ap, ap->req_id) < 0)
        return reply_errno(x, errno);
    if (ap->depth == 0)
        exec_announce(ap);
    /* upstream flushed, stdio blocking, the user's signal handling */
    exec_prepare(ap);
    exec_do(e);
    /* still here: as before, and the driver told */
    int err = errno;
    if (again)
        reexec_undo(ap);
    if (ap->depth == 0)
        ctl_say(ap, CTL_FAILED);
    errno = err;
    return exec_failed(ap, x);
}

static bool argv_ok(const alcove_arg_t *a) { return a->i == 0 && a->n > 0; }

int alcove_sys_execvp(alcove_t *ap, const alcove_arg_t *arg, ei_x_buff *x)
{
    if (arg_str(&arg[0]) == NULL || !argv_ok(&arg[1]))
        return reply_errno(x, EINVAL);
    const exec_t e = {.path = arg[0].s, .search = true, .argv = arg[1].v};
    return exec_run(ap, &e, x);
}

int alcove_sys_execve(alcove_t *ap, const alcove_arg_t *arg, ei_x_buff *x)
{
    if (arg_str(&arg[0]) == NULL || !argv_ok(&arg[1]) || arg[2].i != 0)
        return reply_errno(x, EINVAL);
    const exec_t e = {.path = arg[0].s, .argv = arg[1].v, .envp = arg[2].v};
    return exec_run(ap, &e, x);
}

#if defined(__linux__) || defined(__FreeBSD__)
int alcove_sys_fexecve(alcove_t *ap, const alcove_arg_t *arg, ei_x_buff *x)
{
    if (!argv_ok(&arg[1]) || arg[2].i != 0)
        return reply_errno(x, EINVAL);
    const exec_t e = {.fd = (int)arg[0].i, .argv = arg[1].v, .envp = arg[2].v};
    return exec_run(ap, &e, x);
}
#endif

int alcove_sys_exit(alcove_t *ap, const alcove_arg_t *arg, ei_x_buff *x)
{
    /* the loop sends this reply, stops the children, then exits */
    ap->life.leaving = true;
    ap->life.status = (int)arg[0].i;
    return reply_ok(x);
}

int alcove_sys_getpid(alcove_t *ap, const alcove_arg_t *arg, ei_x_buff *x)
{
    (void)ap;
    (void)arg;
    return reply_int(x, getpid());
}

int alcove_sys_kill(alcove_t *ap, const alcove_arg_t *arg, ei_x_buff *x)
{
    (void)ap;
    if (kill((pid_t)arg[0].i, (int)arg[1].i) < 0)
        return reply_errno(x, errno);
    return reply_ok(x);
}

static const char *const disp_name[] = {SIGDISP_NAMES};

int alcove_sys_sigaction(alcove_t *ap, const alcove_arg_t *arg, ei_x_buff *x)
{
    int64_t signum = arg[0].i;
    int64_t handler = arg[1].i; /* a sigdisp_t, or SIGDISP_KEEP for [] */

    if (signum <= 0 || signum >= NSIG)
        return reply_errno(x, EINVAL);
    sigdisp_t old = ap->sig.disp[signum];
    if (handler != SIGDISP_KEEP) {
        if (signum == SIGKILL || signum == SIGSTOP)
            return reply_errno(x, EINVAL);
        if (sig_set(ap, (int)signum, (sigdisp_t)handler) < 0)
            return reply_errno(x, errno);
    }
    if (ei_x_encode_tuple_header(x, 2) < 0 || enc_ok(x) < 0 ||
        enc_atom(x, disp_name[old]) < 0)
        return CALL_BADARG;
    return CALL_REPLY;
}

static int enc_signal(ei_x_buff *x, int signum)
{
    const char *name = alcove_const_name(&alcove_const_signal, signum);
    return name ? enc_atom(x, name) : enc_int(x, signum);
}

/* [{exit_status, N}], [{termsig, S}], [{stopsig, S}], [continued], or []
 * when no child changed state (wnohang). */
static int enc_waitstatus(ei_x_buff *x, pid_t pid, int status)
{
    if (pid == 0)
        return ei_x_encode_empty_list(x);
    int rv = ei_x_encode_list_header(x, 1);
    if (WIFEXITED(status))
        rv |= ei_x_encode_tuple_header(x, 2) | enc_atom(x, "exit_status") |
              enc_int(x, WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        rv |= ei_x_encode_tuple_header(x, 2) | enc_atom(x, "termsig") |
              enc_signal(x, WTERMSIG(status));
    else if (WIFSTOPPED(status))
        rv |= ei_x_encode_tuple_header(x, 2) | enc_atom(x, "stopsig") |
              enc_signal(x, WSTOPSIG(status));
    else
        rv |= enc_atom(x, "continued");
    return rv | ei_x_encode_empty_list(x);
}

int alcove_sys_waitpid(alcove_t *ap, const alcove_arg_t *arg, ei_x_buff *x)
{
    int status = 0;
    pid_t pid;
    do
        pid = waitpid((pid_t)arg[0].i, &status, (int)arg[1].i);
    while (pid < 0 && errno == EINTR);
    if (pid < 0)
        return reply_errno(x, errno);
    /* a child of the table reaped here still gets its output read and
     * its exit event sent, once */
    if (pid > 0)
        child_reaped(ap, pid, status);
    if (ei_x_encode_tuple_header(x, 4) < 0 || enc_ok(x) < 0 ||
        enc_int(x, pid) < 0 || enc_int(x, status) < 0 ||
        enc_waitstatus(x, pid, status) < 0)
        return CALL_BADARG;
    return CALL_REPLY;
}

int alcove_sys_close(alcove_t *ap, const alcove_arg_t *arg, ei_x_buff *x)
{
    int fd = (int)arg[0].i;
    /* the parent's end of a child's stdio, as cpid/2 shows it: eof/3 */
    int stream;
    child_t *c = child_stdio(ap, fd, &stream);
    if (c != NULL) {
        int err = child_eof(ap, c, stream, ap->req_id);
        return err == 0 ? CALL_LATER : reply_errno(x, err);
    }
    if (fd_internal(ap, fd))
        return reply_errno(x, EBADF);
    if (close(fd) < 0 && errno != EINTR)
        return reply_errno(x, errno);
    return reply_ok(x);
}
