%% SPDX-License-Identifier: ISC
%% The sandboxed program cannot reach the supervisor.
%%
%% A probe (alcove_escape_SUITE_data/probe.c, built static so that it
%% runs in an empty root) is exec'd in children of the port, confined
%% three ways: ids dropped to 65534 with no namespace; an alcove_sandbox
%% with PID, mount, network, UTS and IPC namespaces; a port run as
%% uid 65534 whose child is in a user and PID namespace (rootless). From
%% inside, it lists the descriptors it holds, then tries to reach the
%% port and the event loops around it: list and open their descriptors
%% through /proc, open their memory, ptrace them, take a descriptor with
%% pidfd_getfd(2), signal them. Each attempt must fail.
%%
%% It also writes frames forged in the port's upstream format (replies
%% to pending requests, events and a closing for a sibling, output
%% claimed by a sibling, a lying length) to its stdout and stderr: they
%% must reach Erlang as that program's output, byte for byte, and
%% nothing else. Filtered calls are tried in alcove_hostile_SUITE
%% (filtered_calls_raw) and alcove_call_SUITE (filter_*).
-module(alcove_escape_SUITE).

-include_lib("common_test/include/ct.hrl").
-include_lib("alcove/include/alcove.hrl").
%% MSG_*: the port's frame types
-include_lib("alcove/src/alcove_facts.hrl").

-export([all/0, suite/0, init_per_suite/1, end_per_suite/1,
         init_per_testcase/2]).
-export([
    dropped_ids/1,
    sandboxed/1,
    rootless/1,
    forged_frames/1,
    ctldir_unused/1
]).

-define(T, 10000).
-define(NOBODY, 65534).
-define(SETPRIV, ["--reuid=65534", "--regid=65534", "--clear-groups"]).

suite() ->
    [{timetrap, {seconds, 60}}, {ct_hooks, [{alcove_test, []}]}].

all() ->
    [dropped_ids, sandboxed, rootless, forged_frames, ctldir_unused].

%% The probe, and a copy of the port, in a directory uid 65534 can reach.
init_per_suite(Config) ->
    Dir = string:trim(os:cmd("mktemp -d /tmp/alcove-escape.XXXXXX")),
    Probe = filename:join(Dir, "probe"),
    Src = filename:join(?config(data_dir, Config), "probe.c"),
    CC = os:getenv("CC", "cc"),
    {0, _} = run(CC, ["-static", "-O2", "-Wall", "-Werror", "-o", Probe, Src]),
    Port = filename:join(Dir, "alcove"),
    {ok, _} = file:copy(alcove_drv:progname(), Port),
    ok = file:change_mode(Port, 8#755),
    ok = file:change_mode(Dir, 8#755),
    [{dir, Dir}, {probe, Probe}, {port, Port} | Config].

end_per_suite(Config) ->
    ok = file:del_dir_r(?config(dir, Config)),
    Config.

init_per_testcase(rootless, Config) ->
    Setpriv = os:find_executable("setpriv"),
    Setpriv =/= false orelse ct:fail("setpriv (util-linux) is needed"),
    Exec = lists:flatten(lists:join(" ", [Setpriv | ?SETPRIV])),
    alcove_test:start(Config, [{exec, Exec}, {progname, ?config(port, Config)}]);
init_per_testcase(_Case, Config) ->
    alcove_test:start(Config).

%%% Test cases

%% A root port; the probe runs as 65534 with no supplementary groups, a
%% grandchild of the port: its parent event loop, a sibling event loop
%% and the port stay root. /proc refuses their descriptors and memory,
%% ptrace and pidfd_getfd are refused, and so are signals.
dropped_ids(Config) ->
    Drv = ?config(drv, Config),
    Port = alcove:getpid(Drv, []),
    {ok, S} = alcove:fork(Drv, []),
    {ok, L} = alcove:fork(Drv, []),
    {ok, P} = alcove:fork(Drv, [L]),
    Chain = [L, P],
    ok = alcove:setgroups(Drv, Chain, []),
    ok = alcove:setresgid(Drv, Chain, ?NOBODY, ?NOBODY, ?NOBODY),
    ok = alcove:setresuid(Drv, Chain, ?NOBODY, ?NOBODY, ?NOBODY),
    Targets = [Port, L, S],
    Report = probe(Drv, Chain, Config, Targets),
    L = maps:get(ppid, Report),
    ok = unreached(Report, Targets, #{list => ['EACCES'], open => ['EACCES'],
                                      mem => ['EACCES'], ptrace => ['EPERM'],
                                      getfd => ['EPERM'], kill => ['EPERM']}),
    S = alcove:getpid(Drv, [S]),
    L = alcove:getpid(Drv, [L]).

%% A root port; the probe in an alcove_sandbox: new PID, mount, network,
%% UTS and IPC namespaces, an empty root holding the probe and a /proc
%% of its own, uid 65534. Its parent is outside its PID namespace
%% (ppid 0) and no process of the supervisor can be named.
sandboxed(Config) ->
    Drv = ?config(drv, Config),
    Port = alcove:getpid(Drv, []),
    {ok, S} = alcove:fork(Drv, []),
    Probe = ?config(probe, Config),
    Targets = [Port, S],
    Spec = #{namespaces => [pid, mount, net, uts, ipc],
             root => tmpfs,
             mounts => [{bind, Probe, "/probe", [ro]}, {proc, "/proc"},
                        {remount, "/", [ro]}],
             uid => ?NOBODY, gid => ?NOBODY,
             argv => ["/probe", "reach" | [integer_to_list(T) || T <- Targets]]},
    {ok, Pid} = alcove_sandbox:run(Drv, [], Spec),
    Report = report(Drv, [Pid]),
    0 = maps:get(ppid, Report),
    ok = unreached(Report, Targets, #{list => ['ENOENT'], open => ['ENOENT'],
                                      mem => ['ENOENT'], ptrace => ['ESRCH'],
                                      getfd => ['ESRCH'], kill => ['ESRCH']}),
    S = alcove:getpid(Drv, [S]).

%% A port run as uid 65534; the probe is root in a user namespace, uid
%% 65534 outside: the port's own uid. The host's /proc is left mounted.
%% In a PID namespace as well, no process of the supervisor can be named
%% (ptrace, pidfd_open and kill find none) and /proc refuses their
%% descriptors and memory. In a user namespace alone, ptrace and
%% pidfd_getfd are refused too (the probe has no capability in the
%% port's user namespace); signals are not (same uid: the kernel allows
%% them), which is why a rootless sandbox wants a PID namespace. The fd
%% directories may be listed (same uid): no descriptor opens.
rootless(Config) ->
    Drv = ?config(drv, Config),
    Port = alcove:getpid(Drv, []),
    {ok, S} = alcove:fork(Drv, []),
    Targets = [Port, S],
    {ok, C} = alcove_sandbox:rootless_clone(Drv, [], [pid, mount]),
    {ok, 0, 0, 0} = alcove:getresuid(Drv, [C]),
    Report = probe(Drv, [C], Config, Targets),
    0 = maps:get(ppid, Report),
    ok = unreached(Report, Targets, #{open => ['EACCES'], mem => ['EACCES'],
                                      ptrace => ['ESRCH'], getfd => ['ESRCH'],
                                      kill => ['ESRCH']}),
    {ok, U} = alcove_sandbox:rootless_clone(Drv, [], [mount]),
    {ok, 0, 0, 0} = alcove:getresuid(Drv, [U]),
    ReportU = probe(Drv, [U], Config, Targets),
    Port = maps:get(ppid, ReportU),
    ok = unreached(ReportU, Targets, #{open => ['EACCES'], mem => ['EACCES'],
                                       ptrace => ['EPERM'], getfd => ['EPERM']}),
    S = alcove:getpid(Drv, [S]).

%% The probe writes frames forged in the upstream format to its stdout
%% and stderr: replies (status ok, a wrong PID) for every request id the
%% driver will use next, an exit event, a closing and output for a
%% sibling, and a length field larger than anything. Meanwhile, and
%% after, the sibling is called: every call gets its own answer. The
%% forged bytes arrive as the probe's output, intact, and the sibling
%% gets no event, no output and stays.
forged_frames(Config) ->
    Drv = ?config(drv, Config),
    {ok, S} = alcove:fork(Drv, []),
    {ok, C} = alcove:fork(Drv, []),
    Ids = lists:seq(0, 999),
    Forged = iolist_to_binary(
               [[frame(<<?MSG_REPLY, Id:32, 0, (term_to_binary(666))/binary>>) || Id <- Ids],
                frame([<<?MSG_EVENT, 1:16, S:32>>, term_to_binary({exit_status, 0})]),
                frame(<<?MSG_STDOUT, 1:16, S:32, "forged">>),
                frame(<<?MSG_STDERR, 1:16, S:32, "forged">>),
                frame(<<?MSG_CLOSED, 1:16, S:32>>),
                <<16#ffffffff:32, ?MSG_REPLY>>]),
    Hex = binary:encode_hex(Forged),
    true = byte_size(Hex) < 128 * 1024,  % MAX_ARG_STRLEN
    Self = self(),
    Caller = spawn_link(fun() -> Self ! {calls, [alcove:getpid(Drv, [S]) || _ <- Ids]} end),
    ok = alcove:execve(Drv, [C], ?config(probe, Config),
                       ["probe", "forge", string:lowercase(binary_to_list(Hex))], []),
    {0, Forged, Forged} = alcove_test:output(Drv, [C]),
    receive {calls, Pids} -> [S] = lists:usort(Pids) after ?T -> ct:fail(no_calls) end,
    unlink(Caller),
    S = alcove:getpid(Drv, [S]),
    [#alcove_pid{pid = S}] = alcove:cpid(Drv, []),
    receive M when element(3, M) =:= [S] -> ct:fail({forged, M}) after 0 -> ok end.

%% {ctldir, Dir} makes no control file: control channels are socket
%% pairs, so nothing of the port is in Dir, while it runs or after, and
%% every descriptor the port and an event loop hold is anonymous (a pipe, a socket, an
%% epoll or signal descriptor), none a FIFO in the file system.
ctldir_unused(_Config) ->
    Dir = string:trim(os:cmd("mktemp -d /tmp/alcove-ctldir.XXXXXX")),
    {ok, Drv} = alcove_drv:start([{ctldir, Dir}]),
    try
        Port = alcove:getpid(Drv, []),
        {ok, C} = alcove:fork(Drv, []),
        ok = alcove:execvp(Drv, [C], "/bin/cat", ["cat"]),
        {ok, G} = alcove:fork(Drv, []),
        {ok, _} = alcove:fork(Drv, [G]),
        {ok, []} = file:list_dir(Dir),
        %% the port's 0, 1 and 2 are the VM's choice
        Links = [L || Pid <- [Port, G],
                      {ok, Fds} <- [file:list_dir(fd_dir(Pid))],
                      F <- Fds, Pid =/= Port orelse list_to_integer(F) > 2,
                      {ok, L} <- [file:read_link(fd_dir(Pid) ++ "/" ++ F)]],
        true = length(Links) > 6,
        [] = [L || L <- Links, not anonymous(L)],
        ok = alcove_drv:stop(Drv),
        {ok, []} = file:list_dir(Dir)
    after
        catch alcove_drv:stop(Drv),
        file:del_dir_r(Dir)
    end.

%%% Helpers

%% Run the probe's reach mode in Chain (forked, not yet exec'd) and
%% parse what it printed.
probe(Drv, Chain, Config, Targets) ->
    ok = alcove:execve(Drv, Chain, ?config(probe, Config),
                       ["probe", "reach" | [integer_to_list(T) || T <- Targets]], []),
    report(Drv, Chain).

%% The probe's report as a map: fds => [Fd], ppid => Pid,
%% {Attempt, Pid} => Result (an errno name as an atom, or ok), and
%% {opened, Pid} => N for the descriptors opened through /proc.
report(Drv, Chain) ->
    {0, Out, <<>>} = alcove_test:output(Drv, Chain),
    ct:log("~s", [Out]),
    Lines = [string:lexemes(L, " ") || L <- string:lexemes(binary_to_list(Out), "\n")],
    maps:from_list(lists:flatmap(fun line/1, Lines)).

line(["fds" | Fds]) -> [{fds, [list_to_integer(F) || F <- Fds]}];
line(["ppid", P]) -> [{ppid, list_to_integer(P)}];
line(["open", P, R, N]) ->
    Pid = list_to_integer(P),
    [{{open, Pid}, list_to_atom(R)}, {{opened, Pid}, list_to_integer(N)}];
line([A, P, R]) -> [{{list_to_atom(A), list_to_integer(P)}, list_to_atom(R)}].

%% Every attempt against every target failed with one of the errors
%% expected, nothing was opened, and the probe held only 0, 1 and 2.
unreached(Report, Targets, Expected) ->
    [0, 1, 2] = maps:get(fds, Report),
    Wrong = [{A, T, maps:get({A, T}, Report, missing)}
             || T <- Targets, {A, Errors} <- maps:to_list(Expected),
                not lists:member(maps:get({A, T}, Report, missing), Errors)]
        ++ [{opened, T, N} || T <- Targets, N <- [maps:get({opened, T}, Report)], N =/= 0],
    [] = Wrong,
    ok.

frame(Body) -> [<<(iolist_size(Body)):32>>, Body].

fd_dir(Pid) -> "/proc/" ++ integer_to_list(Pid) ++ "/fd".

anonymous(Link) ->
    lists:any(fun(P) -> lists:prefix(P, Link) end, ["pipe:", "socket:", "anon_inode:"]).

run(Prog, Args) ->
    Port = open_port({spawn_executable, os:find_executable(Prog)},
                     [{args, Args}, exit_status, stderr_to_stdout, binary]),
    collect(Port, <<>>).

collect(Port, Acc) ->
    receive
        {Port, {data, D}} -> collect(Port, <<Acc/binary, D/binary>>);
        {Port, {exit_status, N}} -> ct:log("~s", [Acc]), {N, Acc}
    after 60000 -> ct:fail({timeout, Acc})
    end.
