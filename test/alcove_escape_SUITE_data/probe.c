/* SPDX-License-Identifier: ISC */
/*
 * What a sandboxed program would try against its supervisor, run by
 * alcove_escape_SUITE inside children of the port.
 *
 *   probe reach PID...   one line per attempt: "name PID result"
 *   probe forge HEX      the bytes of HEX written to stdout and stderr
 *
 * A result is "ok" or the errno's name. Before the attempts, "fds ..."
 * lists the descriptors the program holds and "ppid N" its parent.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#define FD_SCAN 1024

static const char *result(int ok)
{
    return ok ? "ok" : strerrorname_np(errno);
}

static void fds(void)
{
    struct rlimit rl;
    long max = FD_SCAN;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
        (long)rl.rlim_cur > max)
        max = rl.rlim_cur > 65536 ? 65536 : (long)rl.rlim_cur;
    printf("fds");
    for (long fd = 0; fd < max; fd++)
        if (fcntl((int)fd, F_GETFD) != -1)
            printf(" %ld", fd);
    printf("\n");
}

/* Open every descriptor of the target through /proc for writing: the
 * result is that of fd 0 (which a port always holds) and the number of
 * descriptors opened. */
static void open_fds(const char *pid)
{
    char path[64];
    int opened = 0;
    const char *first = NULL;

    for (int n = 0; n < FD_SCAN; n++) {
        snprintf(path, sizeof(path), "/proc/%s/fd/%d", pid, n);
        int fd = open(path, O_WRONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
        if (fd >= 0) {
            opened++;
            close(fd);
        }
        if (n == 0)
            first = result(fd >= 0);
    }
    printf("open %s %s %d\n", pid, first, opened);
}

static void reach(const char *pid)
{
    char path[64];
    pid_t p = (pid_t)atoi(pid);
    int fd;

    snprintf(path, sizeof(path), "/proc/%s/fd", pid);
    DIR *d = opendir(path);
    printf("list %s %s\n", pid, result(d != NULL));
    if (d)
        closedir(d);

    open_fds(pid);

    snprintf(path, sizeof(path), "/proc/%s/mem", pid);
    fd = open(path, O_RDWR | O_CLOEXEC);
    printf("mem %s %s\n", pid, result(fd >= 0));
    if (fd >= 0)
        close(fd);

    long r = ptrace(PTRACE_ATTACH, p, NULL, NULL);
    printf("ptrace %s %s\n", pid, result(r == 0));
    if (r == 0)
        ptrace(PTRACE_DETACH, p, NULL, NULL);

    /* pidfd_getfd(2) would take a descriptor of the target directly */
    int pidfd = (int)syscall(SYS_pidfd_open, p, 0);
    if (pidfd >= 0) {
        fd = (int)syscall(SYS_pidfd_getfd, pidfd, 0, 0);
        printf("getfd %s %s\n", pid, result(fd >= 0));
        if (fd >= 0)
            close(fd);
        close(pidfd);
    } else {
        printf("getfd %s %s\n", pid, result(0));
    }

    printf("kill %s %s\n", pid, result(kill(p, 0) == 0));
}

static int unhex(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

static int forge(const char *hex)
{
    size_t n = strlen(hex) / 2;
    unsigned char *buf = malloc(n ? n : 1);

    if (buf == NULL)
        return 1;
    for (size_t i = 0; i < n; i++) {
        int hi = unhex(hex[2 * i]), lo = unhex(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return 2;
        buf[i] = (unsigned char)(hi << 4 | lo);
    }
    for (int fd = 1; fd <= 2; fd++)
        for (size_t off = 0; off < n;) {
            ssize_t w = write(fd, buf + off, n - off);
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0)
                return 3;
            off += (size_t)w;
        }
    free(buf);
    return 0;
}

int main(int argc, char *argv[])
{
    if (argc == 3 && strcmp(argv[1], "forge") == 0)
        return forge(argv[2]);
    if (argc < 2 || strcmp(argv[1], "reach") != 0)
        return 64;
    fds();
    printf("ppid %d\n", (int)getppid());
    for (int i = 2; i < argc; i++)
        reach(argv[i]);
    return fflush(stdout) == 0 ? 0 : 1;
}
