#!/usr/bin/env escript
%% SPDX-License-Identifier: ISC
%% The demo: a small container built with alcove_sandbox, and what the
%% program inside it (busybox sh, from busybox-static) sees.
%%
%% As root: new PID, mount, network, UTS and IPC namespaces, a read-only
%% tmpfs root holding busybox, /proc, /dev and a writable tmpfs /tmp,
%% rlimits, a cgroup with memory and pids limits (v2 where the machine
%% offers the controllers, else v1), no_new_privs, a seccomp filter and
%% uid 65534. As another user: the same in a user namespace (rootless),
%% without the cgroup, running as the caller's own uid.
-mode(compile).

-define(BUSYBOX, "/bin/busybox").
-define(NPROC, 16).

main(_) ->
    %% alcove from the build next to this script, unless ERL_LIBS or
    %% -pa in ERL_FLAGS gives another
    Top = filename:dirname(filename:dirname(filename:absname(escript:script_name()))),
    code:which(alcove) =:= non_existing andalso
        code:add_patha(filename:join(Top, "_build/default/lib/alcove/ebin")),
    filelib:is_regular(?BUSYBOX) orelse
        fail("~s is missing: apt-get install busybox-static~n", [?BUSYBOX]),

    {ok, Drv} = alcove_drv:start(),
    Uid = alcove:getuid(Drv, []),
    Gid = alcove:getgid(Drv, []),
    Spec = spec(Drv, Uid, Gid),
    io:format("alcove demo: a container built by alcove_sandbox~n"),
    io:format("mode: ~s~n", [mode(Drv, Uid, Spec)]),
    case alcove_sandbox:run(Drv, [], Spec) of
        {ok, Pid} ->
            %% the lines are printed once the cgroup is removed
            Seen = collect(Drv, Pid, <<>>),
            Lines = case Seen of
                        {error, _} -> [];
                        _ -> report(Drv, Spec, Pid, Seen)
                    end,
            ok = alcove_sandbox:cleanup(Drv, [], Spec, Pid),
            [io:format("~s: " ++ Fmt ++ "~n", [What | Args]) || {What, Fmt, Args} <- Lines],
            case Seen of
                {error, Why} -> fail("the program inside ended: ~p~n", [Why]);
                _ -> ok
            end;
        {error, {Step, Reason}} ->
            fail("the container could not be made: step ~p failed: ~p~n~s",
                 [Step, Reason, hint(Uid, Step)])
    end,
    ok = alcove_drv:stop(Drv).

%% The container. The program is a short busybox script printing what it
%% sees as "key value" lines.
spec(Drv, Uid, Gid) ->
    Common = #{
        namespaces => [pid, mount, net, uts, ipc],
        root => tmpfs,
        mounts => [{bind, ?BUSYBOX, ?BUSYBOX, [ro]},
                   {proc, "/proc"},
                   {dev, "/dev"},
                   {tmpfs, "/tmp", [nosuid, nodev, {size, 1 bsl 20}]},
                   {remount, "/", [ro]}],
        hostname => "alcove-demo",
        rlimits => #{rlimit_nofile => 64, rlimit_core => 0},
        seccomp => {deny, [ptrace, mount, umount2, pivot_root, chroot, unshare,
                           setns, reboot, kexec_load, init_module,
                           finit_module, delete_module, bpf, keyctl]},
        no_new_privs => true,
        argv => [?BUSYBOX, "sh", "-c", script()],
        env => ["PATH=/bin"]
    },
    case Uid of
        0 ->
            %% pids.max stops the fork bomb; rlimit_nproc (counted for
            %% every process of uid 65534 on the machine) bounds it too
            S = Common#{uid => 65534, gid => 65534, groups => [],
                        rlimits => (maps:get(rlimits, Common))#{rlimit_nproc => 4 * ?NPROC}},
            case alcove_sandbox:cgroup_version(Drv, [], cgroup()) of
                {ok, _} -> S#{cgroup => cgroup()};
                {error, _} -> S
            end;
        _ ->
            %% the caller's ids map to themselves: the program runs as
            %% the caller, without capabilities
            Common#{namespaces => [user | maps:get(namespaces, Common)],
                    uid_map => [{Uid, Uid, 1}], gid_map => [{Gid, Gid, 1}],
                    uid => Uid, gid => Gid,
                    rlimits => (maps:get(rlimits, Common))#{rlimit_nproc => ?NPROC}}
    end.

%% optional: where the group cannot be made (a read-only cgroup file
%% system in a container), the container runs without it
cgroup() ->
    #{memory_max => 64 bsl 20, pids_max => ?NPROC, optional => true}.

script() ->
    "echo \"pid $$\"
echo \"hostname $(hostname)\"
ifs=''
while read -r l; do case \"$l\" in *:*) ifs=\"$ifs ${l%%:*}\";; esac; done < /proc/net/dev
echo \"net$ifs\"
echo \"uid $(id -u)\"
if echo hello > /tmp/hello; then echo 'tmpwrite ok'; else echo 'tmpwrite refused'; fi
echo \"rootwrite $(touch /hello 2>&1 && echo ok)\"
echo \"nproc $(ulimit -u)\"
echo \"nofile $(ulimit -n)\"
while read -r k v; do
    case \"$k\" in NoNewPrivs:|Seccomp:) echo \"$k $v\";; esac
done < /proc/self/status
echo \"unshare $(unshare -U true 2>&1 && echo ok)\"
( i=0; while [ $i -lt 200 ]; do sleep 1000 & i=$((i+1)); echo $i > /tmp/forks; done ) 2>/dev/null
read n < /tmp/forks
echo \"forks $n\"
".

mode(Drv, 0, #{cgroup := CG}) ->
    {ok, Version} = alcove_sandbox:cgroup_version(Drv, [], CG),
    io_lib:format("root (PID, mount, network, UTS and IPC namespaces; "
                  "a cgroup ~s with memory and pids limits)", [Version]);
mode(_, 0, _) ->
    "root (PID, mount, network, UTS and IPC namespaces; "
    "no cgroup: the machine lacks the memory or pids controller)";
mode(_, Uid, _) ->
    io_lib:format("rootless, as uid ~B (a user namespace, and PID, mount, "
                  "network, UTS and IPC namespaces; no cgroup: it needs root "
                  "or a delegated group)", [Uid]).

hint(0, _) -> "";
hint(_, Step) when Step =:= clone; Step =:= uid_map; Step =:= gid_map ->
    "user namespaces may be disabled (sysctl kernel.unprivileged_userns_clone "
    "or user.max_user_namespaces): run as root\n";
hint(_, _) -> "".

collect(Drv, Pid, Acc) ->
    receive
        {alcove_stdout, Drv, [Pid], Data} ->
            collect(Drv, Pid, <<Acc/binary, Data/binary>>);
        {alcove_stderr, Drv, [Pid], _} ->
            collect(Drv, Pid, Acc);
        {alcove_event, Drv, [Pid], {exit_status, _}} ->
            maps:from_list([case binary:split(L, <<" ">>) of
                                [K, V] -> {K, V};
                                [K] -> {K, <<>>}
                            end || L <- binary:split(Acc, <<"\n">>, [global, trim_all])]);
        {alcove_event, Drv, [Pid], Event} ->
            {error, Event}
    after 60000 ->
        _ = alcove:kill(Drv, [], Pid, sigkill),
        receive {alcove_event, Drv, [Pid], _} -> ok after 5000 -> ok end,
        {error, timeout}
    end.

%% What the program saw, as {What, Format, Args} lines.
report(Drv, Spec, Pid, Seen) ->
    Get = fun(K) -> maps:get(K, Seen, <<"?">>) end,
    Uid = Get(<<"uid">>),
    {Cgroup, Limit} = cgroup_report(Drv, Spec, Pid),
    [{"pid inside", "~s (outside: ~B)", [Get(<<"pid">>), Pid]},
     {"hostname", "~s", [Get(<<"hostname">>)]},
     {"network", "~s", [case Get(<<"net">>) of
                            <<"lo">> -> "lo only";
                            Ifs -> Ifs
                        end]},
     {"uid", "~s (~s)", [Uid, user_name(Uid)]},
     {"write in /tmp (its tmpfs)", "~s", [Get(<<"tmpwrite">>)]},
     {"write outside its tmpfs", "~s", [refused(Get(<<"rootwrite">>))]},
     {"rlimits", "nproc ~s, nofile ~s", [Get(<<"nproc">>), Get(<<"nofile">>)]},
     {"no_new_privs", "~s", [case Get(<<"NoNewPrivs:">>) of
                                 <<"1">> -> "on";
                                 N -> N
                             end]},
     {"seccomp", "~s, new user namespace: ~s",
      [case Get(<<"Seccomp:">>) of <<"2">> -> "filter"; S -> S end,
       refused(Get(<<"unshare">>))]}]
        ++ Cgroup
        ++ [{"fork bomb", "200 tried, stopped after ~s processes (~s)",
             [Get(<<"forks">>), Limit]}].

%% The cgroup's limits, read back; which limit stopped the fork bomb.
cgroup_report(Drv, Spec, Pid) ->
    case alcove_sandbox:cgroup_dirs(Drv, [], Spec, Pid) of
        {ok, Version, Dirs} ->
            case lists:all(fun filelib:is_dir/1, Dirs) of
                true -> cgroup_limits(Version, Dirs);
                false -> {[{"cgroup", "~s", ["none: the machine refused to make one"]}],
                          "rlimit_nproc"}
            end;
        {error, _} ->
            {[], "rlimit_nproc"}
    end.

cgroup_limits(Version, Dirs) ->
    Mem = first(Dirs, ["memory.max", "memory.limit_in_bytes"]),
    Pids = first(Dirs, ["pids.max"]),
    Events = first(Dirs, ["pids.events"]),
    {[{"cgroup", "~s, memory ~s, pids ~s", [Version, mib(Mem), Pids]}],
     case re:run(Events, "max ([0-9]+)", [{capture, all_but_first, binary}]) of
         {match, [N]} when N =/= <<"0">> -> "pids limit";
         _ -> "rlimit_nproc"
     end}.

mib(Bytes) ->
    try binary_to_integer(Bytes) of
        N -> io_lib:format("~B MiB", [N bsr 20])
    catch
        error:badarg -> Bytes
    end.

first(Dirs, Files) ->
    hd([string:trim(B) || D <- Dirs, F <- Files,
                          {ok, B} <- [file:read_file(filename:join(D, F))]] ++ [<<"?">>]).

%% "touch: /hello: Read-only file system" -> "refused (Read-only file system)"
refused(<<"ok">>) ->
    "allowed";
refused(Error) ->
    Why = lists:last(binary:split(Error, <<": ">>, [global])),
    io_lib:format("refused (~s)", [Why]).

user_name(Uid) ->
    {ok, Passwd} = file:read_file("/etc/passwd"),
    case [N || L <- binary:split(Passwd, <<"\n">>, [global]),
               [N, _, U | _] <- [binary:split(L, <<":">>, [global])], U =:= Uid] of
        [Name | _] -> Name;
        [] -> "no name"
    end.

fail(Fmt, Args) ->
    io:format(standard_error, Fmt, Args),
    halt(1).
