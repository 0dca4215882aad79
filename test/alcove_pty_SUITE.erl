%% SPDX-License-Identifier: ISC
%% Programs on a terminal: pty/4 moves a child's stdio onto a new
%% pseudo-terminal whose master its parent holds (its output is stdout,
%% stdin/3 types into it), ptysize/5 sets the window size (SIGWINCH), and
%% alcove_sandbox's `pty' key and resize/3, as root and rootless.
-module(alcove_pty_SUITE).

-include_lib("common_test/include/ct.hrl").

-export([all/0, suite/0, init_per_suite/1, end_per_suite/1]).
-export([
    isatty/1,
    session_leader/1,
    size_read/1,
    resize_winch/1,
    interactive_shell/1,
    control_characters/1,
    stdin_before_exec/1,
    spawned/1,
    errors/1,
    pipes_unchanged/1,
    sandbox_pty/1,
    sandbox_resize/1,
    sandbox_check/1,
    rootless_sandbox_pty/1
]).

-define(WAIT, 10000).
-define(SH, "/bin/sh").
-define(BUSYBOX, "/bin/busybox").
-define(SETPRIV, ["--reuid=65534", "--regid=65534", "--clear-groups"]).

suite() ->
    [{timetrap, {seconds, 60}}, {ct_hooks, [{alcove_test, [port]}]}].

all() ->
    [isatty, session_leader, size_read, resize_winch, interactive_shell,
     control_characters, stdin_before_exec, spawned, errors, pipes_unchanged,
     sandbox_pty, sandbox_resize, sandbox_check, rootless_sandbox_pty].

init_per_suite(Config) ->
    filelib:is_regular(?BUSYBOX) orelse ct:fail("busybox is needed: scripts/deps"),
    Config.

end_per_suite(Config) ->
    Config.

%%%
%%% pty/4 and ptysize/5
%%%

%% stdin, stdout and stderr of the program are the terminal; stderr
%% comes as stdout, with the terminal's \r\n.
isatty(Config) ->
    Drv = ?config(drv, Config),
    {ok, Child} = alcove:fork(Drv, []),
    ok = alcove:pty(Drv, [Child], 24, 80),
    ok = alcove:execvp(Drv, [Child], ?SH,
                       [?SH, "-c", "test -t 0 -a -t 1 -a -t 2 && echo tty; "
                                   "echo err >&2; " ?BUSYBOX " tty"]),
    {0, Out, <<>>} = alcove_test:output(Drv, [Child]),
    {match, _} = re:run(Out, "^tty\r\nerr\r\n/dev/pts/[0-9]+\r\n$").

%% The program leads a session of its own whose controlling terminal is
%% the pty, in the foreground: /proc/PID/stat says so.
session_leader(Config) ->
    Drv = ?config(drv, Config),
    {ok, Child} = alcove:fork(Drv, []),
    ok = alcove:pty(Drv, [Child], 24, 80),
    ok = alcove:execvp(Drv, [Child], ?SH, [?SH, "-c", "echo go; read x"]),
    <<"go\r\n">> = read_until(Drv, [Child], <<"go\r\n">>),
    [_State, _PPid, Pgrp, Session, TtyNr, Tpgid | _] = stat(Child),
    {Child, Child, Child} = {Pgrp, Session, Tpgid},
    true = TtyNr =/= 0,
    %% the port is in another session, without this terminal
    [_, _, _, PortSession, _, _ | _] = stat(alcove:getpid(Drv, [])),
    true = PortSession =/= Child,
    ok = alcove:stdin(Drv, [Child], "\n"),
    {0, _, <<>>} = alcove_test:output(Drv, [Child]).

%% The size given is the one the program reads (busybox stty).
size_read(Config) ->
    Drv = ?config(drv, Config),
    {ok, Child} = alcove:fork(Drv, []),
    ok = alcove:pty(Drv, [Child], 33, 101),
    ok = alcove:execvp(Drv, [Child], ?BUSYBOX, [?BUSYBOX, "stty", "size"]),
    {0, <<"33 101\r\n">>, <<>>} = alcove_test:output(Drv, [Child]).

%% ptysize/5 changes the size of a running program's terminal: it gets
%% SIGWINCH and reads the new size, each time.
resize_winch(Config) ->
    Drv = ?config(drv, Config),
    {ok, Child} = alcove:fork(Drv, []),
    ok = alcove:pty(Drv, [Child], 24, 80),
    ok = alcove:execvp(Drv, [Child], ?BUSYBOX,
                       [?BUSYBOX, "sh", "-c",
                        "trap 'echo winch $(stty size)' WINCH; echo ready; "
                        "while :; do sleep 0.05; done"]),
    <<"ready\r\n">> = read_until(Drv, [Child], <<"ready\r\n">>),
    ok = alcove:ptysize(Drv, [], Child, 50, 132),
    <<"winch 50 132\r\n">> = read_until(Drv, [Child], <<"winch 50 132\r\n">>),
    ok = alcove:ptysize(Drv, [], Child, 10, 40),
    <<"winch 10 40\r\n">> = read_until(Drv, [Child], <<"winch 10 40\r\n">>),
    ok = alcove:kill(Drv, [], Child, sigkill),
    {termsig, sigkill} = alcove:event(Drv, [Child], ?WAIT).

%% An interactive shell driven through its terminal: the terminal echoes
%% what is typed, the shell prompts and answers, exit ends it.
interactive_shell(Config) ->
    Drv = ?config(drv, Config),
    {ok, Child} = alcove:fork(Drv, []),
    ok = alcove:pty(Drv, [Child], 24, 80),
    ok = alcove:execve(Drv, [Child], ?SH, [?SH, "-i"], ["PS1=box> ", "PATH=/bin:/usr/bin"]),
    <<"box> ">> = read_until(Drv, [Child], <<"box> ">>),
    ok = alcove:stdin(Drv, [Child], "echo hello $((6*7))\n"),
    Out = read_until(Drv, [Child], <<"hello 42\r\nbox> ">>),
    {match, _} = re:run(Out, "echo hello \\$\\(\\(6\\*7\\)\\)\r\nhello 42\r\nbox> $"),
    ok = alcove:stdin(Drv, [Child], "test -t 0 && echo on a tty\n"),
    _ = read_until(Drv, [Child], <<"\r\non a tty\r\nbox> ">>),
    ok = alcove:stdin(Drv, [Child], "exit 3\n"),
    {exit_status, 3} = exit_event(Drv, [Child]).

%% ^C interrupts the foreground job, as at a terminal (the line
%% discipline signals the foreground process group), and ^D at the
%% start of a line ends cat's input.
control_characters(Config) ->
    Drv = ?config(drv, Config),
    {ok, Child} = alcove:fork(Drv, []),
    ok = alcove:pty(Drv, [Child], 24, 80),
    ok = alcove:execve(Drv, [Child], ?SH, [?SH, "-i"], ["PS1=box> ", "PATH=/bin:/usr/bin"]),
    <<"box> ">> = read_until(Drv, [Child], <<"box> ">>),
    ok = alcove:stdin(Drv, [Child], "sleep 100; echo after $?\n"),
    _ = read_until(Drv, [Child], <<"sleep 100; echo after $?\r\n">>),
    %% sleep runs, in the foreground group of the terminal
    true = foreground(Child, <<"sleep\n">>, 500) =/= Child,
    ok = alcove:stdin(Drv, [Child], [3]),
    _ = read_until(Drv, [Child], <<"box> ">>),
    ok = alcove:stdin(Drv, [Child], "cat; echo cat $?\n"),
    _ = read_until(Drv, [Child], <<"cat; echo cat $?\r\n">>),
    ok = alcove:stdin(Drv, [Child], "line\n"),
    _ = read_until(Drv, [Child], <<"line\r\nline\r\n">>),
    ok = alcove:stdin(Drv, [Child], [4]),
    _ = read_until(Drv, [Child], <<"cat 0\r\nbox> ">>),
    ok = alcove:stdin(Drv, [Child], [4]),
    {exit_status, 0} = exit_event(Drv, [Child]).

%% What stdin/3 wrote before the program ran waits in the terminal.
stdin_before_exec(Config) ->
    Drv = ?config(drv, Config),
    {ok, Child} = alcove:fork(Drv, []),
    ok = alcove:pty(Drv, [Child], 24, 80),
    ok = alcove:stdin(Drv, [Child], "typed ahead\n"),
    ok = alcove:execvp(Drv, [Child], ?SH, [?SH, "-c", "read x; echo got $x"]),
    {0, Out, <<>>} = alcove_test:output(Drv, [Child]),
    <<"typed ahead\r\ngot typed ahead\r\n">> = Out.

%% The child of spawn/4 takes its terminal in its calls: its stdio is
%% on it once spawn answers.
spawned(Config) ->
    Drv = ?config(drv, Config),
    {ok, Pid} = alcove:spawn(Drv, [], [clone_newuts], [
        {pty, [12, 34]},
        {execvp, [?SH, [?SH, "-c", "test -t 0 && stty size; read x; echo $x"]]}]),
    <<"12 34\r\n">> = read_until(Drv, [Pid], <<"12 34\r\n">>),
    ok = alcove:stdin(Drv, [Pid], "typed\n"),
    {0, <<"typed\r\ntyped\r\n">>, <<>>} = alcove_test:output(Drv, [Pid]).

%% The errors of the contract: the port's own stdio is the VM's, a
%% second terminal, a child without one, no such child, a size out of
%% range.
errors(Config) ->
    Drv = ?config(drv, Config),
    {error, enotsup} = alcove:pty(Drv, [], 24, 80),
    {ok, Child} = alcove:fork(Drv, []),
    {error, enotty} = alcove:ptysize(Drv, [], Child, 24, 80),
    {error, esrch} = alcove:ptysize(Drv, [], alcove:getpid(Drv, []), 24, 80),
    badarg = badarg(fun() -> alcove:pty(Drv, [Child], 65536, 80) end),
    badarg = badarg(fun() -> alcove:ptysize(Drv, [], Child, 24, 65536) end),
    badarg = badarg(fun() -> alcove:pty(Drv, [Child], -1, 80) end),
    ok = alcove:pty(Drv, [Child], 24, 80),
    {error, eperm} = alcove:pty(Drv, [Child], 24, 80),
    %% the event loop on the terminal sees SIGWINCH as an event
    ok = alcove:ptysize(Drv, [], Child, 25, 81),
    {signal, sigwinch, _} = alcove:event(Drv, [Child], ?WAIT),
    %% a process group leader that leads no session cannot take one
    {ok, Leader} = alcove:fork(Drv, []),
    ok = alcove:setpgid(Drv, [Leader], 0, 0),
    {error, eperm} = alcove:pty(Drv, [Leader], 24, 80),
    Child = alcove:getpid(Drv, [Child]).

%% A child without pty/4 keeps its pipes: stdout and stderr apart, no
%% terminal, no \r.
pipes_unchanged(Config) ->
    Drv = ?config(drv, Config),
    {ok, Child} = alcove:fork(Drv, []),
    ok = alcove:execvp(Drv, [Child], ?SH,
                       [?SH, "-c", "test -t 0 || test -t 1 || echo pipes; echo err >&2"]),
    {0, <<"pipes\n">>, <<"err\n">>} = alcove_test:output(Drv, [Child]).

%%%
%%% alcove_sandbox
%%%

%% A sandbox with `pty': namespaces, a tmpfs root with busybox and a
%% /dev of its own; the program is on the terminal at the size given,
%% and answers what it is typed.
sandbox_pty(Config) ->
    Drv = ?config(drv, Config),
    {ok, Pid} = alcove_sandbox:run(Drv, [], box(#{rows => 40, cols => 120})),
    Out = read_until(Drv, [Pid], <<"40 120\r\n">>),
    {match, _} = re:run(Out, "^tty\r\n1\r\n40 120\r\n$"),
    ok = alcove:stdin(Drv, [Pid], "hello\n"),
    {0, Rest, <<>>} = alcove_test:output(Drv, [Pid]),
    <<"hello\r\ngot hello\r\n">> = Rest.

%% start/3 with `pty', resized by resize/3: the program sees SIGWINCH
%% and the new size; wait/2 reports its exit.
sandbox_resize(Config) ->
    Drv = ?config(drv, Config),
    {ok, Sb} = alcove_sandbox:start(Drv, [], #{
        namespaces => [pid, mount],
        pty => true,
        argv => [?BUSYBOX, "sh", "-c",
                 "trap 'stty size; exit 5' WINCH; stty size; "
                 "while :; do sleep 0.05; done"]}),
    receive {alcove_stdout, Drv, [_], <<"24 80\r\n">>} -> ok after ?WAIT -> ct:fail(no_size) end,
    ok = alcove_sandbox:resize(Sb, 60, 200),
    receive {alcove_stdout, Drv, [_], <<"60 200\r\n">>} -> ok after ?WAIT -> ct:fail(no_winch) end,
    {ok, #{status := {exit_status, 5}, ended_by := exit}} = alcove_sandbox:wait(Sb, ?WAIT),
    {error, esrch} = alcove_sandbox:resize(Sb, 1, 1).

%% The key is checked with the others.
sandbox_check(_Config) ->
    ok = alcove_sandbox:check(#{pty => true}),
    ok = alcove_sandbox:check(#{pty => false}),
    ok = alcove_sandbox:check(#{pty => #{rows => 0, cols => 65535}}),
    Big = #{rows => 65536},
    {error, {badvalue, pty, Big}} = alcove_sandbox:check(#{pty => Big}),
    Lines = #{lines => 1},
    {error, {badvalue, pty, Lines}} = alcove_sandbox:check(#{pty => Lines}),
    {error, {badvalue, pty, yes}} = alcove_sandbox:check(#{pty => yes}),
    true = lists:member(pty, alcove_sandbox:steps()).

%% The same sandbox built by a port run as uid 65534, in a user
%% namespace.
rootless_sandbox_pty(_Config) ->
    Setpriv = os:find_executable("setpriv"),
    Setpriv =/= false orelse ct:fail("setpriv (util-linux) is needed"),
    {Prog, Stage} = nobody_port(),
    Exec = lists:flatten(lists:join(" ", [Setpriv | ?SETPRIV])),
    {ok, Drv} = alcove_drv:start([{exec, Exec}, {progname, Prog}]),
    try
        {ok, 65534, 65534, 65534} = alcove:getresuid(Drv, []),
        Spec = box(#{rows => 20, cols => 70}),
        {ok, Pid} = alcove_sandbox:run(Drv, [], Spec#{namespaces => [user, pid, mount, uts]}),
        Out = read_until(Drv, [Pid], <<"20 70\r\n">>),
        {match, _} = re:run(Out, "^tty\r\n1\r\n20 70\r\n$"),
        ok = alcove:stdin(Drv, [Pid], "rootless\n"),
        {0, <<"rootless\r\ngot rootless\r\n">>, <<>>} = alcove_test:output(Drv, [Pid])
    after
        alcove_drv:stop(Drv),
        [file:del_dir_r(Stage) || Stage =/= none]
    end.

%%%
%%% Helpers
%%%

box(Pty) ->
    #{namespaces => [pid, mount, uts, net, ipc],
      root => tmpfs,
      mounts => [{bind, ?BUSYBOX, ?BUSYBOX, [ro]}, {proc, "/proc"}, {dev, "/dev"},
                 {remount, "/", [ro]}],
      hostname => "tty-box",
      pty => Pty,
      argv => [?BUSYBOX, "sh", "-c",
               "test -t 0 -a -t 1 -a -t 2 && echo tty; echo $$; "
               ?BUSYBOX " stty size; read x; echo got $x"]}.

%% Stdout of Chain until it ends with Want: all of it.
read_until(Drv, Chain, Want) ->
    read_until(Drv, Chain, Want, <<>>).

read_until(Drv, Chain, Want, Acc) ->
    N = byte_size(Want),
    case byte_size(Acc) >= N andalso binary:part(Acc, byte_size(Acc), -N) =:= Want of
        true ->
            Acc;
        false ->
            receive
                {alcove_stdout, Drv, Chain, D} ->
                    read_until(Drv, Chain, Want, <<Acc/binary, D/binary>>)
            after ?WAIT ->
                ct:fail({no_output, Want, Acc})
            end
    end.

exit_event(Drv, Chain) ->
    receive
        {alcove_event, Drv, Chain, {exit_status, _} = E} -> E;
        {alcove_event, Drv, Chain, {termsig, _} = E} -> E
    after ?WAIT ->
        ct:fail(no_exit)
    end.

%% The foreground process group of the terminal of Pid, once its leader
%% runs Comm (looked at N times, 20 ms apart).
foreground(_, _, 0) ->
    ct:fail(no_foreground_job);
foreground(Pid, Comm, N) ->
    [_, _, _, _, _, Tpgid | _] = stat(Pid),
    case file:read_file("/proc/" ++ integer_to_list(Tpgid) ++ "/comm") of
        {ok, Comm} -> Tpgid;
        _ -> timer:sleep(20), foreground(Pid, Comm, N - 1)
    end.

badarg(F) ->
    try F() catch error:badarg -> badarg end.

%% The fields of /proc/PID/stat after the command: state, ppid, pgrp,
%% session, tty_nr, tpgid...
stat(Pid) ->
    {ok, Stat} = file:read_file("/proc/" ++ integer_to_list(Pid) ++ "/stat"),
    [_, After] = binary:split(Stat, <<") ">>),
    [State | Rest] = binary:split(string:trim(After), <<" ">>, [global]),
    [State | [binary_to_integer(F) || F <- Rest]].

%% The port, where uid 65534 can run it: a copy readable by all, unless
%% the build is.
nobody_port() ->
    Prog = alcove_drv:progname(),
    case os:cmd("setpriv " ++ lists:flatten(lists:join(" ", ?SETPRIV))
                ++ " test -x " ++ Prog ++ " && echo yes") of
        "yes\n" ->
            {Prog, none};
        _ ->
            Dir = string:trim(os:cmd("mktemp -d /tmp/alcove-pty.XXXXXX")),
            Copy = filename:join(Dir, "alcove"),
            {ok, _} = file:copy(Prog, Copy),
            [] = os:cmd("chmod a+rx " ++ Dir ++ " " ++ Copy),
            {Copy, Dir}
    end.
