/* SPDX-License-Identifier: ISC */
/*
 * An event loop that execs the alcove program again stays the same
 * process of the fork chain: its upstream channel is kept open across
 * exec(2) and what the new image needs to go on (its place in the chain,
 * its filters, options and signal choices, the requests read but not yet
 * run, the id of the exec request to answer) is handed over in a memfd
 * at REEXEC_FD.
 *
 * The port (depth 0) also holds a control connection to the driver
 * (hello/3): when it execs, the driver holds back the output that
 * follows MSG_EXEC until that connection says how the exec ended:
 * CTL_FAILED (the port goes on), CTL_REEXEC (alcove again, goes on), or
 * end of file (another program replaced the port: its output is raw).
 * Those bytes and the secret's length (CTL_SECRET_LEN) are in
 * gen/facts.eterm, shared with alcove_drv.
 */
#ifndef ALCOVE_REEXEC_H
#define ALCOVE_REEXEC_H

#include "core/alcove.h"

/* Below FD_BASE, above what programs commonly open. */
#define REEXEC_FD 255

/* Is the program at path (looked up in PATH if search and it has no
 * slash), or open at fd, an alcove image? It is if its ELF notes hold
 * the one this program carries. */
bool reexec_is_alcove_path(const char *path, bool search);
bool reexec_is_alcove_fd(int fd);

/* Before an exec of alcove by the request id: keep the upstream channel
 * open across exec and write the handover to REEXEC_FD. -1 on failure,
 * with nothing changed. */
int reexec_prepare(alcove_t *ap, uint32_t id);
/* After that exec failed: as before reexec_prepare. */
void reexec_undo(alcove_t *ap);

/* What a re-exec'd image takes over besides what goes into alcove_t. */
typedef struct {
    int in, out;             /* upstream */
    uint32_t id;             /* the exec request, answered ok */
    sigdisp_t sigdisp[NSIG]; /* the user's choices, applied once the
                                loop's signals are set up */
} reexec_t;

/* At start: take over from the image that exec'd this one, if any; true
 * if this is a re-exec. */
bool reexec_resume(alcove_t *ap, reexec_t *r);

/* The port's control connection to the driver: connect to the abstract
 * socket named in MSG_HELLO and prove who it is with the secret. */
void ctl_hello(alcove_t *ap, const char *body, size_t len);
/* Tell the driver how an exec of the port ended. */
void ctl_say(alcove_t *ap, char what);

#endif
