/* SPDX-License-Identifier: ISC */
#ifndef ALCOVE_SPAWN_H
#define ALCOVE_SPAWN_H

#include "core/alcove.h"

/* Fork (flags 0) or clone a child running the event loop, into the
 * cgroup v2 directory open at cgroup unless it is -1. Returns 0 in the
 * parent with *pid set, 1 in the child (already its own event loop), -1
 * with errno set (EAGAIN past maxchild or maxforkdepth). */
int spawn(alcove_t *ap, int64_t flags, int cgroup, pid_t *pid);

/* Clone a child (Linux) in the namespaces of flags that shares this
 * process's memory (CLONE_VM) until it execs, this process waiting
 * meanwhile (as for CLONE_VFORK, but watching upstream): fn(arg) runs in
 * it, its stdio on the pipes of a child, and it must exec or die. Unless
 * cgroup is -1, the child is born in the cgroup v2 directory open there
 * (clone3(2), x86_64: ENOTSUP elsewhere). Returns 0 once it did, with
 * *pid set and the child in the table, or -1 with errno set. */
int spawn_shared(alcove_t *ap, int64_t flags, int cgroup, int (*fn)(void *),
                 void *arg, pid_t *pid);

/* In the child of spawn_shared, while it runs: its end of its control
 * socket, and whether it sent its pty's master up it (pty/4), which its
 * parent then reads before it answers. Memory both share. */
extern int spawn_child_ctl;
extern bool spawn_child_pty;

/* The most arguments an execvp(3) of that child may pass: its stack is 1
 * MiB (spawn.c), and execvp may copy them there. */
#define SPAWN_ARGV_MAX 65536

#endif
