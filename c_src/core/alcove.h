/* SPDX-License-Identifier: ISC */
/*
 * The state of one alcove process: the port itself or any child that
 * runs the event loop. Each process holds its upstream channel (the
 * port's stdin/stdout, or a child's control socket), its children with
 * their control sockets and stdio pipes, and the options of getopt/3.
 */
#ifndef ALCOVE_H
#define ALCOVE_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
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
    bool big;    /* its last read was large: splice the next (child.c) */
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
    abuf_t ctl_in;
    obuf_t ctl_out, stdin_out;
    stdin_ack_t *acks;
    size_t nacks, capacks;
    uint64_t stdin_total;   /* bytes queued for stdin, ever */
    uint64_t stdin_written; /* bytes written to the pipe, ever */
    bool eof_pending;
    uint32_t eof_id;
    bool exited;
    bool in_grown, out_grown; /* pipes grown to PIPE_BIG */
    bool in_loop;             /* at shutdown: still running the event loop */
    int status;
    struct child *hnext;       /* hash chain */
    struct child *prev, *next; /* in fork order */
} child_t;

/* The payload of an upstream frame, moved by splice(2) from a child's pipe
 * into this loop's own pipe (spipe), then to the upstream descriptor once
 * the first `before` bytes of up_obuf, its header last, are written. src
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

typedef struct alcove {
    int depth; /* length of the fork chain to this process */
    pid_t pid;
    pid_t ppid; /* the parent, as seen when forked */

    /* options: getopt/3, setopt/4 */
    int32_t maxchild;
    int32_t maxforkdepth;
    int32_t exit_status;
    int32_t termsig;
    int32_t flowcontrol;
    int32_t signaloneof;

    uint8_t filter[32];       /* calls forbidden here */
    uint8_t child_filter[32]; /* calls forbidden in new children */

    int epfd;
    int sigpipe[2];
    fdref_t up_in, up_out, sigref;
    abuf_t up_ibuf;
    obuf_t up_obuf;
    bool up_closed;
    int upctl;         /* the port's control connection: reexec.h */
    uint32_t req_id;   /* the request being run */
    bool up_async;     /* F_SETOWN and F_SETSIG done: see sig_block_calls */
    int up_flags;      /* its file status flags, O_ASYNC off */
    bool up_splice;    /* upstream is a pipe or a socket: splice(2) to it */
    upsplice_t splice; /* at most one at a time */
    int spipe[2];      /* holds the payload: only this process reads it */

    child_t **bucket;
    size_t nbucket;
    size_t nchild;
    child_t *first, *last;
    inherited_t *inherited;

    fdref_t *rq_head, *rq_tail;     /* ready to read */
    fdref_t *park_head, *park_tail; /* ready, but upstream is full */
    obuf_t *dirty;

    sigdisp_t sigdisp[NSIG];

    ei_x_buff x; /* the reply being built */

    int pipes_grown;

    char *title;     /* the arguments' memory, for setproctitle/3 */
    size_t titlelen; /* its length, the last NUL included */

    int fd_base;     /* this loop's descriptors are here and above */
    bool fork_fast;  /* and only they: see fdspace.c */
    bool fork_never; /* not even probed: a filter may deny the probe */

    bool newchild; /* this process was just forked: restart the loop */
    bool leaving;  /* exit/1 was called */
    int leave_status;
} alcove_t;

/* fdspace.c: a loop's own descriptors are kept at FD_BASE and above */
#define FD_BASE 256
void fdspace_init(alcove_t *ap, const int *own, size_t nown);
void fd_placeholders(void);
int fd_high(alcove_t *ap, int fd);
void fd_note(alcove_t *ap, int64_t fd);
void fd_probe(alcove_t *ap);
int fdspace_unshare(const alcove_t *ap);

/* loop.c */
void alcove_init(alcove_t *ap, int in, int out);
int alcove_loop(alcove_t *ap);
void alcove_become_child(alcove_t *ap, int ctl, bool unshared);
void pdeathsig_arm(alcove_t *ap);
void alcove_shutdown(alcove_t *ap) __attribute__((noreturn));
void stop_children(alcove_t *ap);
void obuf_mark(alcove_t *ap, obuf_t *o);
bool pipe_grow(alcove_t *ap, int fd, bool *grown);
void fd_watch(alcove_t *ap, fdref_t *r, uint32_t events);
void rq_push(alcove_t *ap, fdref_t *r);
int flush_blocking(alcove_t *ap, obuf_t *o);
void send_event(alcove_t *ap, ei_x_buff *x);

/* child.c */
child_t *child_get(alcove_t *ap, pid_t pid);
child_t *child_add(alcove_t *ap, pid_t pid, int ctl, int in, int out, int err);
void child_del(alcove_t *ap, child_t *c);
void child_reap(alcove_t *ap);
void child_reaped(alcove_t *ap, pid_t pid, int status);
void child_read(alcove_t *ap, fdref_t *r);
void child_wrote(alcove_t *ap, child_t *c);
/* eof/3 on stream 0, 1 or 2: 0 when answered (or to be), else an errno.
 * c may be freed. */
int child_eof(alcove_t *ap, child_t *c, int stream, uint32_t id);
void child_finish(alcove_t *ap, child_t *c);
void child_closefds(child_t *c);
bool fd_internal(alcove_t *ap, int64_t fd);
/* The child whose stdin (0), stdout (1) or stderr (2) is fd here. */
child_t *child_stdio(alcove_t *ap, int64_t fd, int *stream);

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
void sig_restore(alcove_t *ap);
void sig_block_calls(alcove_t *ap, bool on);

/* dispatch.c */
void dispatch(alcove_t *ap, const down_hdr_t *h);
int up_frames(alcove_t *ap);
void dispatch_short(alcove_t *ap, const char *body, uint32_t len);
void reply_ok_to(alcove_t *ap, uint32_t id);
int set_nonblock(int fd);

/* die.c: code is one of DIE_* (gen/facts.eterm), a broken invariant */
void die(int code, const char *why) __attribute__((noreturn));

#endif
