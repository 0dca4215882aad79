%% SPDX-License-Identifier: ISC
%% @doc The process that watches a sandbox of alcove_sandbox:start/3:
%% it keeps its deadlines, and when the sandbox ends (its first process
%% exited, it was stopped, its owner died) kills whatever is left of it,
%% reads its cgroup's figures and removes the group. Its part of the
%% report goes to the owner as `{alcove_sandbox, Watcher, Part}'.
%%
%% What "the whole sandbox" is: the processes of its cgroup, else of its
%% PID namespace (the kernel kills them when its first process, their
%% init, dies), else its process group (which a process can leave).
-module(alcove_sandbox_watch).

-include("alcove.hrl").

-export([start/2]).

%% init/2 loops until the sandbox is gone: its fun never returns.
-dialyzer({no_return, start/2}).

-export_type([part/0]).

-type part() :: #{ended_by := exit | wall | cpu | stopped | oom,
                  oom_killed := boolean() | unknown,
                  cgroup => alcove_cgroup:stats()}.

-record(w, {
    drv :: alcove:drv(),
    chain :: alcove:fork_chain(),
    pid :: alcove:pid_t(),
    cgroup :: none | {alcove_cgroup:backend(), binary()},
    pidns :: boolean(),
    cpu :: infinity | pos_integer(), % microseconds
    grace :: non_neg_integer(),      % milliseconds
    owner :: pid(),
    ended_by = undefined :: undefined | exit | wall | cpu | stopped
}).

%% How often the watcher looks whether the first process is still there
%% and, with a CPU limit, how much CPU time the sandbox used.
-define(TICK, 100).

%% @doc Watch the sandbox for Owner. Sandbox as alcove_sandbox:start/3
%% makes it, deadline from its spec.
-spec start(map(), pid()) -> pid().
start(Sandbox, Owner) ->
    proc_lib:spawn(fun() -> init(Sandbox, Owner) end).

-spec init(map(), pid()) -> no_return().
init(#{drv := Drv, chain := Chain, pid := Pid, cgroup := CG, pidns := PidNs,
       deadline := Deadline}, Owner) ->
    monitor(process, Owner),
    monitor(process, Drv),
    _ = [erlang:send_after(Ms, self(), {limit, wall}) || #{wall := Ms} <- [Deadline]],
    erlang:send_after(?TICK, self(), tick),
    W = #w{drv = Drv, chain = Chain, pid = Pid, cgroup = CG, pidns = PidNs,
           cpu = case Deadline of #{cpu := Ms} -> Ms * 1000; _ -> infinity end,
           grace = maps:get(grace, Deadline, 1000), owner = Owner},
    try
        loop(W)
    catch
        %% a call to a port that stopped meanwhile
        exit:_ -> orphaned(W)
    end,
    exit(normal).

loop(#w{owner = Owner, drv = Drv} = W) ->
    receive
        {limit, Why} when W#w.ended_by =:= undefined ->
            %% SIGTERM to all of it, SIGKILL after the grace period
            signal(W, sigterm),
            erlang:send_after(W#w.grace, self(), kill),
            loop(W#w{ended_by = Why});
        {limit, _} ->
            loop(W);
        kill ->
            kill(W),
            loop(W);
        stop ->
            kill(W),
            loop(W#w{ended_by = case W#w.ended_by of undefined -> stopped; E -> E end});
        exited ->
            finish(W);
        tick ->
            case catch alive(W) of
                true ->
                    _ = [self() ! {limit, cpu} || W#w.cpu =/= infinity,
                                                    cpu_usec(W) >= W#w.cpu],
                    erlang:send_after(?TICK, self(), tick),
                    loop(W);
                _ ->
                    finish(W)
            end;
        {'DOWN', _, process, Owner, _} ->
            %% nobody to report to: end it and clean up
            kill(W),
            _ = gone(W, 500),
            remove(W);
        {'DOWN', _, process, Drv, _} ->
            %% the port stopped: it killed its children (and so a PID
            %% namespace); a cgroup it can no longer empty nor remove is
            %% handed to the VM's own file calls, where it can reach it
            orphaned(W)
    end.

%% The first process exited (or was seen gone): nothing else survives it.
finish(#w{owner = Owner} = W) ->
    kill(W),
    _ = gone(W, 500),
    Stats = stats(W),
    remove(W),
    EndedBy = case {W#w.ended_by, oom(Stats)} of
                  {undefined, true} -> oom;
                  {undefined, _} -> exit;
                  {E, _} -> E
              end,
    Part = maps:merge(#{ended_by => EndedBy, oom_killed => oom(Stats)},
                      case Stats of none -> #{}; _ -> #{cgroup => Stats} end),
    Owner ! {alcove_sandbox, self(), Part},
    ok.

%% Whether the kernel's OOM killer killed in the sandbox's group.
oom(none) -> unknown;
oom(#{memory_events := #{oom_kill := N}}) -> N > 0;
oom(_) -> unknown.

signal(#w{drv = Drv, chain = Chain, pid = Pid} = W, Sig) ->
    _ = alcove:kill(Drv, Chain, -Pid, Sig),
    _ = alcove:kill(Drv, Chain, Pid, Sig),
    _ = [alcove_cgroup:group_signal(Drv, Chain, B, N, Sig) || {B, N} <- [W#w.cgroup]],
    ok.

%% SIGKILL to all of it: the group emptied, the PID namespace's init
%% killed (the kernel kills the rest), the process group.
kill(#w{drv = Drv, chain = Chain, cgroup = CG} = W) ->
    signal(W#w{cgroup = none}, sigkill),
    _ = [alcove_cgroup:group_kill(Drv, Chain, B, N) || {B, N} <- [CG]],
    ok.

alive(#w{drv = Drv, chain = Chain, pid = Pid}) ->
    lists:keymember(Pid, #alcove_pid.pid, alcove:cpid(Drv, Chain)).

gone(_, 0) ->
    false;
gone(W, N) ->
    case alive(W) of
        true -> timer:sleep(10), gone(W, N - 1);
        false -> true
    end.

stats(#w{cgroup = none}) ->
    none;
stats(#w{drv = Drv, chain = Chain, cgroup = {Backend, Name}}) ->
    case alcove_cgroup:group_stats(Drv, Chain, Backend, Name) of
        {ok, Stats} -> Stats;
        {error, _} -> none
    end.

remove(#w{cgroup = none}) ->
    ok;
remove(#w{drv = Drv, chain = Chain, cgroup = {Backend, Name}}) ->
    _ = alcove_cgroup:group_remove(Drv, Chain, Backend, Name),
    ok.

%% The CPU time of the sandbox: its group's, else that of its first
%% process and of the descendants it waited for (/proc/PID/stat, in
%% ticks of 1/100 s).
cpu_usec(#w{drv = Drv, chain = Chain, cgroup = {{v2, Root}, Name}}) ->
    case alcove_file:read(Drv, Chain, <<Root/binary, "/", Name/binary, "/cpu.stat">>) of
        {ok, <<"usage_usec ", Rest/binary>>} ->
            {N, _} = string:to_integer(Rest),
            N;
        _ ->
            0
    end;
cpu_usec(#w{drv = Drv, chain = Chain, pid = Pid, cgroup = {{v1, Roots}, Name}}) ->
    case lists:keyfind(<<"cpuacct">>, 1, Roots) of
        {_, Root} ->
            case alcove_file:read(Drv, Chain, <<Root/binary, "/", Name/binary,
                                                "/cpuacct.usage">>) of
                {ok, Data} -> binary_to_integer(string:trim(Data)) div 1000;
                _ -> 0
            end;
        false ->
            proc_usec(Drv, Chain, Pid)
    end;
cpu_usec(#w{drv = Drv, chain = Chain, pid = Pid}) ->
    proc_usec(Drv, Chain, Pid).

proc_usec(Drv, Chain, Pid) ->
    case alcove_file:read(Drv, Chain, ["/proc/", integer_to_list(Pid), "/stat"]) of
        {ok, Data} ->
            %% the fields after the command, which may hold spaces
            [_, After] = string:split(Data, ")", trailing),
            Fields = string:lexemes(After, " "),
            lists:sum([binary_to_integer(lists:nth(I, Fields)) || I <- [12, 13, 14, 15]])
                * 10000;
        {error, _} ->
            0
    end.

%% The port is gone, and with it the sandbox's first process and the
%% orphans it adopted: empty (v2: cgroup.kill) and remove the group
%% through the VM's own file calls, where they reach it (root on the
%% same host). The VM is the driver's: for a driver of another node
%% (alcove_drv:start_on/3), that node's, if it is still there.
orphaned(#w{drv = Drv, cgroup = {Backend, Name}}) ->
    Clean = fun() ->
                    Dirs = [binary_to_list(D) || D <- alcove_cgroup:group_dirs(Backend, Name)],
                    _ = [file:write_file(D ++ "/cgroup.kill", <<"1">>)
                         || element(1, Backend) =:= v2, D <- Dirs],
                    lists:foreach(fun(D) -> rmdir(D, 100) end, Dirs)
            end,
    case node(Drv) =:= node() of
        true -> Clean();
        false -> try erpc:call(node(Drv), Clean) catch error:_ -> ok end
    end;
orphaned(_) ->
    ok.

rmdir(_, 0) ->
    ok;
rmdir(Dir, N) ->
    case file:del_dir(Dir) of
        {error, eexist} -> timer:sleep(20), rmdir(Dir, N - 1);
        {error, ebusy} -> timer:sleep(20), rmdir(Dir, N - 1);
        _ -> ok
    end.
