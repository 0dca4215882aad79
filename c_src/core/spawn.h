/* SPDX-License-Identifier: ISC */
#ifndef ALCOVE_SPAWN_H
#define ALCOVE_SPAWN_H

#include "core/alcove.h"

/* Fork (flags 0) or clone a child running the event loop. Returns 0 in
 * the parent with *pid set, 1 in the child (already its own event loop),
 * -1 with errno set (EAGAIN past maxchild or maxforkdepth). */
int spawn(alcove_t *ap, int64_t flags, pid_t *pid);

#endif
