%% SPDX-License-Identifier: ISC
%% alcove_cgroup on this machine's real hierarchies: the reference's v1
%% functions (supported/2, create/3, set/6, get/5, destroy/3) and the v2
%% ones on the unified hierarchy. Every group is named alcove_ct_<random>
%% and removed afterwards, by the test itself and again, whatever
%% happened, by end_per_testcase (which also restores the root's
%% cgroup.subtree_control of the unified hierarchy).
-module(alcove_cgroup_SUITE).

-include_lib("common_test/include/ct.hrl").
-include_lib("alcove/include/alcove.hrl").

-import(alcove_test, [until/1, proc_cgroup/1]).

-export([
    all/0,
    suite/0,
    groups/0,
    init_per_group/2,
    end_per_group/2,
    init_per_testcase/2,
    end_per_testcase/2
]).

-export([
    v1_supported/1,
    v1_create_destroy_binary/1,
    v1_create_destroy_parts/1,
    v1_set_get/1,
    v1_memsw/1,
    v1_errors/1,
    v1_tasks_and_procs/1,
    v1_pids_limit/1,
    v1_through_chain/1,
    v1_group_limits/1,
    v2_root/1,
    v2_create_destroy/1,
    v2_subtree_control/1,
    v2_subtree_control_busy/1,
    v2_memory_max/1,
    v2_pids_max/1,
    v2_cpu_max/1,
    v2_move_events/1,
    v2_freeze/1,
    v2_kill/1,
    v2_errors/1,
    v2_group_backend/1,
    file_through_port/1
]).

-define(V1, "/sys/fs/cgroup").
-define(DEADLINE, 10000).

suite() ->
    [{timetrap, {seconds, 60}}].

all() ->
    [{group, v1}, {group, v2}, file_through_port].

groups() ->
    [{v1, [], [
        v1_supported,
        v1_create_destroy_binary,
        v1_create_destroy_parts,
        v1_set_get,
        v1_memsw,
        v1_errors,
        v1_tasks_and_procs,
        v1_pids_limit,
        v1_through_chain,
        v1_group_limits
     ]},
     {v2, [], [
        v2_root,
        v2_create_destroy,
        v2_subtree_control,
        v2_subtree_control_busy,
        v2_memory_max,
        v2_pids_max,
        v2_cpu_max,
        v2_move_events,
        v2_freeze,
        v2_kill,
        v2_errors,
        v2_group_backend
     ]}].

init_per_group(_, Config) ->
    Config.

end_per_group(_, _Config) ->
    ok.

init_per_testcase(_Case, Config) ->
    Name = "alcove_ct_" ++ integer_to_list(rand:uniform(1 bsl 40)),
    Subtree = case v2_mount() of
                  {ok, Root} -> read_list(filename:join(Root, "cgroup.subtree_control"));
                  error -> []
              end,
    {ok, Drv} = alcove_drv:start(),
    [{drv, Drv}, {name, Name}, {subtree, Subtree} | Config].

%% Stop the port (its processes die with it), then remove whatever is
%% left of the groups and undo what was enabled at the unified root.
end_per_testcase(_Case, Config) ->
    Drv = ?config(drv, Config),
    catch alcove_drv:stop(Drv),
    Name = ?config(name, Config),
    [remove_tree(filename:join(Dir, Name), false)
     || {v1, Dir} <- cgroup_mounts()],
    case v2_mount() of
        {ok, Root} ->
            remove_tree(filename:join(Root, Name), true),
            Before = ?config(subtree, Config),
            Control = filename:join(Root, "cgroup.subtree_control"),
            [ok = file:write_file(Control, ["-", C])
             || C <- read_list(Control), not lists:member(C, Before)];
        error ->
            ok
    end,
    ok.

%%% cgroup v1

%% supported/2 is true on this host and hierarchies/2 lists exactly the cgroup
%% file systems of /proc/self/mounts, with their controllers.
v1_supported(Config) ->
    Drv = ?config(drv, Config),
    true = alcove_cgroup:supported(Drv, []),
    Mounts = alcove_cgroup:hierarchies(Drv, []),
    Expect = [case M of
                  {v1, Dir} -> {v1, list_to_binary(Dir)};
                  {v2, Dir} -> {v2, list_to_binary(Dir)}
              end || M <- cgroup_mounts()],
    Expect = [case M of {v1, Dir, _} -> {v1, Dir}; V2 -> V2 end || M <- Mounts],
    %% controllers, not mount options; name= hierarchies have none
    {v1, _, [<<"memory">>]} = lists:keyfind(<<?V1 "/memory">>, 2, Mounts),
    {v1, _, [<<"cpuset">>]} = lists:keyfind(<<?V1 "/cpuset">>, 2, Mounts),
    {v1, _, []} = lists:keyfind(<<?V1 "/systemd">>, 2, Mounts).

%% create/3 with a binary name makes the group in every v1 hierarchy,
%% is idempotent, and destroy/3 removes it from all of them (and is
%% idempotent too).
v1_create_destroy_binary(Config) ->
    Drv = ?config(drv, Config),
    Name = ?config(name, Config),
    Dirs = [filename:join(Dir, Name) || {v1, Dir} <- cgroup_mounts()],
    true = length(Dirs) >= 5,
    ok = alcove_cgroup:create(Drv, [], list_to_binary(Name)),
    [true = filelib:is_dir(D) || D <- Dirs],
    ok = alcove_cgroup:create(Drv, [], list_to_binary(Name)),
    ok = alcove_cgroup:destroy(Drv, [], list_to_binary(Name)),
    [false = filelib:is_dir(D) || D <- Dirs],
    ok = alcove_cgroup:destroy(Drv, [], list_to_binary(Name)).

%% A name given as a list of path parts (binaries or strings), or as a
%% string with a slash, names the same nested group; create/3 makes the
%% parents; destroy/3 removes only the last part.
v1_create_destroy_parts(Config) ->
    Drv = ?config(drv, Config),
    Name = ?config(name, Config),
    ok = alcove_cgroup:create(Drv, [], [list_to_binary(Name), "sub"]),
    [true = filelib:is_dir(filename:join([Dir, Name, "sub"]))
     || {v1, Dir} <- cgroup_mounts()],
    {ok, 3} = alcove_cgroup:set(Drv, [], <<"memory">>, Name ++ "/sub",
                                <<"memory.limit_in_bytes">>, <<"16m">>),
    {ok, <<"16777216">>} = alcove_cgroup:get(Drv, [], <<"memory">>,
                                             [Name, <<"sub">>],
                                             <<"memory.limit_in_bytes">>),
    {ok, <<"16777216">>} = alcove_cgroup:get(Drv, [], "memory",
                                             list_to_binary(Name ++ "/sub/"),
                                             "memory.limit_in_bytes"),
    ok = alcove_cgroup:destroy(Drv, [], [Name, "sub"]),
    [begin
         false = filelib:is_dir(filename:join([Dir, Name, "sub"])),
         true = filelib:is_dir(filename:join(Dir, Name))
     end || {v1, Dir} <- cgroup_mounts()],
    ok = alcove_cgroup:destroy(Drv, [], [Name]),
    [false = filelib:is_dir(filename:join(Dir, Name)) || {v1, Dir} <- cgroup_mounts()].

%% set/6 returns the bytes written and get/5 reads the value back as the
%% kernel reports it: the reference's cpuset and memory settings, and
%% pids.max. The file itself shows the value written.
v1_set_get(Config) ->
    Drv = ?config(drv, Config),
    Name = list_to_binary(?config(name, Config)),
    ok = alcove_cgroup:create(Drv, [], Name),
    {ok, 1} = alcove_cgroup:set(Drv, [], <<"cpuset">>, Name, <<"cpuset.cpus">>, <<"0">>),
    {ok, 1} = alcove_cgroup:set(Drv, [], <<"cpuset">>, Name, <<"cpuset.mems">>, <<"0">>),
    {ok, <<"0">>} = alcove_cgroup:get(Drv, [], <<"cpuset">>, Name, <<"cpuset.cpus">>),
    {ok, <<"0">>} = alcove_cgroup:get(Drv, [], <<"cpuset">>, Name, <<"cpuset.mems">>),
    {ok, 3} = alcove_cgroup:set(Drv, [], <<"memory">>, Name,
                                <<"memory.limit_in_bytes">>, <<"16m">>),
    {ok, <<"16777216">>} = alcove_cgroup:get(Drv, [], <<"memory">>, Name,
                                             <<"memory.limit_in_bytes">>),
    {ok, <<"16777216\n">>} = file:read_file(
        filename:join([?V1, "memory", Name, "memory.limit_in_bytes"])),
    {ok, 1} = alcove_cgroup:set(Drv, [], <<"pids">>, Name, <<"pids.max">>, "4"),
    {ok, <<"4">>} = alcove_cgroup:get(Drv, [], <<"pids">>, Name, <<"pids.max">>),
    ok = alcove_cgroup:destroy(Drv, [], Name).

%% memory.memsw.* exists only with swap accounting: where it exists, the
%% kernel's rule (memsw >= limit) comes back as einval and a valid value
%% is written; where it does not, the write fails with enoent. Either
%% way the caller gets {error, posix()} and may go on, as nsex does.
v1_memsw(Config) ->
    Drv = ?config(drv, Config),
    Name = list_to_binary(?config(name, Config)),
    ok = alcove_cgroup:create(Drv, [], Name),
    {ok, 3} = alcove_cgroup:set(Drv, [], <<"memory">>, Name,
                                <<"memory.limit_in_bytes">>, <<"16m">>),
    Memsw = filename:join([?V1, "memory", Name, "memory.memsw.limit_in_bytes"]),
    case filelib:is_regular(Memsw) of
        true ->
            {error, einval} = alcove_cgroup:set(Drv, [], <<"memory">>, Name,
                                                <<"memory.memsw.limit_in_bytes">>, <<"8m">>),
            {ok, 3} = alcove_cgroup:set(Drv, [], <<"memory">>, Name,
                                        <<"memory.memsw.limit_in_bytes">>, <<"32m">>),
            {ok, <<"33554432">>} = alcove_cgroup:get(Drv, [], <<"memory">>, Name,
                                                     <<"memory.memsw.limit_in_bytes">>);
        false ->
            {error, enoent} = alcove_cgroup:set(Drv, [], <<"memory">>, Name,
                                                <<"memory.memsw.limit_in_bytes">>, <<"32m">>)
    end,
    %% a memsw file no kernel has: the absent-accounting case on any host
    {error, enoent} = alcove_cgroup:set(Drv, [], <<"memory">>, Name,
                                        <<"memory.memsw.alcove_absent">>, <<"32m">>),
    ok = alcove_cgroup:destroy(Drv, [], Name).

%% Errors of the kernel reach the caller as {error, posix()}; bad names
%% are refused before anything is touched (einval; badarg if not iodata).
v1_errors(Config) ->
    Drv = ?config(drv, Config),
    Name = list_to_binary(?config(name, Config)),
    %% no such group
    {error, enoent} = alcove_cgroup:set(Drv, [], <<"memory">>, Name,
                                        <<"memory.limit_in_bytes">>, <<"16m">>),
    {error, enoent} = alcove_cgroup:get(Drv, [], <<"memory">>, Name,
                                        <<"memory.limit_in_bytes">>),
    ok = alcove_cgroup:create(Drv, [], Name),
    %% no such controller mounted
    {error, enoent} = alcove_cgroup:set(Drv, [], <<"alcove_nonesuch">>, Name,
                                        <<"tasks">>, <<"1">>),
    {error, enoent} = alcove_cgroup:get(Drv, [], <<"alcove_nonesuch">>, Name, <<"tasks">>),
    %% values the kernel refuses
    {error, einval} = alcove_cgroup:set(Drv, [], <<"memory">>, Name,
                                        <<"memory.limit_in_bytes">>, <<"lots">>),
    {error, einval} = alcove_cgroup:set(Drv, [], <<"pids">>, Name, <<"pids.max">>, <<"-5">>),
    {error, erange} = alcove_cgroup:set(Drv, [], <<"cpuset">>, Name, <<"cpuset.cpus">>,
                                        <<"100000">>),
    %% a read-only file: the kernel's einval
    {error, einval} = alcove_cgroup:set(Drv, [], <<"memory">>, Name,
                                        <<"memory.usage_in_bytes">>, <<"1">>),
    %% a name or key leaving the group is refused: nothing is created
    {error, einval} = alcove_cgroup:create(Drv, [], [Name, <<"..">>, <<"escaped">>]),
    {error, einval} = alcove_cgroup:create(Drv, [], <<Name/binary, "/../escaped">>),
    [false = filelib:is_dir(filename:join(Dir, "escaped")) || {v1, Dir} <- cgroup_mounts()],
    {error, einval} = alcove_cgroup:set(Drv, [], <<"memory">>, Name,
                                        <<"../memory.limit_in_bytes">>, <<"1">>),
    {error, einval} = alcove_cgroup:get(Drv, [], <<"memory">>, <<"..">>, <<"tasks">>),
    {error, einval} = alcove_cgroup:destroy(Drv, [], <<"a/../..">>),
    %% not iodata: badarg in the caller, as for the calls of alcove
    {'EXIT', {badarg, _}} = (catch alcove_cgroup:create(Drv, [], alcove_ct)),
    {'EXIT', {badarg, _}} = (catch alcove_cgroup:get(Drv, [], <<"memory">>, Name, tasks)),
    %% a group with a child cannot be removed
    ok = alcove_cgroup:create(Drv, [], [Name, <<"child">>]),
    {error, ebusy} = alcove_cgroup:destroy(Drv, [], Name),
    ok = alcove_cgroup:destroy(Drv, [], [Name, <<"child">>]),
    ok = alcove_cgroup:destroy(Drv, [], Name).

%% Writing a PID to tasks (every hierarchy, as nsex does) or to
%% cgroup.procs (one hierarchy) moves the process: /proc/PID/cgroup and
%% the group's files say so; a populated group cannot be removed (ebusy)
%% and can once its processes are gone.
v1_tasks_and_procs(Config) ->
    Drv = ?config(drv, Config),
    Name = ?config(name, Config),
    ok = alcove_cgroup:create(Drv, [], Name),
    {ok, 3} = alcove_cgroup:set(Drv, [], <<"memory">>, Name,
                                <<"memory.limit_in_bytes">>, <<"64m">>),
    {ok, 1} = alcove_cgroup:set(Drv, [], <<"cpuset">>, Name, <<"cpuset.cpus">>, <<"0">>),
    {ok, 1} = alcove_cgroup:set(Drv, [], <<"cpuset">>, Name, <<"cpuset.mems">>, <<"0">>),
    {ok, C1} = alcove:fork(Drv, []),
    {ok, C2} = alcove:fork(Drv, []),
    P1 = integer_to_list(C1),
    Len1 = length(P1),
    {ok, Len1} = alcove_cgroup:set(Drv, [], <<>>, Name, <<"tasks">>, P1),
    Groups = proc_cgroup(C1),
    [{H, "/" ++ Name} = lists:keyfind(H, 1, Groups)
     || H <- ["memory", "cpuset", "pids", "cpu", "freezer", "name=systemd"]],
    Bin1 = list_to_binary(P1),
    {ok, Bin1} = alcove_cgroup:get(Drv, [], <<"memory">>, Name, <<"tasks">>),
    {ok, Bin1} = alcove_cgroup:get(Drv, [], <<"pids">>, Name, <<"cgroup.procs">>),
    %% cgroup.procs of one hierarchy: C2 joins pids only
    P2 = integer_to_binary(C2),
    {ok, _} = alcove_cgroup:set(Drv, [], <<"pids">>, Name, <<"cgroup.procs">>, P2),
    {"pids", "/" ++ Name} = lists:keyfind("pids", 1, proc_cgroup(C2)),
    {"memory", Mem} = lists:keyfind("memory", 1, proc_cgroup(C2)),
    true = Mem =/= "/" ++ Name,
    {ok, Procs} = alcove_cgroup:get(Drv, [], <<"pids">>, Name, <<"cgroup.procs">>),
    [Bin1, P2] = lists:sort(binary:split(Procs, <<"\n">>, [global])),
    {ok, <<"2">>} = alcove_cgroup:get(Drv, [], <<"pids">>, Name, <<"pids.current">>),
    %% a PID that is no process: the kernel's esrch
    {error, esrch} = alcove_cgroup:set(Drv, [], <<"pids">>, Name, <<"tasks">>,
                                       integer_to_list(pid_max() + 1)),
    {error, ebusy} = alcove_cgroup:destroy(Drv, [], Name),
    ok = alcove:exit(Drv, [C1], 0),
    ok = alcove:exit(Drv, [C2], 0),
    {exit_status, 0} = alcove:event(Drv, [C1], ?DEADLINE),
    {exit_status, 0} = alcove:event(Drv, [C2], ?DEADLINE),
    ok = until(fun() -> alcove_cgroup:destroy(Drv, [], Name) end).

%% pids.max is enforced on a process moved in: the fork of a second
%% process in the group fails with eagain.
v1_pids_limit(Config) ->
    Drv = ?config(drv, Config),
    Name = ?config(name, Config),
    ok = alcove_cgroup:create(Drv, [], Name),
    {ok, 1} = alcove_cgroup:set(Drv, [], <<"pids">>, Name, <<"pids.max">>, <<"1">>),
    {ok, C} = alcove:fork(Drv, []),
    {ok, _} = alcove_cgroup:set(Drv, [], <<"pids">>, Name, <<"cgroup.procs">>,
                                integer_to_list(C)),
    {error, eagain} = alcove:fork(Drv, [C]),
    {ok, 1} = alcove_cgroup:set(Drv, [], <<"pids">>, Name, <<"pids.max">>, <<"2">>),
    {ok, GC} = alcove:fork(Drv, [C]),
    ok = alcove:exit(Drv, [C, GC], 0),
    ok = alcove:exit(Drv, [C], 0),
    {exit_status, 0} = alcove:event(Drv, [C], ?DEADLINE),
    ok = until(fun() -> alcove_cgroup:destroy(Drv, [], Name) end).

%% The files are opened by the process at the end of the fork chain: a
%% child sees the hierarchies as the port does, and a child chrooted
%% away from them sees none (supported/2 false, set/6 enoent).
v1_through_chain(Config) ->
    Drv = ?config(drv, Config),
    Name = ?config(name, Config),
    {ok, C} = alcove:fork(Drv, []),
    true = alcove_cgroup:supported(Drv, [C]),
    ok = alcove_cgroup:create(Drv, [C], Name),
    {ok, 3} = alcove_cgroup:set(Drv, [C], <<"memory">>, Name,
                                <<"memory.limit_in_bytes">>, <<"32m">>),
    {ok, <<"33554432">>} = alcove_cgroup:get(Drv, [], <<"memory">>, Name,
                                             <<"memory.limit_in_bytes">>),
    {ok, J} = alcove:fork(Drv, []),
    ok = alcove:chroot(Drv, [J], ?config(priv_dir, Config)),
    false = alcove_cgroup:supported(Drv, [J]),
    [] = alcove_cgroup:hierarchies(Drv, [J]),
    {error, enoent} = alcove_cgroup:set(Drv, [J], <<"memory">>, Name,
                                        <<"memory.limit_in_bytes">>, <<"16m">>),
    ok = alcove_cgroup:destroy(Drv, [C], Name),
    [false = filelib:is_dir(filename:join(Dir, Name)) || {v1, Dir} <- cgroup_mounts()].

%% The group_ functions in v1 (the memory, pids and cpu controllers
%% of this host are in v1 hierarchies): the backend names one hierarchy
%% per controller, group_create/5 makes the group in each, group_join/6
%% writes the limits and moves the process in, group_remove/4 removes
%% the group once the process is gone.
v1_group_limits(Config) ->
    Drv = ?config(drv, Config),
    Name = list_to_binary(?config(name, Config)),
    Limits = #{memory_max => 32 bsl 20, pids_max => 7, cpu_max => {50000, 100000}},
    {ok, {v1, Roots} = Backend} = alcove_cgroup:group_backend(Drv, [], Limits, v1),
    [<<"memory">>, <<"pids">>, <<"cpu">>] = [C || {C, _} <- Roots],
    Mounts = alcove_cgroup:hierarchies(Drv, []),
    [true = lists:member(C, Cs) || {C, Root} <- Roots, {v1, R, Cs} <- Mounts, R =:= Root],
    Dirs = alcove_cgroup:group_dirs(Backend, Name),
    Dirs = lists:usort([<<Root/binary, "/", Name/binary>> || {_, Root} <- Roots]),
    ok = alcove_cgroup:group_create(Drv, [], Backend, Name, Limits),
    [true = filelib:is_dir(D) || D <- Dirs],
    {ok, C} = alcove:fork(Drv, []),
    ok = alcove_cgroup:group_join(Drv, [], Backend, Name, Limits, C),
    Dir = fun(Ctl) ->
                  {Ctl, Root} = lists:keyfind(Ctl, 1, Roots),
                  <<Root/binary, "/", Name/binary>>
          end,
    <<"33554432">> = cat(Dir(<<"memory">>), "memory.limit_in_bytes"),
    <<"7">> = cat(Dir(<<"pids">>), "pids.max"),
    <<"50000">> = cat(Dir(<<"cpu">>), "cpu.cfs_quota_us"),
    <<"100000">> = cat(Dir(<<"cpu">>), "cpu.cfs_period_us"),
    Pid = integer_to_binary(C),
    [[Pid] = binary:split(cat(D, "cgroup.procs"), <<"\n">>, [global, trim_all]) || D <- Dirs],
    {error, {ebusy, _}} = alcove_cgroup:group_remove(Drv, [], Backend, Name),
    ok = alcove:kill(Drv, [], C, sigkill),
    ok = alcove_cgroup:group_remove(Drv, [], Backend, Name),
    [false = filelib:is_dir(D) || D <- Dirs],
    ok = alcove_cgroup:group_remove(Drv, [], Backend, Name).

%%% cgroup v2

%% v2_root/2 finds the cgroup2 mount of /proc/self/mounts
%% (/sys/fs/cgroup/unified on this hybrid host).
v2_root(Config) ->
    Drv = ?config(drv, Config),
    {ok, Root} = v2_mount(),
    {ok, Bin} = alcove_cgroup:v2_root(Drv, []),
    Root = binary_to_list(Bin),
    {v2, Bin} = lists:keyfind(v2, 1, alcove_cgroup:hierarchies(Drv, [])).

%% A group is created (idempotently), starts empty and thawed, and is
%% removed; a second removal is the kernel's enoent, with the path.
v2_create_destroy(Config) ->
    Drv = ?config(drv, Config),
    Name = ?config(name, Config),
    {ok, Root} = v2_mount(),
    Dir = filename:join(Root, Name),
    ok = alcove_cgroup:v2_create(Drv, [], Name),
    true = filelib:is_dir(Dir),
    ok = alcove_cgroup:v2_create(Drv, [], list_to_binary(Name)),
    {ok, [{populated, 0}, {frozen, 0}]} = alcove_cgroup:v2_events(Drv, [], Name),
    {ok, <<>>} = alcove_cgroup:v2_get(Drv, [], Name, <<"cgroup.procs">>),
    {ok, <<"domain">>} = alcove_cgroup:v2_get(Drv, [], [Name], "cgroup.type"),
    ok = alcove_cgroup:v2_destroy(Drv, [], Name),
    false = filelib:is_dir(Dir),
    DirB = list_to_binary(Dir),
    {error, {enoent, DirB}} = alcove_cgroup:v2_destroy(Drv, [], Name),
    Events = <<DirB/binary, "/cgroup.events">>,
    {error, {enoent, Events}} = alcove_cgroup:v2_events(Drv, [], Name).

%% Controllers the root offers are enabled down the path of a nested
%% group, so the leaf gets them (and their files: a hugetlb limit is set
%% and read back); a controller not offered is left alone.
v2_subtree_control(Config) ->
    Drv = ?config(drv, Config),
    Name = ?config(name, Config),
    {ok, Root} = v2_mount(),
    Offered = read_list(filename:join(Root, "cgroup.controllers")),
    case Offered of
        [] ->
            %% nothing to enable: the group gets no controller
            ok = alcove_cgroup:v2_create(Drv, [], [Name, "leaf"], [<<"memory">>]),
            {ok, []} = alcove_cgroup:v2_controllers(Drv, [], [Name, "leaf"]),
            {skip, "the unified hierarchy offers no controller on this host"};
        _ ->
            ok = alcove_cgroup:v2_create(Drv, [], [Name, "leaf"],
                                         Offered ++ [<<"alcove_nonesuch">>]),
            Sorted = lists:sort(Offered),
            Sorted = lists:sort(read_list(filename:join(Root, "cgroup.subtree_control"))),
            {ok, Mid} = alcove_cgroup:v2_controllers(Drv, [], Name),
            Sorted = lists:sort(Mid),
            {ok, Ctl} = alcove_cgroup:v2_get(Drv, [], Name, <<"cgroup.subtree_control">>),
            Sorted = lists:sort(binary:split(Ctl, <<" ">>, [global])),
            LeafName = <<(list_to_binary(Name))/binary, "/leaf">>,
            {ok, Leaf} = alcove_cgroup:v2_controllers(Drv, [], LeafName),
            Sorted = lists:sort(Leaf),
            case lists:member(<<"hugetlb">>, Offered) of
                true -> hugetlb_limit(Drv, Root, [Name, "leaf"]);
                false -> ok
            end,
            ok = alcove_cgroup:v2_destroy(Drv, [], [Name, "leaf"]),
            ok = alcove_cgroup:v2_destroy(Drv, [], Name)
    end.

hugetlb_limit(Drv, Root, Name) ->
    %% a limit of one 2 MB page (the x86 default huge page size)
    Max = "hugetlb.2MB.max",
    true = filelib:is_regular(filename:join([Root | Name] ++ [Max])),
    {ok, 7} = alcove_cgroup:v2_set(Drv, [], Name, Max, <<"2097152">>),
    {ok, <<"2097152">>} = alcove_cgroup:v2_get(Drv, [], Name, Max).

%% A group holding a process cannot give controllers to children (no
%% internal processes): the kernel's ebusy comes back with the
%% subtree_control file that refused it.
v2_subtree_control_busy(Config) ->
    Drv = ?config(drv, Config),
    Name = ?config(name, Config),
    {ok, Root} = v2_mount(),
    case read_list(filename:join(Root, "cgroup.controllers")) of
        [] ->
            {skip, "the unified hierarchy offers no controller on this host"};
        [Ctl | _] ->
            ok = alcove_cgroup:v2_create(Drv, [], Name, [Ctl]),
            {ok, C} = alcove:fork(Drv, []),
            {ok, _} = alcove_cgroup:v2_move(Drv, [], Name, C),
            Path = list_to_binary(filename:join([Root, Name, "cgroup.subtree_control"])),
            {error, {ebusy, Path}} = alcove_cgroup:v2_create(Drv, [], [Name, "leaf"], [Ctl]),
            false = filelib:is_dir(filename:join([Root, Name, "leaf"])),
            %% without a controller to enable, the child is made
            ok = alcove_cgroup:v2_create(Drv, [], [Name, "leaf"]),
            ok = alcove_cgroup:v2_destroy(Drv, [], [Name, "leaf"]),
            {ok, _} = alcove_cgroup:v2_kill(Drv, [], Name),
            {termsig, sigkill} = alcove:event(Drv, [C], ?DEADLINE),
            ok = until(fun() -> alcove_cgroup:v2_destroy(Drv, [], Name) end)
    end.

%% memory.max set and read back where the memory controller is in the
%% unified hierarchy.
v2_memory_max(Config) ->
    controller(Config, <<"memory">>, <<"memory.max">>, <<"16777216">>, <<"16777216">>,
               <<"lots">>).

%% pids.max, likewise.
v2_pids_max(Config) ->
    controller(Config, <<"pids">>, <<"pids.max">>, <<"8">>, <<"8">>, <<"-1">>).

%% cpu.max (quota and period), likewise.
v2_cpu_max(Config) ->
    controller(Config, <<"cpu">>, <<"cpu.max">>, <<"50000 100000">>, <<"50000 100000">>,
               <<"1 1">>).

%% Where the root offers Ctl, a group created with it has Key: Value is
%% written and read back, Bad is the kernel's einval. Where it does not
%% (on this hybrid host memory, pids and cpu are bound to v1), the test
%% checks the controller really is absent (the root does not offer it,
%% the group does not get it, Key does not exist: enoent with the path)
%% and only then skips.
controller(Config, Ctl, Key, Value, Expect, Bad) ->
    Drv = ?config(drv, Config),
    Name = ?config(name, Config),
    {ok, Root} = v2_mount(),
    Path = iolist_to_binary(filename:join([Root, Name, Key])),
    ok = alcove_cgroup:v2_create(Drv, [], Name, [Ctl]),
    {ok, Have} = alcove_cgroup:v2_controllers(Drv, [], Name),
    case lists:member(Ctl, read_list(filename:join(Root, "cgroup.controllers"))) of
        true ->
            true = lists:member(Ctl, Have),
            Len = byte_size(Value),
            {ok, Len} = alcove_cgroup:v2_set(Drv, [], Name, Key, Value),
            {ok, Expect} = alcove_cgroup:v2_get(Drv, [], Name, Key),
            {error, {einval, Path}} = alcove_cgroup:v2_set(Drv, [], Name, Key, Bad),
            ok = alcove_cgroup:v2_destroy(Drv, [], Name);
        false ->
            false = lists:member(Ctl, Have),
            {error, {enoent, Path}} = alcove_cgroup:v2_set(Drv, [], Name, Key, Value),
            {error, {enoent, Path}} = alcove_cgroup:v2_get(Drv, [], Name, Key),
            ok = alcove_cgroup:v2_destroy(Drv, [], Name),
            {skip, binary_to_list(<<"the ", Ctl/binary, " controller is not in the "
                                    "unified hierarchy of this host (bound to v1)">>)}
    end.

%% A process moved in makes the group populated (cgroup.events 1,
%% cgroup.procs and /proc/PID/cgroup show it); moved back to the root it
%% leaves (populated 0); moved in again and exiting, likewise. A populated
%% group cannot be removed (ebusy, with the path); an unknown PID is esrch.
v2_move_events(Config) ->
    Drv = ?config(drv, Config),
    Name = ?config(name, Config),
    {ok, Root} = v2_mount(),
    ok = alcove_cgroup:v2_create(Drv, [], Name),
    {ok, C} = alcove:fork(Drv, []),
    Pid = integer_to_binary(C),
    Len = byte_size(Pid),
    {ok, Len} = alcove_cgroup:v2_move(Drv, [], Name, C),
    {ok, [{populated, 1}, {frozen, 0}]} = alcove_cgroup:v2_events(Drv, [], Name),
    {ok, Pid} = alcove_cgroup:v2_get(Drv, [], Name, <<"cgroup.procs">>),
    {"", "/" ++ Name} = lists:keyfind("", 1, proc_cgroup(C)),
    Dir = iolist_to_binary(filename:join(Root, Name)),
    {error, {ebusy, Dir}} = alcove_cgroup:v2_destroy(Drv, [], Name),
    Procs = list_to_binary(filename:join([Root, Name, "cgroup.procs"])),
    {error, {esrch, Procs}} = alcove_cgroup:v2_move(Drv, [], Name, pid_max() + 1),
    %% back to the root: the group is empty again
    {ok, Len} = alcove_cgroup:v2_move(Drv, [], <<>>, C),
    {ok, [{populated, 0}, {frozen, 0}]} = alcove_cgroup:v2_events(Drv, [], Name),
    {"", "/"} = lists:keyfind("", 1, proc_cgroup(C)),
    %% in again, then the process exits
    {ok, Len} = alcove_cgroup:v2_move(Drv, [], [Name], C),
    {ok, [{populated, 1}, {frozen, 0}]} = alcove_cgroup:v2_events(Drv, [], Name),
    ok = alcove:exit(Drv, [C], 0),
    {exit_status, 0} = alcove:event(Drv, [C], ?DEADLINE),
    ok = events_until(Drv, Name, [{populated, 0}, {frozen, 0}]),
    ok = alcove_cgroup:v2_destroy(Drv, [], Name).

%% cgroup.freeze stops every process of the group (frozen 1 in
%% cgroup.events; a call to the frozen process gets no answer) and
%% thawing lets it answer again; only 0 and 1 are accepted.
v2_freeze(Config) ->
    Drv = ?config(drv, Config),
    Name = ?config(name, Config),
    {ok, Root} = v2_mount(),
    ok = alcove_cgroup:v2_create(Drv, [], Name),
    {ok, C} = alcove:fork(Drv, []),
    {ok, _} = alcove_cgroup:v2_move(Drv, [], Name, C),
    {ok, 1} = alcove_cgroup:v2_freeze(Drv, [], Name, true),
    ok = events_until(Drv, Name, [{populated, 1}, {frozen, 1}]),
    {ok, <<"1">>} = alcove_cgroup:v2_get(Drv, [], Name, <<"cgroup.freeze">>),
    {'EXIT', {timeout, _}} = (catch alcove:getpid(Drv, [C], 1000)),
    {ok, 1} = alcove_cgroup:v2_freeze(Drv, [], Name, false),
    ok = events_until(Drv, Name, [{populated, 1}, {frozen, 0}]),
    C = alcove:getpid(Drv, [C], ?DEADLINE),
    Freeze = list_to_binary(filename:join([Root, Name, "cgroup.freeze"])),
    {error, {erange, Freeze}} = alcove_cgroup:v2_set(Drv, [], Name, <<"cgroup.freeze">>, <<"2">>),
    ok = alcove:exit(Drv, [C], 0),
    {exit_status, 0} = alcove:event(Drv, [C], ?DEADLINE),
    ok = until(fun() -> alcove_cgroup:v2_destroy(Drv, [], Name) end).

%% cgroup.kill sends SIGKILL to every process of the group, forked or
%% exec'd, even a frozen one: each is reported {termsig, sigkill}, the
%% group empties and is removed. Processes outside it are untouched.
v2_kill(Config) ->
    Drv = ?config(drv, Config),
    Name = ?config(name, Config),
    ok = alcove_cgroup:v2_create(Drv, [], Name),
    {ok, C1} = alcove:fork(Drv, []),
    {ok, C2} = alcove:fork(Drv, []),
    {ok, C3} = alcove:fork(Drv, []),
    {ok, Outside} = alcove:fork(Drv, []),
    ok = alcove:execvp(Drv, [C3], "sleep", ["sleep", "1000"]),
    [{ok, _} = alcove_cgroup:v2_move(Drv, [], Name, C) || C <- [C1, C2, C3]],
    {ok, Procs} = alcove_cgroup:v2_get(Drv, [], Name, <<"cgroup.procs">>),
    3 = length(binary:split(Procs, <<"\n">>, [global])),
    {ok, 1} = alcove_cgroup:v2_kill(Drv, [], Name),
    [{termsig, sigkill} = alcove:event(Drv, [C], ?DEADLINE) || C <- [C1, C2, C3]],
    ok = events_until(Drv, Name, [{populated, 0}, {frozen, 0}]),
    Outside = alcove:getpid(Drv, [Outside], ?DEADLINE),
    false = alcove:event(Drv, [Outside], 0),
    ok = alcove_cgroup:v2_destroy(Drv, [], Name).

%% Errors: a group that does not exist (enoent, with the file), a name or
%% key leaving the hierarchy (einval, nothing touched), a name that is not
%% iodata (badarg), a write to a read-only file (the kernel's einval).
v2_errors(Config) ->
    Drv = ?config(drv, Config),
    Name = ?config(name, Config),
    {ok, Root} = v2_mount(),
    Kill = list_to_binary(filename:join([Root, Name, "cgroup.kill"])),
    {error, {enoent, Kill}} = alcove_cgroup:v2_kill(Drv, [], Name),
    Freeze = list_to_binary(filename:join([Root, Name, "cgroup.freeze"])),
    {error, {enoent, Freeze}} = alcove_cgroup:v2_freeze(Drv, [], Name, true),
    Procs = list_to_binary(filename:join([Root, Name, "cgroup.procs"])),
    {error, {enoent, Procs}} = alcove_cgroup:v2_move(Drv, [], Name, 1),
    {error, {einval, <<"../escaped">>}} = alcove_cgroup:v2_create(Drv, [], <<"../escaped">>),
    {error, {einval, _}} = alcove_cgroup:v2_create(Drv, [], [Name, "..", ".."]),
    false = filelib:is_dir(filename:join(filename:dirname(Root), "escaped")),
    {'EXIT', {badarg, _}} = (catch alcove_cgroup:v2_create(Drv, [], 42)),
    {'EXIT', {badarg, _}} = (catch alcove_cgroup:v2_set(Drv, [], Name, 'cgroup.kill', <<"1">>)),
    ok = alcove_cgroup:v2_create(Drv, [], Name),
    {error, {einval, <<"../cgroup.procs">>}} =
        alcove_cgroup:v2_get(Drv, [], Name, <<"../cgroup.procs">>),
    Events = list_to_binary(filename:join([Root, Name, "cgroup.events"])),
    {error, {einval, Events}} = alcove_cgroup:v2_set(Drv, [], Name, <<"cgroup.events">>, <<"1">>),
    ok = alcove_cgroup:v2_destroy(Drv, [], Name).

%% group_backend/4 asked for v2: the unified root when it offers the
%% controllers of the limits, else the ones it lacks, as its
%% cgroup.controllers says; auto takes v2 only then. Without limits a
%% group is made there whatever the host offers: the process joins it,
%% and it is removed once the process is gone.
v2_group_backend(Config) ->
    Drv = ?config(drv, Config),
    {ok, Root} = v2_mount(),
    Offered = read_list(filename:join(Root, "cgroup.controllers")),
    Limits = #{memory_max => 1 bsl 20, pids_max => 4},
    Expect = case [C || C <- ["memory", "pids"], not lists:member(C, Offered)] of
                 [] -> {ok, {v2, list_to_binary(Root)}};
                 Missing -> {error, {unsupported, [list_to_binary(M) || M <- Missing]}}
             end,
    Expect = alcove_cgroup:group_backend(Drv, [], Limits, v2),
    {ok, Auto} = alcove_cgroup:group_backend(Drv, [], Limits, auto),
    true = (element(1, Auto) =:= v2) =:= (element(1, Expect) =:= ok),
    {ok, {v2, _} = Backend} = alcove_cgroup:group_backend(Drv, [], #{}, v2),
    Name = list_to_binary(?config(name, Config) ++ "/box"),
    [Dir] = alcove_cgroup:group_dirs(Backend, Name),
    Dir = iolist_to_binary(filename:join(Root, Name)),
    ok = alcove_cgroup:group_create(Drv, [], Backend, Name, #{}),
    {ok, C} = alcove:fork(Drv, []),
    ok = alcove_cgroup:group_join(Drv, [], Backend, Name, #{}, C),
    Pid = integer_to_binary(C),
    [Pid] = binary:split(cat(Dir, "cgroup.procs"), <<"\n">>, [global, trim_all]),
    ok = alcove:kill(Drv, [], C, sigkill),
    ok = alcove_cgroup:group_remove(Drv, [], Backend, Name),
    false = filelib:is_dir(Dir).

%%% Files through the port (alcove_file)

%% read/3 reads a file to its end, past one read's worth; write/4 writes
%% all of its data into a file that exists, not truncating it; probe/5
%% opens and closes; errors are the kernel's.
file_through_port(Config) ->
    Drv = ?config(drv, Config),
    Dir = ?config(priv_dir, Config),
    FdDir = "/proc/" ++ integer_to_list(alcove:getpid(Drv, [])) ++ "/fd",
    {ok, Fds} = file:list_dir(FdDir),
    Big = filename:join(Dir, "big"),
    Data = crypto:strong_rand_bytes(200000),
    ok = file:write_file(Big, Data),
    {ok, Data} = alcove_file:read(Drv, [], Big),
    {ok, 5} = alcove_file:write(Drv, [], Big, [<<"he">>, "llo"]),
    {ok, <<"hello", Rest/binary>>} = file:read_file(Big),
    Rest = binary:part(Data, 5, 200000 - 5),
    {ok, 0} = alcove_file:write(Drv, [], Big, <<>>),
    Missing = filename:join(Dir, "missing"),
    {error, enoent} = alcove_file:read(Drv, [], Missing),
    {error, enoent} = alcove_file:write(Drv, [], Missing, <<"x">>),
    {error, eisdir} = alcove_file:write(Drv, [], Dir, <<"x">>),
    ok = alcove_file:probe(Drv, [], Dir, [o_rdonly, o_directory], 0),
    {error, enotdir} = alcove_file:probe(Drv, [], Big, [o_rdonly, o_directory], 0),
    ok = alcove_file:probe(Drv, [], Missing, [o_wronly, o_creat, o_excl], 8#600),
    {ok, <<>>} = file:read_file(Missing),
    {error, eexist} = alcove_file:probe(Drv, [], Missing, [o_wronly, o_creat, o_excl], 8#600),
    %% no descriptor left open in the port
    {ok, Fds} = file:list_dir(FdDir).

%%% Helpers

cat(Dir, File) ->
    {ok, B} = file:read_file(filename:join(Dir, File)),
    string:trim(B).

%% The cgroup file systems of /proc/self/mounts, read by the VM itself.
cgroup_mounts() ->
    {ok, Data} = file:read_file("/proc/self/mounts"),
    lists:filtermap(
      fun(Line) ->
              case string:split(Line, " ", all) of
                  [_, Dir, "cgroup" | _] -> {true, {v1, Dir}};
                  [_, Dir, "cgroup2" | _] -> {true, {v2, Dir}};
                  _ -> false
              end
      end, string:split(binary_to_list(Data), "\n", all)).

v2_mount() ->
    case [Dir || {v2, Dir} <- cgroup_mounts()] of
        [Dir | _] -> {ok, Dir};
        [] -> error
    end.

read_list(File) ->
    case file:read_file(File) of
        {ok, Data} -> [list_to_binary(W) || W <- string:lexemes(binary_to_list(Data), " \n")];
        {error, _} -> []
    end.

pid_max() ->
    {ok, Data} = file:read_file("/proc/sys/kernel/pid_max"),
    binary_to_integer(string:trim(Data)).

%% Wait until the group's cgroup.events reads Events: the kernel updates
%% it a moment after the exit, kill or freeze that changes it. ok, or
%% the last answer of v2_events/3.
events_until(Drv, Name, Events) ->
    until(fun() ->
                  case alcove_cgroup:v2_events(Drv, [], Name) of
                      {ok, Events} -> ok;
                      Other -> Other
                  end
          end).

%% Remove a group and its children, deepest first; for v2 first kill
%% what is left in it. Processes take a moment to leave after SIGKILL.
remove_tree(Dir, V2) ->
    case filelib:is_dir(Dir) of
        false ->
            ok;
        true ->
            {ok, Entries} = file:list_dir(Dir),
            [remove_tree(filename:join(Dir, E), V2)
             || E <- Entries, filelib:is_dir(filename:join(Dir, E))],
            V2 andalso file:write_file(filename:join(Dir, "cgroup.kill"), <<"1">>),
            ok = until(fun() -> file:del_dir(Dir) end)
    end.
