%% SPDX-License-Identifier: ISC
%% What the suites share: a fresh port per test case, and what a
%% program run in it printed.
-module(alcove_test).

-export([start/1, start/2, stop/1, output/2, flush/0, rss_checked/0, real_dir/1,
         read_pids/2, poll/3]).

%% A port for the case, owned by the case's process: {drv, Drv}.
-spec start(list()) -> list().
start(Config) ->
    start(Config, []).

-spec start(list(), [alcove_drv:option()]) -> list().
start(Config, Opts) ->
    {ok, Drv} = alcove_drv:start(Opts),
    [{drv, Drv} | Config].

%% Stop the case's port (a case that crashed took it with it: stopping
%% is then a no-op) and drop what it left in the mailbox.
-spec stop(list()) -> ok.
stop(Config) ->
    catch alcove_drv:stop(proplists:get_value(drv, Config)),
    flush().

%% Exit status, stdout and stderr of a program, read until its exit.
-spec output(pid(), [non_neg_integer()]) -> {integer(), binary(), binary()}.
output(Drv, Chain) ->
    output(Drv, Chain, <<>>, <<>>).

output(Drv, Chain, Out, Err) ->
    receive
        {alcove_stdout, Drv, Chain, D} -> output(Drv, Chain, <<Out/binary, D/binary>>, Err);
        {alcove_stderr, Drv, Chain, D} -> output(Drv, Chain, Out, <<Err/binary, D/binary>>);
        {alcove_event, Drv, Chain, {exit_status, N}} -> {N, Out, Err}
    after 30000 ->
        ct:fail({no_exit, Chain, Out, Err})
    end.

-spec flush() -> ok.
flush() ->
    receive _ -> flush() after 0 -> ok end.

%% Under AddressSanitizer or valgrind (scripts/test-asan and
%% test-valgrind set ALCOVE_SANITIZED), the port's resident size is the
%% tool's shadow and quarantine, not the port's own memory: only the
%% plain run checks it.
-spec rss_checked() -> boolean().
rss_checked() ->
    os:getenv("ALCOVE_SANITIZED") =:= false.

%% A directory with its symbolic links resolved.
-spec real_dir(file:filename()) -> file:filename().
real_dir(Dir) ->
    {ok, Cwd} = file:get_cwd(),
    ok = file:set_cwd(Dir),
    {ok, Real} = file:get_cwd(),
    ok = file:set_cwd(Cwd),
    Real.

%% The term a VM started by a case prints on a line "PIDS Term." (the
%% processes it made), its other lines logged.
-spec read_pids(port(), timeout()) -> term().
read_pids(Port, T) ->
    receive
        {Port, {data, {eol, "PIDS " ++ Rest}}} ->
            {ok, Toks, _} = erl_scan:string(Rest),
            {ok, Term} = erl_parse:parse_term(Toks),
            Term;
        {Port, {data, {_, Line}}} ->
            ct:pal("vm: ~s", [Line]),
            read_pids(Port, T);
        {Port, {exit_status, S}} ->
            ct:fail({vm_exited, S})
    after T ->
        ct:fail(no_pids_from_vm)
    end.

%% Call F every 20 ms until it returns Want, for up to T ms; its last
%% value.
-spec poll(fun(() -> term()), term(), integer()) -> term().
poll(F, Want, T) ->
    case F() of
        Want -> Want;
        Other when T =< 0 -> Other;
        _ -> timer:sleep(20), poll(F, Want, T - 20)
    end.
