/* SPDX-License-Identifier: ISC */
/* alcove: a port giving Erlang the Unix primitives of sandboxes. */
#include "core/alcove.h"
#include "core/reexec.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static alcove_t ap;

static void usage(void)
{
    /* nothing to do if stderr is gone: the exit status says it */
    (void)fprintf(
        stderr,
        "usage: alcove " ALCOVE_OPTUSAGE "\n"
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

/* argv's strings lie one after the other from argv[0]: the room
 * setproctitle/3 writes in. */
static void title(int argc, char *argv[])
{
    char *end = argv[0];
    for (int i = 0; i < argc; i++) {
        char *past = argv[i] + strlen(argv[i]) + 1;
        if (past > end)
            end = past;
    }
    ap.title = argv[0];
    ap.titlelen = (size_t)(end - argv[0]);
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

    while ((ch = getopt(argc, argv, ALCOVE_OPTSTRING)) != -1) {
        int o = opt_by_flag(ch);
        if (o >= 0)
            *opt_field(&ap, o) = number(optarg);
        else if (ch == ALCOVE_OPTFLAG_DEPTH)
            /* the place in the chain comes with the handover: reexec.h */
            (void)number(optarg);
        else
            usage();
    }

    ap.upctl = -1;
    title(argc, argv);
    /* 0, 1 and 2 must be taken, or a pipe could land on them */
    for (int fd = 0; fd < 3; fd++)
        if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", O_RDWR) != fd)
            return DIE_SYS;
    /* an exec of alcove by an event loop: go on as that process */
    reexec_t r = {.in = STDIN_FILENO, .out = STDOUT_FILENO};
    bool again = reexec_resume(&ap, &r);
    /* 3, 4 and 5 are taken as in the reference's layout */
    fd_placeholders();
    /* the event loop on its upstream channel */
    alcove_init(&ap, r.in, r.out);
    if (again) {
        /* the user's signal choices, the parent's death signal */
        for (int i = 1; i < NSIG; i++)
            if (r.sigdisp[i] != ap.sigdisp[i])
                (void)sig_set(&ap, i, r.sigdisp[i]);
        pdeathsig_arm(&ap);
        /* the exec succeeded: say so */
        if (ap.depth == 0)
            ctl_say(&ap, CTL_REEXEC);
        reply_ok_to(&ap, r.id);
    }
    for (;;) {
        alcove_loop(&ap);
        ap.newchild = false;
    }
}
