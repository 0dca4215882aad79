/* SPDX-License-Identifier: ISC */
/*
 * Regressions found by the fuzzer (fuzz/) and the sanitizer runs
 * (scripts/test-asan), one test each.
 */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "calls/calls.h"
#include "check.h"
#include "wire/frame.h"

/* Generous: a hang is what these tests catch, not a slow machine. */
#define WAIT_MS 30000
/* No process has this PID: pid_max is at most 2^22. */
#define NOPID 5000001

/* Found by the fuzzer (UBSan): stdin/3 with no data appended 0 bytes to a
 * buffer with no memory, computing NULL + 0 and calling memcpy(NULL, ..,
 * 0), both undefined. Only a sanitized build (make test-asan) sees the
 * difference: there the old code aborts here. */
static void test_append_nothing(void)
{
    abuf_t b = {0};
    CHECK(abuf_append(&b, "", 0) == 0);
    CHECK(b.data == NULL && b.len == 0 && b.cap == 0);
    CHECK(abuf_append(&b, "ab", 2) == 0);
    CHECK(abuf_append(&b, "", 0) == 0);
    CHECK(b.len == 2 && memcmp(abuf_head(&b), "ab", 2) == 0);
    abuf_free(&b);
}

/* Read what fd gives until EOF or WAIT_MS of silence; returns the bytes
 * read, and sets *eof. */
static size_t read_all(int fd, char *buf, size_t cap, bool *eof)
{
    size_t len = 0;
    *eof = false;
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, WAIT_MS) <= 0)
            return len;
        ssize_t n = read(fd, buf + len, cap - len);
        if (n <= 0) {
            *eof = n == 0;
            return len;
        }
        len += (size_t)n;
        if (len == cap)
            return len;
    }
}

static alcove_t loop_ap;

/* The port's state as alcove.c's main sets it, on descriptors 0 and 1. */
static void port_init(void)
{
    loop_ap.opt.maxchild = 64;
    loop_ap.opt.maxforkdepth = 16;
    loop_ap.opt.exit_status = 1;
    loop_ap.opt.termsig = 1;
    loop_ap.opt.flowcontrol = -1;
    loop_ap.opt.signaloneof = SIGTERM;
    loop_ap.up.ctl = -1;
    alcove_init(&loop_ap, STDIN_FILENO, STDOUT_FILENO);
}

/* The port's main loop, as alcove.c runs it. */
static void port_run(void) __attribute__((noreturn));
static void port_run(void)
{
    for (;;) {
        alcove_loop(&loop_ap);
        loop_ap.life.newchild = false;
    }
}

static size_t call_nr(const char *name)
{
    for (size_t i = 0; i < alcove_ncalls; i++)
        if (strcmp(alcove_calls[i].name, name) == 0)
            return i;
    abort();
}

/* Found while setting up make test-asan: requests and the end of the
 * port's stdin that arrive together (the VM writes a request and closes
 * the port) came as one edge-triggered event; the port read the request,
 * took the short read for "drained" and never read the EOF. It answered,
 * then waited forever instead of exiting. */
static void test_stdin_data_and_eof(void)
{
    int in[2], out[2];
    CHECK(pipe(in) == 0 && pipe(out) == 0);

    /* getpid, id 7, on the port: CALL id n=0 nr {} */
    char req[4 + 7 + 2 + 3];
    put32(req, sizeof(req) - 4);
    req[4] = MSG_CALL;
    put32(req + 5, 7);
    put16(req + 9, 0);
    put16(req + 11, (uint16_t)call_nr("getpid"));
    memcpy(req + 13, "\x83\x68\x00", 3); /* term_to_binary({}) */
    CHECK(write(in[1], req, sizeof(req)) == (ssize_t)sizeof(req));
    close(in[1]); /* all of it is there before the port starts */

    pid_t pid = fork();
    if (pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[0]);
        close(out[0]);
        close(out[1]);
        port_init();
        port_run();
    }
    close(in[0]);
    close(out[1]);

    char buf[256];
    bool eof;
    size_t n = read_all(out[0], buf, sizeof(buf), &eof);
    /* the reply: REPLY id=7 status=0 term=getpid() of the port */
    int idx = 10, version;
    long long v = 0;
    CHECK(n >= 10 && get32(buf) == n - 4 && buf[4] == MSG_REPLY &&
          get32(buf + 5) == 7 && buf[9] == 0);
    CHECK(n >= 10 && ei_decode_version(buf, &idx, &version) == 0 &&
          ei_decode_longlong(buf, &idx, &v) == 0 && (size_t)idx == n);
    CHECK(v == pid);
    /* then the port sees its stdin end and exits */
    CHECK(eof);
    if (!eof)
        kill(pid, SIGKILL);
    int st;
    CHECK(waitpid(pid, &st, 0) == pid);
    CHECK(eof ? WIFEXITED(st) && WEXITSTATUS(st) == 0 : true);
    close(out[0]);
}

/* The same on a child's control socket: a frame the child wrote just
 * before its socket closed (a reply, then exec) was passed on, but the
 * close was not seen, so exec never returned to its caller. Here the
 * child is an entry of the table with no process behind it. */
static void test_ctl_data_and_eof(void)
{
    int in[2], out[2], ctl[2];
    CHECK(pipe(in) == 0 && pipe(out) == 0);
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, ctl) == 0);

    /* an event from the child: EVENT n=0 term_to_binary(ok) */
    char ev[4 + 3 + 6];
    put32(ev, sizeof(ev) - 4);
    ev[4] = MSG_EVENT;
    put16(ev + 5, 0);
    memcpy(ev + 7, "\x83\x64\x00\x02ok", 6);
    CHECK(write(ctl[1], ev, sizeof(ev)) == (ssize_t)sizeof(ev));
    close(ctl[1]); /* all of it is there before the port starts */

    pid_t pid = fork();
    if (pid == 0) {
        int cin[2], cout[2], cerr[2];
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[0]);
        close(in[1]);
        close(out[0]);
        close(out[1]);
        if (pipe(cin) < 0 || pipe(cout) < 0 || pipe(cerr) < 0)
            _exit(2);
        port_init();
        child_add(&loop_ap, NOPID, ctl[0], cin[1], cout[0], cerr[0]);
        port_run();
    }
    close(ctl[0]);
    close(in[0]);
    close(out[1]);

    /* upstream: the event with the child's PID pushed, then CLOSED */
    char want[64];
    size_t wn = 0;
    put32(want, 3 + 4 + 6);
    want[4] = MSG_EVENT;
    put16(want + 5, 1);
    put32(want + 7, NOPID);
    memcpy(want + 11, "\x83\x64\x00\x02ok", 6);
    wn = 17;
    put32(want + wn, 3 + 4);
    want[wn + 4] = MSG_CLOSED;
    put16(want + wn + 5, 1);
    put32(want + wn + 7, NOPID);
    wn += 11;

    char buf[256];
    size_t n = 0;
    while (n < wn) {
        struct pollfd p = {.fd = out[0], .events = POLLIN};
        if (poll(&p, 1, WAIT_MS) <= 0)
            break;
        ssize_t r = read(out[0], buf + n, sizeof(buf) - n);
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    CHECK(n == wn && memcmp(buf, want, wn) == 0);

    kill(pid, SIGKILL);
    CHECK(waitpid(pid, NULL, 0) == pid);
    close(in[1]);
    close(out[0]);
}

int main(void)
{
    test_append_nothing();
    test_stdin_data_and_eof();
    test_ctl_data_and_eof();
    return DONE();
}
