%% SPDX-License-Identifier: ISC
%% Standard I/O of processes run by alcove: stdout, stderr, stdin, eof,
%% exit events and flow control. The point of most cases is that no byte
%% is lost or reordered and that an exit event never overtakes the output
%% of the process it reports.
-module(alcove_io_SUITE).

-include_lib("common_test/include/ct.hrl").
-include_lib("alcove/include/alcove.hrl").
-include("alcove_test.hrl").

-export([
    all/0,
    suite/0
]).

-export([
    stdout_and_stderr/1,
    exit_status_event/1,
    termsig_event/1,
    exit_status_disabled/1,
    exit_status_disabled_in_parent/1,
    stdout_before_exit/1,
    stderr_before_exit/1,
    many_short_writers/1,
    cat_64mib_pieces/1,
    stdin_1mib_single_write/1,
    read_1mib/1,
    argv_1mib/1,
    slow_reader/1,
    eof_closes_stdin/1,
    eof_badpid/1,
    flowcontrol/1,
    flowcontrol_default/1,
    flowcontrol_port_option/1,
    flowcontrol_exited_child/1,
    depth3_stdout/1,
    depth3_stdin/1,
    interleaved_writers/1,
    spliced_with_calls/1
]).

-define(DEADLINE, 5000).

suite() ->
    [{timetrap, {seconds, 90}}, {ct_hooks, [{alcove_test, [port]}]}].

all() ->
    [
        stdout_and_stderr,
        exit_status_event,
        termsig_event,
        exit_status_disabled,
        exit_status_disabled_in_parent,
        stdout_before_exit,
        stderr_before_exit,
        many_short_writers,
        cat_64mib_pieces,
        stdin_1mib_single_write,
        read_1mib,
        argv_1mib,
        slow_reader,
        eof_closes_stdin,
        eof_badpid,
        flowcontrol,
        flowcontrol_default,
        flowcontrol_port_option,
        flowcontrol_exited_child,
        depth3_stdout,
        depth3_stdin,
        interleaved_writers,
        spliced_with_calls
    ].

%%%
%%% Test cases
%%%

%% stdout and stderr of an exec'd program are kept apart and each arrives
%% whole, followed by its exit event.
stdout_and_stderr(Config) ->
    Drv = ?config(drv, Config),
    {ok, Child} = alcove:fork(Drv, []),
    ok = alcove:execvp(Drv, [Child], "/bin/sh", ["/bin/sh", "-c", "echo out; echo err >&2"]),
    <<"out\n">> = read_stdout(Drv, [Child], 4),
    <<"err\n">> = read_stderr(Drv, [Child], 4),
    {exit_status, 0} = exit_event(Drv, [Child]),
    %% nothing else was written
    [] = alcove:stdout(Drv, [Child]),
    [] = alcove:stderr(Drv, [Child]).

%% A process exiting with a status gives {exit_status, Status}.
exit_status_event(Config) ->
    Drv = ?config(drv, Config),
    {ok, Child} = alcove:fork(Drv, []),
    ok = alcove:execvp(Drv, [Child], "/bin/sh", ["/bin/sh", "-c", "exit 7"]),
    {exit_status, 7} = exit_event(Drv, [Child]),
    false = alcove:event(Drv, [Child], 200).

%% A process killed by a signal gives {termsig, Signal}.
termsig_event(Config) ->
    Drv = ?config(drv, Config),
    {ok, Child} = alcove:fork(Drv, []),
    ok = alcove:execvp(Drv, [Child], "sleep", ["sleep", "100"]),
    ok = alcove:kill(Drv, [], Child, sigkill),
    {termsig, sigkill} = exit_event(Drv, [Child]),
    false = alcove:event(Drv, [Child], 200).

%% With exit_status 0 (and termsig 0) set in the port, the exits of its
%% children are not reported, although the children are reaped.
exit_status_disabled(Config) ->
    Drv = ?config(drv, Config),
    true = alcove:setopt(Drv, [], exit_status, 0),
    0 = alcove:getopt(Drv, [], exit_status),
    {ok, Child} = alcove:fork(Drv, []),
    ok = alcove:execvp(Drv, [Child], "/bin/sh", ["/bin/sh", "-c", "exit 3"]),
    false = alcove:event(Drv, [Child], 500),
    %% the child is gone, and still nothing was reported
    ok = wait_no_children(Drv, []),
    false = alcove:event(Drv, [Child], 0),

    true = alcove:setopt(Drv, [], termsig, 0),
    {ok, Child2} = alcove:fork(Drv, []),
    ok = alcove:execvp(Drv, [Child2], "sleep", ["sleep", "100"]),
    ok = alcove:kill(Drv, [], Child2, sigkill),
    false = alcove:event(Drv, [Child2], 500),
    ok = wait_no_children(Drv, []),
    false = alcove:event(Drv, [Child2], 0),

    %% switched back on, the events come again
    true = alcove:setopt(Drv, [], exit_status, 1),
    {ok, Child3} = alcove:fork(Drv, []),
    ok = alcove:execvp(Drv, [Child3], "/bin/sh", ["/bin/sh", "-c", "exit 4"]),
    {exit_status, 4} = exit_event(Drv, [Child3]).

%% The exit event is sent by the parent of the process that exited: the
%% option set in an intermediate process governs its children only.
exit_status_disabled_in_parent(Config) ->
    Drv = ?config(drv, Config),
    {ok, C1} = alcove:fork(Drv, []),
    true = alcove:setopt(Drv, [C1], exit_status, 0),
    {ok, C2} = alcove:fork(Drv, [C1]),
    ok = alcove:execvp(Drv, [C1, C2], "/bin/sh", ["/bin/sh", "-c", "exit 5"]),
    false = alcove:event(Drv, [C1, C2], 500),
    ok = wait_no_children(Drv, [C1]),
    false = alcove:event(Drv, [C1, C2], 0),
    %% the port still reports the exits of its own children
    {ok, C3} = alcove:fork(Drv, []),
    ok = alcove:execvp(Drv, [C3], "/bin/sh", ["/bin/sh", "-c", "exit 6"]),
    {exit_status, 6} = exit_event(Drv, [C3]).

%% 1 MiB written to stdout by a process that exits at once: every byte
%% arrives, and all of it before the {exit_status, 0} event (checked on
%% the raw messages in arrival order). Repeated to catch races.
stdout_before_exit(Config) ->
    Drv = ?config(drv, Config),
    ok = mib_before_exit(Drv, stdout),
    %% a single program, not a pipeline
    {ok, Child} = alcove:fork(Drv, []),
    ok = alcove:execvp(Drv, [Child], "head", ["head", "-c", "1048576", "/dev/zero"]),
    {Out, <<>>, {exit_status, 0}} = until_event(Drv, [Child]),
    ?MIB = byte_size(Out),
    true = Out =:= binary:copy(<<0>>, ?MIB).

%% The same for 1 MiB written to stderr.
stderr_before_exit(Config) ->
    Drv = ?config(drv, Config),
    ok = mib_before_exit(Drv, stderr).

%% Many processes that write and exit at once, 50 at a time: each one's
%% output arrives whole and is followed by its exit event (no exit is lost
%% when the exit and the last output are noticed together).
many_short_writers(Config) ->
    Drv = ?config(drv, Config),
    lists:foreach(
        fun(Round) ->
            Kids = [begin {ok, C} = alcove:fork(Drv, []), C end || _ <- lists:seq(1, 50)],
            [ok = alcove:execvp(Drv, [C], "head", ["head", "-c", "100000", "/dev/zero"])
             || C <- Kids],
            Deadline = erlang:monotonic_time(millisecond) + ?DEADLINE,
            Result = collect_exits(Drv, maps:from_list([{C, 0} || C <- Kids]), [], Deadline),
            case Result of
                {[], Done} ->
                    Bad = [D || {_, N, Ev} = D <- Done, {N, Ev} =/= {100000, {exit_status, 0}}],
                    [] = Bad;
                {Missing, _} ->
                    ct:fail({round, Round, {no_exit_event, maps:to_list(Missing)},
                             {cpid, [P || #alcove_pid{pid = P} <- alcove:cpid(Drv, [])]}})
            end
        end,
        lists:seq(1, 20)),
    [] = alcove:cpid(Drv, []).

%% 64 MiB written to cat in 32 KiB pieces by another Erlang process all
%% come back, in order, and cat exits after eof.
cat_64mib_pieces(Config) ->
    Drv = ?config(drv, Config),
    {ok, Child} = alcove:fork(Drv, []),
    ok = alcove:execvp(Drv, [Child], "/bin/cat", ["/bin/cat"]),
    Size = 32 * 1024,
    N = 2048,
    Writer = writer(Drv, [Child], fun(I) -> pattern(I, Size) end, N, true),
    {N, Crc, Sha} = read_pieces(Drv, [Child], fun(I) -> pattern(I, Size) end, Size, N),
    {Crc, Sha} = expected_sums(fun(I) -> pattern(I, Size) end, N),
    ok = wait_writer(Writer),
    {exit_status, 0} = exit_event(Drv, [Child]),
    [] = alcove:stdout(Drv, [Child], 0).

%% One 1 MiB write to cat comes back whole.
stdin_1mib_single_write(Config) ->
    Drv = ?config(drv, Config),
    {ok, Child} = alcove:fork(Drv, []),
    ok = alcove:execvp(Drv, [Child], "/bin/cat", ["/bin/cat"]),
    Data = << <<(X rem 251)>> || X <- lists:seq(0, ?MIB - 1) >>,
    ok = alcove:stdin(Drv, [Child], Data),
    Out = read_stdout(Drv, [Child], ?MIB),
    ?MIB = byte_size(Out),
    true = Out =:= Data,
    ok = alcove:eof(Drv, [Child]),
    {exit_status, 0} = exit_event(Drv, [Child]).

%% An argv of 1 MiB (16 arguments of 64 KiB) reaches the exec'd program.
argv_1mib(Config) ->
    Drv = ?config(drv, Config),
    Args = [binary:copy(<<($a + I)>>, 64 * 1024) || I <- lists:seq(0, 15)],
    {ok, Child} = alcove:fork(Drv, []),
    ok = alcove:execvp(Drv, [Child], "/bin/sh", ["/bin/sh", "-c", "echo $#", "sh" | Args]),
    <<"16\n">> = read_stdout(Drv, [Child], 3),
    {exit_status, 0} = exit_event(Drv, [Child]),
    %% the arguments are intact: their sizes and the last one's content
    {ok, Child2} = alcove:fork(Drv, []),
    ok = alcove:execvp(Drv, [Child2], "/bin/sh",
                       ["/bin/sh", "-c", "echo ${#1} ${#16}; printf %s \"${16}\"", "sh" | Args]),
    Expect = <<"65536 65536\n", (lists:last(Args))/binary>>,
    Out = read_stdout(Drv, [Child2], byte_size(Expect)),
    true = Out =:= Expect,
    {exit_status, 0} = exit_event(Drv, [Child2]).

%% A writer far ahead of a reader that does not read yet is held back
%% (the write does not complete while the reader sleeps: the data is not
%% buffered without bound) and, once the reader reads, nothing is lost.
slow_reader(Config) ->
    Drv = ?config(drv, Config),
    {ok, Child} = alcove:fork(Drv, []),
    ok = alcove:execvp(Drv, [Child], "/bin/sh", ["/bin/sh", "-c", "sleep 3; exec cat"]),
    Size = 64 * 1024,
    N = 128,
    Writer = writer(Drv, [Child], fun(I) -> pattern(I, Size) end, N, true),
    timer:sleep(500),
    {Pid, _} = Writer,
    true = is_process_alive(Pid),
    [] = alcove:stdout(Drv, [Child], 0),
    {N, Crc, Sha} = read_pieces(Drv, [Child], fun(I) -> pattern(I, Size) end, Size, N),
    {Crc, Sha} = expected_sums(fun(I) -> pattern(I, Size) end, N),
    ok = wait_writer(Writer),
    {exit_status, 0} = exit_event(Drv, [Child]).

%% eof closes the stdin of cat: it exits with status 0, and what was
%% written before eof arrives before the exit event.
eof_closes_stdin(Config) ->
    Drv = ?config(drv, Config),
    {ok, Child} = alcove:fork(Drv, []),
    ok = alcove:execvp(Drv, [Child], "/bin/cat", ["/bin/cat"]),
    Pieces = [<<"line ", (integer_to_binary(I))/binary, "\n">> || I <- lists:seq(1, 1000)],
    Big = binary:copy(<<"0123456789abcdef">>, 200000),
    [ok = alcove:stdin(Drv, [Child], P) || P <- Pieces],
    ok = alcove:stdin(Drv, [Child], Big),
    ok = alcove:eof(Drv, [Child]),
    {Out, <<>>, {exit_status, 0}} = until_event(Drv, [Child]),
    Expect = iolist_to_binary([Pieces, Big]),
    true = byte_size(Out) =:= byte_size(Expect),
    true = Out =:= Expect,
    false = alcove:event(Drv, [Child], 200).

%% eof on the port itself or on a process that does not exist: esrch.
eof_badpid(Config) ->
    Drv = ?config(drv, Config),
    {error, esrch} = alcove:eof(Drv, []),
    {error, esrch} = alcove:eof(Drv, [16#7ffffff0]),
    %% a child that existed and is gone
    {ok, Child} = alcove:fork(Drv, []),
    ok = alcove:execvp(Drv, [Child], "/bin/sh", ["/bin/sh", "-c", "exit 0"]),
    {exit_status, 0} = exit_event(Drv, [Child]),
    {error, esrch} = alcove:eof(Drv, [Child]),
    %% an unknown grandchild of a live event-loop process
    {ok, C1} = alcove:fork(Drv, []),
    {error, esrch} = alcove:eof(Drv, [C1, 16#7ffffff0]),
    %% the driver still works
    C1 = alcove:getpid(Drv, [C1]).

%% flowcontrol 0 holds back the output of a child; 1 lets exactly one
%% message through; -1 lets the rest through, with nothing lost. (The
%% child waits for the end of its stdin: once it has exited, nothing
%% would be held back.)
flowcontrol(Config) ->
    Drv = ?config(drv, Config),
    {ok, Child} = alcove:fork(Drv, []),
    true = alcove:setcpid(Drv, [], Child, flowcontrol, 0),
    0 = alcove:getcpid(Drv, [], Child, flowcontrol),
    ok = alcove:execvp(Drv, [Child], "/bin/sh",
                       ["/bin/sh", "-c", "yes abcdefg | head -c 1048576; "
                        "exec cat >/dev/null"]),
    [] = alcove:stdout(Drv, [Child], 500),
    false = alcove:event(Drv, [Child], 0),

    true = alcove:setcpid(Drv, [], Child, flowcontrol, 1),
    [First] = alcove:stdout(Drv, [Child], ?DEADLINE),
    true = byte_size(First) > 0,
    [] = alcove:stdout(Drv, [Child], 300),
    %% the allowance is used up
    0 = alcove:getcpid(Drv, [], Child, flowcontrol),
    false = alcove:event(Drv, [Child], 0),

    true = alcove:setcpid(Drv, [], Child, flowcontrol, -1),
    Rest = read_stdout(Drv, [Child], ?MIB - byte_size(First)),
    Out = <<First/binary, Rest/binary>>,
    ?MIB = byte_size(Out),
    true = Out =:= binary:copy(<<"abcdefg\n">>, ?MIB div 8),
    ok = alcove:eof(Drv, [Child]),
    {exit_status, 0} = exit_event(Drv, [Child]),
    [] = alcove:stdout(Drv, [Child], 0).

%% The flowcontrol of a new child is the parent's flowcontrol option at
%% the time of the fork (default -1).
flowcontrol_default(Config) ->
    Drv = ?config(drv, Config),
    -1 = alcove:getopt(Drv, [], flowcontrol),
    {ok, C1} = alcove:fork(Drv, []),
    -1 = alcove:getcpid(Drv, [], C1, flowcontrol),
    true = alcove:setopt(Drv, [], flowcontrol, 5),
    5 = alcove:getopt(Drv, [], flowcontrol),
    {ok, C2} = alcove:fork(Drv, []),
    5 = alcove:getcpid(Drv, [], C2, flowcontrol),
    %% an existing child keeps its own value
    -1 = alcove:getcpid(Drv, [], C1, flowcontrol),
    Pids = alcove:cpid(Drv, []),
    [#alcove_pid{flowcontrol = -1}] = [P || #alcove_pid{pid = Pid} = P <- Pids, Pid =:= C1],
    [#alcove_pid{flowcontrol = 5}] = [P || #alcove_pid{pid = Pid} = P <- Pids, Pid =:= C2],
    %% a grandchild takes its parent's option, which it inherited
    5 = alcove:getopt(Drv, [C2], flowcontrol),
    true = alcove:setopt(Drv, [C2], flowcontrol, 0),
    {ok, C3} = alcove:fork(Drv, [C2]),
    0 = alcove:getcpid(Drv, [C2], C3, flowcontrol).

%% A port started with {flowcontrol, 0} holds back the output of its
%% children until setcpid lets it through.
flowcontrol_port_option(_Config) ->
    {ok, Drv} = alcove_drv:start([{flowcontrol, 0}]),
    try
        0 = alcove:getopt(Drv, [], flowcontrol),
        {ok, Child} = alcove:fork(Drv, []),
        0 = alcove:getcpid(Drv, [], Child, flowcontrol),
        %% cat keeps the process alive until eof
        ok = alcove:execvp(Drv, [Child], "/bin/sh", ["/bin/sh", "-c", "echo held; exec cat"]),
        [] = alcove:stdout(Drv, [Child], 500),
        true = alcove:setcpid(Drv, [], Child, flowcontrol, -1),
        <<"held\n">> = read_stdout(Drv, [Child], 5),
        ok = alcove:stdin(Drv, [Child], <<"more\n">>),
        <<"more\n">> = read_stdout(Drv, [Child], 5),
        ok = alcove:eof(Drv, [Child]),
        {exit_status, 0} = exit_event(Drv, [Child])
    after
        alcove_drv:stop(Drv)
    end.

%% A process that writes and exits while flowcontrol 0 holds its output
%% back: once it has exited, its output arrives whatever its flowcontrol,
%% and then its exit event.
flowcontrol_exited_child(Config) ->
    Drv = ?config(drv, Config),
    {ok, Child} = alcove:fork(Drv, []),
    true = alcove:setcpid(Drv, [], Child, flowcontrol, 0),
    ok = alcove:execvp(Drv, [Child], "/bin/echo", ["/bin/echo", "held"]),
    {<<"held\n">>, <<>>, {exit_status, 0}} = until_event(Drv, [Child]),
    ok = wait_no_children(Drv, []).

%% Output of a process at depth 3 is tagged with the full fork chain.
depth3_stdout(Config) ->
    Drv = ?config(drv, Config),
    {ok, C1} = alcove:fork(Drv, []),
    {ok, C2} = alcove:fork(Drv, [C1]),
    {ok, C3} = alcove:fork(Drv, [C1, C2]),
    ok = alcove:execvp(Drv, [C1, C2, C3], "/bin/echo", ["/bin/echo", "depth", "3"]),
    receive
        {alcove_stdout, Drv, [C1, C2, C3], <<"depth 3\n">>} -> ok
    after ?DEADLINE ->
        ct:fail({no_stdout, flush()})
    end,
    {exit_status, 0} = exit_event(Drv, [C1, C2, C3]),
    %% stderr too
    {ok, C4} = alcove:fork(Drv, [C1, C2]),
    ok = alcove:execvp(Drv, [C1, C2, C4], "/bin/sh", ["/bin/sh", "-c", "echo deep >&2"]),
    <<"deep\n">> = read_stderr(Drv, [C1, C2, C4], 5),
    {exit_status, 0} = exit_event(Drv, [C1, C2, C4]),
    %% nothing was tagged with a shorter chain
    [] = alcove:stdout(Drv, [C2, C3]),
    [] = alcove:stdout(Drv, [C3]),
    [] = alcove:stdout(Drv, [C1]).

%% stdin and eof reach a process at depth 3, and 2 MiB come back whole.
depth3_stdin(Config) ->
    Drv = ?config(drv, Config),
    {ok, C1} = alcove:fork(Drv, []),
    {ok, C2} = alcove:fork(Drv, [C1]),
    {ok, C3} = alcove:fork(Drv, [C1, C2]),
    Chain = [C1, C2, C3],
    ok = alcove:execvp(Drv, Chain, "/bin/cat", ["/bin/cat"]),
    Size = 32 * 1024,
    N = 64,
    Writer = writer(Drv, Chain, fun(I) -> pattern(I, Size) end, N, true),
    {N, Crc, Sha} = read_pieces(Drv, Chain, fun(I) -> pattern(I, Size) end, Size, N),
    {Crc, Sha} = expected_sums(fun(I) -> pattern(I, Size) end, N),
    ok = wait_writer(Writer),
    {exit_status, 0} = exit_event(Drv, Chain).

%% Two cats written to at the same time by two Erlang processes: each
%% gives back exactly its own data.
interleaved_writers(Config) ->
    Drv = ?config(drv, Config),
    {ok, A} = alcove:fork(Drv, []),
    {ok, B} = alcove:fork(Drv, []),
    ok = alcove:execvp(Drv, [A], "/bin/cat", ["/bin/cat"]),
    ok = alcove:execvp(Drv, [B], "/bin/cat", ["/bin/cat"]),
    Size = 16 * 1024,
    N = 512,
    GenA = fun(I) -> binary:copy(<<"A", I:32>>, Size div 5 + 1) end,
    GenB = fun(I) -> binary:copy(<<"B", I:32, "b">>, Size div 6 + 1) end,
    WA = writer(Drv, [A], GenA, N, true),
    WB = writer(Drv, [B], GenB, N, true),
    TotalA = lists:sum([byte_size(GenA(I)) || I <- lists:seq(0, N - 1)]),
    TotalB = lists:sum([byte_size(GenB(I)) || I <- lists:seq(0, N - 1)]),
    {OutA, OutB} = read_two(Drv, [A], TotalA, [B], TotalB),
    true = OutA =:= iolist_to_binary([GenA(I) || I <- lists:seq(0, N - 1)]),
    true = OutB =:= iolist_to_binary([GenB(I) || I <- lists:seq(0, N - 1)]),
    ok = wait_writer(WA),
    ok = wait_writer(WB),
    {exit_status, 0} = exit_event(Drv, [A]),
    {exit_status, 0} = exit_event(Drv, [B]),
    [] = alcove:stdout(Drv, [A], 0),
    [] = alcove:stdout(Drv, [B], 0).

%% Large output (which the port splices to its stdout rather than copy,
%% c_src/core/upstream.c) on stdout and stderr at once, while calls are answered
%% and another child prints small lines: each stream arrives whole and in
%% order, each reply matches its call, then the exit status. The same a
%% level down, where an event loop splices to its control socket.
spliced_with_calls(Config) ->
    Drv = ?config(drv, Config),
    Port = alcove:getpid(Drv, []),
    {ok, S} = alcove:fork(Drv, []),
    {ok, C} = alcove:fork(Drv, []),
    {ok, L} = alcove:fork(Drv, []),
    ok = alcove:execvp(Drv, [C], "/bin/sh",
                       ["sh", "-c", "seq 1 600000 & seq 600001 1200000 >&2; wait"]),
    ok = alcove:execvp(Drv, [L], "/bin/sh",
                       ["sh", "-c", "for i in $(seq 1 2000); do echo $i; done"]),
    Calls = [{alcove:getpid(Drv, []), alcove:getpid(Drv, [S])} || _ <- lists:seq(1, 2000)],
    [{Port, S}] = lists:usort(Calls),
    {0, Out, Err} = alcove_test:output(Drv, [C]),
    true = Out =:= seq(1, 600000),
    true = Err =:= seq(600001, 1200000),
    {0, Lines, <<>>} = alcove_test:output(Drv, [L]),
    true = Lines =:= seq(1, 2000),
    {ok, D} = alcove:fork(Drv, [S]),
    ok = alcove:execvp(Drv, [S, D], "/bin/sh",
                       ["sh", "-c", "seq 1 300000 & seq 300001 600000 >&2; wait"]),
    {0, DeepOut, DeepErr} = alcove_test:output(Drv, [S, D]),
    true = DeepOut =:= seq(1, 300000),
    true = DeepErr =:= seq(300001, 600000).

seq(From, To) ->
    iolist_to_binary([[integer_to_list(I), $\n] || I <- lists:seq(From, To)]).

%%%
%%% Helpers
%%%

%% Piece I of a stream: distinct for each I, so a lost, repeated or
%% reordered piece shows.
pattern(I, Size) ->
    binary:copy(<<I:32>>, Size div 4).

%% The next event of the process at Chain, waiting up to the deadline;
%% if none comes, fail saying whether the process is still known to its
%% parent (it exited but its exit was never reported) or not.
exit_event(Drv, Chain) ->
    case alcove:event(Drv, Chain, ?DEADLINE) of
        false ->
            {Parent, [Pid]} = lists:split(length(Chain) - 1, Chain),
            Known = [A || #alcove_pid{pid = P} = A <- alcove:cpid(Drv, Parent), P =:= Pid],
            ct:fail({no_event, Chain, {still_in_cpid_of_parent, Known}});
        Event ->
            Event
    end.

%% Read stdout (stderr) with stdout/3 until N bytes or the deadline.
read_stdout(Drv, Chain, N) ->
    read_stdio(fun(T) -> alcove:stdout(Drv, Chain, T) end, N).

read_stderr(Drv, Chain, N) ->
    read_stdio(fun(T) -> alcove:stderr(Drv, Chain, T) end, N).

read_stdio(Read, N) ->
    read_stdio(Read, N, [], 0, erlang:monotonic_time(millisecond) + ?DEADLINE).

read_stdio(_Read, N, Acc, Got, _Deadline) when Got >= N ->
    iolist_to_binary(lists:reverse(Acc));
read_stdio(Read, N, Acc, Got, Deadline) ->
    Left = max(0, Deadline - erlang:monotonic_time(millisecond)),
    case Read(Left) of
        [] ->
            %% timed out: return what came, the caller's match fails
            iolist_to_binary(lists:reverse(Acc));
        Bins ->
            read_stdio(Read, N, lists:reverse(Bins, Acc),
                       Got + iolist_size(Bins), Deadline)
    end.

%% Take the raw messages of a process in the order they arrive, until its
%% first event: {Stdout, Stderr, Event}. A byte after the event would be
%% left in the mailbox for the caller to find.
until_event(Drv, Chain) ->
    until_event(Drv, Chain, [], []).

until_event(Drv, Chain, Out, Err) ->
    receive
        {alcove_stdout, Drv, Chain, Bin} ->
            until_event(Drv, Chain, [Bin | Out], Err);
        {alcove_stderr, Drv, Chain, Bin} ->
            until_event(Drv, Chain, Out, [Bin | Err]);
        {alcove_event, Drv, Chain, Event} ->
            {iolist_to_binary(lists:reverse(Out)),
             iolist_to_binary(lists:reverse(Err)), Event}
    after ?DEADLINE ->
        ct:fail({no_event, iolist_size(Out), iolist_size(Err)})
    end.

%% Five times, a shell writes 1 MiB of "abcdefg\n" to Stream (stdout or
%% stderr) and exits at once: every byte arrives on Stream and none on
%% the other, all before the {exit_status, 0} event (until_event/2), and
%% nothing comes after the event.
mib_before_exit(Drv, Stream) ->
    Expect = binary:copy(<<"abcdefg\n">>, ?MIB div 8),
    Redirect = case Stream of
                   stdout -> "";
                   stderr -> " >&2"
               end,
    lists:foreach(
        fun(_) ->
            {ok, Child} = alcove:fork(Drv, []),
            ok = alcove:execvp(Drv, [Child], "/bin/sh",
                               ["/bin/sh", "-c", "yes abcdefg | head -c 1048576" ++ Redirect]),
            {Out, Err, Event} = until_event(Drv, [Child]),
            {exit_status, 0} = Event,
            {Got, Other} = case Stream of
                               stdout -> {Out, Err};
                               stderr -> {Err, Out}
                           end,
            ?MIB = byte_size(Got),
            true = Got =:= Expect,
            <<>> = Other,
            [] = alcove:Stream(Drv, [Child], 200)
        end,
        lists:seq(1, 5)).

%% A process writing pieces 0..N-1 (then eof) to the stdin of Chain.
writer(Drv, Chain, Gen, N, Eof) ->
    Parent = self(),
    spawn_monitor(
        fun() ->
            [ok = alcove:stdin(Drv, Chain, Gen(I)) || I <- lists:seq(0, N - 1)],
            case Eof of
                true -> ok = alcove:eof(Drv, Chain);
                false -> ok
            end,
            Parent ! {writer_done, self()}
        end).

wait_writer({Pid, Ref}) ->
    receive
        {writer_done, Pid} ->
            erlang:demonitor(Ref, [flush]),
            ok;
        {'DOWN', Ref, process, Pid, Reason} ->
            ct:fail({writer_died, Reason})
    after 30000 ->
        ct:fail(writer_stuck)
    end.

%% Read the stdout of Chain and compare it, piece by piece, with Gen(0),
%% Gen(1)... (pieces of Size bytes) as it arrives. Returns the number of
%% pieces matched and the CRC32 and SHA-256 of the whole stream.
read_pieces(Drv, Chain, Gen, Size, N) ->
    read_pieces(Drv, Chain, Gen, Size, N, 0, <<>>, 0, crypto:hash_init(sha256)).

read_pieces(_Drv, _Chain, _Gen, _Size, N, N, <<>>, Crc, Sha) ->
    {N, Crc, crypto:hash_final(Sha)};
read_pieces(_Drv, _Chain, _Gen, _Size, N, N, Extra, _Crc, _Sha) ->
    ct:fail({extra_bytes, byte_size(Extra)});
read_pieces(Drv, Chain, Gen, Size, N, I, Buf, Crc, Sha) when byte_size(Buf) >= Size ->
    <<Piece:Size/binary, Rest/binary>> = Buf,
    case Gen(I) of
        Piece -> ok;
        Expect -> ct:fail({mismatch, {piece, I}, {offset, first_diff(Piece, Expect, 0)}})
    end,
    read_pieces(Drv, Chain, Gen, Size, N, I + 1, Rest, Crc, Sha);
read_pieces(Drv, Chain, Gen, Size, N, I, Buf, Crc, Sha) ->
    receive
        {alcove_stdout, Drv, Chain, Bin} ->
            read_pieces(Drv, Chain, Gen, Size, N, I, <<Buf/binary, Bin/binary>>,
                        erlang:crc32(Crc, Bin), crypto:hash_update(Sha, Bin));
        {alcove_event, Drv, Chain, Event} ->
            ct:fail({event_before_data, Event, {pieces, I}, {partial, byte_size(Buf)}})
    after 10000 ->
        ct:fail({data_stopped, {pieces, I}, {partial, byte_size(Buf)}})
    end.

expected_sums(Gen, N) ->
    {Crc, Sha} = lists:foldl(
        fun(I, {C, S}) ->
            P = Gen(I),
            {erlang:crc32(C, P), crypto:hash_update(S, P)}
        end,
        {0, crypto:hash_init(sha256)},
        lists:seq(0, N - 1)),
    {Crc, crypto:hash_final(Sha)}.

first_diff(<<X, A/binary>>, <<X, B/binary>>, N) -> first_diff(A, B, N + 1);
first_diff(_, _, N) -> N.

%% Read the stdout of two processes at once until each has sent its total.
read_two(Drv, ChainA, TotalA, ChainB, TotalB) ->
    read_two(Drv, ChainA, TotalA, [], 0, ChainB, TotalB, [], 0).

read_two(_Drv, _CA, TA, AccA, TA, _CB, TB, AccB, TB) ->
    {iolist_to_binary(lists:reverse(AccA)), iolist_to_binary(lists:reverse(AccB))};
read_two(Drv, CA, TA, AccA, GotA, CB, TB, AccB, GotB) ->
    receive
        {alcove_stdout, Drv, CA, Bin} when GotA + byte_size(Bin) =< TA ->
            read_two(Drv, CA, TA, [Bin | AccA], GotA + byte_size(Bin), CB, TB, AccB, GotB);
        {alcove_stdout, Drv, CB, Bin} when GotB + byte_size(Bin) =< TB ->
            read_two(Drv, CA, TA, AccA, GotA, CB, TB, [Bin | AccB], GotB + byte_size(Bin));
        {alcove_stdout, Drv, Chain, Bin} ->
            ct:fail({too_much_or_unexpected, Chain, byte_size(Bin), {GotA, TA}, {GotB, TB}})
    after 10000 ->
        ct:fail({data_stopped, {GotA, TA}, {GotB, TB}})
    end.

%% Wait for the exit events of the processes in Left (PID => bytes of
%% stdout so far): {StillRunning, [{Pid, Bytes, Event}]}.
collect_exits(_Drv, Left, Done, _Deadline) when map_size(Left) =:= 0 ->
    {[], Done};
collect_exits(Drv, Left, Done, Deadline) ->
    Timeout = max(0, Deadline - erlang:monotonic_time(millisecond)),
    receive
        {alcove_stdout, Drv, [C], Bin} when is_map_key(C, Left) ->
            collect_exits(Drv, Left#{C := map_get(C, Left) + byte_size(Bin)}, Done, Deadline);
        {alcove_event, Drv, [C], Event} when is_map_key(C, Left) ->
            {N, Left1} = maps:take(C, Left),
            collect_exits(Drv, Left1, [{C, N, Event} | Done], Deadline)
    after Timeout ->
        {Left, Done}
    end.

%% Wait until the process at Chain has no children left (they exited and
%% were reaped).
wait_no_children(Drv, Chain) ->
    wait_no_children(Drv, Chain, erlang:monotonic_time(millisecond) + ?DEADLINE).

wait_no_children(Drv, Chain, Deadline) ->
    case alcove:cpid(Drv, Chain) of
        [] ->
            ok;
        Pids ->
            case erlang:monotonic_time(millisecond) > Deadline of
                true ->
                    ct:fail({children_left, Pids});
                false ->
                    timer:sleep(50),
                    wait_no_children(Drv, Chain, Deadline)
            end
    end.

flush() ->
    receive
        M -> [M | flush()]
    after 0 -> []
    end.

%% No 64 KiB ceiling on replies: one read/4 of 1 MiB returns all of it,
%% in the port and in a child at depth 2.
read_1mib(Config) ->
    Drv = ?config(drv, Config),
    Path = filename:join(?config(priv_dir, Config), "mib"),
    Data = << <<(I rem 251)>> || I <- lists:seq(1, 1048576) >>,
    ok = file:write_file(Path, Data),
    {ok, C1} = alcove:fork(Drv, []),
    {ok, C2} = alcove:fork(Drv, [C1]),
    lists:foreach(
      fun(Chain) ->
              {ok, Fd} = alcove:open(Drv, Chain, Path, [o_rdonly], 0),
              {ok, Data} = alcove:read(Drv, Chain, Fd, 1048576),
              {ok, <<>>} = alcove:read(Drv, Chain, Fd, 1048576),
              ok = alcove:close(Drv, Chain, Fd)
      end, [[], [C1, C2]]),
    {error, einval} = alcove:read(Drv, [], 0, -1).
