/* SPDX-License-Identifier: ISC */
/*
 * The state of one alcove process: the port itself or any child that
 * runs the event loop. Each process holds its upstream channel (the
 * port's stdin/stdout, or a child's control socket), its children with
 * their control sockets and stdio pipes, and the options of getopt/3.
 * alcove_t keeps each file's state in a sub-structure of its own.
 *
 * The one header of core/: its functions are declared below in
 * sections, each named after the file that defines them (reexec.h and
 * spawn.h declare their own).
 */
#ifndef ALCOVE_H
#define ALCOVE_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

#include <ei.h>

#include "wire/frame.h"

/* How many bytes one read takes from a child's stdout or stderr. */
#define READ_CHUNK (1024 * 1024)
/* A read at least this large makes the next go upstream by splice(2). */
#define SPLICE_MIN (32 * 1024)
/* A pipe that streams is grown to this size (F_SETPIPE_SZ), so that a
 * read or write moves up to a MiB instead of 64 KiB. The kernel counts
 * pipe memory per user and gives new pipes a single page past a limit:
 * only PIPE_GROW_MAX pipes of a process are grown at a time. */
#define PIPE_BIG (1024 * 1024)
/* What an empty buffer keeps: see abuf_trim. */
#define KEEP_CHILD (64 * 1024)
#define KEEP_UP (4 * 1024 * 1024)
#define PIPE_GROW_MAX 16
/* Past this many bytes queued upstream, children are not read until it
 * drains below LOW_WATER: the port's memory stays bounded whatever the
 * children write. */
#define HIGH_WATER (4 * 1024 * 1024)
#define LOW_WATER (1024 * 1024)

typedef enum {
    FD_UP_IN,  /* requests from upstream */
    FD_UP_OUT, /* replies and data to upstream */
    FD_SIGNAL, /* the signal self-pipe */
    FD_CTL,    /* a child's control socket */
    FD_STDIN,  /* a child's stdin pipe */
    FD_STDOUT, /* a child's stdout pipe */
    FD_STDERR, /* a child's stderr pipe */
    FD_NOTIFY, /* a child's seccomp listener (notify.c) */
} fdkind_t;

struct child;

/* A descriptor watched by the event loop. Readiness is edge-triggered:
 * it is latched here and cleared when a read or write would block. */
typedef struct fdref {
    int fd;
    uint32_t events; /* registered with epoll: EPOLLOUT only while blocked */
    uint8_t kind;
    bool readable;
    bool writable;
    bool queued; /* on the ready queue or the parked list */
    bool hup;    /* the writer is gone: read until EOF, short reads too */
    bool big;    /* its last read was large: splice the next (upstream.c) */
    struct child *child;
    struct fdref *next; /* ready queue link */
} fdref_t;

/* Bytes waiting to be written to one descriptor. */
typedef struct obuf {
    abuf_t b;
    fdref_t *ref;
    bool dirty;
    struct obuf *next; /* dirty list link */
} obuf_t;

/* A stdin write waiting for its bytes to reach the pipe. */
typedef struct {
    uint32_t id;
    uint64_t end; /* stdin_total once the write is in the pipe */
} stdin_ack_t;

typedef struct child {
    pid_t pid;
    int32_t flowcontrol;
    int32_t signaloneof;
    fdref_t ctl, in, out, err;
    fdref_t notify; /* its seccomp listener, if it sent one (notify.c) */
    int passed;     /* a descriptor received, until the PTY or LISTENER
                     * frame sent with it takes it (child_io.c) */
    abuf_t ctl_in;
    obuf_t ctl_out, stdin_out;
    stdin_ack_t *acks;
    size_t nacks, capacks;
    uint64_t stdin_total;   /* bytes queued for stdin, ever */
    uint64_t stdin_written; /* bytes written to the pipe, ever */
    bool eof_pending;
    bool eof_answer; /* eof_id waits for an answer (none in a sequence) */
    uint32_t eof_id;
    bool exited;
    bool in_grown, out_grown; /* pipes grown to PIPE_BIG */
    bool in_loop;             /* at shutdown: still running the event loop */
    bool pty;                 /* stdin and stdout are a pty's master */
    int status;
    struct rusage ru;          /* of wait4(2), for the exit report */
    struct child *hnext;       /* hash chain */
    struct child *prev, *next; /* in fork order */
} child_t;

/* The payload of an upstream frame, moved by splice(2) from a child's pipe
 * into this loop's own pipe (spipe), then to the upstream descriptor once
 * the first `before` bytes of up.obuf, its header last, are written. src
 * is that child's pipe, not read meanwhile. */
typedef struct {
    fdref_t *src;
    size_t before;
    size_t left;
} upsplice_t;

/* The children tables of the processes this one was forked from. */
typedef struct inherited {
    child_t *first;
    child_t **bucket;
    struct inherited *older;
} inherited_t;

/* Options: getopt/3, setopt/4, and filter/3,4's sets. A child starts
 * with its parent's (child_filter becoming its filter). */
typedef struct {
    int32_t maxchild;
    int32_t maxforkdepth;
    int32_t exit_status;
    int32_t termsig;
    int32_t flowcontrol;
    int32_t signaloneof;
    int32_t exit_report;
    uint8_t filter[32];       /* calls forbidden here */
    uint8_t child_filter[32]; /* calls forbidden in new children */
} alcove_opt_t;

/* event.c: the epoll set, the ready queue, the parked list and the
 * buffers to flush this turn. */
typedef struct {
    int epfd;
    fdref_t *rq_head, *rq_tail;     /* ready to read */
    fdref_t *park_head, *park_tail; /* ready, but upstream is full */
    obuf_t *dirty;
} alcove_ev_t;

/* upstream.c: the upstream channel, its buffers and splice. */
typedef struct {
    fdref_t in, out;
    abuf_t ibuf;
    obuf_t obuf;
    bool closed;
    int ctl;           /* the port's control connection: reexec.h */
    bool can_splice;   /* upstream is a pipe or a socket: splice(2) to it */
    upsplice_t splice; /* at most one at a time */
    int spipe[2];      /* holds the payload: only this process reads it */
} alcove_up_t;

/* sig.c: the signal self-pipe and the user's dispositions. */
typedef struct {
    int pipe[2];
    fdref_t ref;
    sigdisp_t disp[NSIG];
    bool up_async; /* F_SETOWN and F_SETSIG done: see sig_block_calls */
    int up_flags;  /* upstream's file status flags, O_ASYNC off */
} alcove_sig_t;

/* children.c: the children table. */
typedef struct {
    child_t **bucket;
    size_t nbucket;
    size_t n;
    child_t *first, *last;
    inherited_t *inherited;
} alcove_kids_t;

/* fdspace.c: where this loop's descriptors are, and its pipes grown. */
typedef struct {
    int base;        /* this loop's descriptors are here and above */
    bool fork_fast;  /* and only they: see fdspace.c */
    bool fork_never; /* not even probed: a filter may deny the probe */
    int pipes_grown;
} alcove_fds_t;

/* lifecycle.c: whether the loop goes on. */
typedef struct {
    bool newchild; /* this process was just forked: restart the loop */
    bool leaving;  /* exit/3 was called */
    bool spawned;  /* the child of spawn/4, on a copy of its parent's
                      state, sharing its memory until it execs */
    bool execing;  /* spawned: its exec is under way */
    int status;    /* of exit/3 */
} alcove_life_t;

typedef struct alcove {
    int depth; /* length of the fork chain to this process */
    pid_t pid;
    pid_t ppid; /* the parent, as seen when forked */

    alcove_opt_t opt;
    alcove_ev_t ev;
    alcove_up_t up;
    alcove_sig_t sig;
    alcove_kids_t kids;
    alcove_fds_t fds;
    alcove_life_t life;

    ei_x_buff x;     /* the reply being built: dispatch.c */
    uint32_t req_id; /* the request being run */

    char *title;     /* the arguments' memory, for setproctitle/3 */
    size_t titlelen; /* its length, the last NUL included */
} alcove_t;

/* fdspace.c: a loop's own descriptors are kept at FD_BASE and above */
#define FD_BASE 256
void fdspace_init(alcove_t *ap, const int *own, size_t nown);
void fd_placeholders(void);
int fd_high(alcove_t *ap, int fd);
void fd_note(alcove_t *ap, int64_t fd);
void fd_probe(alcove_t *ap);
int fdspace_unshare(const alcove_t *ap);
/* Is fd one of the loop's own (upstream, epoll, the signal and splice
 * pipes, a child's control socket or stdio)? */
bool fd_internal(alcove_t *ap, int64_t fd);
/* Grow the pipe fd to PIPE_BIG, once (*grown) and for at most
 * PIPE_GROW_MAX pipes of this process: true if it was grown now. */
bool pipe_grow(alcove_t *ap, int fd, bool *grown);

/* event.c: the event core */
int set_nonblock(int fd);
void fd_watch(alcove_t *ap, fdref_t *r, uint32_t events);
void fd_want_out(alcove_t *ap, fdref_t *r, bool on);
/* Close a watched descriptor (it leaves the epoll set) and mark it so. */
void ref_close(fdref_t *r);
void rq_push(alcove_t *ap, fdref_t *r);
/* Take r off the ready queue or the parked list, wherever it is. */
void rq_drop(alcove_t *ap, fdref_t *r);
/* o has bytes to write: flushed at the end of this turn. */
void obuf_mark(alcove_t *ap, obuf_t *o);
void obuf_unmark(alcove_t *ap, obuf_t *o);
/* The event loop on the upstream channel in, out; fresh: a new image,
 * whose signal handlers are set (sig_init). */
void loop_init(alcove_t *ap, int in, int out, bool fresh);
/* Runs until this process is a new child (0: the caller runs it again)
 * or exits. */
int alcove_loop(alcove_t *ap);

/* upstream.c: the upstream channel, the writer, splice */
void up_watch(alcove_t *ap, int in, int out);
/* Read requests from upstream and run or route each whole frame. */
void up_read(alcove_t *ap);
int up_frames(alcove_t *ap);
/* A frame of type for the child pid, with n bytes of payload p. */
void send_up(alcove_t *ap, uint8_t type, pid_t pid, const char *p, size_t n);
void send_event(alcove_t *ap, ei_x_buff *x);
/* A payload of the pipe r of child c moved into spipe, to go upstream
 * by splice(2); false: read r as usual. */
bool stdio_splice(alcove_t *ap, child_t *c, fdref_t *r);
/* The pipe r (any, if NULL) may close: what was spliced from it is in
 * spipe and still goes upstream. */
void splice_release(alcove_t *ap, const fdref_t *r);
/* Write what o holds (and, upstream, a spliced payload where it
 * belongs); 0 when empty or blocked, -1 when the reader is gone. */
int obuf_flush(alcove_t *ap, obuf_t *o);
/* The same, waiting until all is written: -1 when the reader is gone. */
int flush_blocking(alcove_t *ap, obuf_t *o);

/* children.c: the children table */
child_t *child_get(alcove_t *ap, pid_t pid);
child_t *child_add(alcove_t *ap, pid_t pid, int ctl, int in, int out, int err);
void child_del(alcove_t *ap, child_t *c);
void child_closefds(child_t *c);
/* The child whose stdin (0), stdout (1) or stderr (2) is fd here. */
child_t *child_stdio(alcove_t *ap, int64_t fd, int *stream);
/* In a new child: an empty table, the parent's kept in ap->kids.inherited. */
void children_forget(alcove_t *ap);

/* child_io.c: a child's control socket and stdio */
void child_read(alcove_t *ap, fdref_t *r);
/* Bytes reached the stdin pipe (or never will): answer the writes that
 * are done, and close stdin if eof/3 asked for it. */
void child_wrote(alcove_t *ap, child_t *c);
/* eof/3 on stream 0, 1 or 2: 0 when done (or to be), else an errno;
 * request id is answered then when answer is set. c may be freed. */
int child_eof(alcove_t *ap, child_t *c, int stream, uint32_t id, bool answer);
/* Read what a dead child left in its control socket and pipes. */
void child_drain(alcove_t *ap, child_t *c);
/* Read the control socket of c now: what a child of spawn/4 sent
 * before its exec (its pty's master). */
void child_read_ctl(alcove_t *ap, child_t *c);

/* notify.c: seccomp listeners of children, watched here */
/* The LISTENER frame of c arrived: watch the listener received with it. */
void notify_adopt(alcove_t *ap, child_t *c);
/* Read one notification of c's listener: true if there may be more. */
bool notify_read(alcove_t *ap, child_t *c);
/* Stop watching c's listener, and say so upstream. */
void notify_close(alcove_t *ap, child_t *c);
/* In a child: send the listener fd to the parent's loop (LISTENER with
 * SCM_RIGHTS, after what upstream holds); 0, or -1 and errno. */
int notify_send(alcove_t *ap, int fd);

/* lifecycle.c: start, fork, reaping, exit */
void alcove_init(alcove_t *ap, int in, int out);
/* Called in a new child, with its control socket: drop everything that
 * belongs to the parent and start over as a child's event loop. */
void alcove_become_child(alcove_t *ap, int ctl, bool unshared);
/* A control process must not outlive its parent. The kernel forgets
 * this on every change of credentials, so dispatch calls this again
 * after each call the table flags creds (setuid and its kin). In a new
 * PID namespace the parent is not visible (getppid() is 0). */
void pdeathsig_arm(alcove_t *ap);
/* The child pid was reaped with status: a stop is no exit; an exit is
 * reported once the child's output is all read. */
void child_reaped(alcove_t *ap, pid_t pid, int status,
                  const struct rusage *ru);
/* Reap every child that has exited (SIGCHLD). */
void child_reap(alcove_t *ap);
/* c exited and all it wrote is read: report its exit, forget it. */
void child_finish(alcove_t *ap, child_t *c);
/* Stop every child and wait for them.
 *
 * Programs get their signaloneof signal and, SHUTDOWN_MS later, SIGKILL.
 * Event loop children see their control socket close and do the same
 * for their own children, so they are given longer, the more so the
 * higher in the tree: a parent that killed them first would orphan
 * their children.
 *
 * Async-signal-safe: upstream gone during a blocking call, the SIGIO
 * handler (sig.c) runs it. So it allocates nothing and changes no list:
 * a child found dead is only marked. */
void stop_children(alcove_t *ap);
/* Stop every child, send what is left upstream and exit. */
void alcove_shutdown(alcove_t *ap) __attribute__((noreturn));

/* call_id.c: the children (ulimit -n) / 4 - 4 allows */
int32_t maxchild_of(uint64_t nofile);

/* opt.c: the options of getopt/3 and setopt/4, one field of alcove_t
 * each, listed in gen/facts.eterm (ALCOVE_OPTIONS). */
#define OPT_ENUM(name, flag) OPT_##name,
typedef enum { ALCOVE_OPTIONS(OPT_ENUM) OPT_COUNT } opt_t;
#undef OPT_ENUM
/* The option of a name, or of a command line flag; -1 if none. */
int opt_by_name(const char *name);
int opt_by_flag(int flag);
int32_t *opt_field(alcove_t *ap, opt_t o);
/* Does the option take this value? */
bool opt_valid(opt_t o, int64_t v);

/* sig.c */
int sig_init(alcove_t *ap, bool fresh);
void sig_read(alcove_t *ap);
int sig_set(alcove_t *ap, int signum, sigdisp_t disp);
void sig_reset(alcove_t *ap);
void sig_default(const alcove_t *ap);
void sig_restore(alcove_t *ap);
void sig_block_calls(alcove_t *ap, bool on);

/* dispatch.c */
void dispatch(alcove_t *ap, const down_hdr_t *h);
void dispatch_short(alcove_t *ap, const char *body, uint32_t len);
void reply_ok_to(alcove_t *ap, uint32_t id);

/* die.c: code is one of DIE_* (gen/facts.eterm), a broken invariant */
void die(int code, const char *why) __attribute__((noreturn));

#endif
