/* SPDX-License-Identifier: ISC */
/* alcove: a port giving Erlang the Unix primitives of sandboxes. */
#include "alcove.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

static alcove_t ap;

static void usage(void)
{
    /* nothing to do if stderr is gone: the exit status says it */
    (void)fprintf(
        stderr,
        "usage: alcove [-c maxchild] [-d maxforkdepth] [-e exit_status]\n"
        "              [-t termsig] [-f flowcontrol] [-s signaloneof]\n"
        "Speaks the alcove protocol on stdin and stdout: start it with\n"
        "alcove_drv:start/0,1.\n");
    exit(2);
}

static int32_t number(const char *s)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < INT32_MIN || v > INT32_MAX)
        usage();
    return (int32_t)v;
}

int main(int argc, char *argv[])
{
    struct rlimit nofile = {0};
    int ch;

    (void)getrlimit(RLIMIT_NOFILE, &nofile);
    ap.maxchild = maxchild_of(nofile.rlim_cur == RLIM_INFINITY
                                  ? UINT64_MAX
                                  : (uint64_t)nofile.rlim_cur);
    ap.maxforkdepth = 16;
    ap.exit_status = 1;
    ap.termsig = 1;
    ap.flowcontrol = -1;
    ap.signaloneof = SIGTERM;

    while ((ch = getopt(argc, argv, "c:d:e:t:f:s:")) != -1) {
        switch (ch) {
        case 'c':
            ap.maxchild = number(optarg);
            break;
        case 'd':
            ap.maxforkdepth = number(optarg);
            break;
        case 'e':
            ap.exit_status = number(optarg);
            break;
        case 't':
            ap.termsig = number(optarg);
            break;
        case 'f':
            ap.flowcontrol = number(optarg);
            break;
        case 's':
            ap.signaloneof = number(optarg);
            break;
        default:
            usage();
        }
    }

    /* 0, 1 and 2 must be taken, or a pipe could land on them */
    for (int fd = 0; fd < 3; fd++)
        if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", O_RDWR) != fd)
            return DIE_SYS;

    alcove_init(&ap);
    for (;;) {
        alcove_loop(&ap);
        ap.newchild = false;
    }
}
