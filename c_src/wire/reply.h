/* SPDX-License-Identifier: ISC */
/*
 * The reply contract: what a caller sees for each way a request can end.
 * A reply frame carries a status byte; only ALCOVE_OK carries a term.
 *
 *   ALCOVE_OK      the call ran: the term is its result, and a failed
 *                  system call is the term {error, Errno}; a constant
 *                  the platform lacks is {error, enotsup}.
 *   ALCOVE_BADARG  the arguments failed to decode: erlang:error(badarg)
 *   ALCOVE_BADPID  the fork chain names no process in the event loop:
 *                  erlang:error(badpid)
 *   ALCOVE_UNDEF   the call is forbidden by filter/3,4, or the process
 *                  has no such call: erlang:error(undef)
 *
 * src/alcove_drv.erl decodes the same numbers; test/alcove_errors_SUITE
 * checks each of them end to end.
 */
#ifndef ALCOVE_REPLY_H
#define ALCOVE_REPLY_H

enum alcove_status {
    ALCOVE_OK = 0,
    ALCOVE_BADARG = 1,
    ALCOVE_BADPID = 2,
    ALCOVE_UNDEF = 3,
};

#endif
