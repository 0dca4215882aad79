%% SPDX-License-Identifier: ISC
%% Faults: a process killed in the middle of a call, the port killed,
%% descriptors and processes exhausted, and output flooding faster than
%% it is read. The answer is always an error or an exit, never a hang;
%% the port keeps serving when it can; when it cannot (it was killed),
%% the owner is told and nothing is left behind; memory stays bounded and
%% no byte is lost.
-module(alcove_fault_SUITE).

-include_lib("common_test/include/ct.hrl").
-include_lib("alcove/include/alcove.hrl").
-include("alcove_test.hrl").

-import(alcove_test, [poll/3, fds/1, state_class/1, wait_exited/2]).

-export([all/0, suite/0, init_per_testcase/2]).
-export([
    killed_during_call/1,
    killed_during_call_chain/1,
    killed_during_blocking_call/1,
    killed_with_stdin_blocked/1,
    port_killed/1,
    port_killed_owner_linked/1,
    stopped_after_fork/1,
    nofile_child/1,
    nofile_open_until_emfile/1,
    nofile_port/1,
    nproc_child/1,
    pids_cgroup/1,
    flood_unread/1,
    flood_flowcontrol/1,
    flood_port_blocked/1
]).

-define(T, 10000).
%% c_src/core/alcove.h: what the port queues upstream before it stops reading
%% its children
-define(HIGH_WATER, (4 * ?MIB)).
%% The bound asserted on the port's peak resident memory while a child
%% floods it. The port needs about 2 MiB of its own; its output buffer
%% grows to HIGH_WATER plus a read (READ_CHUNK, 1 MiB), rounded up to a
%% power of two by frame.c: 8 MiB. 64 MiB leaves room for the allocator
%% while being far below what the floods write (200 MiB and more), which
%% an unbounded port would hold.
-define(RSS_MAX_KB, (64 * 1024)).
-define(FLOOD, (200 * ?MIB)).

suite() ->
    [{timetrap, {seconds, 90}}, {ct_hooks, [{alcove_test, []}]}].

all() ->
    [
        killed_during_call,
        killed_during_call_chain,
        killed_during_blocking_call,
        killed_with_stdin_blocked,
        port_killed,
        port_killed_owner_linked,
        stopped_after_fork,
        nofile_child,
        nofile_open_until_emfile,
        nofile_port,
        nproc_child,
        pids_cgroup,
        flood_unread,
        flood_flowcontrol,
        flood_port_blocked
    ].

%% Runs in the process of the case, which owns the port.
init_per_testcase(flood_port_blocked, Config) ->
    Relay = filename:join(?config(priv_dir, Config), "relay.sh"),
    %% the port's output goes through cat, which the case stops: the
    %% port then has a reader that does not read
    ok = file:write_file(Relay, "#!/bin/sh\n\"$@\" | cat\n"),
    alcove_test:start(Config, [{exec, "/bin/sh " ++ Relay}]);
init_per_testcase(_Case, Config) ->
    alcove_test:start(Config).

%%% A process killed in the middle of a call

%% A call with no timeout to a child that cannot answer (stopped), from
%% another process; the child is killed: the caller gets the event that
%% says how it died.
killed_during_call(Config) ->
    Drv = ?config(drv, Config),
    {ok, C} = alcove:fork(Drv, []),
    ok = alcove:kill(Drv, [], C, sigstop),
    Callers = [async(fun() -> alcove:getpid(Drv, [C]) end),
               async(fun() -> alcove:fork(Drv, [C]) end),
               async(fun() -> alcove:version(Drv, [C], infinity) end)],
    ok = wait_pending(Drv, 3),
    ok = alcove:kill(Drv, [], C, sigkill),
    [{'EXIT', {{termsig, sigkill}, _}} = await(A) || A <- Callers],
    {termsig, sigkill} = alcove:event(Drv, [C], ?T),
    ok = serving(Drv).

%% The same through a chain: the middle process is killed; calls to it
%% and through it raise its death, and the process below it dies with it
%% (its parent-death signal).
killed_during_call_chain(Config) ->
    Drv = ?config(drv, Config),
    {ok, C} = alcove:fork(Drv, []),
    {ok, G} = alcove:fork(Drv, [C]),
    {ok, H} = alcove:fork(Drv, [C, G]),
    ok = alcove:kill(Drv, [C], G, sigstop),
    ok = alcove:kill(Drv, [], C, sigstop),
    Callers = [async(fun() -> alcove:getpid(Drv, Chain) end)
               || Chain <- [[C], [C, G], [C, G, H], [C, G, H]]],
    ok = wait_pending(Drv, 4),
    ok = alcove:kill(Drv, [], C, sigkill),
    [{'EXIT', {{termsig, sigkill}, _}} = await(A) || A <- Callers],
    {termsig, sigkill} = alcove:event(Drv, [C], ?T),
    [] = wait_exited([C, G, H], ?T),
    ok = serving(Drv).

%% A child blocked in a system call (select with no timeout, on a pipe
%% nobody writes) is killed: the caller gets its death.
killed_during_blocking_call(Config) ->
    Drv = ?config(drv, Config),
    {ok, C} = alcove:fork(Drv, []),
    {ok, Fd} = alcove:open(Drv, [C], "/proc/self/fd/0", [o_rdonly], 0),
    A = async(fun() -> alcove:select(Drv, [C], [Fd], [], [], []) end),
    ok = wait_pending(Drv, 1),
    %% it is inside select: it does not answer another call
    {'EXIT', {timeout, _}} = (catch alcove:getpid(Drv, [C], 200)),
    ok = alcove:kill(Drv, [], C, sigkill),
    {'EXIT', {{termsig, sigkill}, _}} = await(A),
    {termsig, sigkill} = alcove:event(Drv, [C], ?T),
    %% the late reply to the timed out getpid
    receive {alcove_call, Drv, [C], {error, {termsig, sigkill}}} -> ok
    after ?T -> ct:fail(no_late_reply)
    end,
    ok = serving(Drv).

%% A writer blocked in stdin/3 (more than the driver's window of a few
%% MiB is on its way to a program that does not read) returns once the
%% program is killed: every write still queued is answered. Also when a
%% process the program started holds the pipe open, so that no write
%% ever fails and only the exit of the program can answer them.
killed_with_stdin_blocked(Config) ->
    Drv = ?config(drv, Config),
    [begin
         {ok, C} = alcove:fork(Drv, []),
         ok = alcove:execvp(Drv, [C], "/bin/sh", ["sh", "-c", Script]),
         Held = case Script of
                    "exec " ++ _ -> [];
                    _ -> [binary_to_integer(string:trim(read_line(Drv, [C], <<>>)))]
                end,
         try
             A = async(fun() -> alcove:stdin(Drv, [C], binary:copy(<<"x">>, 16 * ?MIB)) end),
             %% the writer waits
             [{Pid, _}] = poll(fun() -> maps:get([C], element(8, sys:get_state(Drv)), []) end, ?T),
             {status, waiting} = erlang:process_info(Pid, status),
             ok = alcove:kill(Drv, [], C, sigkill),
             ok = await(A),
             {termsig, sigkill} = alcove:event(Drv, [C], ?T),
             0 = map_size(element(7, sys:get_state(Drv)))
         after
             [os:cmd("kill -9 " ++ integer_to_list(H)) || H <- Held]
         end
     end || Script <- ["exec sleep 1000",
                       "sleep 1000 <&0 & echo $!; exec sleep 1000"]],
    ok = serving(Drv).

read_line(Drv, Chain, Acc) ->
    case binary:match(Acc, <<"\n">>) of
        nomatch ->
            case alcove:stdout(Drv, Chain, ?T) of
                [] -> ct:fail({no_line, Acc});
                L -> read_line(Drv, Chain, iolist_to_binary([Acc | L]))
            end;
        _ ->
            Acc
    end.

%%% The port killed

%% The port killed with SIGKILL: the driver stops with {port_exit, 137}
%% and its owner's monitor says so; a caller blocked in a call exits
%% with that reason instead of hanging; no descriptor of the port is
%% left in the VM; every process of the tree is gone (event loops and
%% programs, at depth 1 and 2, stopped or not, and a PID namespace with
%% programs of its own), and the cgroup that held some of them is empty
%% and can be removed.
port_killed(Config) ->
    Drv = ?config(drv, Config),
    Port = alcove:getpid(Drv, []),
    Cgroup = cgroup_new("port_killed"),
    try
        %% a tree, some of it in the cgroup
        {ok, C} = alcove:fork(Drv, []),
        {ok, G} = alcove:fork(Drv, [C]),
        {ok, GP} = alcove:fork(Drv, [C]),
        ok = cgroup_add(Cgroup, GP),
        ok = alcove:execvp(Drv, [C, GP], "sleep", ["sleep", "1000"]),
        {ok, E} = alcove:fork(Drv, []),
        ok = cgroup_add(Cgroup, E),
        ok = alcove:execvp(Drv, [E], "sleep", ["sleep", "1000"]),
        {ok, Stopped} = alcove:fork(Drv, []),
        ok = alcove:kill(Drv, [], Stopped, sigstop),
        %% PID 1 of a namespace, and the programs it starts
        {ok, NS} = alcove:clone(Drv, [], [clone_newpid]),
        ok = cgroup_add(Cgroup, NS),
        ok = alcove:execvp(Drv, [NS], "/bin/sh",
                           ["sh", "-c", "sleep 1000 & sleep 1000 & echo started; wait"]),
        [<<"started\n">>] = alcove:stdout(Drv, [NS], ?T),
        NSKids = poll(fun() -> case children(NS) of [_, _] = L -> L; _ -> [] end end, ?T),
        [_, _] = NSKids,
        Tree = [C, G, GP, E, Stopped, NS | NSKids],
        [] = [P || P <- Tree, state_class(P) =:= gone],
        InCgroup = lists:sort([GP, E, NS | NSKids]),
        InCgroup = lists:sort(cgroup_procs(Cgroup)),
        %% a caller waiting on the stopped child
        Caller = async(fun() -> alcove:getpid(Drv, [Stopped]) end),
        ok = wait_pending(Drv, 1),
        Pipes = port_pipes(Port),
        [_, _] = Pipes,
        [_, _] = vm_fds(Pipes),
        MRef = erlang:monitor(process, Drv),
        [] = os:cmd("kill -9 " ++ integer_to_list(Port)),
        receive {'DOWN', MRef, process, Drv, Reason} -> {port_exit, 137} = Reason
        after ?T -> ct:fail(driver_alive)
        end,
        {'EXIT', {{port_exit, 137}, {alcove_drv, {call, 6}}}} = await(Caller),
        [] = vm_fds(Pipes),
        [] = wait_exited(Tree, ?T),
        [] = poll(fun() -> cgroup_procs(Cgroup) end, [], ?T)
    after
        %% a process left behind (this failed) must not hold the
        %% test run's output open
        [os:cmd("kill -9 " ++ integer_to_list(P)) || P <- cgroup_procs(Cgroup)],
        cgroup_del(Cgroup)
    end.

%% With start_link, the owner is told through its link: trapping exits,
%% it gets {'EXIT', Drv, {port_exit, 137}}.
port_killed_owner_linked(Config) ->
    ok = alcove_drv:stop(?config(drv, Config)),
    process_flag(trap_exit, true),
    try
        {ok, Drv} = alcove_drv:start_link(),
        Port = alcove:getpid(Drv, []),
        {ok, C} = alcove:fork(Drv, []),
        [] = os:cmd("kill -9 " ++ integer_to_list(Port)),
        receive {'EXIT', Drv, Reason} -> {port_exit, 137} = Reason
        after ?T -> ct:fail(no_exit_signal)
        end,
        [] = wait_exited([Port, C], ?T)
    after
        process_flag(trap_exit, false)
    end.

%% A child is given out (fork returns its PID) only once it holds
%% nothing of its parent's and dies with it. Stopped as soon as its PID
%% is known, it does not hold the port's pipes; when the port is then
%% killed, it dies, the VM sees the port's stdout close, and the driver
%% stops. (A child stopped before it had closed the port's stdout and
%% armed its parent-death signal outlived the port and kept the driver,
%% and whatever waited for the VM's output, waiting for ever.)
stopped_after_fork(Config) ->
    Drv = ?config(drv, Config),
    Port = alcove:getpid(Drv, []),
    Pipes = port_pipes(Port),
    Kids = [begin
                {ok, C} = alcove:fork(Drv, []),
                ok = alcove:kill(Drv, [], C, sigstop),
                C
            end || _ <- lists:seq(1, 100)],
    try
        ["T"] = poll(fun() -> lists:usort([state_class(C) || C <- Kids]) end, ["T"], ?T),
        [] = [C || C <- Kids, holds(C, Pipes)],
        MRef = erlang:monitor(process, Drv),
        [] = os:cmd("kill -9 " ++ integer_to_list(Port)),
        receive {'DOWN', MRef, process, Drv, Reason} -> {port_exit, 137} = Reason
        after ?T -> ct:fail(driver_alive)
        end,
        [] = wait_exited(Kids, ?T)
    after
        [os:cmd("kill -9 " ++ integer_to_list(C)) || C <- Kids]
    end.

holds(Pid, Pipes) ->
    lists:any(fun(Fd) ->
                      case file:read_link(proc(Pid, "fd/" ++ integer_to_list(Fd))) of
                          {ok, L} -> lists:member(L, Pipes);
                          _ -> false
                      end
              end, fds(Pid)).

%%% Descriptors exhausted

%% RLIMIT_NOFILE set low in a child: fork from it is emfile, whichever of
%% the descriptors it needs (three pipes and a socket pair, 8 at least)
%% is the first to fail; none of those made before it is left open; the
%% child still serves, and forks again once the limit is raised.
nofile_child(Config) ->
    Drv = ?config(drv, Config),
    {ok, C} = alcove:fork(Drv, []),
    ok = emfile(Drv, [C], C),
    ok = alcove:exit(Drv, [C], 0),
    {exit_status, 0} = alcove:event(Drv, [C], ?T),
    ok = serving(Drv).

%% The same reached by opening files until the limit: open is emfile,
%% then fork is emfile; closing one is not enough for a fork (it needs
%% 8 descriptors at least), closing them all is.
nofile_open_until_emfile(Config) ->
    Drv = ?config(drv, Config),
    {ok, C} = alcove:fork(Drv, []),
    {ok, #alcove_rlimit{max = Max}} = alcove:getrlimit(Drv, [C], rlimit_nofile),
    ok = alcove:setrlimit(Drv, [C], rlimit_nofile, #alcove_rlimit{cur = 64, max = Max}),
    Opened = open_until_emfile(Drv, [C], []),
    true = length(Opened) > 40,
    {error, emfile} = alcove:open(Drv, [C], "/dev/null", [o_rdonly], 0),
    {error, emfile} = alcove:fork(Drv, [C]),
    {error, emfile} = alcove:clone(Drv, [C], [clone_newuts]),
    ok = alcove:close(Drv, [C], hd(Opened)),
    {error, emfile} = alcove:fork(Drv, [C]),
    [ok = alcove:close(Drv, [C], Fd) || Fd <- tl(Opened)],
    {ok, G} = alcove:fork(Drv, [C]),
    G = alcove:getpid(Drv, [C, G]),
    C = alcove:getpid(Drv, [C]),
    ok = alcove:exit(Drv, [C], 0),
    {exit_status, 0} = alcove:event(Drv, [C], ?T),
    ok = serving(Drv).

%% The same in the port itself.
nofile_port(Config) ->
    Drv = ?config(drv, Config),
    Port = alcove:getpid(Drv, []),
    {ok, Kid} = alcove:fork(Drv, []),
    ok = emfile(Drv, [], Port),
    Kid = alcove:getpid(Drv, [Kid]),
    ok = serving(Drv).

emfile(Drv, Chain, Pid) ->
    {ok, #alcove_rlimit{max = Max} = Old} = alcove:getrlimit(Drv, Chain, rlimit_nofile),
    Fds = fds(Pid),
    %% a fork takes 8 descriptors at least: leave 0 to 7 free. The limit
    %% lowers maxchild too (a fork would be eagain): raised again, the
    %% fork reaches its descriptors.
    [begin
         Cur = limit_leaving(Fds, Free),
         ok = alcove:setrlimit(Drv, Chain, rlimit_nofile, #alcove_rlimit{cur = Cur, max = Max}),
         true = alcove:setopt(Drv, Chain, maxchild, 1000),
         {Free, {error, emfile}} = {Free, alcove:fork(Drv, Chain)},
         {Free, Fds} = {Free, fds(Pid)}
     end || Free <- lists:seq(0, 7)],
    Pid = alcove:getpid(Drv, Chain),
    Kids = alcove:cpid(Drv, Chain),
    ok = alcove:setrlimit(Drv, Chain, rlimit_nofile, Old),
    {ok, G} = alcove:fork(Drv, Chain),
    G = alcove:getpid(Drv, Chain ++ [G]),
    [#alcove_pid{pid = G}] = alcove:cpid(Drv, Chain) -- Kids,
    ok = alcove:exit(Drv, Chain ++ [G], 0),
    {exit_status, 0} = alcove:event(Drv, Chain ++ [G], ?T),
    Fds = poll(fun() -> fds(Pid) end, Fds, ?T),
    ok.

%% The lowest limit under which exactly Free descriptor numbers are free.
limit_leaving(Fds, Free) ->
    limit_leaving(Fds, Free, 0).

limit_leaving(Fds, Free, Cur) ->
    case Cur - length([F || F <- Fds, F < Cur]) of
        Free -> Cur;
        _ -> limit_leaving(Fds, Free, Cur + 1)
    end.

open_until_emfile(Drv, Chain, Acc) ->
    case alcove:open(Drv, Chain, "/dev/null", [o_rdonly], 0) of
        {ok, Fd} -> open_until_emfile(Drv, Chain, [Fd | Acc]);
        {error, emfile} -> Acc
    end.

%%% Processes exhausted

%% RLIMIT_NPROC in a child running as a user of its own: fork and clone
%% are eagain; the child still serves; the port, whose limit is its own,
%% still forks; raising the soft limit lets the child fork again.
nproc_child(Config) ->
    Drv = ?config(drv, Config),
    Uid = 3000000 + erlang:phash2(make_ref(), 1000000),
    {ok, C} = alcove:fork(Drv, []),
    {ok, #alcove_rlimit{max = Max}} = alcove:getrlimit(Drv, [C], rlimit_nproc),
    ok = alcove:setrlimit(Drv, [C], rlimit_nproc, #alcove_rlimit{cur = 0, max = Max}),
    ok = alcove:setresgid(Drv, [C], Uid, Uid, Uid),
    ok = alcove:setresuid(Drv, [C], Uid, Uid, Uid),
    {ok, Uid, Uid, Uid} = alcove:getresuid(Drv, [C]),
    Fds = fds(C),
    {error, eagain} = alcove:fork(Drv, [C]),
    {error, eagain} = alcove:fork(Drv, [C]),
    Fds = fds(C),
    [] = alcove:cpid(Drv, [C]),
    C = alcove:getpid(Drv, [C]),
    ok = serving(Drv),
    ok = alcove:setrlimit(Drv, [C], rlimit_nproc, #alcove_rlimit{cur = Max, max = Max}),
    {ok, G} = alcove:fork(Drv, [C]),
    G = alcove:getpid(Drv, [C, G]),
    ok = alcove:exit(Drv, [C], 0),
    {exit_status, 0} = alcove:event(Drv, [C], ?T),
    ok = serving(Drv).

%% A pids cgroup holding a child: at its limit, fork and clone from the
%% child are eagain; the child and the port serve; with the limit
%% raised, the child forks again.
pids_cgroup(Config) ->
    Drv = ?config(drv, Config),
    Cgroup = cgroup_new("pids_cgroup"),
    try
        {ok, C} = alcove:fork(Drv, []),
        ok = cgroup_add(Cgroup, C),
        ok = cgroup_set(Cgroup, "pids.max", "1"),
        Fds = fds(C),
        {error, eagain} = alcove:fork(Drv, [C]),
        {error, eagain} = alcove:clone(Drv, [C], [clone_newuts]),
        Fds = fds(C),
        C = alcove:getpid(Drv, [C]),
        ok = serving(Drv),
        ok = cgroup_set(Cgroup, "pids.max", "max"),
        {ok, G} = alcove:fork(Drv, [C]),
        G = alcove:getpid(Drv, [C, G]),
        ok = alcove:exit(Drv, [C], 0),
        {exit_status, 0} = alcove:event(Drv, [C], ?T),
        [] = poll(fun() -> cgroup_procs(Cgroup) end, [], ?T)
    after
        cgroup_del(Cgroup)
    end,
    ok = serving(Drv).

%%% Output flooding faster than it is read

%% A child writes 200 MiB as fast as it can and its owner reads nothing
%% until the child has exited. The VM takes the output as it comes (into
%% the owner's mailbox), so the port never holds much: its peak resident
%% memory stays under 64 MiB. Then every byte is there, before the exit
%% event.
flood_unread(Config) ->
    Drv = ?config(drv, Config),
    Port = alcove:getpid(Drv, []),
    {ok, C} = alcove:fork(Drv, []),
    ok = alcove:execvp(Drv, [C], "head", ["head", "-c", integer_to_list(?FLOOD), "/dev/zero"]),
    receive {alcove_event, Drv, [C], Exit} -> {exit_status, 0} = Exit
    after 60000 -> ct:fail(no_exit)
    end,
    Hwm = status_kb(Port, "VmHWM"),
    ct:pal("port VmHWM ~p KiB after a flood of ~p MiB", [Hwm, ?FLOOD div ?MIB]),
    true = Hwm < ?RSS_MAX_KB orelse not alcove_test:rss_checked(),
    {?FLOOD, true} = drain_zeros(Drv, [C], 0, true),
    ok = serving(Drv).

%% A child writing without end (yes) with flow control: the port reads
%% at most N pieces and then leaves the pipe alone, so the child blocks,
%% the owner's mailbox holds at most N pieces however long it does not
%% read, and the port stays small. Each re-arm lets N more through; the
%% stream is whole ("y\n" repeated, across piece boundaries).
flood_flowcontrol(Config) ->
    Drv = ?config(drv, Config),
    Port = alcove:getpid(Drv, []),
    N = 16,
    {ok, C} = alcove:fork(Drv, []),
    true = alcove:setcpid(Drv, [], C, flowcontrol, N),
    ok = alcove:execvp(Drv, [C], "yes", ["yes"]),
    Rounds = 20,
    Bytes = lists:foldl(
              fun(_, Acc) ->
                      %% N pieces, then flow control is 0 and stays so
                      0 = poll(fun() -> alcove:getcpid(Drv, [], C, flowcontrol) end, 0, ?T),
                      N = poll(fun() -> stdout_queued(Drv, [C]) end, N, ?T),
                      timer:sleep(100),
                      N = stdout_queued(Drv, [C]),
                      Pieces = alcove:stdout(Drv, [C]),
                      N = length(Pieces),
                      true = alcove:setcpid(Drv, [], C, flowcontrol, N),
                      [Acc | Pieces]
              end, [], lists:seq(1, Rounds)),
    Stream = iolist_to_binary(Bytes),
    Size = byte_size(Stream),
    true = Size >= Rounds * N,
    Stream = binary:part(binary:copy(<<"y\n">>, Size div 2 + 1), 0, Size),
    %% the writer is alive, blocked on its full pipe
    true = lists:member(state_class(C), ["S", "R"]),
    Hwm = status_kb(Port, "VmHWM"),
    ct:pal("port VmHWM ~p KiB, ~p bytes read in ~p rounds", [Hwm, Size, Rounds]),
    true = Hwm < ?RSS_MAX_KB orelse not alcove_test:rss_checked(),
    %% the exit event comes after the output: once the child is dead,
    %% what it wrote is delivered whatever its flow control, so its exit
    %% is reported without a re-arm (it may be gone before this one)
    ok = alcove:kill(Drv, [], C, sigkill),
    _ = alcove:setcpid(Drv, [], C, flowcontrol, 0),
    {termsig, sigkill} = wait_event(Drv, [C]),
    ok = serving(Drv).

%% The port's own back-pressure: its stdout goes through a relay (cat)
%% that is stopped, so the port cannot write upstream. Large output is
%% spliced from the child's pipe to the port's stdout, so it waits in
%% the pipes, not in the port; what the port does copy it queues up to
%% HIGH_WATER (4 MiB), then it stops reading its children. The child
%% blocks having written at least its full pipe (1 MiB) and at most a
%% few MiB of its 200 MiB, and the port's peak resident memory stays
%% under 64 MiB. Once the relay goes on, every byte arrives, then the
%% exit event.
flood_port_blocked(Config) ->
    Drv = ?config(drv, Config),
    Port = alcove:getpid(Drv, []),
    [Relay] = [P || P <- children(ppid(Port)), P =/= Port],
    "cat" = comm(Relay),
    {ok, C} = alcove:fork(Drv, []),
    %% the flood starts on a line of input, once the relay is stopped
    ok = alcove:execvp(Drv, [C], "/bin/sh",
                       ["sh", "-c", "read go; exec head -c " ++ integer_to_list(?FLOOD)
                        ++ " /dev/zero"]),
    [] = os:cmd("kill -STOP " ++ integer_to_list(Relay)),
    try
        ok = alcove:stdin(Drv, [C], "go\n"),
        %% the flood runs until the child blocks: what it wrote stops
        %% growing
        "head" = poll(fun() -> comm(C) end, "head", ?T),
        Written = stable(fun() -> io_kb(C, "wchar") end, ?T),
        Hwm = status_kb(Port, "VmHWM"),
        ct:pal("child blocked after writing ~p KiB; port VmHWM ~p KiB", [Written, Hwm]),
        true = Hwm < ?RSS_MAX_KB orelse not alcove_test:rss_checked(),
        %% held: the pipes between and the port's queue; far from all
        true = Written < 32 * 1024,
        true = Written * 1024 >= ?MIB
    after
        os:cmd("kill -CONT " ++ integer_to_list(Relay))
    end,
    {?FLOOD, true} = drain_zeros_until_exit(Drv, [C], 0, true),
    ok = serving(Drv).

%%% Helpers

%% The port answers, and holds no request that will never be answered.
serving(Drv) ->
    Pid = alcove:getpid(Drv, [], ?T),
    Pid = alcove:getpid(Drv, [], ?T),
    ok = wait_pending(Drv, 0).

%% Run F in a new process; await/1 gets what it returned, or what it
%% raised as {'EXIT', _}.
async(F) ->
    Self = self(),
    Ref = make_ref(),
    Pid = spawn(fun() -> Self ! {Ref, catch F()} end),
    {Pid, Ref}.

await({Pid, Ref}) ->
    receive {Ref, R} -> R
    after ?T -> ct:fail({caller_hangs, erlang:process_info(Pid, current_stacktrace)})
    end.

%% Wait until the driver has N requests pending (the calls were sent).
wait_pending(Drv, N) ->
    N = poll(fun() -> map_size(element(5, sys:get_state(Drv))) end, N, ?T),
    ok.

wait_event(Drv, Chain) ->
    receive {alcove_event, Drv, Chain, E} -> E
    after ?T -> ct:fail(no_event)
    end.

stdout_queued(Drv, Chain) ->
    {messages, Ms} = erlang:process_info(self(), messages),
    length([M || {alcove_stdout, D, Ch, _} = M <- Ms, D =:= Drv, Ch =:= Chain]).

%% Read the output of Chain after its exit event came (it came after the
%% output): the bytes, and whether they were all zero.
drain_zeros(Drv, Chain, N, Zero) ->
    receive
        {alcove_stdout, Drv, Chain, B} ->
            drain_zeros(Drv, Chain, N + byte_size(B), Zero andalso is_zero(B))
    after 0 ->
        {N, Zero}
    end.

%% Read the output of Chain until its exit event.
drain_zeros_until_exit(Drv, Chain, N, Zero) ->
    receive
        {alcove_stdout, Drv, Chain, B} ->
            drain_zeros_until_exit(Drv, Chain, N + byte_size(B), Zero andalso is_zero(B));
        {alcove_event, Drv, Chain, {exit_status, 0}} ->
            {N, Zero}
    after 60000 ->
        ct:fail({no_exit, N})
    end.

is_zero(B) -> B =:= <<0:(byte_size(B) * 8)>>.

proc(Pid, File) -> "/proc/" ++ integer_to_list(Pid) ++ "/" ++ File.

%% The pipes of the port's stdin and stdout, and the VM's descriptors
%% on them.
port_pipes(Port) ->
    [begin {ok, L} = file:read_link(proc(Port, "fd/" ++ integer_to_list(Fd))), L end
     || Fd <- [0, 1]].

vm_fds(Pipes) ->
    [Fd || Fd <- fds(list_to_integer(os:getpid())),
           {ok, L} <- [file:read_link(proc(list_to_integer(os:getpid()),
                                           "fd/" ++ integer_to_list(Fd)))],
           lists:member(L, Pipes)].

status(Pid) ->
    case file:read_file(proc(Pid, "status")) of
        {ok, B} ->
            maps:from_list([{K, string:trim(V)}
                            || Line <- string:split(binary_to_list(B), "\n", all),
                               [K, V] <- [string:split(Line, ":")]]);
        {error, _} ->
            gone
    end.

status_kb(Pid, Key) ->
    [N, "kB"] = string:lexemes(maps:get(Key, status(Pid)), " "),
    list_to_integer(N).

comm(Pid) -> maps:get("Name", status(Pid)).

ppid(Pid) -> list_to_integer(maps:get("PPid", status(Pid))).

%% KiB written by a process (/proc/PID/io), or gone.
io_kb(Pid, Key) ->
    case file:read_file(proc(Pid, "io")) of
        {ok, B} ->
            [N] = [V || Line <- string:split(binary_to_list(B), "\n", all),
                        [K, V] <- [string:split(Line, ": ")], K =:= Key],
            list_to_integer(N) div 1024;
        {error, _} ->
            gone
    end.

children(Pid) ->
    case file:read_file(proc(Pid, "task/" ++ integer_to_list(Pid) ++ "/children")) of
        {ok, B} -> [binary_to_integer(P) || P <- string:lexemes(B, " \n")];
        {error, _} -> []
    end.

%% Call F until it returns [] or a non-empty list, for up to T ms.
poll(F, T) ->
    case F() of
        [] when T > 0 -> timer:sleep(20), poll(F, T - 20);
        Other -> Other
    end.

%% The value of F once two calls 300 ms apart agree (up to T ms).
stable(F, T) ->
    A = F(),
    timer:sleep(300),
    case F() of
        A -> A;
        _ when T =< 0 -> ct:fail(not_stable);
        _ -> stable(F, T - 300)
    end.

%%% cgroups: a pids cgroup of the cgroup v1 hierarchy, or of v2

cgroup_new(Name) ->
    Root = case {filelib:is_dir("/sys/fs/cgroup/pids"),
                 filelib:is_file("/sys/fs/cgroup/cgroup.controllers")} of
               {true, _} -> "/sys/fs/cgroup/pids";
               {false, true} -> "/sys/fs/cgroup";
               _ -> exit({skip, no_pids_cgroup})
           end,
    Dir = filename:join(Root, "alcove_fault_" ++ Name ++ "_" ++ os:getpid()),
    case file:make_dir(Dir) of
        ok -> ok;
        {error, eexist} -> ok;
        {error, E} -> exit({skip, {cgroup, Dir, E}})
    end,
    case filelib:is_file(filename:join(Dir, "pids.max")) of
        true -> Dir;
        false -> _ = file:del_dir(Dir), exit({skip, {no_pids_controller, Dir}})
    end.

cgroup_add(Dir, Pid) ->
    file:write_file(filename:join(Dir, "cgroup.procs"), integer_to_list(Pid)).

cgroup_set(Dir, Key, Value) ->
    file:write_file(filename:join(Dir, Key), Value).

cgroup_procs(Dir) ->
    {ok, B} = file:read_file(filename:join(Dir, "cgroup.procs")),
    [binary_to_integer(P) || P <- string:lexemes(B, "\n")].

cgroup_del(Dir) ->
    ok = poll(fun() -> case file:del_dir(Dir) of
                           ok -> ok;
                           {error, enoent} -> ok;
                           E -> E
                       end end, ok, ?T).
