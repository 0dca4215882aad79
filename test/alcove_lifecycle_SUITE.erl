%% SPDX-License-Identifier: ISC
%% Lifecycle of the port and its process tree: descriptors held by exec'd
%% programs, processes left behind (or not) when the driver stops, the
%% owner exits, the VM is killed or the port dies, and leaks over many
%% fork/exit cycles.
-module(alcove_lifecycle_SUITE).

-include_lib("common_test/include/ct.hrl").

-export([all/0, suite/0]).
-export([
    exec_child_fds/1,
    exec_grandchild_fds/1,
    exec_clone_newpid_fds/1,
    stop_leaves_no_process/1,
    stop_leaves_no_process_nested_term_ignorer/1,
    vm_killed_leaves_no_process/1,
    driver_killed_leaves_no_process/1,
    signaloneof_kill_on_stop/1,
    owner_exit_stops_port/1,
    port_killed_reported/1,
    pdeathsig_after_setuid/1,
    exit_port_status/1,
    fork_exit_no_leak/1,
    fork_descriptors/1,
    fork_descriptors_full/1
]).

suite() ->
    [{timetrap, {seconds, 60}}, {ct_hooks, [{alcove_test, [port]}]}].

all() ->
    [
        exec_child_fds,
        exec_grandchild_fds,
        exec_clone_newpid_fds,
        stop_leaves_no_process,
        stop_leaves_no_process_nested_term_ignorer,
        vm_killed_leaves_no_process,
        driver_killed_leaves_no_process,
        signaloneof_kill_on_stop,
        owner_exit_stops_port,
        port_killed_reported,
        pdeathsig_after_setuid,
        exit_port_status,
        fork_exit_no_leak,
        fork_descriptors,
        fork_descriptors_full
    ].

%%% Test cases

%% A program exec'd by a child of the port holds only fds 0, 1 and 2:
%% nothing of alcove (control socket, other children's pipes) leaks.
exec_child_fds(Config) ->
    Drv = ?config(drv, Config),
    %% another child first, so the port holds more than one child's fds
    {ok, _Other} = alcove:fork(Drv, []),
    {ok, C} = alcove:fork(Drv, []),
    ok = alcove:execvp(Drv, [C], "sleep", ["sleep", "100"]),
    {ok, ["0", "1", "2"]} = exec_fds(C).

%% The same for a program exec'd at depth 2 (a grandchild of the port).
exec_grandchild_fds(Config) ->
    Drv = ?config(drv, Config),
    {ok, C1} = alcove:fork(Drv, []),
    {ok, _Sibling} = alcove:fork(Drv, [C1]),
    {ok, C2} = alcove:fork(Drv, [C1]),
    ok = alcove:execvp(Drv, [C1, C2], "sleep", ["sleep", "100"]),
    {ok, ["0", "1", "2"]} = exec_fds(C2),
    %% the event loop in between is still alive and answering
    C1 = alcove:getpid(Drv, [C1]).

%% The same for a program exec'd in a child created by clone(2) in a new
%% PID namespace (where the child is PID 1).
exec_clone_newpid_fds(Config) ->
    Drv = ?config(drv, Config),
    {ok, C} = alcove:clone(Drv, [], [clone_newpid]),
    1 = alcove:getpid(Drv, [C]),
    ok = alcove:execvp(Drv, [C], "sleep", ["sleep", "100"]),
    {ok, ["0", "1", "2"]} = exec_fds(C).

%% After alcove_drv:stop/1 returns, no process of the tree is left, not
%% even a zombie: exec'd programs, an event loop and its exec'd child,
%% a program ignoring SIGTERM (killed after the grace period), the port.
stop_leaves_no_process(Config) ->
    Drv = ?config(drv, Config),
    Port = alcove:getpid(Drv, []),
    {ok, C1} = alcove:fork(Drv, []),
    {ok, G} = alcove:fork(Drv, [C1]),
    ok = alcove:execvp(Drv, [C1, G], "sleep", ["sleep", "1000"]),
    {ok, C2} = alcove:fork(Drv, []),
    ok = alcove:execvp(Drv, [C2], "sleep", ["sleep", "1000"]),
    {ok, C3} = alcove:fork(Drv, []),
    ok = alcove:execvp(Drv, [C3], "/bin/sh",
                       ["sh", "-c", "trap '' TERM; exec sleep 1000"]),
    ok = wait_ignoring_term(C3),
    Pids = [Port, C1, G, C2, C3],
    [] = [P || P <- Pids, not exists(P)],
    ok = alcove_drv:stop(Drv),
    false = is_process_alive(Drv),
    [] = wait_reaped(Port, Pids -- [Port], 10000).

%% Like stop_leaves_no_process, with the program ignoring SIGTERM one
%% level down (exec'd by grandchildren of the port) and without a parent
%% death signal (cleared by setpriv, as exec of a setuid program does):
%% it must still be killed after the grace period and reaped by alcove,
%% not orphaned to init (seen with a PPid outside the tree) or left
%% running.
stop_leaves_no_process_nested_term_ignorer(Config) ->
    Drv = ?config(drv, Config),
    Port = alcove:getpid(Drv, []),
    Setpriv = os:find_executable("setpriv"),
    true = is_list(Setpriv),
    %% three such subtrees: port -> event loop Ci -> ignorer Gi
    Trees = [begin
                 {ok, C} = alcove:fork(Drv, []),
                 {ok, G} = alcove:fork(Drv, [C]),
                 ok = alcove:execvp(Drv, [C, G], "/bin/sh",
                                    ["sh", "-c", "trap '' TERM; exec " ++ Setpriv
                                     ++ " --pdeathsig clear sleep 1000"]),
                 {C, G}
             end || _ <- [1, 2, 3]],
    Gs = [G || {_, G} <- Trees],
    [] = poll(fun() ->
                      [{G, Other} || G <- Gs,
                                     Other <- [{comm(G), ignores_term(G)}],
                                     Other =/= {"sleep", true}]
              end, 10000),
    {ok, S} = alcove:fork(Drv, []),
    ok = alcove:execvp(Drv, [S], "sleep", ["sleep", "1000"]),
    Children = [S | lists:append([[C, G] || {C, G} <- Trees])],
    [] = [P || P <- [Port | Children], not exists(P)],
    try
        ok = alcove_drv:stop(Drv),
        [] = wait_reaped(Port, Children, 10000)
    after
        %% do not leave a leaked process behind if this fails
        [os:cmd("kill -9 " ++ integer_to_list(P)) || P <- [S | Gs], comm(P) =:= "sleep"]
    end.

%% When the VM running the port is killed with SIGKILL, the port sees its
%% stdin close and stops its whole tree.
vm_killed_leaves_no_process(_Config) ->
    Erl = os:find_executable("erl"),
    true = is_list(Erl),
    Ebin = filename:dirname(code:which(alcove_drv)),
    Eval =
        "{ok, D} = alcove_drv:start(),"
        "P = alcove:getpid(D, []),"
        "Cs = [begin {ok, C} = alcove:fork(D, []),"
        "            ok = alcove:execvp(D, [C], \"sleep\", [\"sleep\", \"1000\"]),"
        "            C end || _ <- [1, 2]],"
        "{ok, E} = alcove:fork(D, []),"
        "{ok, G} = alcove:fork(D, [E]),"
        "ok = alcove:execvp(D, [E, G], \"sleep\", [\"sleep\", \"1000\"]),"
        "io:format(\"PIDS ~w.~n\", [{list_to_integer(os:getpid()), P, [E, G | Cs]}]),"
        "timer:sleep(infinity).",
    VmPort = open_port({spawn_executable, Erl},
                       [{args, ["-noshell", "-pa", Ebin, "-eval", Eval]},
                        {line, 4096}, exit_status, stderr_to_stdout]),
    {Vm, Port, Children} = alcove_test:read_pids(VmPort, 30000),
    try
        true = exists(Vm),
        [] = [P || P <- [Port | Children], not exists(P)],
        %% the port really is a child of that VM's process tree
        "alcove" = comm(Port),
        [] = os:cmd("kill -9 " ++ integer_to_list(Vm)),
        receive {VmPort, {exit_status, 137}} -> ok
        after 15000 -> ct:fail(vm_not_killed)
        end,
        %% the children are reaped by their alcove parents, not orphaned
        [] = wait_reaped(Port, Children, Children, 15000),
        %% the port itself is orphaned (its parent died with the VM) and
        %% reaped by init: accept a zombie in case init does not reap
        [] = wait_exited([Port], 15000)
    after
        _ = os:cmd("kill -9 " ++ integer_to_list(Vm) ++ " 2>/dev/null"),
        catch port_close(VmPort)
    end.

%% Killing the driver process closes the port's stdin: the port notices
%% and stops its tree.
driver_killed_leaves_no_process(Config) ->
    Drv = ?config(drv, Config),
    Port = alcove:getpid(Drv, []),
    {ok, C1} = alcove:fork(Drv, []),
    ok = alcove:execvp(Drv, [C1], "sleep", ["sleep", "1000"]),
    {ok, C2} = alcove:fork(Drv, []),
    {ok, G} = alcove:fork(Drv, [C2]),
    ok = alcove:execvp(Drv, [C2, G], "sleep", ["sleep", "1000"]),
    Ref = erlang:monitor(process, Drv),
    true = exit(Drv, kill),
    receive {'DOWN', Ref, process, Drv, killed} -> ok
    after 5000 -> ct:fail(driver_not_killed)
    end,
    [] = wait_reaped(Port, [C1, C2, G], 15000).

%% setcpid(signaloneof, 9) makes the port SIGKILL the child on shutdown:
%% a program ignoring SIGTERM is gone after stop.
signaloneof_kill_on_stop(Config) ->
    Drv = ?config(drv, Config),
    Port = alcove:getpid(Drv, []),
    {ok, C} = alcove:fork(Drv, []),
    15 = alcove:getcpid(Drv, [], C, signaloneof),
    ok = alcove:execvp(Drv, [C], "/bin/sh",
                       ["sh", "-c", "trap '' TERM; while :; do sleep 1; done"]),
    ok = wait_ignoring_term(C),
    true = alcove:setcpid(Drv, [], C, signaloneof, 9),
    9 = alcove:getcpid(Drv, [], C, signaloneof),
    %% SIGTERM alone does not stop it
    [] = os:cmd("kill -TERM " ++ integer_to_list(C)),
    timer:sleep(200),
    true = exists(C),
    true = not lists:member(proc_state_class(C), [gone, "Z"]),
    ok = alcove_drv:stop(Drv),
    [] = wait_reaped(Port, [C], 10000).

%% A port whose owner (the process that started it) exits stops, with
%% its children.
owner_exit_stops_port(_Config) ->
    Self = self(),
    {Owner, MRef} = spawn_monitor(
        fun() ->
            {ok, D} = alcove_drv:start(),
            P = alcove:getpid(D, []),
            {ok, C} = alcove:fork(D, []),
            ok = alcove:execvp(D, [C], "sleep", ["sleep", "1000"]),
            {ok, E} = alcove:fork(D, []),
            Self ! {pids, self(), D, P, [C, E]}
        end),
    {Drv, Port, Children} =
        receive {pids, Owner, D, P, Cs} -> {D, P, Cs}
        after 15000 -> ct:fail(no_pids)
        end,
    receive {'DOWN', MRef, process, Owner, normal} -> ok
    after 15000 -> ct:fail(owner_alive)
    end,
    DRef = erlang:monitor(process, Drv),
    receive {'DOWN', DRef, process, Drv, _} -> ok
    after 20000 -> ct:fail(driver_alive)
    end,
    [] = wait_reaped(Port, Children, 15000).

%% When the port is killed, the driver stops with {port_exit, _} and the
%% port's event-loop children die too (PR_SET_PDEATHSIG).
port_killed_reported(Config) ->
    Drv = ?config(drv, Config),
    Port = alcove:getpid(Drv, []),
    {ok, C} = alcove:fork(Drv, []),
    C = alcove:getpid(Drv, [C]),
    Ref = erlang:monitor(process, Drv),
    [] = os:cmd("kill -9 " ++ integer_to_list(Port)),
    receive
        {'DOWN', Ref, process, Drv, Reason} ->
            {port_exit, _} = Reason
    after 10000 ->
        ct:fail(driver_alive)
    end,
    %% the port is reaped by the VM
    [] = wait_gone([Port], 10000),
    %% the orphaned child dies; it is reparented to init, which reaps it
    %% (accept a zombie in case init does not reap)
    [] = wait_exited([C], 10000).

%% A control process that changed its credentials (which makes the
%% kernel forget the parent-death signal) still dies with the port.
pdeathsig_after_setuid(Config) ->
    Drv = ?config(drv, Config),
    Port = alcove:getpid(Drv, []),
    {ok, C} = alcove:fork(Drv, []),
    ok = alcove:setgid(Drv, [C], 65534),
    ok = alcove:setuid(Drv, [C], 65534),
    65534 = alcove:getuid(Drv, [C]),
    %% stopped, C cannot notice its control socket close: only the
    %% parent-death signal (SIGKILL) can end it
    ok = alcove:kill(Drv, [], C, sigstop),
    Ref = erlang:monitor(process, Drv),
    [] = os:cmd("kill -9 " ++ integer_to_list(Port)),
    receive {'DOWN', Ref, process, Drv, {port_exit, _}} -> ok
    after 10000 -> ct:fail(driver_alive)
    end,
    Left = wait_exited([C], 10000),
    [] = os:cmd("kill -9 " ++ integer_to_list(C) ++ " 2>/dev/null"),
    [] = Left.

%% exit/3 on the port itself replies ok, then the driver stops with the
%% exit status given.
exit_port_status(Config) ->
    Drv = ?config(drv, Config),
    Port = alcove:getpid(Drv, []),
    Ref = erlang:monitor(process, Drv),
    ok = alcove:exit(Drv, [], 7),
    receive {'DOWN', Ref, process, Drv, Reason} -> {port_exit, 7} = Reason
    after 10000 -> ct:fail(driver_alive)
    end,
    [] = wait_gone([Port], 10000).

%% 200 cycles of fork + exit leak no descriptor in the port and leave no
%% child in its table.
fork_exit_no_leak(Config) ->
    Drv = ?config(drv, Config),
    Port = alcove:getpid(Drv, []),
    ok = cycles(Drv, 10),
    {ok, Fds10} = fds(Port),
    ok = cycles(Drv, 190),
    {ok, Fds200} = fds(Port),
    {N, N} = {length(Fds10), length(Fds200)},
    Fds10 = Fds200,
    [] = alcove:cpid(Drv, []).

%% fork(2) semantics with the loop's own descriptors kept apart
%% (c_src/core/fdspace.c): a child holds what its parent opened through calls,
%% sharing the offset, and a grandchild too; it holds none of the
%% parent's other descriptors (its siblings' pipes and sockets, the
%% parent's epoll and signal pipe). The same once a user descriptor sits
%% among the loop's (fcntl F_DUPFD to 300), where forks copy the table.
fork_descriptors(Config) ->
    Drv = ?config(drv, Config),
    Port = alcove:getpid(Drv, []),
    File = filename:join(?config(priv_dir, Config), "fork_descriptors"),
    ok = file:write_file(File, "0123456789"),
    {ok, S1} = alcove:fork(Drv, []),
    {ok, S2} = alcove:fork(Drv, []),
    ok = alcove:execvp(Drv, [S2], "/bin/cat", ["cat"]),
    {ok, Fd} = alcove:open(Drv, [], File, [o_rdonly], 0),
    {ok, C} = alcove:fork(Drv, []),
    {ok, G} = alcove:fork(Drv, [C]),
    {ok, <<"012">>} = alcove:read(Drv, [C], Fd, 3),
    {ok, <<"34">>} = alcove:read(Drv, [C, G], Fd, 2),
    {ok, <<"56">>} = alcove:read(Drv, [], Fd, 2),
    ok = only_own(Port, [Fd], [C, G]),
    {ok, High} = alcove:fcntl(Drv, [], Fd, f_dupfd, 300),
    true = High >= 300,
    {ok, D} = alcove:fork(Drv, []),
    {ok, <<"7">>} = alcove:read(Drv, [D], High, 1),
    {ok, <<"8">>} = alcove:read(Drv, [D], Fd, 1),
    ok = only_own(Port, [Fd, High], [D]),
    S1 = alcove:getpid(Drv, [S1]).

%% The same once the low descriptors are all taken: a descriptor a call
%% makes then lands among the loop's, here one an ioctl returns
%% (NS_GET_USERNS), which the port cannot see coming; a child forked
%% afterwards, once there is room below again, still holds it.
fork_descriptors_full(Config) ->
    Drv = ?config(drv, Config),
    Port = alcove:getpid(Drv, []),
    {ok, Ns} = alcove:open(Drv, [], "/proc/self/ns/uts", [o_rdonly], 0),
    Low = alcove_test:fill_below(Drv, 256),
    {ok, User, _} = alcove:ioctl(Drv, [], Ns, alcove_ioctl:io(16#b7, 1), 0),
    true = User >= 256,
    %% room below again, for the new child's pipes
    {Freed, Kept} = lists:split(16, Low),
    [ok = alcove:close(Drv, [], Fd) || Fd <- Freed],
    {ok, C} = alcove:fork(Drv, []),
    {ok, "user:" ++ _} = file:read_link(proc(C) ++ "/fd/" ++ integer_to_list(User)),
    ok = only_own(Port, [User, Ns | Kept], [C]).

%%% Helpers

%% Each child holds the port's user descriptors and, of the port's other
%% descriptors, only the pipes of its own stdio (a pipe's two ends are
%% one object). Pipes and sockets are told apart by inode; every epoll
%% reads the same.
only_own(Port, UserFds, Children) ->
    PortLinks = links(Port),
    User = [L || {Fd, L} <- PortLinks, lists:member(Fd, UserFds)],
    Internal = [L || {Fd, L} <- PortLinks, Fd > 2, not lists:member(Fd, UserFds),
                     lists:prefix("pipe:", L) orelse lists:prefix("socket:", L)],
    true = length(Internal) > 4,
    [begin
         Links = links(P),
         Stdio = [L || {Fd, L} <- Links, Fd =< 2],
         [] = User -- [L || {_, L} <- Links],
         [] = [{P, Fd, L} || {Fd, L} <- Links, Fd > 2, lists:member(L, Internal),
                             not lists:member(L, Stdio)]
     end || P <- Children],
    ok.

links(Pid) ->
    {ok, Fds} = fds(Pid),
    [{list_to_integer(F), L}
     || F <- Fds, {ok, L} <- [file:read_link(proc(Pid) ++ "/fd/" ++ F)]].

cycles(Drv, 0) ->
    [] = poll(fun() -> alcove:cpid(Drv, []) end, 5000),
    ok;
cycles(Drv, N) ->
    {ok, C} = alcove:fork(Drv, []),
    C = alcove:getpid(Drv, [C]),
    ok = alcove:exit(Drv, [C], 0),
    receive {alcove_event, Drv, [C], {exit_status, 0}} -> ok
    after 5000 -> ct:fail({no_exit_status, C})
    end,
    cycles(Drv, N - 1).

%% F's value once it is [], or its last after up to T ms.
poll(F, T) -> alcove_test:poll(F, [], T).

proc(Pid) -> "/proc/" ++ integer_to_list(Pid).

exists(Pid) -> filelib:is_dir(proc(Pid)).

%% The descriptors of a program just exec'd, once it has settled: its
%% start-up (the dynamic loader, setlocale) opens and closes files of
%% its own for a moment. A descriptor alcove leaked would never close.
exec_fds(Pid) ->
    exec_fds(Pid, 40).

exec_fds(Pid, N) ->
    case fds(Pid) of
        {ok, ["0", "1", "2"]} = Fds -> Fds;
        Fds when N =:= 0 -> Fds;
        _ -> timer:sleep(50), exec_fds(Pid, N - 1)
    end.

fds(Pid) ->
    case file:list_dir(proc(Pid) ++ "/fd") of
        {ok, L} -> {ok, lists:sort(fun(A, B) -> list_to_integer(A) =< list_to_integer(B) end, L)};
        Error -> Error
    end.

%% The fields of /proc/PID/status as a map, or gone.
status(Pid) ->
    case file:read_file(proc(Pid) ++ "/status") of
        {ok, Bin} ->
            maps:from_list(
              [{K, string:trim(V)}
               || Line <- string:split(binary_to_list(Bin), "\n", all),
                  [K, V] <- [string:split(Line, ":")]]);
        {error, _} ->
            gone
    end.

comm(Pid) ->
    case status(Pid) of
        gone -> gone;
        M -> maps:get("Name", M)
    end.

%% "R", "S", "D", "Z" ... or gone
proc_state_class(Pid) ->
    case status(Pid) of
        gone -> gone;
        M -> [hd(maps:get("State", M))]
    end.

ignores_term(Pid) ->
    case status(Pid) of
        gone -> false;
        M -> (list_to_integer(maps:get("SigIgn", M), 16) band (1 bsl 14)) =/= 0
    end.

%% Wait until the exec'd shell has set SIGTERM to ignored.
wait_ignoring_term(Pid) ->
    [] = poll(fun() -> case ignores_term(Pid) of true -> []; false -> [Pid] end end, 10000),
    ok.

%% Pids still having a /proc entry (alive or zombie) after polling up to
%% T ms, with their state.
wait_gone(Pids, T) ->
    Left = poll(fun() -> [P || P <- Pids, exists(P)] end, T),
    [{P, proc_state_class(P), comm(P)} || P <- Left].

%% Pids still running (neither gone nor zombie) after polling.
wait_exited(Pids, T) ->
    Running = fun() -> [P || P <- Pids, not lists:member(proc_state_class(P), [gone, "Z"])] end,
    Left = poll(Running, T),
    [{P, proc_state_class(P), comm(P)} || P <- Left].

%% Wait until the port and its descendants have no /proc entry; fail
%% early if a descendant is seen whose parent is outside the tree: it was
%% orphaned (left to init) rather than reaped by alcove.
wait_reaped(Port, Children, T) ->
    wait_reaped(Port, Children, [Port | Children], T).

%% Same, only the pids in Gone must disappear.
wait_reaped(Port, Children, Gone, T) ->
    Tree = [Port | Children],
    Orphans = fun() ->
                      [{orphan, P, PPid, proc_state_class(P), comm(P)}
                       || P <- Children, PPid <- [ppid(P)],
                          %% PPid 0: the task is dead and being released
                          is_integer(PPid), PPid =/= 0,
                          not lists:member(PPid, Tree)]
              end,
    reaped_loop(Gone, Orphans, erlang:monotonic_time(millisecond) + T).

reaped_loop(Gone, Orphans, Deadline) ->
    case {Orphans(), [P || P <- Gone, exists(P)]} of
        {[], []} ->
            [];
        {[_ | _] = O, _} ->
            O;
        {[], Left} ->
            case erlang:monotonic_time(millisecond) > Deadline of
                true -> [{P, proc_state_class(P), comm(P)} || P <- Left];
                false -> timer:sleep(5), reaped_loop(Gone, Orphans, Deadline)
            end
    end.

ppid(Pid) ->
    case status(Pid) of
        gone -> gone;
        M -> list_to_integer(maps:get("PPid", M))
    end.
