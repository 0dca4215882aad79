%% SPDX-License-Identifier: ISC
%% Behaviours of the reference (alcove 0.36) that code written against it
%% relies on: fdctl after exec, exits under flow control, eof of each
%% stream, maxchild following RLIMIT_NOFILE, and the shapes of arguments
%% and results (mount data, NULL pointers in Cstructs, ptrace, filter,
%% clone).
-module(alcove_fidelity_SUITE).

-include_lib("common_test/include/ct.hrl").
-include_lib("alcove/include/alcove.hrl").

-export([
    all/0,
    suite/0,
    init_per_testcase/2
]).

-export([
    fdctl_after_exec/1,
    flowcontrol_exit_delivered/1,
    eof_stdin_twice/1,
    eof_stdout/1,
    eof_stderr/1,
    eof_esrch/1,
    eof_stdin_event_loop/1,
    maxchild_follows_nofile/1,
    maxchild_lower_kept/1,
    mount_data_bytes/1,
    cstruct_null_pointer/1,
    alloc_empty_badarg/1,
    ptrace_integer_results/1,
    filter_out_of_range/1,
    clone_no_flags_forks/1
]).

-define(DEADLINE, 10000).

suite() ->
    [{timetrap, {seconds, 60}}, {ct_hooks, [{alcove_test, [dir]}]}].

all() ->
    [
        fdctl_after_exec,
        flowcontrol_exit_delivered,
        eof_stdin_twice,
        eof_stdout,
        eof_stderr,
        eof_esrch,
        eof_stdin_event_loop,
        maxchild_follows_nofile,
        maxchild_lower_kept,
        mount_data_bytes,
        cstruct_null_pointer,
        alloc_empty_badarg,
        ptrace_integer_results,
        filter_out_of_range,
        clone_no_flags_forks
    ].

init_per_testcase(Test, Config) ->
    Opts = case Test of
               flowcontrol_exit_delivered -> [{maxchild, 1}];
               maxchild_lower_kept -> [{maxchild, 3}];
               _ -> []
           end,
    alcove_test:start(Config, Opts).

%%%
%%% fdctl
%%%

%% A child in its event loop has a control descriptor; once it has
%% exec'd, cpid/2 and getcpid/4 say -2 (prx tells exec'd children by it).
fdctl_after_exec(Config) ->
    Drv = ?config(drv, Config),
    {ok, C} = alcove:fork(Drv, []),
    Ctl = alcove:getcpid(Drv, [], C, fdctl),
    true = is_integer(Ctl) andalso Ctl >= 0,
    [#alcove_pid{pid = C, fdctl = Ctl}] = alcove:cpid(Drv, []),
    ok = alcove:execvp(Drv, [C], "/bin/cat", ["cat"]),
    -2 = alcove:getcpid(Drv, [], C, fdctl),
    [#alcove_pid{pid = C, fdctl = -2, stdin = In}] = alcove:cpid(Drv, []),
    true = In >= 0,
    ok = alcove:eof(Drv, [C]),
    {exit_status, 0} = alcove:event(Drv, [C], ?DEADLINE).

%%%
%%% flow control
%%%

%% A child with flowcontrol 0 that writes and exits: its output comes,
%% then its exit, in that order, whatever its flowcontrol; it leaves
%% cpid/2 and its slot (maxchild is 1 here) is free again.
flowcontrol_exit_delivered(Config) ->
    Drv = ?config(drv, Config),
    {ok, C} = alcove:fork(Drv, []),
    true = alcove:setcpid(Drv, [], C, flowcontrol, 0),
    ok = alcove:execvp(Drv, [C], "/bin/sh",
                       ["sh", "-c", "echo out; echo err >&2; exit 3"]),
    {<<"out\n">>, <<"err\n">>, {exit_status, 3}} = until_event(Drv, [C]),
    [] = alcove:cpid(Drv, []),
    {ok, C2} = alcove:fork(Drv, []),
    C2 = alcove:getpid(Drv, [C2]).

%%%
%%% eof
%%%

%% eof/2 closes stdin (after what was written before); a second time the
%% stream is closed already: ebadf. eof/4 takes a timeout.
eof_stdin_twice(Config) ->
    Drv = ?config(drv, Config),
    {ok, C} = alcove:fork(Drv, []),
    ok = alcove:execvp(Drv, [C], "/bin/sh",
                       ["sh", "-c", "cat; echo end; exec sleep 1000"]),
    ok = alcove:stdin(Drv, [C], "abc"),
    ok = alcove:eof(Drv, [C], stdin, 5000),
    <<"abcend\n">> = read_stdout(Drv, [C], <<>>),
    {error, ebadf} = alcove:eof(Drv, [C]),
    {error, ebadf} = alcove:eof(Drv, [C], stdin),
    [#alcove_pid{pid = C, stdin = -1}] = alcove:cpid(Drv, []),
    ok = alcove:kill(Drv, [], C, sigkill),
    {<<>>, <<>>, {termsig, sigkill}} = until_event(Drv, [C]).

%% eof of stdout closes the parent's end of the pipe: cat's next write
%% gets SIGPIPE, and its exit is reported without waiting for the end of
%% a pipe nobody reads any more.
eof_stdout(Config) ->
    Drv = ?config(drv, Config),
    {ok, C} = alcove:fork(Drv, []),
    ok = alcove:execvp(Drv, [C], "/bin/cat", ["cat"]),
    ok = alcove:eof(Drv, [C], stdout),
    {error, ebadf} = alcove:eof(Drv, [C], stdout),
    [#alcove_pid{pid = C, stdout = -1}] = alcove:cpid(Drv, []),
    ok = alcove:stdin(Drv, [C], "lost\n"),
    {termsig, sigpipe} = alcove:event(Drv, [C], ?DEADLINE),
    [] = alcove:stdout(Drv, [C]),
    [] = alcove:cpid(Drv, []).

%% The same for stderr, with stdout still open (cat holds it on fd 3).
eof_stderr(Config) ->
    Drv = ?config(drv, Config),
    {ok, C} = alcove:fork(Drv, []),
    ok = alcove:execvp(Drv, [C], "/bin/sh", ["sh", "-c", "exec cat 3>&1 >&2"]),
    ok = alcove:eof(Drv, [C], stderr, infinity),
    {error, ebadf} = alcove:eof(Drv, [C], stderr),
    [#alcove_pid{pid = C, stderr = -1}] = alcove:cpid(Drv, []),
    true = alcove:getcpid(Drv, [], C, stdout) >= 0,
    ok = alcove:stdin(Drv, [C], "lost\n"),
    {termsig, sigpipe} = alcove:event(Drv, [C], ?DEADLINE),
    [] = alcove:stderr(Drv, [C]),
    [] = alcove:cpid(Drv, []).

%% eof on the port itself, or on what is not a child: esrch, for every
%% stream, never an exception; a stream that is not one is badarg.
eof_esrch(Config) ->
    Drv = ?config(drv, Config),
    {ok, C} = alcove:fork(Drv, []),
    {ok, E} = alcove:fork(Drv, []),
    ok = alcove:exit(Drv, [E], 0),
    {exit_status, 0} = alcove:event(Drv, [E], ?DEADLINE),
    NotChildren = [[], [16#7ffffff0], [E], [C, 16#7ffffff0], [C, C]],
    [{error, esrch} = alcove:eof(Drv, Chain, Stream)
     || Chain <- NotChildren, Stream <- [stdin, stdout, stderr]],
    [{error, esrch} = alcove:eof(Drv, Chain) || Chain <- NotChildren],
    {error, esrch} = alcove:eof(Drv, [], stdin, 1000),
    {'EXIT', {badarg, _}} = (catch alcove:eof(Drv, [C], stdio)),
    {'EXIT', {badarg, _}} = (catch alcove:eof(Drv, [C], stdin, -1)),
    C = alcove:getpid(Drv, [C]).

%% Closing the stdin of a child still in its event loop shuts it down as
%% the port shuts down when its stdin closes: its children get their
%% signaloneof signal, and it exits 0.
eof_stdin_event_loop(Config) ->
    Drv = ?config(drv, Config),
    File = filename:join(?config(dir, Config), "signalled"),
    {ok, C} = alcove:fork(Drv, []),
    {ok, G} = alcove:fork(Drv, [C]),
    Usr1 = alcove:signal_constant(Drv, [], sigusr1),
    true = alcove:setcpid(Drv, [C], G, signaloneof, Usr1),
    Script = "trap 'echo usr1 > " ++ File ++ "; exit 0' USR1; echo ready; "
             "while :; do sleep 0.1; done",
    ok = alcove:execvp(Drv, [C, G], "/bin/sh", ["sh", "-c", Script]),
    [<<"ready\n">>] = alcove:stdout(Drv, [C, G], ?DEADLINE),
    ok = alcove:eof(Drv, [C]),
    {exit_status, 0} = alcove:event(Drv, [C], ?DEADLINE),
    [] = alcove:cpid(Drv, []),
    {ok, <<"usr1\n">>} = file:read_file(File).

%%%
%%% maxchild
%%%

%% Lowering RLIMIT_NOFILE lowers maxchild to (ulimit -n) / 4 - 4: the
%% forks it allows succeed, the next is eagain, never emfile. The port's
%% own maxchild is untouched.
maxchild_follows_nofile(Config) ->
    Drv = ?config(drv, Config),
    PortMax = alcove:getopt(Drv, [], maxchild),
    {ok, C} = alcove:fork(Drv, []),
    ok = alcove:setrlimit(Drv, [C], rlimit_nofile,
                          #alcove_rlimit{cur = 64, max = 64}),
    12 = alcove:getopt(Drv, [C], maxchild),
    Kids = [begin {ok, K} = alcove:fork(Drv, [C]), K end
            || _ <- lists:seq(1, 12)],
    12 = length(alcove:cpid(Drv, [C])),
    {error, eagain} = alcove:fork(Drv, [C]),
    [K = alcove:getpid(Drv, [C, K]) || K <- Kids],
    PortMax = alcove:getopt(Drv, [], maxchild).

%% A maxchild lower than the limit allows, given at start or by setopt,
%% is kept when the limit is lowered.
maxchild_lower_kept(Config) ->
    Drv = ?config(drv, Config),
    3 = alcove:getopt(Drv, [], maxchild),
    {ok, C} = alcove:fork(Drv, []),
    3 = alcove:getopt(Drv, [C], maxchild),
    ok = alcove:setrlimit(Drv, [C], rlimit_nofile,
                          #alcove_rlimit{cur = 64, max = 64}),
    3 = alcove:getopt(Drv, [C], maxchild),
    {ok, D} = alcove:fork(Drv, []),
    true = alcove:setopt(Drv, [D], maxchild, 2),
    ok = alcove:setrlimit(Drv, [D], rlimit_nofile,
                          #alcove_rlimit{cur = 64, max = 64}),
    2 = alcove:getopt(Drv, [D], maxchild).

%%%
%%% arguments and results
%%%

%% mount/8 data is bytes for the file system, not a path: a trailing NUL
%% is passed as it is and tmpfs takes size=16M either way.
mount_data_bytes(Config) ->
    Drv = ?config(drv, Config),
    Dir = ?config(dir, Config),
    {ok, C} = alcove:clone(Drv, [], [clone_newns]),
    ok = alcove:mount(Drv, [C], "none", "/", [], [ms_rec, ms_private], [], []),
    ok = alcove:mount(Drv, [C], "tmpfs", Dir, "tmpfs", [],
                      <<"size=16M", 0>>, []),
    [Line] = mounts(C, Dir),
    {match, _} = re:run(Line, <<"[ ,]size=16384k[ ,]">>),
    ok = alcove:umount(Drv, [C], Dir),
    ok = alcove:mount(Drv, [C], "tmpfs", Dir, "tmpfs", [], "size=16M", []),
    [Line] = mounts(C, Dir).

%% In a Cstruct, {ptr, 0} and {ptr, <<>>} are a NULL pointer: the buffer
%% holds a zero word and the element comes back as that word.
cstruct_null_pointer(Config) ->
    Drv = ?config(drv, Config),
    W = erlang:system_info({wordsize, external}) * 8,
    {ok, <<0:W>>, [<<0:W>>]} = alcove:alloc(Drv, [], [{ptr, 0}]),
    {ok, <<0:W>>, [<<0:W>>]} = alcove:alloc(Drv, [], [{ptr, <<>>}]),
    {ok, <<1, 0:W, 2>>, [<<1>>, <<0:W>>, <<2>>]} =
        alcove:alloc(Drv, [], [<<1>>, {ptr, <<>>}, <<2>>]),
    %% a pointer to memory is still one
    {ok, <<P:W/native>>, [{ptr, <<"x">>}]} =
        alcove:alloc(Drv, [], [{ptr, <<"x">>}]),
    true = P =/= 0.

%% alloc/3 of the empty list: no Cstruct, badarg.
alloc_empty_badarg(Config) ->
    Drv = ?config(drv, Config),
    {'EXIT', {badarg, _}} = (catch alcove:alloc(Drv, [], [])),
    {'EXIT', {badarg, _}} = (catch alcove:alloc(Drv, [], [], 5000)),
    ok.

%% ptrace/6 gives integer Addr and Data back as <<>>.
ptrace_integer_results(Config) ->
    Drv = ?config(drv, Config),
    _ = alcove_test:ptrace_detached(Drv, ?DEADLINE),
    ok.

%% filter/3,4 with a call number outside 0..255: {error, einval}, and
%% nothing is filtered.
filter_out_of_range(Config) ->
    Drv = ?config(drv, Config),
    {error, einval} = alcove:filter(Drv, [], [256]),
    {error, einval} = alcove:filter(Drv, [], [-1]),
    {error, einval} = alcove:filter(Drv, [], [0, 1 bsl 70]),
    {error, einval} = alcove:filter(Drv, [], [0], [100000]),
    {error, einval} = alcove:filter(Drv, [], [-5], [0]),
    {ok, C} = alcove:fork(Drv, []),
    {ok, _} = alcove:fork(Drv, [C]).

%% clone/3 with no flags is a fork.
clone_no_flags_forks(Config) ->
    Drv = ?config(drv, Config),
    {ok, C} = alcove:clone(Drv, [], 0),
    C = alcove:getpid(Drv, [C]),
    {ok, D} = alcove:clone(Drv, [], []),
    D = alcove:getpid(Drv, [D]),
    {ok, G} = alcove:clone(Drv, [C], 0),
    G = alcove:getpid(Drv, [C, G]),
    %% in the namespaces of its parent
    {ok, Ns} = file:read_link("/proc/self/ns/mnt"),
    {ok, Ns} = file:read_link("/proc/" ++ integer_to_list(G) ++ "/ns/mnt").

%%%
%%% Helpers
%%%

%% stdout, stderr and the event of a process, the event last: anything
%% after it is an error.
until_event(Drv, Chain) ->
    until_event(Drv, Chain, <<>>, <<>>).

until_event(Drv, Chain, Out, Err) ->
    receive
        {alcove_stdout, Drv, Chain, D} ->
            until_event(Drv, Chain, <<Out/binary, D/binary>>, Err);
        {alcove_stderr, Drv, Chain, D} ->
            until_event(Drv, Chain, Out, <<Err/binary, D/binary>>);
        {alcove_event, Drv, Chain, Event} ->
            [] = alcove:stdout(Drv, Chain, 200),
            [] = alcove:stderr(Drv, Chain),
            {Out, Err, Event}
    after ?DEADLINE ->
        ct:fail({no_event, Chain, Out, Err})
    end.

%% stdout of a process up to a newline.
read_stdout(Drv, Chain, Acc) ->
    receive
        {alcove_stdout, Drv, Chain, D} ->
            Out = <<Acc/binary, D/binary>>,
            case binary:last(Out) of
                $\n -> Out;
                _ -> read_stdout(Drv, Chain, Out)
            end
    after ?DEADLINE ->
        ct:fail({no_stdout, Chain, Acc})
    end.

%% The lines of /proc/PID/mounts whose mount point is Dir.
mounts(Pid, Dir) ->
    {ok, Bin} = file:read_file("/proc/" ++ integer_to_list(Pid) ++ "/mounts"),
    Point = iolist_to_binary(Dir),
    [L || L <- binary:split(Bin, <<"\n">>, [global]),
          [_, P | _] <- [binary:split(L, <<" ">>, [global])],
          P =:= Point].
