// SPDX-License-Identifier: ISC
// The floor of the realistic sandbox of the alcove benchmark (see
// alcove_bench.erl): the system calls of the sandbox, made by one C
// process from clone to exec, with nothing in between.
//
//   sandbox_floor [-m] N DIR...
//                           N times: clone into new PID, mount, net, UTS
//                           and IPC namespaces (with -m sharing this
//                           process's memory until exec, CLONE_VM and
//                           CLONE_VFORK, as alcove's spawn/4 does, which
//                           copies no page table); in the child, make every
//                           mount private, mount a tmpfs on /tmp, bind
//                           each DIR read-only under it (bind, then
//                           remount), mount proc, pivot_root into it,
//                           detach the old root and exec /bin/true; the
//                           parent waits for its exit. Prints the mean
//                           nanoseconds per sandbox.
//
// It loops by itself, so that its own start is not counted and no port
// stands between the clock and the sandbox. Must run as root.
#define _GNU_SOURCE
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define STACK_SIZE (256 * 1024)

static void die(const char *what)
{
    perror(what);
    exit(1);
}

// In the child: report and exit, the parent sees a failed status.
static void fail(const char *what)
{
    perror(what);
    _exit(127);
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

// The mount point of DIR under the new root, /tmp.
static void under_tmp(char *buf, size_t size, const char *dir)
{
    if (snprintf(buf, size, "/tmp%s", dir) >= (int)size)
        fail("path too long");
}

static int child(void *arg)
{
    char *const *dirs = arg;
    char target[4096];

    if (mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        fail("mount private");
    if (mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") < 0)
        fail("mount tmpfs");
    for (char *const *d = dirs; *d; d++) {
        under_tmp(target, sizeof(target), *d);
        if (mkdir(target, 0755) < 0)
            fail("mkdir");
        if (mount(*d, target, NULL, MS_BIND, NULL) < 0)
            fail("mount bind");
        if (mount("none", target, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY,
                  NULL) < 0)
            fail("remount ro");
    }
    if (mkdir("/tmp/proc", 0755) < 0)
        fail("mkdir proc");
    if (mount("proc", "/tmp/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC,
              NULL) < 0)
        fail("mount proc");
    if (mkdir("/tmp/oldroot", 0755) < 0)
        fail("mkdir oldroot");
    if (syscall(SYS_pivot_root, "/tmp", "/tmp/oldroot") < 0)
        fail("pivot_root");
    if (chdir("/") < 0)
        fail("chdir");
    if (umount2("/oldroot", MNT_DETACH) < 0)
        fail("umount2");
    char *const argv[] = {"/bin/true", NULL};
    execv(argv[0], argv);
    fail("execv");
    return 127;
}

static void sandbox(char *stack, char **dirs, int shared)
{
    int flags = CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWUTS |
                CLONE_NEWIPC | SIGCHLD | shared;
    pid_t pid = clone(child, stack + STACK_SIZE, flags, dirs);
    if (pid < 0)
        die("clone");
    int status;
    if (waitpid(pid, &status, 0) < 0)
        die("waitpid");
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "sandbox_floor: child status %d\n", status);
        exit(1);
    }
}

int main(int argc, char *argv[])
{
    int shared = 0;
    if (argc >= 2 && strcmp(argv[1], "-m") == 0) {
        shared = CLONE_VM | CLONE_VFORK;
        argv++;
        argc--;
    }
    long n = argc >= 2 ? strtol(argv[1], NULL, 10) : 0;
    if (n <= 0) {
        fprintf(stderr, "usage: sandbox_floor [-m] N DIR...\n");
        return 2;
    }
    char *stack = malloc(STACK_SIZE);
    if (!stack)
        die("malloc");

    // One warm-up, so that the binaries and page tables are in place.
    sandbox(stack, argv + 2, shared);
    int64_t t0 = now_ns();
    for (long i = 0; i < n; i++)
        sandbox(stack, argv + 2, shared);
    int64_t t1 = now_ns();

    free(stack);
    printf("%lld\n", (long long)((t1 - t0) / n));
    return 0;
}
