/* SPDX-License-Identifier: ISC */
/* Processes and Signals of the call table: calls that create, replace
 * and end processes, signal them and wait for them. */
#include "calls/calls.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/reexec.h"
#include "core/spawn.h"

static int spawn_reply(alcove_t *ap, int64_t flags, int cgroup, build_t *b)
{
    pid_t pid;
    switch (spawn(ap, flags, cgroup, &pid)) {
    case 0:
        return reply_ok_int(b, pid);
    case 1:
        return CALL_CHILD;
    default:
        return reply_errno(b, errno);
    }
}

int alcove_sys_fork(alcove_t *ap, const alcove_args_t *args, build_t *b)
{
    (void)args;
    return spawn_reply(ap, 0, -1, b);
}

#if CALL_clone
/* no flags: a fork, as in the reference */
int alcove_sys_clone(alcove_t *ap, const alcove_args_t *args, build_t *b)
{
    return spawn_reply(ap, args->clone.flags, -1, b);
}
#endif

#if CALL_clone3
int alcove_sys_clone3(alcove_t *ap, const alcove_args_t *args, build_t *b)
{
    return spawn_reply(ap, args->clone3.flags, (int)args->clone3.cgroup, b);
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

static int exec_failed(alcove_t *ap, build_t *b)
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
    return reply_errno(b, err);
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

static size_t argc_of(char **argv)
{
    size_t n = 0;
    while (argv[n] != NULL)
        n++;
    return n;
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
static int exec_run(alcove_t *ap, const exec_t *e, build_t *b)
{
    /* alcove again: the same process of the chain goes on */
    bool again = e->path ? reexec_is_alcove_path(e->path, e->search)
                         : reexec_is_alcove_fd(e->fd);
    /* spawn/4's child: nothing of the loop's to flush, and the parent
     * learns of the exec from the vfork ending; a handover needs a child
     * that is an event loop of its own */
    if (ap->life.spawned) {
        if (again)
            return reply_errno(b, ENOTSUP);
        /* a script without #! makes execvp(3) build its argv anew on the
         * stack, which the child shares: bounded (spawn.c) */
        if (e->search && argc_of(e->argv) > SPAWN_ARGV_MAX)
            return reply_errno(b, E2BIG);
        /* the program dies with the parent, whatever the calls before
         * did to credentials; refused by a filter, it goes on */
        (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
        sig_default(ap);
        ap->life.execing = true;
        exec_do(e);
        ap->life.execing = false;
        return reply_errno(b, errno);
    }
    if (again && reexec_prepare(ap, ap->req_id) < 0)
        return reply_errno(b, errno);
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
    return exec_failed(ap, b);
}

static bool argv_ok(const arg_argv_t *a) { return !a->nul && a->n > 0; }

int alcove_sys_execvp(alcove_t *ap, const alcove_args_t *args, build_t *b)
{
    const args_execvp_t *a = &args->execvp;
    if (arg_str(&a->arg0) == NULL || !argv_ok(&a->argv))
        return reply_errno(b, EINVAL);
    const exec_t e = {.path = a->arg0.s, .search = true, .argv = a->argv.v};
    return exec_run(ap, &e, b);
}

int alcove_sys_execve(alcove_t *ap, const alcove_args_t *args, build_t *b)
{
    const args_execve_t *a = &args->execve;
    if (arg_str(&a->arg0) == NULL || !argv_ok(&a->argv) || a->env.nul)
        return reply_errno(b, EINVAL);
    const exec_t e = {.path = a->arg0.s, .argv = a->argv.v, .envp = a->env.v};
    return exec_run(ap, &e, b);
}

#if CALL_fexecve
int alcove_sys_fexecve(alcove_t *ap, const alcove_args_t *args, build_t *b)
{
    const args_fexecve_t *a = &args->fexecve;
    if (!argv_ok(&a->argv) || a->env.nul)
        return reply_errno(b, EINVAL);
    const exec_t e = {.fd = a->fd, .argv = a->argv.v, .envp = a->env.v};
    return exec_run(ap, &e, b);
}
#endif

int alcove_sys_exit(alcove_t *ap, const alcove_args_t *args, build_t *b)
{
    /* dispatch has the loop send this reply, stop the children, then
     * exit (the table's exit flag) */
    ap->life.status = args->exit.status;
    return reply_ok(b);
}

int alcove_sys_getpid(alcove_t *ap, const alcove_args_t *args, build_t *b)
{
    (void)ap;
    (void)args;
    return reply_int(b, getpid());
}

int alcove_sys_kill(alcove_t *ap, const alcove_args_t *args, build_t *b)
{
    (void)ap;
    const args_kill_t *a = &args->kill;
    return reply_rv(b, kill(a->pid, (int)a->signal));
}

static const char *const disp_name[] = {SIGDISP_NAMES};

int alcove_sys_sigaction(alcove_t *ap, const alcove_args_t *args, build_t *b)
{
    int64_t signum = args->sigaction.signum;
    int handler = args->sigaction.handler; /* a sigdisp_t, or SIGDISP_KEEP */

    if (signum <= 0 || signum >= NSIG)
        return reply_errno(b, EINVAL);
    sigdisp_t old = ap->sig.disp[signum];
    if (handler != SIGDISP_KEEP) {
        if (signum == SIGKILL || signum == SIGSTOP)
            return reply_errno(b, EINVAL);
        if (sig_set(ap, (int)signum, (sigdisp_t)handler) < 0)
            return reply_errno(b, errno);
    }
    put_tuple(b, 2);
    put_ok(b);
    put_atom(b, disp_name[old]);
    return CALL_REPLY;
}

static void put_signal(build_t *b, int signum)
{
    const char *name = alcove_const_name(&alcove_const_signal, signum);
    if (name)
        put_atom(b, name);
    else
        put_int(b, signum);
}

/* {Tag, Value} in a list of one: the decoded wait status */
static void put_tagged(build_t *b, const char *tag)
{
    put_list(b, 1);
    put_tuple(b, 2);
    put_atom(b, tag);
}

/* [{exit_status, N}], [{termsig, S}], [{stopsig, S}], [continued], or []
 * when no child changed state (wnohang). */
static void put_waitstatus(build_t *b, pid_t pid, int status)
{
    if (pid == 0) {
        put_nil(b);
        return;
    }
    if (WIFEXITED(status)) {
        put_tagged(b, "exit_status");
        put_int(b, WEXITSTATUS(status));
    } else if (WIFSIGNALED(status)) {
        put_tagged(b, "termsig");
        put_signal(b, WTERMSIG(status));
    } else if (WIFSTOPPED(status)) {
        put_tagged(b, "stopsig");
        put_signal(b, WSTOPSIG(status));
    } else {
        put_list(b, 1);
        put_atom(b, "continued");
    }
    put_nil(b);
}

int alcove_sys_waitpid(alcove_t *ap, const alcove_args_t *args, build_t *b)
{
    const args_waitpid_t *a = &args->waitpid;
    int status = 0;
    struct rusage ru;
    pid_t pid;
    do
        pid = wait4(a->pid, &status, (int)a->options, &ru);
    while (pid < 0 && errno == EINTR);
    if (pid < 0)
        return reply_errno(b, errno);
    /* a child of the table reaped here still gets its output read and
     * its exit event sent, once */
    if (pid > 0)
        child_reaped(ap, pid, status, &ru);
    put_tuple(b, 4);
    put_ok(b);
    put_int(b, pid);
    put_int(b, status);
    put_waitstatus(b, pid, status);
    return CALL_REPLY;
}
