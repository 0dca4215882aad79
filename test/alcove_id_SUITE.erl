%% SPDX-License-Identifier: ISC
%% The identity calls (user and group IDs, groups, resource limits,
%% priorities, process groups, sessions, host name), the environment
%% calls, iolist_to_bin, and the calls of other systems, which answer
%% {error, enotsup} here.
%%
%% Every case gets its own port. A case that changes what a process is
%% (its IDs, limits, session, environment) does it in a child of the
%% port, and a host name is only set in a new UTS namespace.
-module(alcove_id_SUITE).

-include_lib("common_test/include/ct.hrl").
-include_lib("alcove/include/alcove.hrl").

-export([all/0, groups/0, suite/0]).
-export([
    getuid_getgid/1,
    setuid_setgid_drop/1,
    setuid_setgid_eperm/1,
    setresuid_getresuid/1,
    setresgid_getresgid/1,
    setres_eperm/1,
    setgroups_getgroups/1,
    setgroups_errors/1,
    setrlimit_getrlimit/1,
    setrlimit_errors/1,
    getrlimit_unknown/1,
    priority_process/1,
    priority_pgrp/1,
    priority_errors/1,
    setpgid_getpgrp/1,
    setpgid_errors/1,
    setsid_getsid/1,
    setsid_getsid_errors/1,
    sethostname_newuts/1,
    sethostname_errors/1,
    environ_getenv/1,
    setenv_unsetenv/1,
    setenv_errors/1,
    clearenv/1,
    iolist_to_bin/1,
    iolist_to_bin_badarg/1,
    other_os_enotsup/1
]).

-define(NOBODY, 65534).
%% NGROUPS_MAX of Linux
-define(NGROUPS_MAX, 65536).

suite() ->
    [{timetrap, {seconds, 60}}, {ct_hooks, [{alcove_test, [port]}]}].

all() ->
    [{group, id}].

groups() ->
    [{id, [parallel], [
        getuid_getgid,
        setuid_setgid_drop,
        setuid_setgid_eperm,
        setresuid_getresuid,
        setresgid_getresgid,
        setres_eperm,
        setgroups_getgroups,
        setgroups_errors,
        setrlimit_getrlimit,
        setrlimit_errors,
        getrlimit_unknown,
        priority_process,
        priority_pgrp,
        priority_errors,
        setpgid_getpgrp,
        setpgid_errors,
        setsid_getsid,
        setsid_getsid_errors,
        sethostname_newuts,
        sethostname_errors,
        environ_getenv,
        setenv_unsetenv,
        setenv_errors,
        clearenv,
        iolist_to_bin,
        iolist_to_bin_badarg,
        other_os_enotsup
    ]}].

%%% Helpers

%% A child of the port that has given up root: no groups, then the
%% group and user of nobody (the group first, while it still may).
nobody(Drv) ->
    {ok, C} = alcove:fork(Drv, []),
    ok = alcove:setgroups(Drv, [C], []),
    ok = alcove:setgid(Drv, [C], ?NOBODY),
    ok = alcove:setuid(Drv, [C], ?NOBODY),
    C.

%% A child of the port whose three IDs, 0 as forked, Set (setresuid or
%% setresgid) sets to {R, E, S} and Get reads back.
setres(Drv, Set, Get, {R, E, S}) ->
    {ok, C} = alcove:fork(Drv, []),
    {ok, 0, 0, 0} = alcove:Get(Drv, [C]),
    ok = alcove:Set(Drv, [C], R, E, S),
    {ok, R, E, S} = alcove:Get(Drv, [C]),
    C.

%% A PID that names no process: past the largest PID the kernel hands
%% out, yet a valid pid_t.
no_such_pid() ->
    {ok, Max} = file:read_file("/proc/sys/kernel/pid_max"),
    binary_to_integer(string:trim(Max)) + 1.

%%% Cases

%% The tests run as root: the port and its children are uid 0, gid 0.
getuid_getgid(Config) ->
    Drv = ?config(drv, Config),
    {ok, C} = alcove:fork(Drv, []),
    0 = alcove:getuid(Drv, []),
    0 = alcove:getgid(Drv, []),
    0 = alcove:getuid(Drv, [C]),
    0 = alcove:getgid(Drv, [C]).

%% setgid and setuid to nobody in a child: the child reports the new IDs,
%% the port keeps root.
setuid_setgid_drop(Config) ->
    Drv = ?config(drv, Config),
    C = nobody(Drv),
    ?NOBODY = alcove:getuid(Drv, [C]),
    ?NOBODY = alcove:getgid(Drv, [C]),
    {ok, ?NOBODY, ?NOBODY, ?NOBODY} = alcove:getresuid(Drv, [C]),
    {ok, ?NOBODY, ?NOBODY, ?NOBODY} = alcove:getresgid(Drv, [C]),
    0 = alcove:getuid(Drv, []),
    0 = alcove:getgid(Drv, []).

%% Once root is given up it is gone: setuid(0) and setgid(0) fail with
%% eperm, and a file only root may read (/etc/shadow, mode 0640
%% root:shadow) cannot be opened.
setuid_setgid_eperm(Config) ->
    Drv = ?config(drv, Config),
    C = nobody(Drv),
    {error, eperm} = alcove:setuid(Drv, [C], 0),
    {error, eperm} = alcove:setgid(Drv, [C], 0),
    {error, eacces} = alcove:open(Drv, [C], "/etc/shadow", [o_rdonly], 0),
    %% the port, still root, can
    {ok, FD} = alcove:open(Drv, [], "/etc/shadow", [o_rdonly], 0),
    ok = alcove:close(Drv, [], FD).

%% setresuid sets the three user IDs apart, getresuid reads them back.
setresuid_getresuid(Config) ->
    Drv = ?config(drv, Config),
    C = setres(Drv, setresuid, getresuid, {2000, 2001, 2002}),
    %% -1 (as a uid_t) leaves an ID as it is
    ok = alcove:setresuid(Drv, [C], 16#ffffffff, 2000, 16#ffffffff),
    {ok, 2000, 2000, 2002} = alcove:getresuid(Drv, [C]),
    2000 = alcove:getuid(Drv, [C]).

%% setresgid sets the three group IDs apart, getresgid reads them back.
setresgid_getresgid(Config) ->
    Drv = ?config(drv, Config),
    C = setres(Drv, setresgid, getresgid, {1000, 1001, 1002}),
    1000 = alcove:getgid(Drv, [C]).

%% Without root, an ID can only be set to one of the current three.
setres_eperm(Config) ->
    Drv = ?config(drv, Config),
    {ok, C} = alcove:fork(Drv, []),
    ok = alcove:setresgid(Drv, [C], 3000, 3001, 3002),
    ok = alcove:setresuid(Drv, [C], 2000, 2001, 2002),
    {error, eperm} = alcove:setresuid(Drv, [C], 0, 0, 0),
    {error, eperm} = alcove:setresgid(Drv, [C], 0, 0, 0),
    %% a permutation of the current IDs is allowed
    ok = alcove:setresuid(Drv, [C], 2002, 2000, 2001),
    {ok, 2002, 2000, 2001} = alcove:getresuid(Drv, [C]).

%% setgroups sets the supplementary groups, getgroups reads them back, in
%% order; [] clears them.
setgroups_getgroups(Config) ->
    Drv = ?config(drv, Config),
    {ok, C} = alcove:fork(Drv, []),
    ok = alcove:setgroups(Drv, [C], [10, 20, 30, 16#fffffffe]),
    {ok, [10, 20, 30, 16#fffffffe]} = alcove:getgroups(Drv, [C]),
    ok = alcove:setgroups(Drv, [C], []),
    {ok, []} = alcove:getgroups(Drv, [C]).

%% More groups than NGROUPS_MAX is einval, before the system call; a
%% process without root gets eperm; a negative gid is refused in the
%% caller.
setgroups_errors(Config) ->
    Drv = ?config(drv, Config),
    {ok, C} = alcove:fork(Drv, []),
    {error, einval} = alcove:setgroups(Drv, [C],
                                       lists:seq(1, ?NGROUPS_MAX + 1)),
    %% NGROUPS_MAX itself is allowed
    ok = alcove:setgroups(Drv, [C], lists:seq(1, ?NGROUPS_MAX)),
    {ok, Gs} = alcove:getgroups(Drv, [C]),
    ?NGROUPS_MAX = length(Gs),
    N = nobody(Drv),
    {error, eperm} = alcove:setgroups(Drv, [N], [1]),
    {'EXIT', {badarg, _}} = (catch alcove:setgroups(Drv, [C], [-1])),
    ok.

%% setrlimit then getrlimit gives back the limit set, by name and by
%% number, infinity included. (Hard limits are only lowered: the
%% sandbox of the tests may deny root CAP_SYS_RESOURCE.)
setrlimit_getrlimit(Config) ->
    Drv = ?config(drv, Config),
    {ok, C} = alcove:fork(Drv, []),
    ok = alcove:setrlimit(Drv, [C], rlimit_nofile,
                          #alcove_rlimit{cur = 64, max = 128}),
    {ok, #alcove_rlimit{cur = 64, max = 128}} =
        alcove:getrlimit(Drv, [C], rlimit_nofile),
    NOFILE = alcove:rlimit_constant(Drv, [], rlimit_nofile),
    {ok, #alcove_rlimit{cur = 64, max = 128}} =
        alcove:getrlimit(Drv, [C], NOFILE),
    ok = alcove:setrlimit(Drv, [C], rlimit_nofile,
                          #alcove_rlimit{cur = 100, max = 100}),
    {ok, #alcove_rlimit{cur = 100, max = 100}} =
        alcove:getrlimit(Drv, [C], rlimit_nofile),
    %% RLIM_INFINITY is the largest rlim_t, 2^64 - 1, both ways: a
    %% finite soft limit under an infinite hard one, then infinite
    Inf = 16#ffffffffffffffff,
    {ok, #alcove_rlimit{max = Inf}} = alcove:getrlimit(Drv, [C], rlimit_fsize),
    ok = alcove:setrlimit(Drv, [C], rlimit_fsize,
                          #alcove_rlimit{cur = Inf, max = Inf}),
    {ok, #alcove_rlimit{cur = Inf, max = Inf}} =
        alcove:getrlimit(Drv, [C], rlimit_fsize),
    ok = alcove:setrlimit(Drv, [C], rlimit_fsize,
                          #alcove_rlimit{cur = 4096, max = Inf}),
    {ok, #alcove_rlimit{cur = 4096, max = Inf}} =
        alcove:getrlimit(Drv, [C], rlimit_fsize),
    %% the port's own limit is its own
    {ok, #alcove_rlimit{cur = Cur}} = alcove:getrlimit(Drv, [], rlimit_nofile),
    true = Cur =/= 100.

%% A soft limit over the hard one is einval; without root, raising the
%% hard limit is eperm (lowering it is allowed).
setrlimit_errors(Config) ->
    Drv = ?config(drv, Config),
    {ok, C} = alcove:fork(Drv, []),
    {error, einval} = alcove:setrlimit(Drv, [C], rlimit_nofile,
                                       #alcove_rlimit{cur = 256, max = 128}),
    ok = alcove:setrlimit(Drv, [C], rlimit_nofile,
                          #alcove_rlimit{cur = 64, max = 128}),
    ok = alcove:setgid(Drv, [C], ?NOBODY),
    ok = alcove:setuid(Drv, [C], ?NOBODY),
    {error, eperm} = alcove:setrlimit(Drv, [C], rlimit_nofile,
                                      #alcove_rlimit{cur = 64, max = 129}),
    ok = alcove:setrlimit(Drv, [C], rlimit_nofile,
                          #alcove_rlimit{cur = 32, max = 100}),
    {ok, #alcove_rlimit{cur = 32, max = 100}} =
        alcove:getrlimit(Drv, [C], rlimit_nofile),
    %% an unknown resource number is einval from the system
    {error, einval} = alcove:getrlimit(Drv, [C], 12345),
    {error, einval} = alcove:setrlimit(Drv, [C], 12345,
                                       #alcove_rlimit{cur = 1, max = 1}),
    %% a record of the wrong shape is refused in the caller
    {'EXIT', {badarg, _}} =
        (catch alcove:setrlimit(Drv, [C], rlimit_nofile,
                                {alcove_rlimit, -1, 1})),
    ok.

%% A resource name the system does not know is enotsup.
getrlimit_unknown(Config) ->
    Drv = ?config(drv, Config),
    {error, enotsup} = alcove:getrlimit(Drv, [], rlimit_nonesuch),
    {error, enotsup} = alcove:setrlimit(Drv, [], rlimit_nonesuch,
                                        #alcove_rlimit{cur = 1, max = 1}).

%% The priority of a process, set and read back by pid and by 0 (the
%% caller); -1 is a priority, not a failure.
priority_process(Config) ->
    Drv = ?config(drv, Config),
    {ok, C} = alcove:fork(Drv, []),
    {ok, P0} = alcove:getpriority(Drv, [], prio_process, 0),
    {ok, P0} = alcove:getpriority(Drv, [C], prio_process, 0),
    ok = alcove:setpriority(Drv, [C], prio_process, 0, 10),
    {ok, 10} = alcove:getpriority(Drv, [C], prio_process, 0),
    {ok, 10} = alcove:getpriority(Drv, [], prio_process, C),
    ok = alcove:setpriority(Drv, [], prio_process, C, -1),
    {ok, -1} = alcove:getpriority(Drv, [C], prio_process, 0),
    %% the port is untouched
    {ok, P0} = alcove:getpriority(Drv, [], prio_process, 0).

%% The priority of a process group: a child in a group of its own (setsid)
%% and its own child share it.
priority_pgrp(Config) ->
    Drv = ?config(drv, Config),
    {ok, C} = alcove:fork(Drv, []),
    {ok, C} = alcove:setsid(Drv, [C]),
    {ok, GC} = alcove:fork(Drv, [C]),
    C = alcove:getpgrp(Drv, [C, GC]),
    ok = alcove:setpriority(Drv, [C], prio_pgrp, 0, 7),
    {ok, 7} = alcove:getpriority(Drv, [], prio_pgrp, C),
    {ok, 7} = alcove:getpriority(Drv, [C, GC], prio_process, 0),
    %% a group made by setpgid, of the grandchild alone
    ok = alcove:setpgid(Drv, [C, GC], 0, 0),
    ok = alcove:setpriority(Drv, [], prio_pgrp, GC, 12),
    {ok, 12} = alcove:getpriority(Drv, [C, GC], prio_pgrp, 0),
    {ok, 7} = alcove:getpriority(Drv, [C], prio_process, 0).

%% No such process or group is esrch, an unknown which is einval, and
%% lowering the nice value without root is eacces.
priority_errors(Config) ->
    Drv = ?config(drv, Config),
    NoPid = no_such_pid(),
    {error, esrch} = alcove:getpriority(Drv, [], prio_process, NoPid),
    {error, esrch} = alcove:setpriority(Drv, [], prio_process, NoPid, 1),
    {error, esrch} = alcove:getpriority(Drv, [], prio_pgrp, NoPid),
    {error, einval} = alcove:getpriority(Drv, [], 12345, 0),
    {error, einval} = alcove:setpriority(Drv, [], 12345, 0, 1),
    {error, enotsup} = alcove:getpriority(Drv, [], prio_nonesuch, 0),
    C = nobody(Drv),
    ok = alcove:setpriority(Drv, [C], prio_process, 0, 5),
    {error, eacces} = alcove:setpriority(Drv, [C], prio_process, 0, 0),
    {ok, 5} = alcove:getpriority(Drv, [C], prio_process, 0).

%% setpgid(0, 0) makes a process a group leader: getpgrp is its pid. The
%% parent can move its child into another group.
setpgid_getpgrp(Config) ->
    Drv = ?config(drv, Config),
    {ok, C} = alcove:fork(Drv, []),
    PortGroup = alcove:getpgrp(Drv, []),
    PortGroup = alcove:getpgrp(Drv, [C]),
    ok = alcove:setpgid(Drv, [C], 0, 0),
    C = alcove:getpgrp(Drv, [C]),
    PortGroup = alcove:getpgrp(Drv, []),
    %% the parent puts its child into a group of the child's pid
    {ok, C2} = alcove:fork(Drv, []),
    ok = alcove:setpgid(Drv, [], C2, C2),
    C2 = alcove:getpgrp(Drv, [C2]),
    %% and into an existing group of the same session
    {ok, C3} = alcove:fork(Drv, []),
    ok = alcove:setpgid(Drv, [], C3, C),
    C = alcove:getpgrp(Drv, [C3]),
    %% the port stays where it was
    PortGroup = alcove:getpgrp(Drv, []).

%% A process that does not exist (or is no child) is esrch; joining a
%% group of another session, or moving a session leader, is eperm; a
%% negative pgid is einval.
setpgid_errors(Config) ->
    Drv = ?config(drv, Config),
    {error, esrch} = alcove:setpgid(Drv, [], no_such_pid(), 0),
    {ok, C} = alcove:fork(Drv, []),
    {ok, GC} = alcove:fork(Drv, [C]),
    %% the port's grandchild is not its child
    {error, esrch} = alcove:setpgid(Drv, [], GC, 0),
    {ok, C} = alcove:setsid(Drv, [C]),
    {error, eperm} = alcove:setpgid(Drv, [C], 0, 0),
    {ok, Other} = alcove:fork(Drv, []),
    {error, eperm} = alcove:setpgid(Drv, [Other], 0, C),
    {error, einval} = alcove:setpgid(Drv, [Other], 0, -1).

%% setsid makes a new session and group, both of the caller's pid:
%% getsid and getpgrp say so, for the process and from its parent.
setsid_getsid(Config) ->
    Drv = ?config(drv, Config),
    {ok, PortSid} = alcove:getsid(Drv, [], 0),
    {ok, C} = alcove:fork(Drv, []),
    {ok, PortSid} = alcove:getsid(Drv, [C], 0),
    {ok, C} = alcove:setsid(Drv, [C]),
    {ok, C} = alcove:getsid(Drv, [C], 0),
    {ok, C} = alcove:getsid(Drv, [], C),
    C = alcove:getpgrp(Drv, [C]),
    {ok, PortSid} = alcove:getsid(Drv, [], 0),
    %% the child's own children are in its session
    {ok, GC} = alcove:fork(Drv, [C]),
    {ok, C} = alcove:getsid(Drv, [C, GC], 0).

%% getsid of no process is esrch; setsid in a group leader is eperm.
setsid_getsid_errors(Config) ->
    Drv = ?config(drv, Config),
    {error, esrch} = alcove:getsid(Drv, [], no_such_pid()),
    {ok, C} = alcove:fork(Drv, []),
    ok = alcove:setpgid(Drv, [C], 0, 0),
    {error, eperm} = alcove:setsid(Drv, [C]),
    {ok, C2} = alcove:fork(Drv, []),
    {ok, C2} = alcove:setsid(Drv, [C2]),
    {error, eperm} = alcove:setsid(Drv, [C2]).

%% In a new UTS namespace, sethostname changes the name seen there and
%% only there.
sethostname_newuts(Config) ->
    Drv = ?config(drv, Config),
    {ok, Host} = alcove:gethostname(Drv, []),
    {ok, Uts} = file:read_file("/proc/sys/kernel/hostname"),
    Host = string:trim(Uts),
    {ok, C} = alcove:clone(Drv, [], [clone_newuts]),
    {ok, Host} = alcove:gethostname(Drv, [C]),
    ok = alcove:sethostname(Drv, [C], ["alcove", [$-, <<"test">>]]),
    {ok, <<"alcove-test">>} = alcove:gethostname(Drv, [C]),
    {ok, GC} = alcove:fork(Drv, [C]),
    {ok, <<"alcove-test">>} = alcove:gethostname(Drv, [C, GC]),
    {ok, Host} = alcove:gethostname(Drv, []),
    %% the longest name Linux allows, 64 bytes
    Long = binary:copy(<<"h">>, 64),
    ok = alcove:sethostname(Drv, [C], Long),
    {ok, Long} = alcove:gethostname(Drv, [C]).

%% A name over 64 bytes or holding a NUL is einval; without
%% CAP_SYS_ADMIN it is eperm.
sethostname_errors(Config) ->
    Drv = ?config(drv, Config),
    {ok, Host} = alcove:gethostname(Drv, []),
    {ok, C} = alcove:clone(Drv, [], [clone_newuts]),
    {error, einval} = alcove:sethostname(Drv, [C], binary:copy(<<"h">>, 65)),
    {error, einval} = alcove:sethostname(Drv, [C], <<"a", 0, "b">>),
    {ok, Host} = alcove:gethostname(Drv, [C]),
    ok = alcove:setgid(Drv, [C], ?NOBODY),
    ok = alcove:setuid(Drv, [C], ?NOBODY),
    {error, eperm} = alcove:sethostname(Drv, [C], "nobody"),
    {ok, Host} = alcove:gethostname(Drv, [C]).

%% environ is the environment of the process, NAME=VALUE binaries, and
%% getenv agrees with it; the port inherits the environment of the VM.
environ_getenv(Config) ->
    Drv = ?config(drv, Config),
    Env = alcove:environ(Drv, []),
    true = is_list(Env) andalso Env =/= [],
    true = lists:all(fun is_binary/1, Env),
    {ok, C} = alcove:fork(Drv, []),
    Env = alcove:environ(Drv, [C]),
    [Path] = [V || <<"PATH=", V/binary>> <- Env],
    Path = alcove:getenv(Drv, [C], "PATH"),
    false = alcove:getenv(Drv, [C], "ALCOVE_NO_SUCH_VARIABLE"),
    %% a name with a NUL in it is in no environment
    false = alcove:getenv(Drv, [C], <<"PATH", 0>>).

%% setenv adds a variable, replaces it only when told to, unsetenv
%% removes it; environ shows each step; the port is unchanged.
setenv_unsetenv(Config) ->
    Drv = ?config(drv, Config),
    {ok, C} = alcove:fork(Drv, []),
    ok = alcove:setenv(Drv, [C], "ALCOVE_VAR", ["v", <<"1">>], 0),
    <<"v1">> = alcove:getenv(Drv, [C], <<"ALCOVE_VAR">>),
    ok = alcove:setenv(Drv, [C], "ALCOVE_VAR", "v2", 0),
    <<"v1">> = alcove:getenv(Drv, [C], "ALCOVE_VAR"),
    ok = alcove:setenv(Drv, [C], "ALCOVE_VAR", "v2", 1),
    <<"v2">> = alcove:getenv(Drv, [C], "ALCOVE_VAR"),
    true = lists:member(<<"ALCOVE_VAR=v2">>, alcove:environ(Drv, [C])),
    %% an empty value is a value
    ok = alcove:setenv(Drv, [C], "ALCOVE_EMPTY", "", 1),
    <<>> = alcove:getenv(Drv, [C], "ALCOVE_EMPTY"),
    ok = alcove:unsetenv(Drv, [C], "ALCOVE_VAR"),
    false = alcove:getenv(Drv, [C], "ALCOVE_VAR"),
    false = lists:member(<<"ALCOVE_VAR=v2">>, alcove:environ(Drv, [C])),
    %% removing a variable that is not there is no error
    ok = alcove:unsetenv(Drv, [C], "ALCOVE_VAR"),
    false = alcove:getenv(Drv, [], "ALCOVE_EMPTY"),
    %% children inherit it
    {ok, GC} = alcove:fork(Drv, [C]),
    <<>> = alcove:getenv(Drv, [C, GC], "ALCOVE_EMPTY").

%% An empty name, a name with '=' or a NUL is einval, for setenv and
%% unsetenv; so is a value holding a NUL.
setenv_errors(Config) ->
    Drv = ?config(drv, Config),
    {ok, C} = alcove:fork(Drv, []),
    {error, einval} = alcove:setenv(Drv, [C], "", "x", 1),
    {error, einval} = alcove:setenv(Drv, [C], "A=B", "x", 1),
    {error, einval} = alcove:setenv(Drv, [C], <<"A", 0, "B">>, "x", 1),
    {error, einval} = alcove:setenv(Drv, [C], "A", <<"x", 0>>, 1),
    false = alcove:getenv(Drv, [C], "A"),
    {error, einval} = alcove:unsetenv(Drv, [C], ""),
    {error, einval} = alcove:unsetenv(Drv, [C], "A=B"),
    {error, einval} = alcove:unsetenv(Drv, [C], <<"A", 0>>).

%% clearenv empties the environment of the child only; setenv works
%% after it.
clearenv(Config) ->
    Drv = ?config(drv, Config),
    Env = alcove:environ(Drv, []),
    {ok, C} = alcove:fork(Drv, []),
    ok = alcove:clearenv(Drv, [C]),
    [] = alcove:environ(Drv, [C]),
    false = alcove:getenv(Drv, [C], "PATH"),
    ok = alcove:setenv(Drv, [C], "ONLY", "one", 0),
    [<<"ONLY=one">>] = alcove:environ(Drv, [C]),
    ok = alcove:clearenv(Drv, [C]),
    [] = alcove:environ(Drv, [C]),
    Env = alcove:environ(Drv, []).

%% The port flattens a nested iolist into the same binary Erlang would,
%% NUL bytes and all.
iolist_to_bin(Config) ->
    Drv = ?config(drv, Config),
    IO = [<<"ab">>, [$c, [<<"de">>, []], <<>>], $f, [[[0]]], <<1, 0, 255>>],
    Bin = iolist_to_binary(IO),
    <<"abcdef", 0, 1, 0, 255>> = Bin,
    Bin = alcove:iolist_to_bin(Drv, [], IO),
    {ok, C} = alcove:fork(Drv, []),
    Bin = alcove:iolist_to_bin(Drv, [C], IO),
    <<>> = alcove:iolist_to_bin(Drv, [], []),
    Big = binary:copy(<<"0123456789">>, 100000),
    Big = alcove:iolist_to_bin(Drv, [C], [Big]).

%% What is not iodata is refused in the caller.
iolist_to_bin_badarg(Config) ->
    Drv = ?config(drv, Config),
    {'EXIT', {badarg, _}} = (catch alcove:iolist_to_bin(Drv, [], [atom])),
    {'EXIT', {badarg, _}} = (catch alcove:iolist_to_bin(Drv, [], [256])),
    {'EXIT', {badarg, _}} = (catch alcove:iolist_to_bin(Drv, [], 1)),
    %% and the port still answers
    <<"ok">> = alcove:iolist_to_bin(Drv, [], "ok").

%% The calls of FreeBSD and OpenBSD are in the API everywhere, and on
%% Linux each answers {error, enotsup}, in the port and in a child.
other_os_enotsup(Config) ->
    Drv = ?config(drv, Config),
    {ok, C} = alcove:fork(Drv, []),
    lists:foreach(
      fun(Chain) ->
              {error, enotsup} = alcove:jail(Drv, Chain, <<0:256>>),
              {error, enotsup} = alcove:jail_attach(Drv, Chain, 1),
              {error, enotsup} = alcove:jail_remove(Drv, Chain, 1),
              {error, enotsup} = alcove:pledge(Drv, Chain, <<"stdio">>, null),
              {error, enotsup} = alcove:pledge(Drv, Chain, [], []),
              {error, enotsup} = alcove:unveil(Drv, Chain, <<"/">>, <<"r">>),
              {error, enotsup} = alcove:unveil(Drv, Chain, null, null),
              {error, enotsup} = alcove:procctl(Drv, Chain, 0, 0, 0, <<>>),
              {error, enotsup} = alcove:cap_enter(Drv, Chain),
              {error, enotsup} = alcove:cap_getmode(Drv, Chain),
              {error, enotsup} = alcove:cap_rights_limit(Drv, Chain, 0, []),
              {error, enotsup} = alcove:cap_fcntls_limit(Drv, Chain, 0, 0),
              {error, enotsup} = alcove:cap_fcntls_get(Drv, Chain, 0),
              {error, enotsup} = alcove:cap_ioctls_limit(Drv, Chain, 0, []),
              {error, enotsup} = alcove:cap_constant(Drv, Chain, cap_read)
      end, [[], [C]]),
    %% the processes are still there and answer
    C = alcove:getpid(Drv, [C]).
