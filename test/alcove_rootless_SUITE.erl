%% SPDX-License-Identifier: ISC
%% Rootless containers: the port itself runs as uid 65534 (started
%% through setpriv) and builds containers in a user namespace; and the
%% demo (examples/demo.escript), run as root and as uid 65534, checked
%% line by line.
-module(alcove_rootless_SUITE).

-include_lib("common_test/include/ct.hrl").
-include_lib("alcove/include/alcove.hrl").

-export([
    all/0,
    suite/0,
    init_per_suite/1,
    end_per_suite/1,
    init_per_testcase/2
]).

-export([
    unprivileged_port/1,
    rootless_clone/1,
    rootless_sandbox/1,
    rootless_refusals/1,
    demo_as_root/1,
    demo_rootless/1
]).

-define(NOBODY, 65534).
-define(BUSYBOX, "/bin/busybox").
-define(SETPRIV, ["--reuid=65534", "--regid=65534", "--clear-groups"]).

suite() ->
    [{timetrap, {seconds, 60}}, {ct_hooks, [{alcove_test, []}]}].

all() ->
    [
        unprivileged_port,
        rootless_clone,
        rootless_sandbox,
        rootless_refusals,
        demo_as_root,
        demo_rootless
    ].

%% What uid 65534 runs must be reachable by it: the port, the demo and
%% the ebin. Where the build is not, a copy readable by all is made.
init_per_suite(Config) ->
    Setpriv = os:find_executable("setpriv"),
    Setpriv =/= false orelse ct:fail("setpriv (util-linux) is needed"),
    Lib = code:lib_dir(alcove),
    Top = filename:join([Lib, "..", "..", "..", ".."]),
    Demo = filename:join(Top, "examples/demo.escript"),
    true = filelib:is_regular(Demo),
    Prog = alcove_drv:progname(),
    Beam = code:which(alcove),
    Layout = {Prog, Demo, filename:dirname(Lib)},
    {Stage, {Prog1, Demo1, Libs1}} =
        case as_nobody(Setpriv, ["/bin/sh", "-c", "test -x \"$0\" -a -r \"$1\" -a -r \"$2\"",
                                 Prog, Demo, Beam]) of
            {0, _} -> {none, Layout};
            _ -> stage(Prog, Demo, filename:dirname(Beam))
        end,
    [{setpriv, Setpriv}, {stage, Stage}, {progname, Prog1}, {demo, Demo1},
     {erl_libs, Libs1} | Config].

end_per_suite(Config) ->
    case ?config(stage, Config) of
        none -> ok;
        Dir -> ok = file:del_dir_r(Dir)
    end,
    Config.

init_per_testcase(Test, Config) when Test =:= demo_as_root; Test =:= demo_rootless ->
    alcove_test:start(Config);
init_per_testcase(_Test, Config) ->
    Exec = lists:join(" ", [?config(setpriv, Config) | ?SETPRIV]),
    alcove_test:start(Config, [{exec, lists:flatten(Exec)},
                               {progname, ?config(progname, Config)}]).

%%%
%%% The port run as uid 65534
%%%

%% The port is unprivileged: uid 65534, and namespaces without a user
%% namespace are refused to it.
unprivileged_port(Config) ->
    Drv = ?config(drv, Config),
    {ok, ?NOBODY, ?NOBODY, ?NOBODY} = alcove:getresuid(Drv, []),
    {ok, ?NOBODY, ?NOBODY, ?NOBODY} = alcove:getresgid(Drv, []),
    {ok, []} = alcove:getgroups(Drv, []),
    {error, eperm} = alcove:clone(Drv, [], [clone_newpid, clone_newuts]),
    {error, {clone, eperm}} = alcove_sandbox:run(Drv, [], #{namespaces => [uts],
                                                           hostname => "x"}),
    [] = alcove:cpid(Drv, []).

%% rootless_clone/3: user, PID, mount, UTS and network namespaces; the
%% child is root (uid 0) and PID 1 inside, uid 65534 outside (its
%% /proc/PID/status, read here as root); it mounts a tmpfs the host does
%% not see, sets its host name and has only a loopback interface.
rootless_clone(Config) ->
    Drv = ?config(drv, Config),
    {ok, Pid} = alcove_sandbox:rootless_clone(Drv, [], [pid, mount, uts, net]),
    C = [Pid],
    {ok, 0, 0, 0} = alcove:getresuid(Drv, C),
    {ok, 0, 0, 0} = alcove:getresgid(Drv, C),
    1 = alcove:getpid(Drv, C),
    <<"65534\t65534\t65534\t65534">> = status(Pid, "Uid"),
    <<"65534\t65534\t65534\t65534">> = status(Pid, "Gid"),
    [<<"0">>, <<"65534">>, <<"1">>] = words(proc(Pid, "uid_map")),
    [<<"0">>, <<"65534">>, <<"1">>] = words(proc(Pid, "gid_map")),
    [<<"deny">>] = words(proc(Pid, "setgroups")),
    %% mount: a private tmpfs on /tmp
    ok = alcove:mount(Drv, C, "none", "/", "", [ms_rec, ms_private], "", ""),
    ok = alcove:mount(Drv, C, "tmpfs", "/tmp", "tmpfs", [ms_nosuid, ms_nodev], "", ""),
    Name = "alcove-rootless-" ++ integer_to_list(Pid),
    {ok, Fd} = alcove:open(Drv, C, "/tmp/" ++ Name, [o_wronly, o_creat], 8#644),
    ok = alcove:close(Drv, C, Fd),
    {ok, [<<".">>, <<"..">>, Bin]} = sorted(alcove:readdir(Drv, C, "/tmp")),
    Bin = list_to_binary(Name),
    false = filelib:is_file("/tmp/" ++ Name),
    %% uts and net
    ok = alcove:sethostname(Drv, C, "rootless"),
    {ok, <<"rootless">>} = alcove:gethostname(Drv, C),
    true = {ok, <<"rootless">>} =/= alcove:gethostname(Drv, []),
    [<<"lo">>] = interfaces(proc(Pid, "net/dev")),
    %% no capability outside: the host's hostname stays
    {error, eperm} = alcove:sethostname(Drv, [], "nope").

%% alcove_sandbox:run/3 from the unprivileged port: a tmpfs root with
%% busybox, proc, a tmpfs /tmp, a host name, PID 1, no_new_privs and a
%% filter; the program runs as root inside and writes where it may.
rootless_sandbox(Config) ->
    Drv = ?config(drv, Config),
    Spec = #{namespaces => [user, pid, mount, uts, net, ipc],
             root => tmpfs,
             mounts => [{bind, ?BUSYBOX, ?BUSYBOX, [ro]}, {proc, "/proc"},
                        {dev, "/dev"}, {tmpfs, "/tmp"}, {remount, "/", [ro]}],
             hostname => "rootless-box",
             rlimits => #{rlimit_nproc => 16},
             seccomp => {deny, [ptrace, unshare]},
             argv => [?BUSYBOX, "sh", "-c",
                      "echo $$; hostname; id -u; echo x > /tmp/x && cat /tmp/x; "
                      "touch /x; grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status"]},
    {ok, Pid} = alcove_sandbox:run(Drv, [], Spec),
    {0, Out, Err} = alcove_test:output(Drv, [Pid]),
    <<"1\nrootless-box\n0\nx\nNoNewPrivs:\t1\nSeccomp:\t2\n">> = Out,
    <<"touch: /x: Read-only file system\n">> = Err.

%% What the kernel refuses an unprivileged port, named by step: mapping
%% an id not its own, keeping setgroups (groups) for gid_map, a cgroup
%% without delegation (skipped when optional), a second uid map.
rootless_refusals(Config) ->
    Drv = ?config(drv, Config),
    {error, {uid_map, eperm}} =
        alcove_sandbox:run(Drv, [], #{namespaces => [user], uid_map => [{0, 0, 1}]}),
    {termsig, sigkill} = exit_event(Drv),
    {error, {gid_map, eperm}} =
        alcove_sandbox:run(Drv, [], #{namespaces => [user], groups => [0]}),
    {termsig, sigkill} = exit_event(Drv),
    CG = #{memory_max => 1 bsl 26, pids_max => 16},
    {error, {cgroup, {eacces, Dir}}} =
        alcove_sandbox:run(Drv, [], #{namespaces => [user], cgroup => CG}),
    {match, _} = re:run(Dir, "^/sys/fs/cgroup/.*/alcove-sandbox-[0-9]+$"),
    {termsig, sigkill} = exit_event(Drv),
    {ok, Pid} = alcove_sandbox:run(Drv, [], #{namespaces => [user],
                                              cgroup => CG#{optional => true}}),
    {ok, 0, 0, 0} = alcove:getresuid(Drv, [Pid]),
    {error, eperm} = write(Drv, [], "/proc/" ++ integer_to_list(Pid) ++ "/uid_map",
                           "0 65534 1\n"),
    [#alcove_pid{pid = Pid}] = alcove:cpid(Drv, []).

%%%
%%% The demo
%%%

%% make demo as root: each line it promises, with the cgroup version
%% this machine offers, the fork bomb stopped by the pids limit, and the
%% cgroup removed afterwards.
demo_as_root(Config) ->
    Drv = ?config(drv, Config),
    {ok, Version} = alcove_sandbox:cgroup_version(Drv, [], #{memory_max => 1, pids_max => 1}),
    V = atom_to_list(Version),
    {0, Lines} = demo(Config, []),
    ct:log("~s", [lists:join("\n", Lines)]),
    [Banner, Mode, PidLine | Rest] = Lines,
    "alcove demo: a container built by alcove_sandbox" = Banner,
    Mode = "mode: root (PID, mount, network, UTS and IPC namespaces; a cgroup " ++ V
        ++ " with memory and pids limits)",
    {match, [Outside]} = re:run(PidLine, "^pid inside: 1 \\(outside: ([0-9]+)\\)$",
                                [{capture, all_but_first, list}]),
    Rest = ["hostname: alcove-demo",
            "network: lo only",
            "uid: 65534 (nobody)",
            "write in /tmp (its tmpfs): ok",
            "write outside its tmpfs: refused (Read-only file system)",
            "rlimits: nproc 64, nofile 64",
            "no_new_privs: on",
            "seccomp: filter, new user namespace: refused (Operation not permitted)",
            "cgroup: " ++ V ++ ", memory 64 MiB, pids 16",
            "fork bomb: 200 tried, stopped after 14 processes (pids limit)"],
    [] = filelib:wildcard("/sys/fs/cgroup/*/alcove-sandbox-" ++ Outside)
        ++ filelib:wildcard("/sys/fs/cgroup/alcove-sandbox-" ++ Outside).

%% make demo as uid 65534: rootless, said so, the same view from inside
%% without a cgroup, the fork bomb stopped by rlimit_nproc.
demo_rootless(Config) ->
    {0, Lines} = demo(Config, [?config(setpriv, Config) | ?SETPRIV]),
    ct:log("~s", [lists:join("\n", Lines)]),
    [Banner, Mode, PidLine | Rest] = Lines,
    "alcove demo: a container built by alcove_sandbox" = Banner,
    "mode: rootless, as uid 65534 (a user namespace, and PID, mount, network, "
    "UTS and IPC namespaces; no cgroup: it needs root or a delegated group)" = Mode,
    {match, _} = re:run(PidLine, "^pid inside: 1 \\(outside: [0-9]+\\)$"),
    ["hostname: alcove-demo",
     "network: lo only",
     "uid: 65534 (nobody)",
     "write in /tmp (its tmpfs): ok",
     "write outside its tmpfs: refused (Read-only file system)",
     "rlimits: nproc 16, nofile 64",
     "no_new_privs: on",
     "seccomp: filter, new user namespace: refused (Operation not permitted)",
     "fork bomb: 200 tried, stopped after 14 processes (rlimit_nproc)"] = Rest.

%%%
%%% Helpers
%%%

%% Run the demo (through Prefix: setpriv for uid 65534) with alcove from
%% this build; its exit status and lines.
demo(Config, Prefix) ->
    [Exe | Args] = Prefix ++ [os:find_executable("escript"), ?config(demo, Config)],
    Port = open_port({spawn_executable, Exe},
                     [{args, Args}, {cd, "/"}, exit_status, stderr_to_stdout, binary,
                      {env, [{"ERL_LIBS", ?config(erl_libs, Config)}, {"HOME", "/"}]}]),
    collect(Port, <<>>).

collect(Port, Acc) ->
    receive
        {Port, {data, Data}} -> collect(Port, <<Acc/binary, Data/binary>>);
        {Port, {exit_status, Status}} ->
            {Status, string:split(string:trim(binary_to_list(Acc)), "\n", all)}
    after 50000 ->
        ct:fail({demo_timeout, Acc})
    end.

as_nobody(Setpriv, Argv) ->
    Port = open_port({spawn_executable, Setpriv},
                     [{args, ?SETPRIV ++ Argv}, {cd, "/"}, exit_status,
                      stderr_to_stdout, binary]),
    collect(Port, <<>>).

%% A copy of the port, the demo and the ebin in a directory all can read:
%% Dir/priv/alcove, Dir/examples/demo.escript, Dir/lib/alcove/ebin.
stage(Prog, Demo, Ebin) ->
    Dir = string:trim(os:cmd("mktemp -d /tmp/alcove-rootless.XXXXXX")),
    Lib = filename:join(Dir, "lib/alcove"),
    ok = filelib:ensure_dir(filename:join([Lib, "ebin", "x"])),
    ok = filelib:ensure_dir(filename:join([Lib, "priv", "x"])),
    ok = filelib:ensure_dir(filename:join([Dir, "examples", "x"])),
    {ok, _} = file:copy(Prog, filename:join([Lib, "priv", "alcove"])),
    {ok, _} = file:copy(Demo, filename:join([Dir, "examples", "demo.escript"])),
    [{ok, _} = file:copy(F, filename:join([Lib, "ebin", filename:basename(F)]))
     || F <- filelib:wildcard(filename:join(Ebin, "*"))],
    [] = os:cmd("chmod -R a+rX " ++ Dir ++ " && chmod a+rx " ++ Lib ++ "/priv/alcove"),
    {Dir, {filename:join([Lib, "priv", "alcove"]),
           filename:join([Dir, "examples", "demo.escript"]),
           filename:join(Dir, "lib")}}.

proc(Pid, File) ->
    {ok, Data} = file:read_file("/proc/" ++ integer_to_list(Pid) ++ "/" ++ File),
    Data.

status(Pid, Key) ->
    {match, [V]} = re:run(proc(Pid, "status"), "\n" ++ Key ++ ":\t([^\n]*)\n",
                          [{capture, all_but_first, binary}]),
    V.

words(Data) ->
    binary:split(Data, [<<" ">>, <<"\n">>], [global, trim_all]).

interfaces(Dev) ->
    [string:trim(hd(binary:split(L, <<":">>)))
     || L <- binary:split(Dev, <<"\n">>, [global, trim_all]),
        binary:match(L, <<":">>) =/= nomatch].

sorted({ok, L}) -> {ok, lists:sort(L)};
sorted(Error) -> Error.

write(Drv, Chain, Path, Data) ->
    {ok, Fd} = alcove:open(Drv, Chain, Path, [o_wronly], 0),
    Res = alcove:write(Drv, Chain, Fd, Data),
    ok = alcove:close(Drv, Chain, Fd),
    Res.

exit_event(Drv) ->
    receive
        {alcove_event, Drv, [_], {termsig, _} = E} -> E;
        {alcove_event, Drv, [_], {exit_status, _} = E} -> E
    after 10000 -> ct:fail(no_exit_event)
    end.
