// SPDX-License-Identifier: ISC
// Baselines for the alcove benchmark (see alcove_bench.erl).
//
//   pingpong N  one byte goes back and forth N times between two
//               processes over two pipes; prints the mean nanoseconds
//               per round trip. This is the floor for any call that
//               crosses a process boundary over a pipe, as an alcove
//               call does.
//   echo        reads {packet,4} frames (4-byte big-endian length, then
//               the body) on stdin and writes each back on stdout: the
//               program erlang:open_port/2 runs for its round trip.
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void die(const char *what)
{
    perror(what);
    exit(1);
}

// Read exactly n bytes; 0 at a clean end of file before the first byte.
static int read_all(int fd, void *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, (char *)buf + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            die("read");
        if (r == 0) {
            if (got == 0)
                return 0;
            fprintf(stderr, "short read\n");
            exit(1);
        }
        got += (size_t)r;
    }
    return 1;
}

static void write_all(int fd, const void *buf, size_t n)
{
    size_t done = 0;
    while (done < n) {
        ssize_t w = write(fd, (const char *)buf + done, n - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            die("write");
        done += (size_t)w;
    }
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void bounce(int in, int out, long n)
{
    char c = 0;
    for (long i = 0; i < n; i++) {
        write_all(out, &c, 1);
        if (!read_all(in, &c, 1))
            die("pingpong: end of file");
    }
}

static int pingpong(long n)
{
    int ping[2], pong[2];
    if (pipe(ping) < 0 || pipe(pong) < 0)
        die("pipe");

    pid_t pid = fork();
    if (pid < 0)
        die("fork");
    if (pid == 0) {
        // The echoing side: read a byte, send it back, until end of file.
        close(ping[1]);
        close(pong[0]);
        char c;
        while (read_all(ping[0], &c, 1))
            write_all(pong[1], &c, 1);
        _exit(0);
    }
    close(ping[0]);
    close(pong[1]);

    // A warm-up, so that both processes are running and their pages are
    // mapped before the clock starts.
    bounce(pong[0], ping[1], n / 10 + 1);
    int64_t t0 = now_ns();
    bounce(pong[0], ping[1], n);
    int64_t t1 = now_ns();

    close(ping[1]);
    if (waitpid(pid, NULL, 0) < 0)
        die("waitpid");
    printf("%lld\n", (long long)((t1 - t0) / n));
    return 0;
}

static int echo(void)
{
    size_t cap = 0;
    char *frame = NULL;
    unsigned char len[4];

    while (read_all(0, len, 4)) {
        size_t n = (size_t)len[0] << 24 | (size_t)len[1] << 16 |
                   (size_t)len[2] << 8 | len[3];
        if (4 + n > cap) {
            cap = 4 + n;
            frame = realloc(frame, cap);
            if (!frame)
                die("realloc");
        }
        memcpy(frame, len, 4);
        if (n > 0 && !read_all(0, frame + 4, n))
            die("echo: end of file in a frame");
        // Header and body in one write: one wakeup of the reader.
        write_all(1, frame, 4 + n);
    }
    free(frame);
    return 0;
}

int main(int argc, char *argv[])
{
    if (argc == 3 && strcmp(argv[1], "pingpong") == 0) {
        long n = strtol(argv[2], NULL, 10);
        if (n > 0)
            return pingpong(n);
    }
    if (argc == 2 && strcmp(argv[1], "echo") == 0)
        return echo();
    fprintf(stderr, "usage: pingpong pingpong N | pingpong echo\n");
    return 2;
}
