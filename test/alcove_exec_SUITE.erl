%% SPDX-License-Identifier: ISC
%% The reference's behaviours around exec and the owner's side of the
%% driver: exec in the port itself, re-exec of the alcove program at any
%% depth (prx's reexec), calls whose process dies before answering, and
%% the owner's messages (alcove_codec, {send, Data}, alcove_ctl, raw).
-module(alcove_exec_SUITE).

-include_lib("common_test/include/ct.hrl").
-include_lib("alcove/include/alcove.hrl").

-export([all/0, suite/0, init_per_testcase/2]).
-export([
    port_execvp/1,
    port_execve_stderr/1,
    port_fexecve/1,
    port_exec_fails/1,
    port_exec_children/1,
    reexec_port/1,
    reexec_child/1,
    reexec_grandchild_fexecve/1,
    reexec_keeps_filter/1,
    reexec_under_seccomp/1,
    reexec_pipelined/1,
    getopts_resolves/1,
    died_exit_status/1,
    died_termsig_sigsys/1,
    timeout_raises/1,
    owner_start/1,
    owner_send/1,
    owner_ctl/1,
    owner_raw/1,
    close_child_stdio/1,
    setproctitle_linux/1,
    ctl_intruders/1,
    stop_twice/1
]).

-define(T, 10000).
%% The position of the control connection in the driver's state.
-define(STATE_CTL, 14).

suite() ->
    [{timetrap, {seconds, 60}}, {ct_hooks, [{alcove_test, []}]}].

all() ->
    [port_execvp, port_execve_stderr, port_fexecve, port_exec_fails,
     port_exec_children, reexec_port, reexec_child, reexec_grandchild_fexecve,
     reexec_keeps_filter, reexec_under_seccomp, reexec_pipelined, getopts_resolves,
     died_exit_status, died_termsig_sigsys, timeout_raises, owner_start,
     owner_send, owner_ctl, owner_raw, close_child_stdio, setproctitle_linux,
     ctl_intruders, stop_twice].

init_per_testcase(Case, Config) when Case =:= port_execve_stderr ->
    alcove_test:start(Config, [stderr_to_stdout]);
init_per_testcase(_Case, Config) ->
    alcove_test:start(Config).

%%% Exec in the port itself

%% execvp on [] answers ok once cat replaced the port; stdin(Drv, [], _)
%% feeds cat and its output comes back as {alcove_stdout, Drv, [], _}.
port_execvp(Config) ->
    Drv = ?config(drv, Config),
    Port = alcove:getpid(Drv, []),
    ok = alcove:execvp(Drv, [], "/bin/cat", ["cat"]),
    ok = alcove:stdin(Drv, [], <<"hello port\n">>),
    <<"hello port\n">> = collect(Drv, [], 11),
    %% the same process: the Erlang port's OS process is cat now
    {os_pid, Port} = erlang:port_info(alcove_drv:port(Drv), os_pid),
    <<"cat", _/binary>> = comm(Port),
    %% no event loop is left to take calls
    {'EXIT', {badpid, _}} = (catch alcove:getpid(Drv, [], ?T)),
    ok.

%% With stderr_to_stdout, what the program writes to stderr comes back
%% too (what the option exists for).
port_execve_stderr(Config) ->
    Drv = ?config(drv, Config),
    ok = alcove:execve(Drv, [], "/bin/sh", ["sh", "-c", "echo out; echo err >&2; cat"],
                       ["PATH=/bin:/usr/bin"]),
    <<"out\nerr\n">> = collect(Drv, [], 8),
    ok = alcove:stdin(Drv, [], <<"more\n">>),
    <<"more\n">> = collect(Drv, [], 5).

port_fexecve(Config) ->
    Drv = ?config(drv, Config),
    {ok, Fd} = alcove:open(Drv, [], "/bin/cat", [o_rdonly, o_cloexec], 0),
    ok = alcove:fexecve(Drv, [], Fd, ["cat"], ["A=1"]),
    ok = alcove:stdin(Drv, [], <<"via fd\n">>),
    <<"via fd\n">> = collect(Drv, [], 7).

%% A failed exec leaves the port as it was: the error, then calls.
port_exec_fails(Config) ->
    Drv = ?config(drv, Config),
    Port = alcove:getpid(Drv, []),
    {error, enoent} = alcove:execvp(Drv, [], "/nonexistent/prog", ["x"]),
    Plain = filename:join(?config(priv_dir, Config), "plain"),
    ok = file:write_file(Plain, <<"#!/bin/sh\n">>),
    ok = file:change_mode(Plain, 8#644),
    {error, eacces} = alcove:execve(Drv, [], Plain, ["x"], []),
    Port = alcove:getpid(Drv, []),
    {ok, C} = alcove:fork(Drv, []),
    C = alcove:getpid(Drv, [C]),
    nothing = receive {alcove_ctl, Drv, [], _} = M -> M after 0 -> nothing end.

%% The port's children lose their parent when it execs: they stop.
port_exec_children(Config) ->
    Drv = ?config(drv, Config),
    {ok, C} = alcove:fork(Drv, []),
    ok = alcove:execvp(Drv, [], "/bin/cat", ["cat"]),
    false = alcove_test:poll(fun() -> alcove_test:running(C) end, false, 10000).

%%% Re-exec of the alcove program

reexec_port(Config) ->
    Drv = ?config(drv, Config),
    Port = alcove:getpid(Drv, []),
    Argv = alcove_drv:getopts([{progname, alcove_drv:progname()}, {depth, 0}]),
    ok = alcove:execve(Drv, [], hd(Argv), Argv, []),
    %% the same process, a new image, the same protocol
    Port = alcove:getpid(Drv, []),
    {ok, C} = alcove:fork(Drv, []),
    ok = alcove:execvp(Drv, [C], "/bin/sh", ["sh", "-c", "exit 7"]),
    {exit_status, 7} = alcove:event(Drv, [C], ?T),
    %% and again
    ok = alcove:execve(Drv, [], hd(Argv), Argv, []),
    Port = alcove:getpid(Drv, []).

%% A child re-execs: the chain through it goes on taking calls, forks and
%% exit reports; its parent saw no fdctl_closed for it.
reexec_child(Config) ->
    Drv = ?config(drv, Config),
    {ok, C} = alcove:fork(Drv, []),
    %% a mark in the old image's memory, gone with it
    ok = alcove:setproctitle(Drv, [C], "old image"),
    <<"old image", 0, _/binary>> = cmdline(C),
    %% a signal choice of the user's and a limit lowered, kept
    {ok, sig_info} = alcove:sigaction(Drv, [C], sigusr2, sig_ign),
    true = alcove:setopt(Drv, [C], maxforkdepth, 3),
    Argv = alcove_drv:getopts([{progname, alcove_drv:progname()}, {depth, 1}]),
    ok = alcove:execve(Drv, [C], hd(Argv), Argv, []),
    Cmdline = iolist_to_binary([[A, 0] || A <- Argv]),
    Cmdline = cmdline(C),
    {ok, sig_ign} = alcove:sigaction(Drv, [C], sigusr2, []),
    3 = alcove:getopt(Drv, [C], maxforkdepth),
    {ok, sig_info} = alcove:sigaction(Drv, [C], sigterm, []),
    ok = alcove:kill(Drv, [], C, sigterm),
    {signal, sigterm, _} = alcove:event(Drv, [C], ?T),
    C = alcove:getpid(Drv, [C]),
    [] = alcove:cpid(Drv, [C]),
    [#alcove_pid{pid = C, fdctl = Ctl}] = alcove:cpid(Drv, []),
    true = Ctl >= 0,
    {ok, G} = alcove:fork(Drv, [C]),
    G = alcove:getpid(Drv, [C, G]),
    ok = alcove:exit(Drv, [C, G], 3),
    {exit_status, 3} = alcove:event(Drv, [C, G], ?T),
    nothing = receive {alcove_ctl, Drv, [C], fdctl_closed} = M -> M after 0 -> nothing end.

%% prx's way: fexecve of an open descriptor of a copy of the program,
%% two levels down.
reexec_grandchild_fexecve(Config) ->
    Drv = ?config(drv, Config),
    Copy = filename:join(?config(priv_dir, Config), "prx"),
    {ok, _} = file:copy(alcove_drv:progname(), Copy),
    ok = file:change_mode(Copy, 8#755),
    {ok, C} = alcove:fork(Drv, []),
    {ok, G} = alcove:fork(Drv, [C]),
    {ok, Fd} = alcove:open(Drv, [C, G], Copy, [o_rdonly, o_cloexec], 0),
    Argv = alcove_drv:getopts([{progname, Copy}, {depth, 2}]),
    ok = alcove:fexecve(Drv, [C, G], Fd, Argv, []),
    G = alcove:getpid(Drv, [C, G]),
    {ok, H} = alcove:fork(Drv, [C, G]),
    ok = alcove:execvp(Drv, [C, G, H], "/bin/echo", ["echo", "below"]),
    {0, <<"below\n">>, <<>>} = alcove_test:output(Drv, [C, G, H]).

%% A filter survives the re-exec: it cannot be shed that way.
reexec_keeps_filter(Config) ->
    Drv = ?config(drv, Config),
    {ok, C} = alcove:fork(Drv, []),
    ok = alcove:filter(Drv, [C], alcove:filter([getcwd])),
    {'EXIT', {undef, _}} = (catch alcove:getcwd(Drv, [C])),
    Argv = alcove_drv:getopts([{depth, 1}]),
    ok = alcove:execve(Drv, [C], hd(Argv), Argv, []),
    {'EXIT', {undef, _}} = (catch alcove:getcwd(Drv, [C])),
    {ok, G} = alcove:fork(Drv, [C]),
    {'EXIT', {undef, _}} = (catch alcove:getcwd(Drv, [C, G])),
    ok.

%% Under a seccomp filter that kills on close_range (what fast forks
%% use), the new image does not even probe for it: it comes up and forks.
reexec_under_seccomp(Config) ->
    Drv = ?config(drv, Config),
    {ok, C} = alcove:fork(Drv, []),
    Filter = alcove_seccomp:filter(Drv, [C], {deny, [sys_close_range]}, kill),
    ok = alcove_seccomp:install(Drv, [C], Filter),
    Argv = alcove_drv:getopts([{depth, 1}]),
    ok = alcove:execve(Drv, [C], hd(Argv), Argv, []),
    C = alcove:getpid(Drv, [C]),
    {ok, G} = alcove:fork(Drv, [C]),
    G = alcove:getpid(Drv, [C, G]),
    ok.

%% Requests sent right behind the exec, read by the old image before it
%% exec'd, are run by the new one.
reexec_pipelined(Config) ->
    Drv = ?config(drv, Config),
    {ok, C} = alcove:fork(Drv, []),
    Argv = alcove_drv:getopts([{depth, 1}]),
    Self = self(),
    Exec = spawn_link(fun() -> Self ! {exec, alcove:execve(Drv, [C], hd(Argv), Argv, [])} end),
    Calls = [spawn_link(fun() -> Self ! {call, N, alcove:getpid(Drv, [C])} end)
             || N <- lists:seq(1, 50)],
    receive {exec, ok} -> ok after ?T -> ct:fail({exec, Exec}) end,
    [receive {call, N, C} -> ok after ?T -> ct:fail({call, N}) end
     || N <- lists:seq(1, length(Calls))],
    C = alcove:getpid(Drv, [C]).

%% getopts/1 resolves the program's path and passes the depth.
getopts_resolves(_Config) ->
    [Sh, "-D", "2"] = alcove_drv:getopts([{progname, "sh"}, {depth, 2}]),
    Sh = os:find_executable("sh"),
    [Abs] = alcove_drv:getopts([{progname, "priv/alcove"}]),
    Abs = filename:absname("priv/alcove"),
    ["sudo", "-n", Prog, "-c", "5"] = alcove_drv:getopts([{exec, "sudo -n"}, {maxchild, 5}]),
    Prog = alcove_drv:progname().

%%% Calls whose process dies before answering

%% Calls queued behind exit/3 are lost with the process: they raise its
%% exit status.
died_exit_status(Config) ->
    Drv = ?config(drv, Config),
    {ok, C} = alcove:fork(Drv, []),
    ok = alcove:kill(Drv, [], C, sigstop),
    Self = self(),
    spawn_link(fun() -> Self ! {exit, alcove:exit(Drv, [C], 7)} end),
    ok = wait_pending(Drv, 1),
    Callers = [spawn_monitor(fun() -> exit(catch alcove:getpid(Drv, [C])) end)
               || _ <- lists:seq(1, 3)],
    ok = wait_pending(Drv, 4),
    ok = alcove:kill(Drv, [], C, sigcont),
    receive {exit, ok} -> ok after ?T -> ct:fail(no_exit_reply) end,
    [receive {'DOWN', M, process, P, {'EXIT', {{exit_status, 7}, _}}} -> ok
     after ?T -> ct:fail(no_exit_status)
     end || {P, M} <- Callers],
    %% the SIGCONT it caught may be reported first
    {exit_status, 7} = exit_event(Drv, [C]).

%% A call that a seccomp filter kills the process on raises
%% {termsig, sigsys}, not badpid.
died_termsig_sigsys(Config) ->
    Drv = ?config(drv, Config),
    {ok, C} = alcove:fork(Drv, []),
    Filter = alcove_seccomp:filter(Drv, [C], {deny, [sys_getcwd]}, kill),
    ok = alcove_seccomp:install(Drv, [C], Filter),
    {'EXIT', {{termsig, sigsys}, _}} = (catch alcove:getcwd(Drv, [C])),
    {termsig, sigsys} = alcove:event(Drv, [C], ?T).

%% An integer timeout raises erlang:error(timeout); the reply, later,
%% reaches the owner.
timeout_raises(Config) ->
    Drv = ?config(drv, Config),
    {ok, C} = alcove:fork(Drv, []),
    ok = alcove:kill(Drv, [], C, sigstop),
    try alcove:getpid(Drv, [C], 100) of
        R -> ct:fail({answered, R})
    catch
        error:timeout -> ok
    end,
    ok = alcove:kill(Drv, [], C, sigcont),
    receive {alcove_call, Drv, [C], C} -> ok
    after ?T -> ct:fail(no_late_reply)
    end.

%%% The owner's side

%% start/2 names the owner: its messages go there, not to the starter.
owner_start(_Config) ->
    Self = self(),
    Owner = spawn_link(fun() -> forward(Self) end),
    {ok, Drv} = alcove_drv:start(Owner, []),
    {ok, C} = alcove:fork(Drv, []),
    ok = alcove:execvp(Drv, [C], "/bin/echo", ["echo", "to the owner"]),
    receive {owner_got, {alcove_ctl, Drv, [C], fdctl_closed}} -> ok
    after ?T -> ct:fail(owner_got_nothing)
    end,
    receive {owner_got, {alcove_stdout, Drv, [C], <<"to the owner\n">>}} -> ok
    after ?T -> ct:fail(owner_got_no_stdout)
    end,
    nothing = receive {alcove_stdout, Drv, _, _} = M -> M after 200 -> nothing end,
    Port = alcove_drv:port(Drv),
    {os_pid, OsPid} = erlang:port_info(Port, os_pid),
    OsPid = alcove:getpid(Drv, []),
    [] = alcove_drv:stdout(Drv, [C], 0),
    false = alcove_drv:event(Drv, [C], 0),
    ok = alcove_drv:stop(Drv),
    {ok, Drv2} = alcove_drv:start_link(Self, []),
    true = is_integer(alcove:getpid(Drv2, [])),
    ok = alcove_drv:stop(Drv2).

%% Requests the owner encodes and sends itself are answered to it as
%% alcove_call, and a bad chain as alcove_ctl badpid.
owner_send(Config) ->
    Drv = ?config(drv, Config),
    {ok, C} = alcove:fork(Drv, []),
    Send = fun(Call, Chain, Argv) ->
                   ok = gen_server:call(Drv, {send, alcove_codec:call(Call, Chain, Argv)},
                                        infinity)
           end,
    Send(getpid, [C], []),
    receive {alcove_call, Drv, [C], C} -> ok after ?T -> ct:fail(no_reply) end,
    Send(open, [C], ["/nonexistent", [o_rdonly], 0]),
    receive {alcove_call, Drv, [C], {error, enoent}} -> ok after ?T -> ct:fail(no_reply) end,
    Send(getpid, [C, 1], []),
    receive {alcove_ctl, Drv, [C, 1], badpid} -> ok after ?T -> ct:fail(no_badpid) end,
    ok = alcove:filter(Drv, [C], alcove:filter([getcwd])),
    Send(getcwd, [C], []),
    receive {alcove_call, Drv, [C], undef} -> ok after ?T -> ct:fail(no_undef) end,
    {'EXIT', {badarg, _}} = (catch alcove_codec:call(getpid, [C], [extra])),
    {'EXIT', {badarg, _}} = (catch alcove_codec:call(no_such_call, [], [])),
    {'EXIT', {badarg, _}} = (catch alcove_codec:call(open, [], [1, 2, 3])),
    badarg = gen_server:call(Drv, {send, [not_iodata]}, infinity),
    badarg = gen_server:call(Drv, {send, <<1>>}, infinity),
    %% an exec sent this way is answered by fdctl_closed alone
    Send(execvp, [C], ["/bin/cat", ["cat"]]),
    receive {alcove_ctl, Drv, [C], fdctl_closed} -> ok after ?T -> ct:fail(no_ctl) end,
    nothing = receive {alcove_call, Drv, [C], _} = M -> M after 200 -> nothing end.

%% fdctl_closed reaches the owner when a control channel closes: exec,
%% exit, and the port's own exec (chain []).
owner_ctl(Config) ->
    Drv = ?config(drv, Config),
    {ok, C} = alcove:fork(Drv, []),
    {ok, E} = alcove:fork(Drv, []),
    ok = alcove:execvp(Drv, [C], "/bin/cat", ["cat"]),
    receive {alcove_ctl, Drv, [C], fdctl_closed} -> ok after ?T -> ct:fail(exec) end,
    ok = alcove:exit(Drv, [E], 0),
    receive {alcove_ctl, Drv, [E], fdctl_closed} -> ok after ?T -> ct:fail(exit) end,
    %% the readers of output leave alcove_ctl messages where they are
    self() ! {alcove_ctl, Drv, [C], fdctl_closed},
    [] = alcove:stdout(Drv, [C], 0),
    false = alcove:event(Drv, [C], 0),
    receive {alcove_ctl, Drv, [C], fdctl_closed} -> ok after 0 -> ct:fail(eaten) end,
    ok = alcove:execvp(Drv, [], "/bin/cat", ["cat"]),
    receive {alcove_ctl, Drv, [], fdctl_closed} -> ok after ?T -> ct:fail(port_exec) end.

%% raw/1: what the port writes reaches the owner as it is.
owner_raw(Config) ->
    Drv = ?config(drv, Config),
    Port = alcove:getpid(Drv, []),
    ok = alcove_drv:raw(Drv),
    ok = gen_server:call(Drv, {send, alcove_codec:call(getpid, [], [])}, infinity),
    %% the request went as it is, and so comes the reply frame
    Reply = term_to_binary(Port),
    Len = 1 + 4 + 1 + byte_size(Reply),
    receive {alcove_ctl, Drv, [], badpid} -> ok after ?T -> ct:fail(no_badpid) end,
    Body = <<1, 7:32, 0:16, (alcove_proto:call(getpid)):16, (term_to_binary({}))/binary>>,
    ok = alcove:stdin(Drv, [], <<(byte_size(Body)):32, Body/binary>>),
    <<Len:32, 1, 7:32, 0, Reply/binary>> = collect(Drv, [], 4 + Len).

%% close/3 of a descriptor cpid/2 shows for a child's stdin, stdout or
%% stderr closes that stream, as eof/3 does (prx's eof/3 and atexit).
close_child_stdio(Config) ->
    Drv = ?config(drv, Config),
    {ok, C} = alcove:fork(Drv, []),
    [#alcove_pid{stdin = In, stdout = Out}] = alcove:cpid(Drv, []),
    ok = alcove:execvp(Drv, [C], "/bin/sh", ["sh", "-c", "cat; echo done >&2"]),
    ok = alcove:stdin(Drv, [C], <<"x\n">>),
    [<<"x\n">>] = alcove:stdout(Drv, [C], ?T),
    ok = alcove:close(Drv, [], Out),
    ok = alcove:close(Drv, [], In),
    {error, ebadf} = alcove:close(Drv, [], In),
    [<<"done\n">>] = alcove:stderr(Drv, [C], ?T),
    {exit_status, 0} = alcove:event(Drv, [C], ?T).

%% setproctitle on Linux, as prx calls it there: the command line ps(1)
%% shows, cut to the room the arguments had.
setproctitle_linux(Config) ->
    Drv = ?config(drv, Config),
    {ok, C} = alcove:fork(Drv, []),
    ok = alcove:setproctitle(Drv, [C], "pseudonym"),
    <<"pseudonym", 0, Rest/binary>> = cmdline(C),
    true = lists:all(fun(B) -> B =:= 0 end, binary_to_list(Rest)),
    Long = lists:duplicate(4096, $x),
    ok = alcove:setproctitle(Drv, [C], Long),
    Cut = cmdline(C),
    true = byte_size(Cut) < 4096,
    [Xs | _] = binary:split(Cut, <<0>>),
    true = byte_size(Xs) > 0 andalso Xs =:= binary:copy(<<"x">>, byte_size(Xs)),
    %% the port's own title is untouched
    <<"/", _/binary>> = cmdline(alcove:getpid(Drv, [])).

cmdline(Pid) ->
    {ok, B} = file:read_file("/proc/" ++ integer_to_list(Pid) ++ "/cmdline"),
    B.

%% The port's control connection is the one that proves the secret: a
%% process that connects first, silent or with other bytes, is dropped,
%% and the port's exec is still told apart. The port is started through
%% a wrapper that waits, so that the intruders come first.
ctl_intruders(Config) ->
    Wrapper = filename:join(?config(priv_dir, Config), "slow-alcove"),
    ok = file:write_file(Wrapper, ["#!/bin/sh\nsleep 1\nexec ", alcove_drv:progname(),
                                   " \"$@\"\n"]),
    ok = file:change_mode(Wrapper, 8#755),
    {ok, Drv} = alcove_drv:start([{progname, Wrapper}]),
    {listen, L, _, _} = element(?STATE_CTL, sys:get_state(Drv)),
    {ok, #{path := Name}} = socket:sockname(L),
    Connect = fun() ->
                      {ok, S} = socket:open(local, stream, default),
                      ok = socket:connect(S, #{family => local, path => Name}),
                      S
              end,
    Silent = Connect(),
    Wrong = Connect(),
    ok = socket:send(Wrong, binary:copy(<<"x">>, 16)),
    ok = alcove:execvp(Drv, [], "/bin/cat", ["cat"]),
    ok = alcove:stdin(Drv, [], <<"still told apart\n">>),
    <<"still told apart\n">> = collect(Drv, [], 17),
    [socket:close(S) || S <- [Silent, Wrong]],
    ok = alcove_drv:stop(Drv).

stop_twice(Config) ->
    Drv = ?config(drv, Config),
    ok = alcove_drv:stop(Drv),
    ok = alcove_drv:stop(Drv).

%%% Helpers

%% The next exit event of the process, signal events skipped.
exit_event(Drv, Chain) ->
    case alcove:event(Drv, Chain, ?T) of
        {signal, _, _} -> exit_event(Drv, Chain);
        Event -> Event
    end.

forward(To) ->
    receive M -> To ! {owner_got, M}, forward(To) end.

collect(Drv, Chain, N) ->
    collect(Drv, Chain, N, <<>>).

collect(_, _, N, Acc) when byte_size(Acc) >= N ->
    Acc;
collect(Drv, Chain, N, Acc) ->
    receive
        {alcove_stdout, Drv, Chain, D} -> collect(Drv, Chain, N, <<Acc/binary, D/binary>>)
    after ?T ->
        ct:fail({short, Acc})
    end.

comm(Pid) ->
    {ok, B} = file:read_file("/proc/" ++ integer_to_list(Pid) ++ "/comm"),
    B.

wait_pending(Drv, N) ->
    wait_pending(Drv, N, 200).

wait_pending(_, N, 0) ->
    ct:fail({not_pending, N});
wait_pending(Drv, N, Tries) ->
    case map_size(element(5, sys:get_state(Drv))) of
        N -> ok;
        _ -> timer:sleep(20), wait_pending(Drv, N, Tries - 1)
    end.
