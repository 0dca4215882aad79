%% SPDX-License-Identifier: ISC
%% The life of a sandbox: born in its cgroup (clone3/4 and
%% CLONE_INTO_CGROUP), watched by alcove_sandbox:start/3 (deadlines,
%% nothing left behind however it ends, its cgroup removed) and its
%% report (alcove_sandbox:wait/2).
-module(alcove_sandbox_life_SUITE).

-include_lib("common_test/include/ct.hrl").

-export([all/0, suite/0, init_per_testcase/2, end_per_testcase/2]).
-export([
    clone3_into_group/1,
    clone3_not_a_group/1,
    spawn_into_group/1,
    spawn_into_not_a_group/1,
    born_in_named_group/1,
    born_round_trips/1,
    spawn_starts_in_group/1,
    run_refuses_deadline/1,
    check_deadline/1,
    wall_deadline/1,
    wall_deadline_term_honoured/1,
    cpu_deadline/1,
    exit_leaves_nothing_pid_ns/1,
    exit_leaves_nothing_cgroup/1,
    stop_ends_it/1,
    owner_exit_ends_it/1,
    driver_stop_ends_it/1,
    driver_stop_ends_it_cgroup/1,
    report_usage/1,
    report_oom/1
]).

-define(WAIT, 10000).
-define(SH, "/bin/sh").

suite() ->
    [{timetrap, {seconds, 60}}, {ct_hooks, [{alcove_test, [port]}]}].

all() ->
    [clone3_into_group, clone3_not_a_group, spawn_into_group, spawn_into_not_a_group,
     born_in_named_group, born_round_trips,
     spawn_starts_in_group,
     run_refuses_deadline, check_deadline, wall_deadline, wall_deadline_term_honoured,
     cpu_deadline, exit_leaves_nothing_pid_ns, exit_leaves_nothing_cgroup, stop_ends_it,
     owner_exit_ends_it, driver_stop_ends_it, driver_stop_ends_it_cgroup, report_usage,
     report_oom].

init_per_testcase(Test, Config) ->
    [{marker, marker(Test)} | Config].

end_per_testcase(Test, Config) ->
    ok = alcove_test:stop(Config),
    [os:cmd("kill -9 " ++ P) || P <- survivors(marker(Test))],
    [rmdir(D) || D <- filelib:wildcard("/sys/fs/cgroup/*/" ++ group(Test))
                     ++ filelib:wildcard("/sys/fs/cgroup/" ++ group(Test))],
    Config.

%%% clone3/4

%% The child is in the group from its first instruction: its own
%% /proc/self/cgroup says so, and the group lists it.
clone3_into_group(Config) ->
    Drv = ?config(drv, Config),
    {Root, Dir} = v2_group(Drv, clone3_into_group),
    {ok, FD} = alcove:open(Drv, [], Dir, [o_path, o_directory, o_cloexec], 0),
    {ok, C} = alcove:clone3(Drv, [], [clone_newpid], FD),
    ok = alcove:close(Drv, [], FD),
    1 = alcove:getpid(Drv, [C]),
    Rel = binary:part(Dir, byte_size(Root), byte_size(Dir) - byte_size(Root)),
    {ok, Own} = alcove_file:read(Drv, [C], "/proc/self/cgroup"),
    true = lists:member(<<"0::", Rel/binary>>, binary:split(Own, <<"\n">>, [global])),
    {ok, Procs} = alcove_file:read(Drv, [], <<Dir/binary, "/cgroup.procs">>),
    CBin = integer_to_binary(C),
    [CBin] = binary:split(Procs, <<"\n">>, [global, trim_all]),
    %% -1: no group, as clone/3
    {ok, C2} = alcove:clone3(Drv, [], [], -1),
    {ok, Own2} = alcove_file:read(Drv, [C2], "/proc/self/cgroup"),
    false = lists:member(<<"0::", Rel/binary>>, binary:split(Own2, <<"\n">>, [global])),
    ok = alcove:exit(Drv, [C], 0),
    {exit_status, 0} = alcove:event(Drv, [C], ?WAIT).

%% A descriptor of a directory that is not a cgroup, or of nothing.
clone3_not_a_group(Config) ->
    Drv = ?config(drv, Config),
    {ok, FD} = alcove:open(Drv, [], "/tmp", [o_rdonly, o_directory, o_cloexec], 0),
    {error, ebadf} = alcove:clone3(Drv, [], [], FD),
    ok = alcove:close(Drv, [], FD),
    {error, ebadf} = alcove:clone3(Drv, [], [], FD),
    [] = alcove:cpid(Drv, []).

%%% spawn_into/5

%% The child of spawn/4 born in the group (x86_64; enotsup elsewhere):
%% the program it runs is there.
spawn_into_group(Config) ->
    Drv = ?config(drv, Config),
    {Root, Dir} = v2_group(Drv, spawn_into_group),
    Cat = [{execve, ["/bin/cat", ["/bin/cat", "/proc/self/cgroup"], []]}],
    case {erlang:system_info(system_architecture),
          alcove:spawn_into(Drv, [], [clone_newpid], Dir, Cat)} of
        {"x86_64" ++ _, {ok, Pid}} ->
            Rel = binary:part(Dir, byte_size(Root), byte_size(Dir) - byte_size(Root)),
            Out = iolist_to_binary(alcove:stdout(Drv, [Pid], ?WAIT)),
            true = lists:member(<<"0::", Rel/binary>>,
                                binary:split(Out, <<"\n">>, [global])),
            {exit_status, 0} = alcove:event(Drv, [Pid], ?WAIT);
        {_, {error, enotsup}} ->
            {comment, "no clone3 of a child sharing memory on this architecture"}
    end.

%% A directory that is not a cgroup, or nothing: no child.
spawn_into_not_a_group(Config) ->
    Drv = ?config(drv, Config),
    True = [{execve, ["/bin/true", ["/bin/true"], []]}],
    {error, ebadf} = alcove:spawn_into(Drv, [], [], "/tmp", True),
    {error, enoent} = alcove:spawn_into(Drv, [], [], "/nonexistent", True),
    [] = alcove:cpid(Drv, []).

%%% Born in its cgroup

%% run/3 with a named group in the unified hierarchy: the child is
%% cloned into it, and the group is there before it.
born_in_named_group(Config) ->
    Drv = ?config(drv, Config),
    {Root, Dir} = v2_group(Drv, born_in_named_group),
    ok = alcove:rmdir(Drv, [], Dir),
    Name = filename:basename(Dir),
    Spec = #{namespaces => [pid], cgroup => #{name => Name, version => v2}},
    {ok, Pid} = alcove_sandbox:run(Drv, [], Spec),
    {ok, Own} = alcove_file:read(Drv, [Pid], "/proc/self/cgroup"),
    Rel = binary:part(Dir, byte_size(Root), byte_size(Dir) - byte_size(Root)),
    true = lists:member(<<"0::", Rel/binary>>, binary:split(Own, <<"\n">>, [global])),
    %% the copy of the group's descriptor the child got is closed
    FdDir = "/proc/" ++ integer_to_list(Pid) ++ "/fd/",
    {ok, FDs} = file:list_dir(FdDir),
    [] = [F || F <- FDs, {ok, Target} <- [file:read_link(FdDir ++ F)],
               list_to_binary(Target) =:= Dir],
    ok = alcove:kill(Drv, [], Pid, sigkill),
    {termsig, sigkill} = alcove:event(Drv, [Pid], ?WAIT),
    ok = alcove_sandbox:cleanup(Drv, [], Spec, Pid),
    {error, enoent} = alcove:rmdir(Drv, [], Dir).

%% A group named before the child exists: the parent makes and limits
%% it, and the child (of spawn_into/5, with a program to run) is born in
%% it: one round trip less than moving it in after (2; a group named
%% after the PID takes 3).
born_round_trips(Config) ->
    Drv = ?config(drv, Config),
    {_, Dir} = v2_group(Drv, born_round_trips),
    ok = alcove:rmdir(Drv, [], Dir),
    Named = #{namespaces => [pid], argv => ["/bin/true"],
              cgroup => #{name => filename:basename(Dir), version => v2}},
    Unnamed = Named#{cgroup := #{version => v2}},
    Count = fun(Spec) ->
                    Before = element(4, sys:get_state(Drv)),
                    {ok, Pid} = alcove_sandbox:run(Drv, [], Spec),
                    After = element(4, sys:get_state(Drv)),
                    {exit_status, 0} = alcove:event(Drv, [Pid], ?WAIT),
                    ok = alcove_sandbox:cleanup(Drv, [], Spec, Pid),
                    After - Before
            end,
    %% the hierarchies are looked up in both
    {ok, v2} = alcove_sandbox:cgroup_version(Drv, [], #{}),
    Lookup = element(4, sys:get_state(Drv)),
    {ok, v2} = alcove_sandbox:cgroup_version(Drv, [], #{}),
    Lookups = element(4, sys:get_state(Drv)) - Lookup,
    {2, 3} = {Count(Named) - Lookups, Count(Unnamed) - Lookups}.

%% The program's first look at its cgroup: it is in the sandbox's
%% group in every hierarchy its limits use (v2: born there by
%% spawn_into/5; v1 here: joined by its first calls), on the CPUs given.
spawn_starts_in_group(Config) ->
    Drv = ?config(drv, Config),
    Name = group(spawn_starts_in_group),
    {ok, Sb} = alcove_sandbox:start(Drv, [], #{
                   cgroup => #{name => Name, pids_max => 8, memory_max => 64 bsl 20,
                               cpus => <<"0">>},
                   argv => [?SH, "-c",
                            "cat /proc/self/cgroup; grep Cpus_allowed_list /proc/self/status"]}),
    #{pid := Pid} = Sb,
    {ok, #{status := {exit_status, 0}}} = alcove_sandbox:wait(Sb, ?WAIT),
    Out = iolist_to_binary(alcove:stdout(Drv, [Pid], 1000)),
    Lines = [L || L <- binary:split(Out, <<"\n">>, [global, trim_all]),
                  binary:match(L, <<"pids">>) =/= nomatch orelse
                      binary:match(L, <<"memory">>) =/= nomatch orelse
                      binary:match(L, <<"cpuset">>) =/= nomatch orelse
                      binary:match(L, <<"0::">>) =/= nomatch],
    ct:pal("~s", [Out]),
    Mine = [L || L <- Lines, binary:match(L, list_to_binary("/" ++ Name)) =/= nomatch],
    {match, _} = re:run(Out, "^Cpus_allowed_list:\\s+0$", [multiline]),
    case {alcove_sandbox:cgroup_version(Drv, [], #{pids_max => 8, memory_max => 1}), Mine} of
        {{ok, v2}, [_]} -> ok;
        {{ok, v1}, [_, _, _]} -> ok
    end.

%%% start/3: the spec

run_refuses_deadline(Config) ->
    Drv = ?config(drv, Config),
    {error, {badkey, deadline}} =
        alcove_sandbox:run(Drv, [], #{deadline => #{wall => 10}, argv => ["/bin/true"]}),
    [] = alcove:cpid(Drv, []).

check_deadline(_Config) ->
    ok = alcove_sandbox:check(#{deadline => #{wall => 1, cpu => 2, grace => 0}}),
    [{error, {badvalue, deadline, D}} = alcove_sandbox:check(#{deadline => D})
     || D <- [#{}, #{wall => 0}, #{cpu => -1}, #{grace => -1}, #{wall => 1.5},
              #{other => 1}, [{wall, 1}]]],
    ok.

%%% start/3: deadlines

%% A program that ignores SIGTERM and forks one that does too: both are
%% killed once the wall-clock limit and the grace period passed.
wall_deadline(Config) ->
    Drv = ?config(drv, Config),
    M = ?config(marker, Config),
    T0 = erlang:monotonic_time(millisecond),
    {ok, Sb} = alcove_sandbox:start(Drv, [], #{
                   namespaces => [pid],
                   deadline => #{wall => 500, grace => 300},
                   argv => [?SH, "-c", ignorer(M) ++ "; sleep " ++ M]}),
    until(fun() -> length(survivors(M)) >= 2 end),
    {ok, #{ended_by := wall, status := {termsig, sigkill}}} = alcove_sandbox:wait(Sb, ?WAIT),
    T = erlang:monotonic_time(millisecond) - T0,
    ct:pal("ended after ~B ms", [T]),
    true = T >= 800,
    [] = survivors(M).

%% A program that ends on SIGTERM ends then, before its grace is over.
wall_deadline_term_honoured(Config) ->
    Drv = ?config(drv, Config),
    T0 = erlang:monotonic_time(millisecond),
    {ok, Sb} = alcove_sandbox:start(Drv, [], #{
                   deadline => #{wall => 300, grace => 5000},
                   argv => ["/bin/sleep", "100"]}),
    {ok, #{ended_by := wall, status := {termsig, sigterm}}} = alcove_sandbox:wait(Sb, ?WAIT),
    true = erlang:monotonic_time(millisecond) - T0 < 4000.

%% A CPU time limit: a busy loop is ended by it, not by its wall clock.
cpu_deadline(Config) ->
    Drv = ?config(drv, Config),
    {ok, Sb} = alcove_sandbox:start(Drv, [], #{
                   deadline => #{cpu => 300, wall => 30000, grace => 200},
                   argv => [?SH, "-c", "trap '' TERM; while :; do :; done"]}),
    {ok, #{ended_by := cpu, status := {termsig, sigkill}}} = alcove_sandbox:wait(Sb, ?WAIT).

%%% start/3: nothing survives

%% The first process exits, leaving a process that ignores SIGTERM in a
%% session of its own: in a PID namespace, the kernel kills it.
exit_leaves_nothing_pid_ns(Config) ->
    Drv = ?config(drv, Config),
    M = ?config(marker, Config),
    {ok, Sb} = alcove_sandbox:start(Drv, [], #{
                   namespaces => [pid],
                   argv => [?SH, "-c", ignorer(M) ++ "; sleep 0.5; exit 3"]}),
    {ok, #{ended_by := exit, status := {exit_status, 3}}} = alcove_sandbox:wait(Sb, ?WAIT),
    [] = survivors(M).

%% The same without a PID namespace, with a cgroup: the group is
%% emptied, then removed.
exit_leaves_nothing_cgroup(Config) ->
    Drv = ?config(drv, Config),
    M = ?config(marker, Config),
    Name = group(exit_leaves_nothing_cgroup),
    {ok, Sb} = alcove_sandbox:start(Drv, [], #{
                   cgroup => #{name => Name, pids_max => 64},
                   argv => [?SH, "-c", ignorer(M) ++ "; sleep 0.5; exit 4"]}),
    until(fun() -> length(survivors(M)) >= 1 end),
    {ok, #{ended_by := exit, status := {exit_status, 4}, cgroup := #{}}} =
        alcove_sandbox:wait(Sb, ?WAIT),
    [] = survivors(M),
    [] = filelib:wildcard("/sys/fs/cgroup/*/" ++ Name)
        ++ filelib:wildcard("/sys/fs/cgroup/" ++ Name).

stop_ends_it(Config) ->
    Drv = ?config(drv, Config),
    M = ?config(marker, Config),
    {ok, Sb} = alcove_sandbox:start(Drv, [], #{
                   namespaces => [pid],
                   argv => [?SH, "-c", ignorer(M) ++ "; sleep " ++ M]}),
    until(fun() -> length(survivors(M)) >= 2 end),
    ok = alcove_sandbox:stop(Sb),
    {ok, #{ended_by := stopped, status := {termsig, sigkill}}} = alcove_sandbox:wait(Sb, ?WAIT),
    [] = survivors(M).

%% The process that started the sandbox exits: the sandbox goes, and
%% its cgroup.
owner_exit_ends_it(Config) ->
    Drv = ?config(drv, Config),
    M = ?config(marker, Config),
    Name = group(owner_exit_ends_it),
    Self = self(),
    {Starter, Ref} =
        spawn_monitor(fun() ->
                          {ok, _} = alcove_sandbox:start(Drv, [], #{
                                        cgroup => #{name => Name, pids_max => 64},
                                        argv => [?SH, "-c", ignorer(M) ++ "; sleep " ++ M]}),
                          Self ! started,
                          receive go -> ok end
                      end),
    receive started -> ok end,
    until(fun() -> length(survivors(M)) >= 2 end),
    Starter ! go,
    receive {'DOWN', Ref, process, Starter, normal} -> ok end,
    until(fun() -> survivors(M) =:= [] end),
    until(fun() -> filelib:wildcard("/sys/fs/cgroup/*/" ++ Name)
                       ++ filelib:wildcard("/sys/fs/cgroup/" ++ Name) =:= [] end).

%% The driver stops: its children are killed, and with them the PID
%% namespace of the sandbox.
driver_stop_ends_it(Config) ->
    Drv = ?config(drv, Config),
    M = ?config(marker, Config),
    {ok, _} = alcove_sandbox:start(Drv, [], #{
                  namespaces => [pid],
                  argv => [?SH, "-c", ignorer(M) ++ "; sleep " ++ M]}),
    until(fun() -> length(survivors(M)) >= 2 end),
    ok = alcove_drv:stop(Drv),
    until(fun() -> survivors(M) =:= [] end).

%% The same with a cgroup and no PID namespace: the port kills its
%% child and the orphans it adopted; the group is removed.
driver_stop_ends_it_cgroup(Config) ->
    Drv = ?config(drv, Config),
    M = ?config(marker, Config),
    Name = group(driver_stop_ends_it_cgroup),
    {ok, _} = alcove_sandbox:start(Drv, [], #{
                  cgroup => #{name => Name, pids_max => 64},
                  argv => [?SH, "-c", ignorer(M) ++ "; sleep " ++ M]}),
    until(fun() -> length(survivors(M)) >= 2 end),
    ok = alcove_drv:stop(Drv),
    until(fun() -> survivors(M) =:= [] end),
    until(fun() -> filelib:wildcard("/sys/fs/cgroup/*/" ++ Name)
                       ++ filelib:wildcard("/sys/fs/cgroup/" ++ Name) =:= [] end).

%%% The report

%% With exit_report set in the parent: the usage of wait4(2), and the
%% figures of the group.
report_usage(Config) ->
    Drv = ?config(drv, Config),
    true = alcove:setopt(Drv, [], exit_report, 1),
    {ok, Sb} = alcove_sandbox:start(Drv, [], #{
                   cgroup => #{pids_max => 64, memory_max => 256 bsl 20},
                   argv => [?SH, "-c", "i=0; while [ $i -lt 50000 ]; do i=$((i+1)); done"]}),
    {ok, #{status := {exit_status, 0}, ended_by := exit, oom_killed := false,
           rusage := #{utime := U, maxrss := Rss},
           cgroup := #{memory_peak := Peak, cpu := #{usage_usec := Usage}}} = R} =
        alcove_sandbox:wait(Sb, ?WAIT),
    ct:pal("~p", [R]),
    true = U > 0 andalso Rss > 0 andalso Peak > 0 andalso Usage >= U div 2.

%% A program past its memory limit: the OOM killer ends it, and the
%% report says so.
report_oom(Config) ->
    Drv = ?config(drv, Config),
    {ok, Sb} = alcove_sandbox:start(Drv, [], #{
                   cgroup => #{memory_max => 32 bsl 20, pids_max => 64},
                   argv => ["/bin/bash", "-c", "x=$(head -c 268435456 /dev/zero | tr '\\0' a)"]}),
    {ok, #{ended_by := oom, oom_killed := true,
           cgroup := #{memory_events := #{oom_kill := N}}}} = alcove_sandbox:wait(Sb, 30000),
    true = N >= 1.

%%% Helpers

%% A group of the unified hierarchy for the case, made: {Root, Dir}.
v2_group(Drv, Test) ->
    case alcove_cgroup:v2_root(Drv, []) of
        {ok, Root} ->
            Dir = <<Root/binary, "/", (list_to_binary(group(Test)))/binary>>,
            ok = alcove:mkdir(Drv, [], Dir, 8#755),
            {Root, Dir};
        {error, _} ->
            ct:fail("no cgroup v2 hierarchy")
    end.

group(Test) ->
    "alcove-life-" ++ atom_to_list(Test).

%% A number no other process has in its command line: sleep takes it.
marker(Test) ->
    "7777." ++ integer_to_list(erlang:phash2({Test, os:getpid()}, 1000000)).

%% A process ignoring SIGTERM, in a session of its own, left behind.
ignorer(M) ->
    "trap '' TERM; (setsid sleep " ++ M ++ " &)".

%% The processes whose command line holds the marker.
survivors(M) ->
    [Pid || "/proc/" ++ Rest <- filelib:wildcard("/proc/[0-9]*/cmdline"),
            [Pid, _] <- [string:split(Rest, "/")],
            {ok, Cmd} <- [file:read_file("/proc/" ++ Pid ++ "/cmdline")],
            binary:match(Cmd, list_to_binary(M)) =/= nomatch,
            %% a zombie is gone for this purpose
            alcove_test:running(list_to_integer(Pid))].

%% Fun true within 10 s.
until(Fun) ->
    ok = alcove_test:until(fun() -> case Fun() of true -> ok; false -> false end end).

rmdir(Dir) ->
    _ = file:del_dir(Dir),
    ok.
