/* SPDX-License-Identifier: ISC */
/*
 * Where an event loop's descriptors live, so that a fork costs the same
 * with 10 children or 1000.
 *
 * fork(2) copies the whole descriptor table and the child must then
 * close its siblings' pipes and sockets: both cost a time proportional
 * to the descriptors open. So the loop keeps its own descriptors (epoll,
 * signal pipe, control sockets and the parent's ends of its children's
 * pipes) at FD_BASE and above, and whatever a user opens through calls
 * stays below. A child is then cloned sharing the table (CLONE_FILES)
 * and takes a private copy of what lies below FD_BASE only
 * (close_range(2) with CLOSE_RANGE_UNSHARE): its parent's descriptors
 * are never copied, however many.
 *
 * When the split does not hold (a user descriptor at FD_BASE or above,
 * no room up there, a kernel without CLOSE_RANGE_UNSHARE) fork_fast is
 * cleared and forks copy and close as before.
 *
 * Also here: which descriptors are the loop's own, out of calls' reach
 * (fd_internal), and how many of its pipes are grown (pipe_grow).
 */
#include "core/alcove.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifdef __linux__
#include <linux/close_range.h>
#include <sys/eventfd.h>
#endif

#if defined(__linux__) && defined(SYS_close_range) &&                         \
    defined(CLOSE_RANGE_UNSHARE)
#define HAVE_UNSHARE 1
#endif

#ifdef HAVE_UNSHARE
/* Anything open at or above FD_BASE when the port starts (the VM's or a
 * wrapper's) would not reach children forked the fast way; what the loop
 * itself brought there (own: a re-exec's upstream) is its own. */
static bool none_above(int base, const int *own, size_t nown)
{
    DIR *d = opendir("/proc/self/fd");
    if (d == NULL)
        return false;
    bool none = true;
    int self = dirfd(d);
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        char *end;
        long fd = strtol(e->d_name, &end, 10);
        bool mine = fd == self;
        for (size_t i = 0; i < nown; i++)
            mine = mine || fd == own[i];
        if (*end == '\0' && end != e->d_name && fd >= base && !mine)
            none = false;
    }
    closedir(d);
    return none;
}
#endif

void fdspace_init(alcove_t *ap, const int *own, size_t nown)
{
    ap->fds.base = FD_BASE;
    ap->fds.fork_fast = false;
    if (ap->fds.fork_never)
        return;
#ifdef HAVE_UNSHARE
    struct rlimit nofile;
    if (getrlimit(RLIMIT_NOFILE, &nofile) < 0 ||
        (nofile.rlim_cur != RLIM_INFINITY &&
         nofile.rlim_cur <= (rlim_t)FD_BASE + 64))
        return;
    /* closes nothing: tells whether the kernel knows the flag */
    if (syscall(SYS_close_range, ~0U, ~0U, CLOSE_RANGE_UNSHARE) < 0)
        return;
    ap->fds.fork_fast = none_above(FD_BASE, own, nown);
#else
    (void)own;
    (void)nown;
#endif
}

int fd_high(alcove_t *ap, int fd)
{
    if (fd < 0 || fd >= ap->fds.base)
        return fd;
    int hi = fcntl(fd, F_DUPFD_CLOEXEC, ap->fds.base);
    if (hi < 0) {
        /* no room up there: this descriptor stays where children get it */
        ap->fds.fork_fast = false;
        return fd;
    }
    close(fd);
    return hi;
}

void fd_note(alcove_t *ap, int64_t fd)
{
    if (fd >= ap->fds.base)
        ap->fds.fork_fast = false;
}

void fd_probe(alcove_t *ap)
{
    if (!ap->fds.fork_fast)
        return;
    /* descriptors are given lowest first: a new one up there means none
     * is left below */
    int fd = fcntl(ap->ev.epfd, F_DUPFD, 0);
    if (fd < 0 || fd >= ap->fds.base)
        ap->fds.fork_fast = false;
    if (fd >= 0)
        close(fd);
}

int fdspace_unshare(const alcove_t *ap)
{
#ifdef HAVE_UNSHARE
    return (int)syscall(SYS_close_range, (unsigned)ap->fds.base, ~0U,
                        CLOSE_RANGE_UNSHARE);
#else
    (void)ap;
    return -1;
#endif
}

/* The loop's own descriptors are not the caller's to close, read, write
 * or change: a write to the upstream channel would be taken for frames,
 * a read would take requests out of it, a cleared O_NONBLOCK would block
 * the loop. (This prevents accidents: it is no boundary, as a path such
 * as /proc/self/fd/1 opens the same pipe again.) */
bool fd_internal(alcove_t *ap, int64_t fd)
{
    /* split: the loop's descriptors are exactly those above fd_base, and
     * upstream, which the port has on 0 and 1 */
    if (ap->fds.fork_fast)
        return fd >= ap->fds.base || fd == ap->up.in.fd || fd == ap->up.out.fd;
    if (fd == ap->ev.epfd || fd == ap->sig.pipe[0] || fd == ap->sig.pipe[1] ||
        fd == ap->up.in.fd || fd == ap->up.out.fd ||
        (fd >= 0 &&
         (fd == ap->up.spipe[0] || fd == ap->up.spipe[1] || fd == ap->up.ctl)))
        return true;
    for (child_t *c = ap->kids.first; c; c = c->next)
        if (fd == c->ctl.fd || fd == c->in.fd || fd == c->out.fd ||
            fd == c->err.fd || fd == c->notify.fd || fd == c->passed)
            return true;
    return false;
}

bool pipe_grow(alcove_t *ap, int fd, bool *grown)
{
#ifdef F_SETPIPE_SZ
    if (*grown || ap->fds.pipes_grown >= PIPE_GROW_MAX ||
        fcntl(fd, F_SETPIPE_SZ, PIPE_BIG) < 0)
        return false;
    *grown = true;
    ap->fds.pipes_grown++;
    return true;
#else
    (void)ap;
    (void)fd;
    (void)grown;
    return false;
#endif
}

/* The reference's loop holds descriptors 3, 4 and 5, and code written for
 * it (prx's re-exec) changes their flags: here they hold one inert
 * object, close-on-exec, while the loop's own live at FD_BASE. */
void fd_placeholders(void)
{
    int inert = -1;
    for (int fd = 3; fd <= 5; fd++) {
        if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
            continue;
        if (inert < 0) {
#ifdef __linux__
            inert = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
#else
            inert = open("/dev/null", O_RDWR | O_CLOEXEC);
#endif
            if (inert < 0)
                return;
            if (inert == fd)
                continue;
        }
        if (dup2(inert, fd) == fd)
            (void)fcntl(fd, F_SETFD, FD_CLOEXEC);
    }
    if (inert > 5)
        close(inert);
}
