/* SPDX-License-Identifier: ISC */
#include "core/alcove.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* The only way out of the event loop on error: an invariant is broken
 * (no memory, a descriptor the loop owns is gone, a frame that cannot be
 * resynchronised). Children notice through their control sockets. */
void die(int code, const char *why)
{
    /* best effort: the exit code alone says what broke */
    (void)fprintf(stderr, "alcove[%d]: %s\n", (int)getpid(), why);
    _exit(code);
}
