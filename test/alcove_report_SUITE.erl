%% SPDX-License-Identifier: ISC
%% Exit reports (the option exit_report, not the reference's): after a
%% child's exit event, {exit_report, Map} with how it ended and the
%% usage wait4(2) gives; nothing when the option is off.
-module(alcove_report_SUITE).

-include_lib("common_test/include/ct.hrl").

-export([all/0, suite/0]).
-export([
    off_by_default/1,
    exit_and_usage/1,
    peak_memory/1,
    killed/1,
    without_exit_event/1,
    inherited/1,
    reaped_by_waitpid/1,
    start_option/1,
    bad_values/1
]).

-define(WAIT, 10000).
-define(SH, "/bin/sh").

suite() ->
    [{timetrap, {seconds, 60}}, {ct_hooks, [{alcove_test, [port]}]}].

all() ->
    [off_by_default, exit_and_usage, peak_memory, killed, without_exit_event,
     inherited, reaped_by_waitpid, start_option, bad_values].

%%% Test cases

%% The reference's events only: the exit event, then nothing.
off_by_default(Config) ->
    Drv = ?config(drv, Config),
    0 = alcove:getopt(Drv, [], exit_report),
    {ok, C} = alcove:fork(Drv, []),
    ok = alcove:exit(Drv, [C], 3),
    {exit_status, 3} = alcove:event(Drv, [C], ?WAIT),
    false = alcove:event(Drv, [C], 500).

%% A program that spins for a while: its status, and CPU time that the
%% kernel counted (more than the 20 ms it spun at least).
exit_and_usage(Config) ->
    Drv = ?config(drv, Config),
    true = alcove:setopt(Drv, [], exit_report, 1),
    {ok, C} = alcove:fork(Drv, []),
    ok = alcove:execvp(Drv, [C], ?SH,
                       [?SH, "-c", "i=0; while [ $i -lt 100000 ]; do i=$((i+1)); done; exit 5"]),
    {exit_status, 5} = alcove:event(Drv, [C], ?WAIT),
    {exit_report, #{status := {exit_status, 5}, utime := U, stime := S,
                    maxrss := Rss, nvcsw := _, nivcsw := _, minflt := Min,
                    majflt := _, inblock := _, oublock := _} = R} =
        alcove:event(Drv, [C], ?WAIT),
    10 = map_size(R),
    true = U + S > 20000,
    true = Rss > 0,
    true = Min > 0.

%% Peak memory: a program that touches 64 MiB has a maxrss of at least
%% that (in KiB), one that touches little far less.
peak_memory(Config) ->
    Drv = ?config(drv, Config),
    true = alcove:setopt(Drv, [], exit_report, 1),
    Big = maxrss(Drv, "x=$(head -c 67108864 /dev/zero | tr '\\0' a); exit 0"),
    Small = maxrss(Drv, "exit 0"),
    ct:pal("maxrss: ~p KiB, then ~p KiB", [Big, Small]),
    true = Big >= 65536,
    true = Small < 16384.

maxrss(Drv, Script) ->
    {ok, C} = alcove:fork(Drv, []),
    ok = alcove:execvp(Drv, [C], "/bin/bash", ["/bin/bash", "-c", Script]),
    {exit_status, 0} = alcove:event(Drv, [C], ?WAIT),
    {exit_report, #{maxrss := KiB}} = alcove:event(Drv, [C], ?WAIT),
    KiB.

%% A child killed by a signal: the report names it.
killed(Config) ->
    Drv = ?config(drv, Config),
    true = alcove:setopt(Drv, [], exit_report, 1),
    {ok, C} = alcove:fork(Drv, []),
    ok = alcove:execvp(Drv, [C], "sleep", ["sleep", "100"]),
    ok = alcove:kill(Drv, [], C, 9),
    {termsig, sigkill} = alcove:event(Drv, [C], ?WAIT),
    {exit_report, #{status := {termsig, sigkill}}} = alcove:event(Drv, [C], ?WAIT).

%% The report comes even when the reference's exit events are off.
without_exit_event(Config) ->
    Drv = ?config(drv, Config),
    true = alcove:setopt(Drv, [], exit_report, 1),
    true = alcove:setopt(Drv, [], exit_status, 0),
    true = alcove:setopt(Drv, [], termsig, 0),
    {ok, C} = alcove:fork(Drv, []),
    ok = alcove:exit(Drv, [C], 7),
    {exit_report, #{status := {exit_status, 7}}} = alcove:event(Drv, [C], ?WAIT),
    false = alcove:event(Drv, [C], 500).

%% Children inherit the option, as the others: a grandchild's report
%% comes from its parent, which is not the port.
inherited(Config) ->
    Drv = ?config(drv, Config),
    true = alcove:setopt(Drv, [], exit_report, 1),
    {ok, C} = alcove:fork(Drv, []),
    1 = alcove:getopt(Drv, [C], exit_report),
    {ok, G} = alcove:fork(Drv, [C]),
    ok = alcove:exit(Drv, [C, G], 0),
    {exit_status, 0} = alcove:event(Drv, [C, G], ?WAIT),
    {exit_report, #{status := {exit_status, 0}}} = alcove:event(Drv, [C, G], ?WAIT),
    %% set off in the child: its own children have none
    true = alcove:setopt(Drv, [C], exit_report, 0),
    {ok, G2} = alcove:fork(Drv, [C]),
    ok = alcove:exit(Drv, [C, G2], 0),
    {exit_status, 0} = alcove:event(Drv, [C, G2], ?WAIT),
    false = alcove:event(Drv, [C, G2], 500).

%% A child reaped by the caller's waitpid/4 still gets its report. The
%% caller reaps under sig_info only: else the loop may reap it first.
reaped_by_waitpid(Config) ->
    Drv = ?config(drv, Config),
    true = alcove:setopt(Drv, [], exit_report, 1),
    {ok, _} = alcove:sigaction(Drv, [], sigchld, sig_info),
    {ok, C} = alcove:fork(Drv, []),
    ok = alcove:execvp(Drv, [C], ?SH, [?SH, "-c", "exit 9"]),
    {ok, C, _, [{exit_status, 9}]} = alcove:waitpid(Drv, [], C, 0),
    {exit_status, 9} = alcove:event(Drv, [C], ?WAIT),
    {exit_report, #{status := {exit_status, 9}}} = alcove:event(Drv, [C], ?WAIT).

%% The port started with the option set.
start_option(Config) ->
    {ok, Drv} = alcove_drv:start([{exit_report, 1}]),
    try
        1 = alcove:getopt(Drv, [], exit_report),
        {ok, C} = alcove:fork(Drv, []),
        ok = alcove:exit(Drv, [C], 0),
        {exit_status, 0} = alcove:event(Drv, [C], ?WAIT),
        {exit_report, #{status := {exit_status, 0}}} = alcove:event(Drv, [C], ?WAIT)
    after
        alcove_drv:stop(Drv)
    end,
    Config.

%% 0 and 1 only.
bad_values(Config) ->
    Drv = ?config(drv, Config),
    false = alcove:setopt(Drv, [], exit_report, 2),
    false = alcove:setopt(Drv, [], exit_report, -1),
    0 = alcove:getopt(Drv, [], exit_report).
