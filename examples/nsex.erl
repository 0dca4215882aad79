%% SPDX-License-Identifier: ISC
%% @doc The reference's namespace sandbox: the chroot sandbox of
%% chrootex, cloned into new IPC, network, mount, PID and UTS namespaces
%% and limited by a cgroup. See "Creating a Container Using Linux
%% Namespaces" in the README.
-module(nsex).

-include_lib("alcove/include/alcove.hrl").

-export([start/0, start/1, sandbox/1, sandbox/2]).

%% @doc Start a port and create the cgroup "alcove" for its sandboxes:
%% CPU 0 and 16 MiB of memory (v1 hierarchies, as in the reference).
-spec start() -> alcove:drv().
start() ->
    start(case os:cmd("id -u") of "0\n" -> []; _ -> [{exec, "sudo -n"}] end).

-spec start([alcove_drv:option()]) -> alcove:drv().
start(Opts) ->
    {ok, Drv} = alcove_drv:start(Opts),

    % Create a new cgroup for our processes
    ok = alcove_cgroup:create(Drv, [], <<"alcove">>),

    % Set the CPUs these processes are allowed to run on. For example,
    % if there are 4 available CPUs, any process in this cgroup will only
    % be able to run on CPU 0
    {ok,1} = alcove_cgroup:set(Drv, [], <<"cpuset">>, <<"alcove">>,
            <<"cpuset.cpus">>, <<"0">>),
    {ok,1} = alcove_cgroup:set(Drv, [], <<"cpuset">>, <<"alcove">>,
            <<"cpuset.mems">>, <<"0">>),

    % Set the amount of memory available to the process

    % Total memory. It comes first: the kernel refuses (einval) a
    % memory+swap limit below the memory limit, which is unlimited until
    % set here.
    {ok,3} = alcove_cgroup:set(Drv, [], <<"memory">>, <<"alcove">>,
            <<"memory.limit_in_bytes">>, <<"16m">>),

    % Total memory, including swap. We allow this to fail, because some
    % systems may not have a swap partition/file (no swap accounting: no
    % memory.memsw.* files, enoent)
    _ = alcove_cgroup:set(Drv, [], <<"memory">>, <<"alcove">>,
            <<"memory.memsw.limit_in_bytes">>, <<"16m">>),

    Drv.

%% @doc A cat in the container.
-spec sandbox(alcove:drv()) -> alcove:pid_t().
sandbox(Drv) ->
    sandbox(Drv, ["/bin/busybox", "cat"]).

%% @doc Run Argv (statically linked) in a new container; returns its
%% system PID (outside: inside its PID namespace it is 1).
-spec sandbox(alcove:drv(), [iodata()]) -> alcove:pid_t().
sandbox(Drv, Argv) ->
    {Path, Arg0, Args} = argv(Argv),

    {ok, Child} = alcove:clone(Drv, [], [
            clone_newipc, % IPC
            clone_newnet, % network
            clone_newns,  % mounts
            clone_newpid, % PID, Child is PID 1 in the namespace
            clone_newuts  % hostname
            ]),

    setlimits(Drv, Child),
    ok = alcove:sethostname(Drv, [Child], ["alcove", integer_to_list(Child)]),
    chroot(Drv, Child, Path),
    drop_privs(Drv, Child, id()),

    ok = alcove:execvp(Drv, [Child], Arg0, [Arg0 | Args]),

    Child.

setlimits(Drv, Child) ->
    % Add our process to the "alcove" cgroup
    {ok,_} = alcove_cgroup:set(Drv, [], <<>>, <<"alcove">>,
            <<"tasks">>, integer_to_list(Child)),

    % Disable creation of files
    ok = alcove:setrlimit(Drv, [Child], rlimit_fsize,
            #alcove_rlimit{cur = 0, max = 0}),
    ok = alcove:setrlimit(Drv, [Child], rlimit_nofile,
            #alcove_rlimit{cur = 0, max = 0}),
    % Limit to one process
    ok = alcove:setrlimit(Drv, [Child], rlimit_nproc,
            #alcove_rlimit{cur = 1, max = 1}).

chroot(Drv, Child, Path) ->
    ok = alcove:chroot(Drv, [Child], Path),
    ok = alcove:chdir(Drv, [Child], "/").

drop_privs(Drv, Child, Id) ->
    ok = alcove:setgroups(Drv, [Child], []),
    ok = alcove:setgid(Drv, [Child], Id),
    ok = alcove:setuid(Drv, [Child], Id).

id() ->
    16#f0000000 + rand:uniform(16#ffff).

argv([Arg0 | Args]) ->
    Path = filename:dirname(Arg0),
    Progname = filename:join(["/", filename:basename(Arg0)]),
    {Path, Progname, Args}.
