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
 * The numbers (enum alcove_status) are generated from gen/facts.eterm,
 * as are those src/alcove_drv.erl decodes. test/alcove_hostile_SUITE
 * checks each status byte end to end, in the replies to frames written
 * to the port; test/alcove_call_SUITE what a caller of alcove sees for
 * badpid, undef and enotsup.
 */
#ifndef ALCOVE_REPLY_H
#define ALCOVE_REPLY_H

#include "gen/alcove_facts.h"

#endif
