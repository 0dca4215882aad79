/* SPDX-License-Identifier: ISC */
/*
 * Seccomp user notification. The listener of a filter that a child
 * installed (seccomp_notify_filter, calls/call_notify.c) is watched here,
 * by that child's parent, never by the child: the child is, or becomes,
 * the program the filter confines, and a loop waiting on notifications
 * of its own system calls would wait for itself. The child sends the
 * listener up its control socket (a LISTENER frame carrying it by
 * SCM_RIGHTS) and closes its copy before it runs anything else, so the
 * program it execs never holds it (it could answer its own calls). No
 * right over the child is needed, as pidfd_getfd(2) would need, so a
 * rootless parent takes it the same way.
 *
 * A listener is one more descriptor of the epoll set, like a child's
 * pipes, reached from its event by pointer: a notification costs the
 * same whatever the number of children. One is read per turn of the
 * ready queue (fair to the other descriptors, parked while upstream is
 * full as output is) and goes up as an event of the child,
 * {seccomp_notify, #{...}}. The answer is a call in this process,
 * seccomp_notify_respond/6, which finds the listener by the child's PID
 * in the children hash.
 *
 * SECCOMP_IOCTL_NOTIF_RECV waits when nothing is pending, O_NONBLOCK or
 * not: a poll(2) that does not wait comes first. A notification whose
 * caller died in between is ENOENT, and the next is tried.
 *
 * A path or socket address is read from the caller's memory with
 * process_vm_readv(2), a page at a time (a string may end just before
 * an unmapped page); then SECCOMP_IOCTL_NOTIF_ID_VALID says whether the
 * caller still waits. If it does not, its PID may already name another
 * process, and what was read is dropped with the notification. What
 * was read is what the memory held then: another thread of the caller
 * can change it before the kernel reads it again for a call let through
 * (seccomp_unotify(2)), so it informs a decision, it does not bind the
 * call. A page the read waits on (a file of a FUSE server the caller
 * runs, mapped there) makes this loop wait: a sandbox that can mount
 * FUSE should not have its paths read.
 */
#include "core/alcove.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "wire/build.h"
#include "wire/consts.h"

#ifdef __linux__
#include <linux/audit.h>
#include <linux/seccomp.h>
#endif

#if defined(SECCOMP_IOCTL_NOTIF_RECV) && defined(SECCOMP_GET_NOTIF_SIZES)
#define HAVE_NOTIFY 1
#endif

/* The architecture whose system call numbers the port's tables hold:
 * names and memory are given for calls of that one only. */
#if defined(__x86_64__) && !defined(__ILP32__)
#define NATIVE_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define NATIVE_ARCH AUDIT_ARCH_AARCH64
#elif defined(__i386__)
#define NATIVE_ARCH AUDIT_ARCH_I386
#elif defined(__riscv) && __riscv_xlen == 64
#define NATIVE_ARCH AUDIT_ARCH_RISCV64
#endif

/* Room for the kernel's struct seccomp_notif, which may grow. */
#define NOTIF_BUF 256
/* A socket address: sizeof(struct sockaddr_storage). */
#define ADDR_MAX 128

static void send_child_term(alcove_t *ap, const child_t *c,
                            void (*put)(build_t *, const void *),
                            const void *arg)
{
    ei_x_buff x;
    if (ei_x_new_with_version(&x) < 0)
        die(DIE_NOMEM, "out of memory");
    build_t b = {.x = &x};
    put(&b, arg);
    send_up(ap, MSG_EVENT, c->pid, x.buff, (size_t)x.index);
    ei_x_free(&x);
}

/* {seccomp_notify, closed} */
static void put_closed(build_t *b, const void *arg)
{
    (void)arg;
    put_tuple(b, 2);
    put_atom(b, "seccomp_notify");
    put_atom(b, "closed");
}

void notify_close(alcove_t *ap, child_t *c)
{
    if (c->notify.fd < 0)
        return;
    rq_drop(ap, &c->notify);
    ref_close(&c->notify);
    send_child_term(ap, c, put_closed, NULL);
}

void notify_adopt(alcove_t *ap, child_t *c)
{
    int fd = c->passed;
    c->passed = -1;
    if (fd < 0)
        return;
    /* the kernel gives a process one listener: a second is nonsense */
    if (c->notify.fd >= 0) {
        close(fd);
        return;
    }
    c->notify =
        (fdref_t){.fd = fd_high(ap, fd), .kind = FD_NOTIFY, .child = c};
    (void)set_nonblock(c->notify.fd);
    /* a notification already pending is reported at once */
    fd_watch(ap, &c->notify, EPOLLIN);
}

int notify_send(alcove_t *ap, int fd)
{
    /* after what upstream holds: a frame may be half written */
    if (flush_blocking(ap, &ap->up.obuf) < 0) {
        errno = EPIPE;
        return -1;
    }
    char f[FRAME_LEN + UP_HDR];
    put32(f, UP_HDR);
    f[FRAME_LEN] = MSG_LISTENER;
    put16(f + FRAME_LEN + 1, 0);

    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    memset(&u, 0, sizeof(u));
    struct iovec iov = {.iov_base = f, .iov_len = sizeof(f)};
    struct msghdr m = {.msg_iov = &iov,
                       .msg_iovlen = 1,
                       .msg_control = u.buf,
                       .msg_controllen = sizeof(u.buf)};
    struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cm), &fd, sizeof(fd));

    size_t sent = 0;
    while (sent < sizeof(f)) {
        iov.iov_base = f + sent;
        iov.iov_len = sizeof(f) - sent;
        ssize_t n = sendmsg(ap->up.out.fd, &m, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            struct pollfd p = {.fd = ap->up.out.fd, .events = POLLOUT};
            (void)poll(&p, 1, -1);
            continue;
        }
        if (n < 0)
            return -1;
        sent += (size_t)n;
        /* the descriptor went with the first byte */
        m.msg_control = NULL;
        m.msg_controllen = 0;
    }
    return 0;
}

#ifdef HAVE_NOTIFY
/* Read from pid's memory at addr into buf: a string (up to its NUL,
 * its length returned) or max bytes; -1 if unreadable. */
static ssize_t peek(pid_t pid, uint64_t addr, char *buf, size_t max, bool str)
{
    const size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t got = 0;
    if (addr == 0)
        return -1;
    while (got < max) {
        uint64_t at = addr + got;
        size_t n = page - (size_t)(at % page);
        if (n > max - got)
            n = max - got;
        struct iovec local = {.iov_base = buf + got, .iov_len = n};
        struct iovec remote = {.iov_base = (void *)(uintptr_t)at,
                               .iov_len = n};
        ssize_t k = process_vm_readv(pid, &local, 1, &remote, 1, 0);
        if (k <= 0)
            return -1;
        if (str) {
            const char *z = memchr(buf + got, 0, (size_t)k);
            if (z)
                return z - buf;
        }
        got += (size_t)k;
    }
    return str ? -1 : (ssize_t)got;
}

/* What of the caller's memory the event carries: the path of open,
 * openat, openat2, execve and execveat, the address of connect and
 * bind. Sets *key and returns the length read, or -1 for none. */
static ssize_t peek_args(const struct seccomp_notif *n, char *buf,
                         const char **key)
{
#ifdef NATIVE_ARCH
    if (n->data.arch != NATIVE_ARCH || n->pid == 0)
        return -1;
    const int nr = n->data.nr;
    const __u64 *a = n->data.args;
    int path = -1;
#ifdef SYS_open
    if (nr == SYS_open)
        path = 0;
#endif
#ifdef SYS_openat2
    if (nr == SYS_openat2)
        path = 1;
#endif
#ifdef SYS_execveat
    if (nr == SYS_execveat)
        path = 1;
#endif
    if (nr == SYS_openat)
        path = 1;
    if (nr == SYS_execve)
        path = 0;
    if (path >= 0) {
        *key = "path";
        return peek((pid_t)n->pid, a[path], buf, PATH_MAX, true);
    }
#if defined(SYS_connect) && defined(SYS_bind)
    if (nr == SYS_connect || nr == SYS_bind) {
        *key = "sockaddr";
        return peek((pid_t)n->pid, a[1], buf,
                    a[2] < ADDR_MAX ? a[2] : ADDR_MAX, false);
    }
#endif
#else
    (void)n;
    (void)buf;
    (void)key;
#endif
    return -1;
}

typedef struct {
    const struct seccomp_notif *n;
    const char *key; /* path or sockaddr, if read */
    const char *mem;
    size_t len;
} notif_term_t;

/* {seccomp_notify, #{id, pid, nr, name, arch, args[, path | sockaddr]}} */
static void put_notif(build_t *b, const void *arg)
{
    const notif_term_t *t = arg;
    const struct seccomp_notif *n = t->n;
    const char *name = NULL;
#ifdef NATIVE_ARCH
    if (n->data.arch == NATIVE_ARCH)
        name = alcove_const_name(&alcove_const_syscall, n->data.nr);
#endif
    put_tuple(b, 2);
    put_atom(b, "seccomp_notify");
    put_map(b, t->key ? 7 : 6);
    put_atom(b, "id");
    put_uint(b, n->id);
    put_atom(b, "pid");
    put_int(b, n->pid);
    put_atom(b, "nr");
    put_int(b, n->data.nr);
    put_atom(b, "name");
    put_atom(b, name ? name : "unknown");
    put_atom(b, "arch");
    put_uint(b, n->data.arch);
    put_atom(b, "args");
    put_list(b, 6);
    for (int i = 0; i < 6; i++)
        put_uint(b, n->data.args[i]);
    put_nil(b);
    if (t->key) {
        put_atom(b, t->key);
        put_binary(b, t->mem, t->len);
    }
}

static bool notify_sizes_ok(void)
{
    static int ok = -1;
    if (ok < 0) {
        struct seccomp_notif_sizes s;
        ok = syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &s) == 0 &&
             s.seccomp_notif <= NOTIF_BUF &&
             s.seccomp_notif >= sizeof(struct seccomp_notif);
    }
    return ok == 1;
}
#endif

bool notify_read(alcove_t *ap, child_t *c)
{
    fdref_t *r = &c->notify;
    struct pollfd p = {.fd = r->fd, .events = POLLIN};
    int ready = poll(&p, 1, 0);
    if (ready < 0)
        return errno == EINTR;
    if (ready == 0)
        return false;
#ifdef HAVE_NOTIFY
    if ((p.revents & POLLIN) && notify_sizes_ok()) {
        union {
            struct seccomp_notif n;
            char buf[NOTIF_BUF];
        } u;
        memset(&u, 0, sizeof(u));
        if (ioctl(r->fd, SECCOMP_IOCTL_NOTIF_RECV, &u) < 0)
            /* ENOENT: its caller died since the poll */
            return errno == EINTR || errno == ENOENT;
        char mem[PATH_MAX];
        notif_term_t t = {.n = &u.n};
        ssize_t len = peek_args(&u.n, mem, &t.key);
        if (len >= 0) {
            uint64_t id = u.n.id;
            if (ioctl(r->fd, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) < 0)
                return true;
            t.mem = mem;
            t.len = (size_t)len;
        } else {
            t.key = NULL;
        }
        send_child_term(ap, c, put_notif, &t);
        return true;
    }
#endif
    /* nothing to read: no process is left under the filter */
    notify_close(ap, c);
    return false;
}
