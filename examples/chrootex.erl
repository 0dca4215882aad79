%% SPDX-License-Identifier: ISC
%% @doc The reference's chroot sandbox: process limits, a chroot into the
%% directory of a statically linked busybox, an unprivileged user, then
%% exec. See "Creating a chroot" in the README.
%%
%% 1> {ok, Drv} = chrootex:start().
%% 2> Sh = chrootex:sandbox(Drv, ["/bin/busybox", "sh"]).
%% 3> alcove:stdin(Drv, [Sh], "echo hello\n").
%% 4> alcove:stdout(Drv, [Sh]).
%% [<<"hello\n">>]
-module(chrootex).

-include_lib("alcove/include/alcove.hrl").

-export([start/0, start/1, sandbox/1, sandbox/2]).

%% @doc Start a port able to chroot: through `sudo -n' unless the VM runs
%% as root already.
-spec start() -> {ok, alcove:drv()}.
start() ->
    start(case os:cmd("id -u") of "0\n" -> []; _ -> [{exec, "sudo -n"}] end).

-spec start([alcove_drv:option()]) -> {ok, alcove:drv()}.
start(Opts) ->
    alcove_drv:start(Opts).

%% @doc A cat in a chroot: busybox from the busybox-static package.
-spec sandbox(alcove:drv()) -> alcove:pid_t().
sandbox(Drv) ->
    sandbox(Drv, ["/bin/busybox", "cat"]).

%% @doc Run Argv (its program statically linked) in a new chroot sandbox;
%% returns the system PID of the sandbox.
-spec sandbox(alcove:drv(), [iodata()]) -> alcove:pid_t().
sandbox(Drv, Argv) ->
    {Path, Arg0, Args} = argv(Argv),

    {ok, Child} = alcove:fork(Drv, []),

    setlimits(Drv, Child),
    chroot(Drv, Child, Path),
    drop_privs(Drv, Child, id()),

    ok = alcove:execvp(Drv, [Child], Arg0, [Arg0 | Args]),

    Child.

setlimits(Drv, Child) ->
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

%% A random, high UID/GID unlikely to belong to anyone.
id() ->
    16#f0000000 + rand:uniform(16#ffff).

% Set the program path for the chroot
argv([Arg0 | Args]) ->
    Path = filename:dirname(Arg0),
    Progname = filename:join(["/", filename:basename(Arg0)]),
    {Path, Progname, Args}.
