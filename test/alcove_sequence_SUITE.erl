%% SPDX-License-Identifier: ISC
%% sequence/3,4: calls run one after the other in a process for one
%% request. Each case has a port and a directory of its own.
-module(alcove_sequence_SUITE).

-include_lib("common_test/include/ct.hrl").
-include("alcove_test.hrl").
-include_lib("alcove/include/alcove.hrl").

-export([all/0, suite/0]).
-export([results_in_order/1, stops_at_failure/1, accepted_errors/1,
         result_refs/1, empty/1, long/1, badarg_before_running/1,
         port_checks_too/1, filtered_before_running/1,
         filter_inside/1, exec_last/1, exec_fails/1, exec_port_fails/1,
         reexec_last/1, fork_inside/1, rules_inside/1, exit_last/1,
         died_inside/1, timeout/1, spawn_runs/1, spawn_fails/1,
         spawn_refused/1, spawn_own_state/1, spawn_alcove/1, spawn_killed/1,
         spawn_upstream_gone/1, skip_copies/1, spawn_big_argv/1,
         spawn_closes_all/1, spawn_exec_accepted/1, spawn_keeps_dumpable/1]).

suite() ->
    [{timetrap, {seconds, 60}}, {ct_hooks, [{alcove_test, [port, dir]}]}].

all() ->
    [results_in_order, stops_at_failure, accepted_errors, result_refs, empty,
     long, badarg_before_running, port_checks_too, filtered_before_running,
     filter_inside, exec_last, exec_fails, exec_port_fails, reexec_last,
     fork_inside, rules_inside, exit_last, died_inside, timeout, spawn_runs,
     spawn_fails, spawn_refused, spawn_own_state, spawn_alcove, spawn_killed,
     spawn_upstream_gone, skip_copies, spawn_big_argv, spawn_closes_all,
     spawn_exec_accepted, spawn_keeps_dumpable].

%% Each call's result, in the order of the calls, as each call alone
%% would answer.
results_in_order(Config) ->
    Drv = ?config(drv, Config),
    Dir = ?config(dir, Config),
    {ok, C} = alcove:fork(Drv, []),
    A = filename:join(Dir, "a"),
    {ok, [ok, C, ok, {ok, Cwd}, {ok, Entries}, ok]} =
        alcove:sequence(Drv, [C], [{mkdir, [A, 8#700]},
                                   {getpid, []},
                                   {chdir, [A]},
                                   {getcwd, []},
                                   {readdir, [Dir]},
                                   {rmdir, [A]}]),
    Cwd = iolist_to_binary(A),
    [<<".">>, <<"..">>, <<"a">>] = lists:sort(Entries),
    {error, enoent} = file:read_file_info(A),
    ok.

%% The first failure stops the sequence: the calls after it do not run,
%% as the file the next one would have made shows.
stops_at_failure(Config) ->
    Drv = ?config(drv, Config),
    Dir = ?config(dir, Config),
    {ok, C} = alcove:fork(Drv, []),
    Before = filename:join(Dir, "before"),
    After = filename:join(Dir, "after"),
    {error, {2, chdir, enoent}, [ok]} =
        alcove:sequence(Drv, [C], [{mkdir, [Before, 8#700]},
                                   {chdir, [filename:join(Dir, "missing")]},
                                   {mkdir, [After, 8#700]}]),
    {ok, _} = file:read_file_info(Before),
    {error, enoent} = file:read_file_info(After),
    %% the first call failing: no results before it
    {error, {1, rmdir, enoent}, []} =
        alcove:sequence(Drv, [C], [{rmdir, [After]}, {mkdir, [After, 8#700]}]),
    {error, enoent} = file:read_file_info(After),
    %% the process goes on
    C = alcove:getpid(Drv, [C]),
    ok.

%% An error a call accepts is its result, and the sequence goes on; any
%% other stops it.
accepted_errors(Config) ->
    Drv = ?config(drv, Config),
    Dir = ?config(dir, Config),
    D = filename:join(Dir, "d"),
    {ok, [ok, {error, eexist}, {error, eexist}, ok]} =
        alcove:sequence(Drv, [], [{mkdir, [D, 8#700], [eexist]},
                                  {mkdir, [D, 8#700], [eexist]},
                                  {mkdir, [D, 8#700], [enoent, eexist]},
                                  {rmdir, [D], [enoent]}]),
    {error, {2, mkdir, enoent}, [{error, eexist}]} =
        alcove:sequence(Drv, [], [{mkdir, [Dir, 8#700], [eexist]},
                                  {mkdir, [filename:join([Dir, "x", "y"]), 8#700],
                                   [eexist]}]),
    ok.

%% {result, K} passes the integer of an earlier result: a descriptor
%% opened, written and closed in one request.
result_refs(Config) ->
    Drv = ?config(drv, Config),
    Dir = ?config(dir, Config),
    F = filename:join(Dir, "f"),
    {ok, [{ok, FD}, {ok, 5}, ok, {ok, 6}, ok]} =
        alcove:sequence(Drv, [], [{open, [F, [o_wronly, o_creat, o_excl], 8#600]},
                                  {write, [{result, 1}, <<"hello">>]},
                                  {lseek, [{result, 1}, 0, 0]},
                                  {write, [{result, 1}, <<"HELLO!">>]},
                                  {close, [{result, 1}]}]),
    true = is_integer(FD),
    {ok, <<"HELLO!">>} = file:read_file(F),
    %% the descriptor is closed
    {error, ebadf} = alcove:close(Drv, [], FD),
    %% a call naming an accepted error does not run: that error is its
    %% result, accepted as well, and so on down the calls naming it
    {ok, [{error, eexist}, {error, eexist}, {error, eexist}, ok]} =
        alcove:sequence(Drv, [], [{open, [F, [o_wronly, o_creat, o_excl], 8#600],
                                   [eexist]},
                                  {write, [{result, 1}, <<"x">>]},
                                  {close, [{result, 2}]},
                                  {unlink, [F]}]),
    {error, enoent} = file:read_file_info(F),
    %% a result that is neither an integer nor an accepted error cannot be
    %% named: the call naming it is refused, and nothing after it runs
    {error, {2, close, badarg}, [ok]} =
        alcove:sequence(Drv, [], [{chdir, [Dir]}, {close, [{result, 1}]}]),
    %% a bare integer result is one
    Pid = alcove:getpid(Drv, []),
    {ok, Sid} = alcove:getsid(Drv, [], Pid),
    {ok, [Pid, {ok, Sid}]} =
        alcove:sequence(Drv, [], [{getpid, []}, {getsid, [{result, 1}]}]),
    %% only earlier calls, only integer arguments
    {'EXIT', {badarg, _}} = (catch alcove:sequence(Drv, [], [{close, [{result, 1}]}])),
    {'EXIT', {badarg, _}} =
        (catch alcove:sequence(Drv, [], [{getpid, []}, {close, [{result, 2}]}])),
    {'EXIT', {badarg, _}} =
        (catch alcove:sequence(Drv, [], [{getpid, []}, {chdir, [{result, 1}]}])),
    {'EXIT', {badarg, _}} =
        (catch alcove:sequence(Drv, [], [{getpid, []}, {close, [{result, 0}]}])),
    %% outside a sequence, {result, K} is no argument
    {'EXIT', {badarg, _}} = (catch alcove:close(Drv, [], {result, 1})),
    ok.

empty(Config) ->
    Drv = ?config(drv, Config),
    {ok, []} = alcove:sequence(Drv, [], []),
    {ok, C} = alcove:fork(Drv, []),
    {ok, []} = alcove:sequence(Drv, [C], []),
    ok.

%% 10,000 calls in one request, each answered in order.
long(Config) ->
    Drv = ?config(drv, Config),
    Dir = ?config(dir, Config),
    {ok, C} = alcove:fork(Drv, []),
    N = 10000,
    Paths = [filename:join(Dir, integer_to_list(I)) || I <- lists:seq(1, N div 2)],
    Calls = lists:append([[{mkdir, [P, 8#700]}, {rmdir, [P]}] || P <- Paths]),
    {ok, Results} = alcove:sequence(Drv, [C], Calls),
    N = length(Results),
    true = lists:all(fun(R) -> R =:= ok end, Results),
    {ok, []} = file:list_dir(Dir),
    %% and results that differ, in order: each getenv sees the setenv
    %% before it
    Env = lists:append([[{setenv, ["SEQ", integer_to_list(I), 1]}, {getenv, ["SEQ"]}]
                        || I <- lists:seq(1, N div 2)]),
    {ok, Got} = alcove:sequence(Drv, [C], Env),
    Got = lists:append([[ok, integer_to_binary(I)] || I <- lists:seq(1, N div 2)]),
    ok.

%% A bad argument anywhere raises badarg in the caller and nothing runs.
badarg_before_running(Config) ->
    Drv = ?config(drv, Config),
    Dir = ?config(dir, Config),
    A = filename:join(Dir, "a"),
    Bad = [[{mkdir, [A, 8#700]}, {chdir, [1]}, {getpid, []}],
           [{mkdir, [A, 8#700]}, {no_such_call, []}],
           [{mkdir, [A, 8#700]}, {getpid, [1]}],
           [{mkdir, [A, 8#700]}, {mkdir, [A]}],
           [{mkdir, [A, 8#700]}, {getpid, [], [not_a_list | x]}],
           [{mkdir, [A, 8#700]}, {getpid, [], ["enoent"]}],
           [{mkdir, [A, 8#700]}, {execvp, ["/bin/true", ["true"]]}, {getpid, []}],
           [{mkdir, [A, 8#700]}, {exit, [0]}, {getpid, []}],
           [{mkdir, [A, 8#700]}, {sequence, [[]]}],
           [{mkdir, [A, 8#700]} | x],
           [{mkdir, [A, 8#700]}, getpid]],
    [{'EXIT', {badarg, _}} = (catch alcove:sequence(Drv, [], B)) || B <- Bad],
    {'EXIT', {badarg, _}} = (catch alcove:sequence(Drv, [], not_a_list)),
    {error, enoent} = file:read_file_info(A),
    ok.

%% The port checks every call before running any, whatever the caller
%% sent: a request made by hand (no check in Erlang) is refused badarg.
port_checks_too(Config) ->
    Drv = ?config(drv, Config),
    Dir = ?config(dir, Config),
    A = filename:join(Dir, "a"),
    Seq = alcove_proto:call(sequence),
    [Mkdir] = alcove_proto:arg(sequence, [{mkdir, [A, 8#700]}]),
    Getpid = <<(alcove_proto:call(getpid)):16, 0, (term_to_binary({}))/binary>>,
    Exit = <<(alcove_proto:call(exit)):16, 0, (term_to_binary({0}))/binary>>,
    Nested = <<Seq:16, 0, (term_to_binary({[]}))/binary>>,
    Bad = [[Mkdir, <<>>],
           [Mkdir, <<0>>],
           [Mkdir, <<16#ffff:16, 0, (term_to_binary({}))/binary>>],
           [Mkdir, <<(alcove_proto:call(getpid)):16, 0, (term_to_binary({1}))/binary>>],
           [Mkdir, <<(alcove_proto:call(getpid)):16, 3, 2, "ab">>],
           [Mkdir, <<(alcove_proto:call(getpid)):16, 0, 131>>],
           [Mkdir, Exit, Getpid],
           [Mkdir, Nested],
           [Mkdir, <<(alcove_proto:call(close)):16, 0,
                     (term_to_binary({{result, 2}}))/binary>>],
           [Mkdir, <<(alcove_proto:call(close)):16, 0,
                     (term_to_binary({{result, 0}}))/binary>>],
           [Mkdir, not_a_binary]],
    [{{'EXIT', {badarg, _}}, _} = {catch alcove_drv:call(Drv, [], Seq, {B}, ?WAIT), B}
     || B <- Bad],
    {error, enoent} = file:read_file_info(A),
    %% the same calls, well formed, run
    {ok, [ok, Pid]} = alcove_drv:call(Drv, [], Seq, {[Mkdir, Getpid]}, ?WAIT),
    true = is_integer(Pid),
    ok.

%% A call that filter/3,4 forbids in the process makes the whole
%% sequence undef, before any call runs.
filtered_before_running(Config) ->
    Drv = ?config(drv, Config),
    Dir = ?config(dir, Config),
    A = filename:join(Dir, "a"),
    {ok, C} = alcove:fork(Drv, []),
    ok = alcove:filter(Drv, [C], alcove:filter([getuid]), []),
    {'EXIT', {undef, _}} =
        (catch alcove:sequence(Drv, [C], [{mkdir, [A, 8#700]}, {getuid, []}])),
    {error, enoent} = file:read_file_info(A),
    {ok, [C]} = alcove:sequence(Drv, [C], [{getpid, []}]),
    %% a filter that forbids sequence itself
    ok = alcove:filter(Drv, [C], alcove:filter([sequence]), []),
    {'EXIT', {undef, _}} = (catch alcove:sequence(Drv, [C], [])),
    ok.

%% A filter call in the sequence applies to the calls after it: the
%% first one it forbids stops the sequence with undef.
filter_inside(Config) ->
    Drv = ?config(drv, Config),
    Dir = ?config(dir, Config),
    A = filename:join(Dir, "a"),
    {ok, C} = alcove:fork(Drv, []),
    Deny = alcove:filter([mkdir]),
    {error, {3, mkdir, undef}, [0, ok]} =
        alcove:sequence(Drv, [C], [{getuid, []},
                                   {filter, [Deny, []]},
                                   {mkdir, [A, 8#700]},
                                   {getpid, []}]),
    {error, enoent} = file:read_file_info(A),
    {'EXIT', {undef, _}} = (catch alcove:mkdir(Drv, [C], A, 8#700)),
    ok.

%% An exec comes last: a success answers every result, the exec's ok;
%% the program runs.
exec_last(Config) ->
    Drv = ?config(drv, Config),
    {ok, C} = alcove:fork(Drv, []),
    {ok, [ok, ok]} =
        alcove:sequence(Drv, [C], [{setenv, ["SEQ", "exec", 1]},
                                   {execvp, ["/bin/sh", ["sh", "-c", "echo $SEQ"]]}]),
    [<<"exec\n">>] = alcove:stdout(Drv, [C], ?WAIT),
    {exit_status, 0} = alcove:event(Drv, [C], ?WAIT),
    %% only an exec
    {ok, C2} = alcove:fork(Drv, []),
    {ok, [ok]} = alcove:sequence(Drv, [C2], [{execvp, ["/bin/true", ["true"]]}]),
    {exit_status, 0} = alcove:event(Drv, [C2], ?WAIT),
    ok.

%% An exec that fails is the failing call, and the process goes on.
exec_fails(Config) ->
    Drv = ?config(drv, Config),
    {ok, C} = alcove:fork(Drv, []),
    {error, {2, execve, enoent}, [ok]} =
        alcove:sequence(Drv, [C], [{chdir, ["/"]},
                                   {execve, ["/nonexistent", ["x"], []]}]),
    C = alcove:getpid(Drv, [C]),
    ok.

%% In the port itself, an exec that fails or cannot run (no control
%% connection is needed to tell) answers as in a child.
exec_port_fails(Config) ->
    Drv = ?config(drv, Config),
    Pid = alcove:getpid(Drv, []),
    {error, {2, execvp, enoent}, [Pid]} =
        alcove:sequence(Drv, [], [{getpid, []}, {execvp, ["/nonexistent", ["x"]]}]),
    Pid = alcove:getpid(Drv, []),
    ok.

%% An exec of alcove itself: the new image answers, and the answer is
%% the sequence's.
reexec_last(Config) ->
    Drv = ?config(drv, Config),
    {ok, C} = alcove:fork(Drv, []),
    Argv = alcove_drv:getopts([{progname, alcove_drv:progname()}, {depth, 1}]),
    {ok, [C, ok]} = alcove:sequence(Drv, [C], [{getpid, []},
                                              {execve, [hd(Argv), Argv, []]}]),
    C = alcove:getpid(Drv, [C]),
    Cmdline = iolist_to_binary([[A, 0] || A <- Argv]),
    {ok, Cmdline} = file:read_file("/proc/" ++ integer_to_list(C) ++ "/cmdline"),
    ok.

%% After a fork, the parent goes on; the child runs nothing more of the
%% sequence: the file both would append to holds one line.
fork_inside(Config) ->
    Drv = ?config(drv, Config),
    Dir = ?config(dir, Config),
    F = filename:join(Dir, "f"),
    {ok, C} = alcove:fork(Drv, []),
    {ok, [{ok, G}, {ok, _}, {ok, 2}, ok]} =
        alcove:sequence(Drv, [C], [{fork, []},
                                   {open, [F, [o_wronly, o_append, o_creat], 8#600]},
                                   {write, [{result, 2}, <<"x\n">>]},
                                   {close, [{result, 2}]}]),
    %% the child is in its loop, and has answered nothing else meanwhile
    G = alcove:getpid(Drv, [C, G]),
    {ok, <<"x\n">>} = file:read_file(F),
    ok.

%% The table's rules apply to each call of a sequence: the loop's own
%% descriptors are refused (ownfd), and a close of a child's stdin is
%% eof/3 of it (stdio).
rules_inside(Config) ->
    Drv = ?config(drv, Config),
    {ok, C} = alcove:fork(Drv, []),
    {ok, G} = alcove:fork(Drv, [C]),
    [#alcove_pid{pid = G, fdctl = Ctl}] = alcove:cpid(Drv, [C]),
    {error, {1, close, ebadf}, []} = alcove:sequence(Drv, [C], [{close, [Ctl]}]),
    G = alcove:getpid(Drv, [C, G]),
    {ok, K} = alcove:fork(Drv, []),
    ok = alcove:execvp(Drv, [K], "/bin/cat", ["cat"]),
    [#alcove_pid{stdin = In}] = [P || #alcove_pid{pid = P1} = P <- alcove:cpid(Drv, []),
                                      P1 =:= K],
    ok = alcove:stdin(Drv, [K], <<"x">>),
    {ok, [ok, _]} = alcove:sequence(Drv, [], [{close, [In]}, {getpid, []}]),
    [<<"x">>] = alcove:stdout(Drv, [K], ?WAIT),
    {exit_status, 0} = alcove:event(Drv, [K], ?WAIT),
    ok.

%% exit/3 last: answered, then the process exits.
exit_last(Config) ->
    Drv = ?config(drv, Config),
    {ok, C} = alcove:fork(Drv, []),
    {ok, [C, ok]} = alcove:sequence(Drv, [C], [{getpid, []}, {exit, [7]}]),
    {exit_status, 7} = alcove:event(Drv, [C], ?WAIT),
    ok.

%% A process that dies in a sequence: the sequence raises its exit
%% event, as any call does.
died_inside(Config) ->
    Drv = ?config(drv, Config),
    {ok, C} = alcove:fork(Drv, []),
    {'EXIT', {{termsig, sigkill}, _}} =
        (catch alcove:sequence(Drv, [C], [{getpid, []}, {kill, [C, sigkill]},
                                          {getpid, []}])),
    ok.

%% sequence/4: a timeout raises in the caller; the late reply goes to the
%% owner.
timeout(Config) ->
    Drv = ?config(drv, Config),
    {ok, C} = alcove:fork(Drv, []),
    {'EXIT', {timeout, _}} =
        (catch alcove:sequence(Drv, [C], [{select, [[], [], [], #alcove_timeval{sec = 1}]},
                                          {getpid, []}], 100)),
    receive
        {alcove_call, Drv, [C], {ok, [{ok, [], [], []}, C]}} -> ok
    after ?WAIT ->
        ct:fail(no_late_reply)
    end.

%%% spawn/4: the child shares the loop's memory until it execs

%% The calls run in the child, in its namespaces, then the program: its
%% stdio and events as for a child that forked and exec'd.
spawn_runs(Config) ->
    Drv = ?config(drv, Config),
    Dir = ?config(dir, Config),
    {ok, Pid} = alcove:spawn(Drv, [], [clone_newuts, clone_newpid],
                             [{sethostname, ["spawned"]},
                              {chdir, [Dir]},
                              {setrlimit, [rlimit_nofile, #alcove_rlimit{cur = 77, max = 77}]},
                              {execvp, ["/bin/sh", ["sh", "-c",
                                                    "hostname; pwd; ulimit -n; echo $$; cat"]]}]),
    ok = alcove:stdin(Drv, [Pid], <<"from stdin\n">>),
    ok = alcove:eof(Drv, [Pid]),
    Out = iolist_to_binary(alcove:stdout(Drv, [Pid], ?WAIT) ++ more(Drv, Pid)),
    Want = iolist_to_binary(["spawned\n", Dir, "\n77\n1\nfrom stdin\n"]),
    Want = Out,
    {exit_status, 0} = alcove:event(Drv, [Pid], ?WAIT),
    receive
        {alcove_ctl, Drv, [Pid], fdctl_closed} -> ok
    after ?WAIT -> ct:fail(no_fdctl_closed)
    end,
    %% the port's own state is as it was
    {ok, Host} = inet:gethostname(),
    HostB = iolist_to_binary(Host),
    {ok, HostB} = alcove:gethostname(Drv, []),
    ok.

more(Drv, Pid) ->
    case alcove:stdout(Drv, [Pid], 200) of
        [] -> [];
        Data -> Data ++ more(Drv, Pid)
    end.

%% A call that fails: nothing after it runs, the child is killed (its exit
%% event follows), the results before it come back.
spawn_fails(Config) ->
    Drv = ?config(drv, Config),
    Dir = ?config(dir, Config),
    After = filename:join(Dir, "after"),
    {error, {2, chdir, enoent}, [ok]} =
        alcove:spawn(Drv, [], [], [{chdir, [Dir]},
                                   {chdir, [filename:join(Dir, "missing")]},
                                   {mkdir, [After, 8#700]},
                                   {execvp, ["/bin/true", ["true"]]}]),
    {termsig, sigkill} = event_any(Drv),
    {error, enoent} = file:read_file_info(After),
    %% an exec that fails
    {error, {1, execve, enoent}, []} =
        alcove:spawn(Drv, [], [], [{execve, ["/nonexistent", ["x"], []]}]),
    {termsig, sigkill} = event_any(Drv),
    [] = alcove:cpid(Drv, []),
    ok.

event_any(Drv) ->
    receive {alcove_event, Drv, [_], {termsig, _} = E} -> E after ?WAIT -> ct:fail(no_event) end.

%% Without an exec last, with an exec before, empty: badarg, no child.
spawn_refused(Config) ->
    Drv = ?config(drv, Config),
    Bad = [[], [{getpid, []}],
           [{execvp, ["/bin/true", ["true"]]}, {getpid, []}],
           [{getpid, []}, {exit, [0]}],
           [{setenv, ["A", "b", 1]}, {execvp, ["/bin/true", ["true"]]}]],
    [{'EXIT', {badarg, _}} = (catch alcove:spawn(Drv, [], [], B)) || B <- Bad],
    %% flags that would share more than memory, as clone/3 refuses them
    {error, einval} = alcove:spawn(Drv, [], [clone_vm], [{execvp, ["/bin/true", ["true"]]}]),
    {error, einval} = alcove:spawn(Drv, [], [clone_files], [{execvp, ["/bin/true", ["true"]]}]),
    [] = alcove:cpid(Drv, []),
    ok.

%% What the child's calls change in the state of the loop stays the
%% child's: a lower descriptor limit (maxchild follows it), a filter.
spawn_own_state(Config) ->
    Drv = ?config(drv, Config),
    Max = alcove:getopt(Drv, [], maxchild),
    {ok, Pid} = alcove:spawn(Drv, [], [],
                             [{setrlimit, [rlimit_nofile, #alcove_rlimit{cur = 16, max = 16}]},
                              {filter, [alcove:filter([getpid]), []]},
                              {execvp, ["/bin/true", ["true"]]}]),
    {exit_status, 0} = alcove:event(Drv, [Pid], ?WAIT),
    Max = alcove:getopt(Drv, [], maxchild),
    true = is_integer(alcove:getpid(Drv, [])),
    {ok, #alcove_rlimit{cur = Cur}} = alcove:getrlimit(Drv, [], rlimit_nofile),
    true = Cur > 16,
    ok.

%% alcove itself is never run by spawn/4: its handover needs a child
%% that forked.
spawn_alcove(Config) ->
    Drv = ?config(drv, Config),
    Argv = alcove_drv:getopts([{progname, alcove_drv:progname()}, {depth, 1}]),
    {error, {1, execve, enotsup}, []} =
        alcove:spawn(Drv, [], [], [{execve, [hd(Argv), Argv, []]}]),
    {termsig, sigkill} = event_any(Drv),
    ok.

%% A child killed from outside before its exec (here blocked opening a
%% FIFO nobody writes): the call it was making is named.
spawn_killed(Config) ->
    Drv = ?config(drv, Config),
    Fifo = filename:join(?config(dir, Config), "fifo"),
    Port = alcove:getpid(Drv, []),
    Self = self(),
    Killer = spawn_link(fun() -> Self ! {killed, kill_children(Port)} end),
    {error, {2, open, killed}, [ok]} =
        alcove:spawn(Drv, [], [], [{mkfifo, [Fifo, 8#600]}, {open, [Fifo, [o_rdonly], 0]},
                                   {execvp, ["/bin/true", ["true"]]}]),
    receive {killed, [_]} -> ok after ?WAIT -> ct:fail(not_killed) end,
    unlink(Killer),
    {termsig, sigkill} = event_any(Drv),
    ok.

%% Kill the children of Pid, once there is one.
kill_children(Pid) ->
    case children(Pid) of
        [] ->
            timer:sleep(20),
            kill_children(Pid);
        Children ->
            timer:sleep(200),
            [os:cmd("kill -9 " ++ integer_to_list(C)) || C <- Children],
            Children
    end.

%% The VM gone while the child of spawn/4 is blocked: the port kills it
%% and exits (nothing is left).
spawn_upstream_gone(Config) ->
    Dir = ?config(dir, Config),
    Erl = os:find_executable("erl"),
    Mark = filename:join(Dir, "pids"),
    Fifo = filename:join(Dir, "fifo"),
    Code = lists:flatten(io_lib:format(
             "{ok, Drv} = alcove_drv:start(), "
             "file:write_file(~p, integer_to_list(alcove:getpid(Drv, []))), "
             "alcove:spawn(Drv, [], [], [{mkfifo, [~p, 8#600]}, "
             "{open, [~p, [o_rdonly], 0]}, "
             "{execvp, [\"/bin/true\", [\"true\"]]}]).", [Mark, Fifo, Fifo])),
    Port = open_port({spawn_executable, Erl},
                     [{args, ["-noshell", "-pa" | code:get_path()] ++ ["-eval", Code]},
                      exit_status]),
    {os_pid, VM} = erlang:port_info(Port, os_pid),
    ok = alcove_test:until(fun() ->
                                   case file:read_file(Mark) of
                                       {ok, B} when B =/= <<>> -> ok;
                                       _ -> false
                                   end
                           end),
    {ok, AlcoveBin} = file:read_file(Mark),
    Alcove = binary_to_integer(AlcoveBin),
    timer:sleep(300),
    [Child] = children(Alcove),
    os:cmd("kill -9 " ++ integer_to_list(VM)),
    ok = alcove_test:until(fun() ->
                                   case lists:any(fun alcove_test:running/1, [Alcove, Child]) of
                                       false -> ok;
                                       true -> alive
                                   end
                           end).

children(Pid) ->
    P = integer_to_list(Pid),
    case file:read_file("/proc/" ++ P ++ "/task/" ++ P ++ "/children") of
        {ok, B} -> [binary_to_integer(C) || C <- binary:split(B, <<" ">>, [global, trim_all])];
        {error, _} -> []
    end.

%% A skipped call's result is a copy of the error it names, whatever the
%% size of the results before (the buffer it is copied into grows).
skip_copies(Config) ->
    Drv = ?config(drv, Config),
    Missing = filename:join(?config(dir, Config), "missing"),
    [begin
         Bin = binary:copy(<<"a">>, P),
         {ok, [{error, enoent}, Bin, {error, enoent}]} =
             alcove:sequence(Drv, [], [{open, [Missing, [o_rdonly], 0], [enoent]},
                                       {iolist_to_bin, [Bin]},
                                       {close, [{result, 1}]}])
     end || P <- lists:seq(0, 600)],
    ok.

%% execvp(3) of a script without #! builds its argv again on the stack
%% the child of spawn/4 runs on: many arguments are refused (e2big), and
%% the port is never written over.
spawn_big_argv(Config) ->
    Drv = ?config(drv, Config),
    Script = filename:join(?config(dir, Config), "noshebang"),
    ok = file:write_file(Script, "echo $#\n"),
    ok = file:change_mode(Script, 8#755),
    Port = alcove:getpid(Drv, []),
    {ok, Pid} = alcove:spawn(Drv, [], [], [{execvp, [Script, ["x" | lists:duplicate(20000, "")]]}]),
    {0, <<"20000\n">>, <<>>} = alcove_test:output(Drv, [Pid]),
    {error, {1, execvp, e2big}, []} =
        alcove:spawn(Drv, [], [], [{execvp, [Script, ["x" | lists:duplicate(70000, "")]]}]),
    {termsig, sigkill} = event_any(Drv),
    Port = alcove:getpid(Drv, []),
    ok.

%% A child that closes every descriptor it has, the one its parent
%% watches included: its parent still waits for its exec.
spawn_closes_all(Config) ->
    Drv = ?config(drv, Config),
    Closes = [{close, [FD], [ebadf]} || FD <- lists:seq(3, 40)],
    {ok, Pid} = alcove:spawn(Drv, [], [],
                             Closes ++ [{select, [[], [], [], #alcove_timeval{usec = 300000}]},
                                        {execvp, ["/bin/sh", ["sh", "-c", "echo execd"]]}]),
    {0, <<"execd\n">>, <<>>} = alcove_test:output(Drv, [Pid]),
    ok.

%% An exec whose error is accepted, or that names one, did not run: the
%% child is killed and the answer is that error.
spawn_exec_accepted(Config) ->
    Drv = ?config(drv, Config),
    {error, {1, execve, enoent}, []} =
        alcove:spawn(Drv, [], [], [{execve, ["/nonexistent", ["x"], []], [enoent]}]),
    {termsig, sigkill} = event_any(Drv),
    {error, {2, fexecve, enoent}, [{error, enoent}]} =
        alcove:spawn(Drv, [], [], [{open, ["/nonexistent", [o_rdonly], 0], [enoent]},
                                   {fexecve, [{result, 1}, ["x"], []]}]),
    {termsig, sigkill} = event_any(Drv),
    ok.

%% A change of credentials in the child, which would make the memory it
%% shares undumpable, leaves the port as it was.
spawn_keeps_dumpable(Config) ->
    Drv = ?config(drv, Config),
    {ok, 1, _, _, _, _} = alcove:prctl(Drv, [], pr_get_dumpable, 0, 0, 0, 0),
    {ok, Pid} = alcove:spawn(Drv, [], [], [{setresgid, [65534, 65534, 65534]},
                                           {setresuid, [65534, 65534, 65534]},
                                           {execvp, ["/bin/true", ["true"]]}]),
    {exit_status, 0} = alcove:event(Drv, [Pid], ?WAIT),
    {ok, 1, _, _, _, _} = alcove:prctl(Drv, [], pr_get_dumpable, 0, 0, 0, 0),
    ok.
