%% SPDX-License-Identifier: ISC
%% alcove_sandbox as root: the spec checked before any process exists,
%% the effect of each step in a sandbox (looked at from inside, through
%% calls to the child left in the event loop, and from outside, through
%% /proc and the cgroup file systems), and errors naming the step the
%% kernel refused.
-module(alcove_sandbox_SUITE).

-include_lib("common_test/include/ct.hrl").
-include_lib("alcove/include/alcove.hrl").

-export([
    all/0,
    suite/0,
    end_per_testcase/2
]).

-export([
    check_unknown_key/1,
    check_bad_values/1,
    check_valid/1,
    steps_order/1,
    steps_type/1,
    pid_hostname_net/1,
    tmpfs_root/1,
    bind_dir_root/1,
    chroot_without_mount_ns/1,
    rlimits/1,
    cgroup_v1_limits/1,
    cgroup_v1_enotsup/1,
    cgroup_v2_move/1,
    cgroup_unsupported/1,
    cgroup_kernel_refuses/1,
    no_new_privs/1,
    seccomp_deny/1,
    seccomp_allow/1,
    seccomp_allow_probe/1,
    seccomp_unknown_errno/1,
    port_calls_traced/1,
    port_calls_deny/1,
    drop_privileges/1,
    exec_env_cwd/1,
    user_namespace_maps/1,
    error_uid_map/1,
    error_mounts/1,
    error_exec/1,
    round_trips/1,
    no_mount_setattr/1,
    bind_source_under_tmp/1
]).

-define(BUSYBOX, "/bin/busybox").
-define(NOBODY, 65534).

suite() ->
    [{timetrap, {seconds, 60}}, {ct_hooks, [{alcove_test, [port, dir]}]}].

all() ->
    [
        check_unknown_key,
        check_bad_values,
        check_valid,
        steps_order,
        steps_type,
        pid_hostname_net,
        tmpfs_root,
        bind_dir_root,
        chroot_without_mount_ns,
        rlimits,
        cgroup_v1_limits,
        cgroup_v1_enotsup,
        cgroup_v2_move,
        cgroup_unsupported,
        cgroup_kernel_refuses,
        no_new_privs,
        seccomp_deny,
        seccomp_allow,
        seccomp_allow_probe,
        seccomp_unknown_errno,
        port_calls_traced,
        port_calls_deny,
        drop_privileges,
        exec_env_cwd,
        user_namespace_maps,
        error_uid_map,
        error_mounts,
        error_exec,
        round_trips,
        no_mount_setattr,
        bind_source_under_tmp
    ].

end_per_testcase(Test, Config) ->
    ok = alcove_test:stop(Config),
    %% a cgroup a failed test left behind (its processes died with the port)
    Name = cgroup_name(Test),
    [rmdir(filename:join(M, Name), 100)
     || M <- filelib:wildcard("/sys/fs/cgroup/*") ++ ["/sys/fs/cgroup"]],
    Config.

%%%
%%% The spec, checked up front
%%%

%% An unknown key is named, and no process is created.
check_unknown_key(Config) ->
    Drv = ?config(drv, Config),
    {error, {badkey, hostnme}} = alcove_sandbox:check(#{hostnme => "x"}),
    {error, {badkey, hostnme}} =
        alcove_sandbox:run(Drv, [], #{namespaces => [uts], hostnme => "x"}),
    {error, {badkey, {cgroup, memory}}} =
        alcove_sandbox:run(Drv, [], #{cgroup => #{memory => 1}}),
    {error, {badvalue, spec, [{hostname, "x"}]}} =
        alcove_sandbox:check([{hostname, "x"}]),
    [] = alcove:cpid(Drv, []).

%% Each bad value is named with the value, by check/1 and by run/3,
%% before any process exists.
check_bad_values(Config) ->
    Drv = ?config(drv, Config),
    Bad = [
        {#{namespaces => [pid, vm]}, namespaces, [pid, vm]},
        {#{namespaces => [pid, pid]}, namespaces, [pid, pid]},
        {#{namespaces => pid}, namespaces, pid},
        {#{namespaces => [user], uid_map => [{0, 0, 0}]}, uid_map, [{0, 0, 0}]},
        {#{namespaces => [user], gid_map => []}, gid_map, []},
        {#{uid_map => [{0, 0, 1}]}, uid_map, [{0, 0, 1}]},
        {#{namespaces => [mount], mounts => [{tmpfs, "tmp"}]}, mounts, {tmpfs, "tmp"}},
        {#{namespaces => [mount], mounts => [{tmpfs, "/a/../b"}]}, mounts, {tmpfs, "/a/../b"}},
        {#{namespaces => [mount], mounts => [{bind, "/a", "/b", [rw]}]},
         mounts, {bind, "/a", "/b", [rw]}},
        {#{namespaces => [mount], mounts => [{nfs, "/x"}]}, mounts, {nfs, "/x"}},
        {#{mounts => [{proc, "/proc"}]}, mounts, [{proc, "/proc"}]},
        {#{root => "relative"}, root, "relative"},
        {#{root => tmpfs}, root, tmpfs},
        {#{hostname => "box"}, hostname, "box"},
        {#{namespaces => [uts], hostname => ""}, hostname, ""},
        {#{namespaces => [uts], hostname => lists:duplicate(65, $a)},
         hostname, lists:duplicate(65, $a)},
        {#{rlimits => #{rlimit_forks => 1}}, rlimits, {rlimit_forks, 1}},
        {#{rlimits => #{rlimit_nofile => {10, 5}}}, rlimits, {rlimit_nofile, {10, 5}}},
        {#{rlimits => #{rlimit_nofile => -1}}, rlimits, {rlimit_nofile, -1}},
        {#{cgroup => #{memory_max => 0}}, {cgroup, memory_max}, 0},
        {#{cgroup => #{name => "../x"}}, {cgroup, name}, "../x"},
        {#{cgroup => #{version => v3}}, {cgroup, version}, v3},
        {#{cgroup => []}, cgroup, []},
        {#{seccomp => {allow, ["read"]}}, seccomp, {allow, ["read"]}},
        {#{seccomp => {deny, [write]}}, seccomp, {deny, [write]}},
        {#{seccomp => {deny, [sys_execve], kill}}, seccomp, {deny, [sys_execve], kill}},
        {#{seccomp => {deny, [ptrace], stop}}, seccomp, {deny, [ptrace], stop}},
        {#{no_new_privs => yes}, no_new_privs, yes},
        {#{uid => -1}, uid, -1},
        {#{gid => 16#ffffffff}, gid, 16#ffffffff},
        {#{groups => [0, x]}, groups, [0, x]},
        {#{argv => []}, argv, []},
        {#{argv => ["/bin/true", <<"a", 0>>]}, argv, ["/bin/true", <<"a", 0>>]},
        {#{env => [{"A=B", "c"}]}, env, [{"A=B", "c"}]},
        {#{cwd => "tmp"}, cwd, "tmp"}
    ],
    lists:foreach(
      fun({Spec, Key, Value}) ->
              Error = {error, {badvalue, Key, Value}},
              {Spec, Error} = {Spec, alcove_sandbox:check(Spec)},
              {Spec, Error} = {Spec, alcove_sandbox:run(Drv, [], Spec)},
              [] = alcove:cpid(Drv, [])
      end, Bad).

%% A spec using every key is valid; so is the empty spec.
check_valid(_Config) ->
    ok = alcove_sandbox:check(#{}),
    ok = alcove_sandbox:check(
           #{namespaces => [user, pid, mount, net, uts, ipc, cgroup],
             uid_map => [{0, 100000, 65536}], gid_map => [{0, 100000, 65536}],
             root => tmpfs,
             mounts => [{tmpfs, "/tmp"}, {tmpfs, "/run", [ro, {size, 4096}, {mode, 8#700}]},
                        {bind, "/usr", "/usr", [ro, rec]}, {proc, <<"/proc">>},
                        {dev, "/dev"}, {dir, "/home"}, {dir, "/srv", 8#711},
                        {remount, "/", [ro]}],
             hostname => <<"box">>,
             rlimits => [{rlimit_nproc, {10, 20}}, {rlimit_core, 0},
                         {rlimit_fsize, infinity}],
             cgroup => #{memory_max => 1 bsl 26, pids_max => 10, cpu_max => {50000, 100000},
                         name => ["alcove/", <<"box">>], version => v2, optional => true},
             seccomp => {allow, [sys_getuid, getgid], kill},
             no_new_privs => true, uid => 1000, gid => 1000, groups => [1000],
             argv => ["/bin/sh", <<"-c">>, ["true"]], env => ["A=1", {"B", "2"}],
             cwd => "/"}).

%% The steps come in the one safe order.
steps_order(_Config) ->
    Steps = alcove_sandbox:steps(),
    Before = fun(A, B) ->
                     true = string:str(Steps, [A]) < string:str(Steps, [B]),
                     ok
             end,
    clone = hd(Steps),
    exec = lists:last(Steps),
    ok = Before(uid_map, deny_setgroups),
    ok = Before(deny_setgroups, gid_map),
    ok = Before(gid_map, mounts),
    ok = Before(make_private, mounts),
    ok = Before(mounts, pivot_root),
    ok = Before(mounts, chroot),
    ok = Before(cgroup, setuid),
    ok = Before(setgroups, setgid),
    ok = Before(setgid, setuid),
    ok = Before(setuid, no_new_privs),
    ok = Before(no_new_privs, seccomp),
    ok = Before(seccomp, exec).

%% The type step() names the steps of steps/0, no more.
steps_type(_Config) ->
    {ok, {_, [{abstract_code, {raw_abstract_v1, Forms}}]}} =
        beam_lib:chunks(code:which(alcove_sandbox), [abstract_code]),
    [{type, _, union, Union}] = [T || {attribute, _, type, {step, T, []}} <- Forms],
    Steps = lists:sort(alcove_sandbox:steps()),
    Steps = lists:sort([A || {atom, _, A} <- Union]),
    23 = length(Steps).

%%%
%%% Each step, in a sandbox run as root
%%%

%% In new PID, UTS and network namespaces the child is PID 1, has the
%% host name given and only a loopback interface.
pid_hostname_net(Config) ->
    Drv = ?config(drv, Config),
    {ok, Pid} = alcove_sandbox:run(Drv, [], #{namespaces => [pid, uts, net, mount],
                                              hostname => "alcove-test"}),
    true = Pid > 1,
    1 = alcove:getpid(Drv, [Pid]),
    {ok, <<"alcove-test">>} = alcove:gethostname(Drv, [Pid]),
    true = {ok, <<"alcove-test">>} =/= alcove:gethostname(Drv, []),
    {ok, Dev} = file:read_file("/proc/" ++ integer_to_list(Pid) ++ "/net/dev"),
    [<<"lo">>] = interfaces(Dev).

%% A tmpfs root: read-only once remounted, with busybox bound read-only,
%% a writable tmpfs /tmp, proc and dev; nothing of it reaches the host.
tmpfs_root(Config) ->
    Drv = ?config(drv, Config),
    {ok, Pid} = alcove_sandbox:run(Drv, [], base()),
    C = [Pid],
    {ok, Root} = alcove:readdir(Drv, C, "/"),
    [<<".">>, <<"..">>, <<"bin">>, <<"dev">>, <<"proc">>, <<"tmp">>] = lists:sort(Root),
    {ok, Dev} = alcove:readdir(Drv, C, "/dev"),
    [<<"fd">>, <<"full">>, <<"null">>, <<"random">>, <<"stderr">>, <<"stdin">>,
     <<"stdout">>, <<"tty">>, <<"urandom">>, <<"zero">>] =
        lists:sort(Dev) -- [<<".">>, <<"..">>],
    %% /tmp is writable, / and the busybox binding are not
    Tmp = "/tmp/alcove-sandbox-SUITE-" ++ integer_to_list(Pid),
    {ok, Fd} = alcove:open(Drv, C, Tmp, [o_wronly, o_creat], 8#644),
    {ok, 5} = alcove:write(Drv, C, Fd, "hello"),
    ok = alcove:close(Drv, C, Fd),
    {error, erofs} = alcove:open(Drv, C, "/hello", [o_wronly, o_creat], 8#644),
    {error, erofs} = alcove:mkdir(Drv, C, "/tmp2", 8#755),
    {error, erofs} = alcove:open(Drv, C, ?BUSYBOX, [o_wronly], 0),
    %% proc is the child's: PID 1 is itself
    {ok, Status} = read(Drv, C, "/proc/1/status"),
    {match, _} = re:run(Status, "\nPid:\t1\n"),
    {ok, Null} = alcove:open(Drv, C, "/dev/null", [o_wronly], 0),
    {ok, 3} = alcove:write(Drv, C, Null, "abc"),
    {error, enoent} = file:read_file_info(Tmp).

%% A bind source under /tmp, where the new root is otherwise put
%% together: it is found (the new root is then made on a tmpfs pivoted
%% into first), and the root has nothing else in it.
bind_source_under_tmp(Config) ->
    Drv = ?config(drv, Config),
    Dir = "/tmp/alcove-sandbox-SUITE-" ++ os:getpid(),
    ok = filelib:ensure_dir(Dir ++ "/"),
    try
        ok = file:write_file(Dir ++ "/file", "under tmp"),
        Spec = (base())#{mounts => [{bind, Dir, "/data", [ro]} | maps:get(mounts, base())]},
        {ok, Pid} = alcove_sandbox:run(Drv, [], Spec),
        {ok, <<"under tmp">>} = read(Drv, [Pid], "/data/file"),
        {ok, Root} = alcove:readdir(Drv, [Pid], "/"),
        [<<".">>, <<"..">>, <<"bin">>, <<"data">>, <<"dev">>, <<"proc">>, <<"tmp">>] =
            lists:sort(Root),
        {error, erofs} = alcove:open(Drv, [Pid], "/data/file", [o_wronly], 0),
        ok
    after
        _ = file:del_dir_r(Dir)
    end.

%% A directory of the host as root (bound): its files are there, and a
%% mount point missing in it is created.
bind_dir_root(Config) ->
    Drv = ?config(drv, Config),
    Dir = ?config(dir, Config),
    ok = file:write_file(filename:join(Dir, "file"), "in the root"),
    {ok, Pid} = alcove_sandbox:run(Drv, [], #{namespaces => [mount, pid],
                                              root => Dir,
                                              mounts => [{tmpfs, "/scratch"}],
                                              cwd => "/scratch"}),
    {ok, <<"in the root">>} = read(Drv, [Pid], "/file"),
    {ok, <<"/scratch">>} = alcove:getcwd(Drv, [Pid]),
    true = filelib:is_dir(filename:join(Dir, "scratch")).

%% Without a mount namespace, root is a chroot(2).
chroot_without_mount_ns(Config) ->
    Drv = ?config(drv, Config),
    Dir = ?config(dir, Config),
    ok = file:write_file(filename:join(Dir, "marker"), "chroot"),
    {ok, Pid} = alcove_sandbox:run(Drv, [], #{root => Dir}),
    {ok, <<"chroot">>} = read(Drv, [Pid], "/marker"),
    {ok, <<"/">>} = alcove:getcwd(Drv, [Pid]).

%% Each limit is set as given: {Cur, Max}, N, infinity.
rlimits(Config) ->
    Drv = ?config(drv, Config),
    Inf = 16#ffffffffffffffff,
    {ok, Pid} = alcove_sandbox:run(Drv, [], #{rlimits => #{rlimit_nofile => {32, 64},
                                                         rlimit_core => 0,
                                                         rlimit_fsize => infinity}}),
    {ok, #alcove_rlimit{cur = 32, max = 64}} = alcove:getrlimit(Drv, [Pid], rlimit_nofile),
    {ok, #alcove_rlimit{cur = 0, max = 0}} = alcove:getrlimit(Drv, [Pid], rlimit_core),
    {ok, #alcove_rlimit{cur = Inf, max = Inf}} = alcove:getrlimit(Drv, [Pid], rlimit_fsize),
    {error, emfile} = open_many(Drv, [Pid], 40).

%% On this machine memory and pids are v1 controllers: the group is made
%% in their hierarchies with the limits, holds the child, and is removed
%% by cleanup/4 after the child exits.
cgroup_v1_limits(Config) ->
    Drv = ?config(drv, Config),
    Name = cgroup_name(cgroup_v1_limits),
    CG = #{name => Name, memory_max => 32 bsl 20, pids_max => 8, cpu_max => {50000, 100000},
           cpus => <<"0">>},
    Spec = #{namespaces => [pid], cgroup => CG},
    {ok, Version} = alcove_sandbox:cgroup_version(Drv, [], CG),
    {ok, Pid} = alcove_sandbox:run(Drv, [], Spec),
    {ok, Version, Dirs} = alcove_sandbox:cgroup_dirs(Drv, [], Spec, Pid),
    P = integer_to_binary(Pid),
    case Version of
        v1 ->
            %% and the freezer's and cpuacct's, to stop it and count it
            At = fun(C) ->
                         [D] = [D || D <- Dirs, filename:basename(filename:dirname(D)) =:= C],
                         D
                 end,
            <<"33554432">> = cat(At(<<"memory">>), "memory.limit_in_bytes"),
            <<"8">> = cat(At(<<"pids">>), "pids.max"),
            <<"50000">> = cat(At(<<"cpu">>), "cpu.cfs_quota_us"),
            <<"100000">> = cat(At(<<"cpu">>), "cpu.cfs_period_us"),
            %% the group's CPUs given, its memory nodes its parent's
            <<"0">> = cat(At(<<"cpuset">>), "cpuset.cpus"),
            <<_, _/binary>> = cat(At(<<"cpuset">>), "cpuset.mems"),
            _ = [At(C) || C <- [<<"cpuacct">>, <<"freezer">>]],
            [P] = lists:usort([cat(D, "cgroup.procs") || D <- Dirs]);
        v2 ->
            [D] = Dirs,
            <<"33554432">> = cat(D, "memory.max"),
            <<"8">> = cat(D, "pids.max"),
            <<"50000 100000">> = cat(D, "cpu.max"),
            <<"0">> = cat(D, "cpuset.cpus"),
            P = cat(D, "cgroup.procs")
    end,
    {ok, Cgroups} = file:read_file(<<"/proc/", P/binary, "/cgroup">>),
    {match, _} = re:run(Cgroups, [":/", Name, "\n"]),
    %% the limit holds for the child: 8 processes, sh and a subshell
    %% starting sleeps (killed with the PID namespace when sh exits)
    N = filename:join(?config(dir, Config), "n"),
    ok = alcove:execve(Drv, [Pid], ?BUSYBOX,
                       [?BUSYBOX, "sh", "-c",
                        "( i=0; while [ $i -lt 100 ]; do sleep 100 & i=$((i+1)); echo $i > "
                        ++ N ++ "; done ) 2>/dev/null; cat " ++ N], []),
    {0, <<"6\n">>} = output(Drv, [Pid]),
    ok = alcove_sandbox:cleanup(Drv, [], Spec, Pid),
    [false = filelib:is_dir(D) || D <- Dirs],
    ok.

%% version => v2 uses the unified hierarchy (on this hybrid machine it
%% offers no limit the sandbox sets): the child is moved into the group;
%% in its cgroup namespace, unshared then, the group is its root.
cgroup_v2_move(Config) ->
    Drv = ?config(drv, Config),
    Name = cgroup_name(cgroup_v2_move),
    Spec = #{namespaces => [cgroup], cgroup => #{name => Name, version => v2}},
    {ok, Pid} = alcove_sandbox:run(Drv, [], Spec),
    {ok, v2, [Dir]} = alcove_sandbox:cgroup_dirs(Drv, [], Spec, Pid),
    P = integer_to_binary(Pid),
    P = cat(Dir, "cgroup.procs"),
    {ok, Cgroups} = file:read_file(<<"/proc/", P/binary, "/cgroup">>),
    {match, _} = re:run(Cgroups, ["^0::/", Name, "$"], [multiline]),
    {ok, Inside} = read(Drv, [Pid], "/proc/self/cgroup"),
    {match, _} = re:run(Inside, "^0::/$", [multiline]),
    ok = alcove:kill(Drv, [], Pid, sigkill),
    {termsig, sigkill} = exit_event(Drv, [Pid]),
    ok = alcove_sandbox:cleanup(Drv, [], Spec, Pid),
    false = filelib:is_dir(Dir).

%% A controller the hierarchy asked for lacks is an error of the cgroup
%% step (no child is left); with optional the sandbox runs without it.
cgroup_unsupported(Config) ->
    Drv = ?config(drv, Config),
    {ok, Root} = alcove_cgroup:v2_root(Drv, []),
    {ok, Offered} = file:read_file(filename:join(Root, "cgroup.controllers")),
    Missing = [C || C <- [<<"memory">>, <<"pids">>],
                    binary:match(Offered, C) =:= nomatch],
    case Missing of
        [] -> {skip, "cgroup v2 offers memory and pids here"};
        _ -> cgroup_unsupported(Drv, Root, Missing)
    end.

cgroup_unsupported(Drv, Root, Missing) ->
    Name = cgroup_name(cgroup_unsupported),
    CG = #{name => Name, version => v2, memory_max => 1 bsl 26, pids_max => 10},
    {error, {cgroup, {unsupported, Missing}}} = alcove_sandbox:run(Drv, [], #{cgroup => CG}),
    {error, {unsupported, Missing}} = alcove_sandbox:cgroup_version(Drv, [], CG),
    {termsig, sigkill} = exit_event(Drv, '_'),
    [] = wait_no_child(Drv),
    {ok, Pid} = alcove_sandbox:run(Drv, [], #{cgroup => CG#{optional => true}}),
    Pid = alcove:getpid(Drv, [Pid]),
    false = filelib:is_dir(filename:join(Root, Name)).

%% What v1 cannot do (memory.high) is enotsup, not left out, here and
%% on a host without v1 alike; no child is left. Optional, the sandbox
%% runs without the group.
cgroup_v1_enotsup(Config) ->
    Drv = ?config(drv, Config),
    CG = #{name => cgroup_name(cgroup_v1_enotsup), version => v1, memory_high => 1 bsl 24},
    {error, enotsup} = alcove_sandbox:cgroup_version(Drv, [], CG),
    {error, {cgroup, enotsup}} = alcove_sandbox:run(Drv, [], #{cgroup => CG}),
    [] = wait_no_child(Drv),
    {ok, Pid} = alcove_sandbox:run(Drv, [], #{cgroup => CG#{optional => true}}),
    {ok, Own} = file:read_file(["/proc/", integer_to_list(Pid), "/cgroup"]),
    nomatch = binary:match(Own, list_to_binary(cgroup_name(cgroup_v1_enotsup))).

%% A limit the kernel refuses (a CPU period below 1 ms) fails the cgroup
%% step naming the file; the child is killed and the group removed.
cgroup_kernel_refuses(Config) ->
    Drv = ?config(drv, Config),
    Name = cgroup_name(cgroup_kernel_refuses),
    CG = #{name => Name, cpu_max => {1000, 1}},
    {ok, Version} = alcove_sandbox:cgroup_version(Drv, [], CG),
    File = case Version of v1 -> "cpu.cfs_period_us"; v2 -> "cpu.max" end,
    {error, {cgroup, {einval, Path}}} = alcove_sandbox:run(Drv, [], #{cgroup => CG}),
    {match, _} = re:run(Path, ["/", Name, "/", File, "$"]),
    {termsig, sigkill} = exit_event(Drv, '_'),
    [] = wait_no_child(Drv),
    false = filelib:is_dir(filename:dirname(Path)).

%% no_new_privs shows in /proc/PID/status: 1 when asked (or with a
%% filter), 0 otherwise.
no_new_privs(Config) ->
    Drv = ?config(drv, Config),
    {ok, Yes} = alcove_sandbox:run(Drv, [], #{no_new_privs => true}),
    {ok, No} = alcove_sandbox:run(Drv, [], #{}),
    {ok, Filter} = alcove_sandbox:run(Drv, [], #{seccomp => {deny, [ptrace]}}),
    <<"1">> = status(Yes, "NoNewPrivs"),
    <<"0">> = status(No, "NoNewPrivs"),
    <<"1">> = status(Filter, "NoNewPrivs"),
    <<"0">> = status(Yes, "Seccomp"),
    <<"2">> = status(Filter, "Seccomp").

%% A deny list: the calls listed fail with the action's errno (EPERM by
%% default), the others work; it holds in the program run.
seccomp_deny(Config) ->
    Drv = ?config(drv, Config),
    {ok, Pid} = alcove_sandbox:run(Drv, [], #{namespaces => [uts],
                                              seccomp => {deny, [sethostname, sys_chdir]}}),
    {error, eperm} = alcove:sethostname(Drv, [Pid], "denied"),
    {error, eperm} = alcove:chdir(Drv, [Pid], "/"),
    {ok, _} = alcove:gethostname(Drv, [Pid]),
    {ok, Pid2} = alcove_sandbox:run(Drv, [], #{namespaces => [uts],
                                               seccomp => {deny, [sethostname], {errno, eacces}},
                                               argv => [?BUSYBOX, "hostname", "x"]}),
    {1, <<"hostname: sethostname: Permission denied\n">>} = output(Drv, [Pid2], stderr).

%% An allow list: the port still answers and execs (its calls are
%% added), a call not allowed fails.
seccomp_allow(Config) ->
    Drv = ?config(drv, Config),
    {ok, Pid} = alcove_sandbox:run(Drv, [], #{seccomp => {allow, [getuid]}}),
    0 = alcove:getuid(Drv, [Pid]),
    {error, eperm} = alcove:getcwd(Drv, [Pid]),
    {error, eperm} = alcove:mkdir(Drv, [Pid], "/nonexistent/x", 8#755),
    Pid = alcove:getpid(Drv, [Pid]).

%% An allow list gets the port's look at the program (open) only when
%% its action is not an errno: refused, the port goes on, and the
%% program does not get open; another action (ENOSYS, SECCOMP_RET_TRACE
%% without a tracer) would refuse the port's own open otherwise.
seccomp_allow_probe(Config) ->
    Drv = ?config(drv, Config),
    {ok, Errno} = alcove_sandbox:run(Drv, [], #{seccomp => {allow, []}}),
    {error, eperm} = alcove:open(Drv, [Errno], "/", [o_rdonly, o_directory], 0),
    {ok, Trace} = alcove_sandbox:run(Drv, [], #{seccomp => {allow, [], {trace, 1}}}),
    {ok, Fd} = alcove:open(Drv, [Trace], "/", [o_rdonly, o_directory], 0),
    {error, enosys} = alcove:mkdir(Drv, [Trace], "/nonexistent/x", 8#755),
    ok = alcove:close(Drv, [Trace], Fd).

%% An errno name the child does not know fails the seccomp step, named;
%% the child is killed.
seccomp_unknown_errno(Config) ->
    Drv = ?config(drv, Config),
    {error, {seccomp, {unknown_errno, enotanerrno}}} =
        alcove_sandbox:run(Drv, [], #{seccomp => {deny, [ptrace], {errno, enotanerrno}}}),
    {termsig, sigkill} = exit_event(Drv, '_'),
    [] = wait_no_child(Drv).

%% port_calls/0 against a trace of the port: a sandbox whose filter
%% allows everything (the port takes the path of any allow list that
%% lets it through) is traced by strace(1) from its filter to its exec,
%% running a program, then alcove itself (the handover). The list covers
%% at least the calls traced, and nothing unexplained extra: each call
%% it gives the paths exec, exec_optional, probe or reexec is in the trace of
%% its run (or the call standing in for it on other architectures is);
%% the calls of the other paths (signals, a full upstream, memory,
%% exit) are named for the paths a quiet run does not take.
port_calls_traced(Config) ->
    Strace = os:find_executable("strace"),
    Strace =/= false orelse throw({skip, "strace(1) is not installed"}),
    Drv = ?config(drv, Config),
    Dir = ?config(dir, Config),
    Exec = trace(Drv, Strace, Dir, [?BUSYBOX, "true"]),
    Reexec = trace(Drv, Strace, Dir,
                   alcove_drv:getopts([{progname, alcove_drv:progname()}, {depth, 2}])),
    ct:log("exec: ~p~nreexec: ~p", [Exec, Reexec]),
    Listed = alcove_sandbox:port_calls(),
    {unlisted, []} = {unlisted, lists:usort(Exec ++ Reexec) -- [C || {C, _} <- Listed]},
    Traced = fun(Trace, Path) ->
                     [C || {C, P} <- Listed, P =:= Path,
                           not lists:any(fun(T) -> lists:member(T, Trace) end,
                                         [C | [A || {A, {instead_of, I}} <- Listed, I =:= C]])]
             end,
    {untraced, []} = {untraced, Traced(Exec, exec) ++ Traced(Exec, exec_optional)
                                ++ Traced(Exec, probe) ++ Traced(Reexec, reexec)},
    true = lists:member(execve, Exec) andalso lists:member(memfd_create, Reexec).

%% A deny list may hold the calls the port goes on without, not those
%% it needs.
port_calls_deny(_Config) ->
    Listed = alcove_sandbox:port_calls(),
    Optional = [C || {C, P} <- Listed, lists:member(P, [exec_optional, probe, reexec])],
    lists:foreach(
      fun({C, P}) ->
              Spec = #{seccomp => {deny, [C]}},
              Result = alcove_sandbox:check(Spec),
              Needed = not lists:member(C, Optional)
                  andalso not lists:member(P, [{instead_of, O} || O <- Optional]),
              {C, Result} = case Needed of
                                true -> {C, {error, {badvalue, seccomp, {deny, [C]}}}};
                                false -> {C, ok}
                            end
      end, Listed),
    true = length(Optional) >= 3.

%% Privileges dropped: uid, gid and groups as given, real, effective and
%% saved, also seen from outside; without groups they are cleared.
drop_privileges(Config) ->
    Drv = ?config(drv, Config),
    {ok, Pid} = alcove_sandbox:run(Drv, [], #{uid => ?NOBODY, gid => ?NOBODY,
                                              groups => [?NOBODY, 100]}),
    {ok, ?NOBODY, ?NOBODY, ?NOBODY} = alcove:getresuid(Drv, [Pid]),
    {ok, ?NOBODY, ?NOBODY, ?NOBODY} = alcove:getresgid(Drv, [Pid]),
    {ok, [100, ?NOBODY]} = alcove:getgroups(Drv, [Pid]),
    <<"65534\t65534\t65534\t65534">> = status(Pid, "Uid"),
    {error, eperm} = alcove:setuid(Drv, [Pid], 0),
    {ok, Pid2} = alcove_sandbox:run(Drv, [], #{uid => 1000, gid => 1000}),
    {ok, []} = alcove:getgroups(Drv, [Pid2]),
    <<"1000\t1000\t1000\t1000">> = status(Pid2, "Gid").

%% The program runs with the environment given (only it) in cwd.
exec_env_cwd(Config) ->
    Drv = ?config(drv, Config),
    Spec = (base())#{uid => ?NOBODY, gid => ?NOBODY, cwd => "/tmp",
                     env => [{"GREETING", "hello"}, "EMPTY="]},
    {ok, Pid} = alcove_sandbox:run(Drv, [], Spec#{argv => [?BUSYBOX, "env"]}),
    {0, <<"GREETING=hello\nEMPTY=\n">>} = output(Drv, [Pid]),
    {ok, Pid2} = alcove_sandbox:run(Drv, [], Spec#{argv => [?BUSYBOX, "pwd"]}),
    {0, <<"/tmp\n">>} = output(Drv, [Pid2]).

%% With a user namespace the parent writes the maps: by default root
%% inside is the caller (root) outside; given maps are written as is.
user_namespace_maps(Config) ->
    Drv = ?config(drv, Config),
    {ok, Pid} = alcove_sandbox:rootless_clone(Drv, [], [pid, uts]),
    {ok, 0, 0, 0} = alcove:getresuid(Drv, [Pid]),
    1 = alcove:getpid(Drv, [Pid]),
    {ok, Map} = file:read_file("/proc/" ++ integer_to_list(Pid) ++ "/uid_map"),
    [<<"0">>, <<"0">>, <<"1">>] = binary:split(Map, [<<" ">>, <<"\n">>], [global, trim_all]),
    {ok, <<"deny\n">>} = file:read_file("/proc/" ++ integer_to_list(Pid) ++ "/setgroups"),
    {ok, Pid2} = alcove_sandbox:run(Drv, [], #{namespaces => [user],
                                               uid_map => [{0, 100000, 1000}],
                                               gid_map => [{0, 100000, 1000}],
                                               groups => [], uid => 5, gid => 5}),
    <<"100005\t100005\t100005\t100005">> = status(Pid2, "Uid"),
    {ok, <<"allow\n">>} = file:read_file("/proc/" ++ integer_to_list(Pid2) ++ "/setgroups"),
    {ok, 5, 5, 5} = alcove:getresuid(Drv, [Pid2]).

%%%
%%% Errors naming the step the kernel refused
%%%

%% A uid map mapping an id twice: the kernel refuses it, the error names
%% the uid_map step; the child is killed. A second write of a map is
%% refused too.
error_uid_map(Config) ->
    Drv = ?config(drv, Config),
    {error, {uid_map, einval}} =
        alcove_sandbox:run(Drv, [], #{namespaces => [user],
                                      uid_map => [{0, 0, 10}, {5, 1000, 1}]}),
    {termsig, sigkill} = exit_event(Drv, '_'),
    [] = wait_no_child(Drv),
    {error, {gid_map, einval}} =
        alcove_sandbox:run(Drv, [], #{namespaces => [user],
                                      gid_map => [{0, 0, 10}, {0, 1000, 1}]}),
    {termsig, sigkill} = exit_event(Drv, '_'),
    {ok, Pid} = alcove_sandbox:rootless_clone(Drv, [], []),
    Path = "/proc/" ++ integer_to_list(Pid) ++ "/uid_map",
    {ok, Fd} = alcove:open(Drv, [], Path, [o_wronly], 0),
    {error, eperm} = alcove:write(Drv, [], Fd, "0 0 1\n"),
    ok = alcove:close(Drv, [], Fd).

%% A mount that fails names the mounts step, the errno and the entry.
error_mounts(Config) ->
    Drv = ?config(drv, Config),
    Entry = {bind, "/nonexistent/alcove", "/x"},
    {error, {mounts, {enoent, Entry}}} =
        alcove_sandbox:run(Drv, [], #{namespaces => [mount], root => tmpfs,
                                      mounts => [{tmpfs, "/tmp"}, Entry]}),
    {termsig, sigkill} = exit_event(Drv, '_'),
    Missing = {tmpfs, "/nonexistent/alcove"},
    {error, {mounts, {enoent, Missing}}} =
        alcove_sandbox:run(Drv, [], #{namespaces => [mount], mounts => [Missing]}),
    {termsig, sigkill} = exit_event(Drv, '_'),
    [] = wait_no_child(Drv).

%% A program that cannot run fails the exec step; a missing working
%% directory the chdir step.
error_exec(Config) ->
    Drv = ?config(drv, Config),
    {error, {exec, enoent}} =
        alcove_sandbox:run(Drv, [], #{argv => ["/nonexistent/program"]}),
    {termsig, sigkill} = exit_event(Drv, '_'),
    {error, {chdir, enoent}} =
        alcove_sandbox:run(Drv, [], #{cwd => "/nonexistent/dir", argv => ["/bin/true"]}),
    {termsig, sigkill} = exit_event(Drv, '_'),
    [] = wait_no_child(Drv).

%%%
%%% Round trips
%%%

%% From clone to exec, a sandbox takes at most three round trips
%% (requests to the port), whatever its spec holds: made by spawn/4, one
%% for the lookups (bind sources, mount_setattr) and one for the child;
%% made by fork (a user namespace, a cgroup), the clone and the lookups,
%% what the parent does with the PID (id maps, cgroup), the child's
%% setup and exec. Many mounts cost one more than none. (A cgroup's
%% hierarchies are looked up before the clone.)
round_trips(Config) ->
    Drv = ?config(drv, Config),
    Dir = ?config(dir, Config),
    Dirs = [filename:join(Dir, integer_to_list(I)) || I <- lists:seq(1, 20)],
    [ok = file:make_dir(D) || D <- Dirs],
    ok = file:write_file(filename:join(Dir, "file"), "x"),
    Minimal = #{namespaces => [pid, mount, net, uts, ipc], argv => [?BUSYBOX, "true"]},
    Many = (base())#{argv => [?BUSYBOX, "true"],
                     mounts => lists:droplast(maps:get(mounts, base()))
                         ++ [{bind, D, "/mnt" ++ D, [ro, nosuid]} || D <- Dirs]
                         ++ [{bind, filename:join(Dir, "file"), "/etc/file", [ro]},
                             {tmpfs, "/var/tmp", [{size, 1 bsl 20}]}, {dir, "/a/b/c"},
                             {remount, "/tmp", [nodev]}, {remount, "/", [ro]}]},
    Full = (base())#{argv => [?BUSYBOX, "true"],
                     namespaces => [user, pid, mount, net, uts, ipc, cgroup],
                     hostname => "box",
                     rlimits => #{rlimit_nofile => 64, rlimit_nproc => 64},
                     seccomp => {deny, [ptrace, mount], {errno, eperm}},
                     uid => 0, gid => 0, cwd => "/tmp", env => [{"A", "b"}],
                     cgroup => #{name => cgroup_name(round_trips), pids_max => 64,
                                 memory_max => 1 bsl 30}},
    Count = fun(Spec) ->
                    Before = element(4, sys:get_state(Drv)),
                    {ok, Pid} = alcove_sandbox:run(Drv, [], Spec),
                    After = element(4, sys:get_state(Drv)),
                    {exit_status, 0} = exit_event(Drv, [Pid]),
                    ok = alcove_sandbox:cleanup(Drv, [], Spec, Pid),
                    After - Before
            end,
    %% the cgroup's hierarchies are looked up before the clone
    {ok, _} = alcove_sandbox:cgroup_version(Drv, [], maps:get(cgroup, Full)),
    Lookup = element(4, sys:get_state(Drv)),
    {ok, _} = alcove_sandbox:cgroup_version(Drv, [], maps:get(cgroup, Full)),
    Lookups = element(4, sys:get_state(Drv)) - Lookup,
    {1, 2, 3} = {Count(Minimal), Count(Many), Count(Full) - Lookups},
    %% left in the loop, the child answers as any
    {ok, Pid} = alcove_sandbox:run(Drv, [], maps:remove(argv, Many)),
    1 = alcove:getpid(Drv, [Pid]),
    {ok, Entries} = alcove:readdir(Drv, [Pid], "/a/b"),
    [<<"c">>] = Entries -- [<<".">>, <<"..">>],
    {ok, <<"x">>} = read(Drv, [Pid], "/etc/file"),
    {error, erofs} = alcove:mkdir(Drv, [Pid], "/mnt" ++ hd(Dirs) ++ "/x", 8#755),
    ok.

%% Where the kernel lacks mount_setattr(2) (here a filter makes it
%% answer enosys, in a child the sandbox is made from), read-only binds
%% and remounts are remounts with the flags the mount has, read from the
%% child's mountinfo: round trips more for each.
no_mount_setattr(Config) ->
    Drv = ?config(drv, Config),
    {ok, C} = alcove:fork(Drv, []),
    Insns = alcove_seccomp:filter(Drv, [C], {deny, [sys_mount_setattr]}, {errno, enosys}),
    ok = alcove_seccomp:install(Drv, [C], Insns),
    {error, enosys} = alcove:mount_setattr(Drv, [C], at_fdcwd, "/", [], [], [], 0),
    Before = element(4, sys:get_state(Drv)),
    {ok, Pid} = alcove_sandbox:run(Drv, [C], base()),
    After = element(4, sys:get_state(Drv)),
    %% clone and the child's calls, then reads of mountinfo for the
    %% busybox bind and the remount of /
    true = After - Before > 3,
    {error, erofs} = alcove:mkdir(Drv, [C, Pid], "/x", 8#755),
    {error, erofs} = alcove:open(Drv, [C, Pid], ?BUSYBOX, [o_wronly], 0),
    {ok, _} = alcove:open(Drv, [C, Pid], "/tmp/x", [o_wronly, o_creat], 8#644),
    ok.

%%%
%%% Helpers
%%%

%% The system calls a sandbox running Argv makes from its seccomp filter
%% to its exec, in a trace by strace(1) of a child of the port that it
%% is made in.
trace(Drv, Strace, Dir, Argv) ->
    {ok, C} = alcove:fork(Drv, []),
    Out = filename:join(Dir, "strace." ++ integer_to_list(C)),
    Port = open_port({spawn_executable, Strace},
                     [{args, ["-f", "-qq", "-o", Out, "-p", integer_to_list(C)]},
                      exit_status, stderr_to_stdout]),
    ok = traced(C, 500),
    {ok, Pid} = alcove_sandbox:run(Drv, [C], #{seccomp => {allow, [], allow}, argv => Argv}),
    case Argv of
        [?BUSYBOX | _] ->
            {exit_status, 0} = exit_event(Drv, [C, Pid]);
        _ ->
            %% alcove again, in the same process; its exit status is
            %% not looked at: a sanitized port's leak check cannot run
            %% traced, and exits 1 (scripts/test-asan)
            Pid = alcove:getpid(Drv, [C, Pid]),
            ok = alcove:exit(Drv, [C, Pid], 0),
            {exit_status, _} = exit_event(Drv, [C, Pid])
    end,
    ok = alcove:kill(Drv, [], C, sigkill),
    receive {Port, {exit_status, _}} -> ok after 10000 -> ct:fail(strace_running) end,
    {ok, Log} = file:read_file(Out),
    window(Log, integer_to_binary(Pid)).

traced(_, 0) ->
    not_traced;
traced(C, N) ->
    case status(C, "TracerPid") of
        <<"0">> -> timer:sleep(10), traced(C, N - 1);
        _ -> ok
    end.

%% The calls of Pid after the one installing the filter, up to execve:
%% one per line "Pid name(" (strace pads the PID; a call resumed later
%% is counted where it starts).
window(Log, Pid) ->
    Calls = [binary_to_atom(Name)
             || L <- binary:split(Log, <<"\n">>, [global]),
                {match, [P, Name]} <- [re:run(L, "^([0-9]+) +([a-z0-9_]+)\\(",
                                              [{capture, all_but_first, binary}])],
                P =:= Pid],
    After = lists:dropwhile(fun(C) -> C =/= seccomp end, Calls),
    [seccomp | Rest] = After,
    {Window, [execve | _]} = lists:splitwith(fun(C) -> C =/= execve end, Rest),
    lists:usort([execve | Window]).

%% A tmpfs root with busybox, proc, dev and a writable /tmp.
base() ->
    #{namespaces => [pid, mount, net, uts, ipc],
      root => tmpfs,
      mounts => [{bind, ?BUSYBOX, ?BUSYBOX, [ro]}, {proc, "/proc"}, {dev, "/dev"},
                 {tmpfs, "/tmp"}, {remount, "/", [ro]}]}.

cgroup_name(Test) ->
    "alcove-sandbox-SUITE-" ++ atom_to_list(Test).

interfaces(Dev) ->
    [string:trim(hd(binary:split(L, <<":">>)))
     || L <- binary:split(Dev, <<"\n">>, [global, trim_all]),
        binary:match(L, <<":">>) =/= nomatch].

status(Pid, Key) ->
    {ok, Status} = file:read_file("/proc/" ++ integer_to_list(Pid) ++ "/status"),
    {match, [V]} = re:run(Status, "\n" ++ Key ++ ":\t([^\n]*)\n",
                          [{capture, all_but_first, binary}]),
    V.

cat(Dir, File) ->
    {ok, B} = file:read_file(filename:join(Dir, File)),
    string:trim(B).

read(Drv, C, Path) ->
    {ok, Fd} = alcove:open(Drv, C, Path, [o_rdonly], 0),
    {ok, Data} = alcove:read(Drv, C, Fd, 65536),
    ok = alcove:close(Drv, C, Fd),
    {ok, Data}.

open_many(_, _, 0) ->
    ok;
open_many(Drv, C, N) ->
    case alcove:open(Drv, C, "/", [o_rdonly], 0) of
        {ok, _} -> open_many(Drv, C, N - 1);
        Error -> Error
    end.

output(Drv, Chain) ->
    output(Drv, Chain, stdout).

%% The exit status and what the program wrote on one stream.
output(Drv, Chain, Stream) ->
    Tag = case Stream of stdout -> alcove_stdout; stderr -> alcove_stderr end,
    output(Drv, Chain, Tag, <<>>).

output(Drv, Chain, Tag, Acc) ->
    receive
        {Tag, Drv, Chain, Data} -> output(Drv, Chain, Tag, <<Acc/binary, Data/binary>>);
        {alcove_event, Drv, Chain, {exit_status, N}} -> {N, Acc}
    after 30000 ->
        ct:fail({no_exit, Chain, Acc})
    end.

exit_event(Drv, '_') ->
    receive
        {alcove_event, Drv, [_], {termsig, _} = E} -> E;
        {alcove_event, Drv, [_], {exit_status, _} = E} -> E
    after 10000 -> ct:fail(no_exit_event)
    end;
exit_event(Drv, Chain) ->
    receive
        {alcove_event, Drv, Chain, {termsig, _} = E} -> E;
        {alcove_event, Drv, Chain, {exit_status, _} = E} -> E
    after 10000 -> ct:fail(no_exit_event)
    end.

wait_no_child(Drv) ->
    wait_no_child(Drv, 500).

wait_no_child(Drv, N) ->
    case alcove:cpid(Drv, []) of
        [] -> [];
        Children when N =:= 0 -> Children;
        _ -> timer:sleep(10), wait_no_child(Drv, N - 1)
    end.

rmdir(Dir, N) ->
    case file:del_dir(Dir) of
        {error, ebusy} when N > 0 -> timer:sleep(20), rmdir(Dir, N - 1);
        _ -> ok
    end.
