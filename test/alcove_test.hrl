%% SPDX-License-Identifier: ISC
%% Values the suites share (their helpers are in alcove_test.erl).

%% How long a case waits for a reply or an event, in ms.
-define(WAIT, 5000).
%% No process has this PID: pid_max is at most 2^22.
-define(NO_SUCH_PID, 16#7fffffff).
-define(MIB, (1024 * 1024)).
