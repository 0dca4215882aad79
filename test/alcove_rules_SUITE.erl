%% SPDX-License-Identifier: ISC
%% The rules that the call table's flags give a call (gen/calls.eterm),
%% applied by dispatch to every call that has the flag, not by its
%% handler: each case goes through the calls by their flags, as
%% alcove_proto gives them, so that a call added with a flag is tested
%% too.
-module(alcove_rules_SUITE).

-include_lib("common_test/include/ct.hrl").
-include("alcove_test.hrl").

-export([all/0, suite/0, init_per_testcase/2, end_per_testcase/2]).
-export([ownfd/1, stdio/1, newfd/1, nospawn/1, flags_known/1]).

suite() ->
    [{timetrap, {seconds, 60}}].

all() ->
    [flags_known, ownfd, stdio, newfd, nospawn].

init_per_testcase(_Case, Config) ->
    alcove_test:start(Config).

end_per_testcase(_Case, Config) ->
    alcove_test:stop(Config).

%% The calls of a flag, by number.
with(Flag) ->
    [N || N <- lists:seq(0, length(alcove_proto:calls()) - 1),
          lists:member(Flag, alcove_proto:flags(N))].

%% An argument of each type that the port accepts, FD for descriptors.
arg(fd, FD) -> FD;
arg(iodata, _) -> <<>>;
arg(nullable_iodata, _) -> null;
arg(argv, _) -> [];
arg(atom, _) -> none;
arg(calls, _) -> [];
arg(timeval, _) -> [];
arg(int32_list, _) -> [];
arg(uint32_list, _) -> [];
arg(rlimit, _) -> {alcove_rlimit, 0, 0};
arg(cstruct, _) -> <<>>;
arg({enum, [A | _]}, _) -> A;
arg(_, _) -> 0.

%% Call number N in Chain with every fd argument FD.
call(Drv, Chain, N, FD) ->
    Args = [alcove_proto:arg(T, arg(T, FD)) || T <- alcove_proto:argtypes(N)],
    alcove_drv:call(Drv, Chain, N, list_to_tuple(Args), ?WAIT).

%% Each flag of the table is one that these cases or the other suites
%% know: a new flag comes with its test.
flags_known(_Config) ->
    Known = [exec, exit, block, ownfd, stdio, newfd, anyfd, creds, nofastfork,
             nospawn],
    All = lists:usort(lists:append([alcove_proto:flags(N)
                                    || N <- lists:seq(0, length(alcove_proto:calls()) - 1)])),
    [] = All -- Known,
    %% and the calls that have always had these rules have them
    true = lists:all(fun(C) -> lists:member(alcove_proto:call(C), with(ownfd)) end,
                     [close, read, write, fcntl, ioctl]),
    true = lists:all(fun(C) -> lists:member(alcove_proto:call(C), with(newfd)) end,
                     [open, socket, fcntl]),
    true = lists:all(fun(C) -> lists:member(alcove_proto:call(C), with(creds)) end,
                     [setuid, setgid, setresuid, setresgid, setgroups]).

%% Every call with ownfd refuses the loop's own descriptors with ebadf,
%% whatever it is: in the port, upstream is on 0 and 1; in a child, the
%% parent's ends of a grandchild's stdio are its own.
ownfd(Config) ->
    Drv = ?config(drv, Config),
    Calls = with(ownfd),
    true = length(Calls) >= 5,
    {ok, C} = alcove:fork(Drv, []),
    {ok, G} = alcove:fork(Drv, [C]),
    [{alcove_pid, G, _, _, CtlFd, InFd, OutFd, ErrFd}] = alcove:cpid(Drv, [C]),
    Own = [{[], 0}, {[], 1} | [{[C], FD} || FD <- [CtlFd, InFd, OutFd, ErrFd]]],
    [begin
         {{error, ebadf}, N, Chain, FD} = {call(Drv, Chain, N, FD), N, Chain, FD}
     end || N <- Calls, {Chain, FD} <- Own,
            %% close of a child's stdio is eof/3 (stdio, below)
            not (lists:member(stdio, alcove_proto:flags(N)) andalso Chain =:= [C]
                 andalso FD =/= CtlFd)],
    %% nothing was closed, read or written: both still answer
    G = alcove:getpid(Drv, [C, G]),
    C = alcove:getpid(Drv, [C]).

%% close/3 of the parent's end of a child's stdio closes that stream, as
%% eof/3 does: the child reads end of file.
stdio(Config) ->
    Drv = ?config(drv, Config),
    [Close] = with(stdio),
    Close = alcove_proto:call(close),
    {ok, C} = alcove:fork(Drv, []),
    ok = alcove:execvp(Drv, [C], "/bin/cat", ["cat"]),
    [{alcove_pid, C, _, _, _, InFd, _, _}] = alcove:cpid(Drv, []),
    ok = alcove:stdin(Drv, [C], <<"x">>),
    [<<"x">>] = alcove:stdout(Drv, [C], ?WAIT),
    ok = alcove:close(Drv, [], InFd),
    {exit_status, 0} = alcove:event(Drv, [C], ?WAIT).

%% A descriptor a call makes at or above the loop's base (256), here a
%% socket made once the low ones are all taken, is noted: a child forked
%% afterwards still holds it (the fast fork would not copy it).
newfd(Config) ->
    Drv = ?config(drv, Config),
    Low = alcove_test:fill_below(Drv, 256),
    {ok, S} = alcove:socket(Drv, [], af_unix, sock_stream, 0),
    true = S >= 256,
    %% room below again, for the new child's pipes
    {Freed, _} = lists:split(16, Low),
    [ok = alcove:close(Drv, [], FD) || FD <- Freed],
    {ok, C} = alcove:fork(Drv, []),
    {ok, "socket:" ++ _} =
        file:read_link("/proc/" ++ integer_to_list(C) ++ "/fd/" ++ integer_to_list(S)).

%% Every call with nospawn is refused in spawn/4 (whose child shares the
%% loop's memory), before a child is made: badarg, and no child. The
%% same sequence without it runs.
nospawn(Config) ->
    Drv = ?config(drv, Config),
    Calls = with(nospawn),
    true = length(Calls) >= 5,
    Spawn = alcove_proto:call(spawn),
    Exec = <<(alcove_proto:call(execvp)):16, 0,
             (term_to_binary({<<"/bin/true">>, [<<"true">>]}))/binary>>,
    [begin
         Args = [alcove_proto:arg(T, arg(T, 0)) || T <- alcove_proto:argtypes(N)],
         Call = <<N:16, 0, (term_to_binary(list_to_tuple(Args)))/binary>>,
         {N, {'EXIT', {badarg, _}}} =
             {N, catch alcove_drv:call(Drv, [], Spawn, {0, [Call, Exec]}, ?WAIT)}
     end || N <- Calls],
    [] = alcove:cpid(Drv, []),
    {ok, Pid} = alcove_drv:call(Drv, [], Spawn, {0, [Exec]}, ?WAIT),
    {exit_status, 0} = alcove:event(Drv, [Pid], ?WAIT),
    ok.
