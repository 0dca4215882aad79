%% SPDX-License-Identifier: ISC
%% @doc Sandboxes described as maps: a process cloned into new
%% namespaces, its file system, host name, limits, control group,
%% identity and system call filter set up in one safe order, then the
%% program run (Linux).
%%
%% ```
%% {ok, Pid} = alcove_sandbox:run(Drv, [], #{
%%     namespaces => [pid, mount, net, uts, ipc],
%%     root => tmpfs,
%%     mounts => [{bind, "/bin/busybox", "/bin/busybox", [ro]},
%%                {proc, "/proc"}, {dev, "/dev"}, {tmpfs, "/tmp", [{size, 1 bsl 20}]},
%%                {remount, "/", [ro]}],
%%     hostname => "box",
%%     rlimits => #{rlimit_nproc => 16, rlimit_nofile => {64, 64}},
%%     cgroup => #{memory_max => 64 bsl 20, pids_max => 16, optional => true},
%%     seccomp => {deny, [ptrace, mount, unshare, setns]},
%%     uid => 65534, gid => 65534,
%%     argv => ["/bin/busybox", "sh", "-c", "echo $$"]})
%% '''
%%
%% == The spec ==
%% Every key is optional; check/1 rejects an unknown key with
%% `{error, {badkey, Key}}' and a bad value with
%% `{error, {badvalue, Key, Value}}' (`{badkey, {cgroup, K}}' and
%% `{badvalue, {cgroup, K}, V}' inside the cgroup map), before any
%% process exists.
%% <dl>
%% <dt>`namespaces'</dt><dd>Namespaces to clone the child into, from
%% `pid', `mount', `net', `uts', `ipc', `user', `cgroup'. Without any,
%% the child is forked.</dd>
%% <dt>`uid_map', `gid_map'</dt><dd>With `user': `[{Inside, Outside,
%% Count}]', written by the parent. Default `[{0, Id, 1}]' with Id the
%% parent's effective id: root inside, the caller outside. Unless
%% `groups' is given, "deny" is written to the child's setgroups file
%% first, which an unprivileged parent needs to write gid_map.</dd>
%% <dt>`root'</dt><dd>`tmpfs' (a new, empty file system) or a directory:
%% it becomes "/" by pivot_root(2) with `mount', else (a directory
%% only) by chroot(2). The new root is put together on /tmp in the
%% child's mount namespace (the host's /tmp is untouched), or, when a
%% bind source is under /tmp, on a tmpfs mounted there and pivoted into
%% first (as bubblewrap does). With a root, mount targets are paths
%% inside it, missing mount points are created (in a directory root
%% too), and bind sources are host paths (in the second case found under
%% the old root: an absolute symbolic link in them does not resolve).</dd>
%% <dt>`mounts'</dt><dd>Needs `mount'. Applied in order, after the
%% mounts of the child are made private (nothing propagates to the
%% host):
%% <ul>
%% <li>`{tmpfs, Target}', `{tmpfs, Target, Opts}': a tmpfs; Opts from
%% `ro', `nosuid', `nodev', `noexec', `{size, Bytes}', `{mode, Mode}'
%% (`{tmpfs, Target}' is `{tmpfs, Target, [nosuid, nodev]}').</li>
%% <li>`{bind, Source, Target}', `{bind, Source, Target, Opts}': a bind
%% mount; Opts from `ro', `nosuid', `nodev', `noexec' and `rec' (bind
%% the mounts below Source too; the flags then cover them all, but on a
%% kernel without mount_setattr(2), where they cover the top one).</li>
%% <li>`{proc, Target}': a proc file system of the child's PID
%% namespace.</li>
%% <li>`{dev, Target}': a tmpfs holding null, zero, full, random,
%% urandom and tty bound from the host's /dev, and the fd, stdin, stdout
%% and stderr links.</li>
%% <li>`{dir, Target}', `{dir, Target, Mode}': a directory (and its
%% parents).</li>
%% <li>`{remount, Target, Flags}': remount a mount with Flags from
%% `ro', `nosuid', `nodev', `noexec' (`{remount, "/", [ro]}' last makes
%% a tmpfs root read-only). The flags the mount has are kept.</li>
%% </ul></dd>
%% <dt>`hostname'</dt><dd>Needs `uts'.</dd>
%% <dt>`rlimits'</dt><dd>`#{rlimit_nproc => {Cur, Max}, ...}' or a list
%% of such pairs; a limit is an integer or `infinity', `N' is `{N, N}'.</dd>
%% <dt>`cgroup'</dt><dd>`#{memory_max => Bytes, memory_high => Bytes,
%% pids_max => N, cpu_max => {QuotaMicroseconds, PeriodMicroseconds},
%% cpus => "0-1", mems => "0", name => Name, version => v1 | v2,
%% optional => boolean()}' (memory_high: v2 only, `{error, {cgroup,
%% enotsup}}' in v1). The group (default name `alcove-sandbox-PID', for
%% start/3 `alcove-sandbox-VMPid-N'; a group that exists is used) is
%% made in the unified hierarchy (cgroup v2) when its root offers every
%% controller the limits need, else in the v1 hierarchies of those
%% controllers (and of the freezer and cpuacct, where mounted). When
%% the name is known before the child exists (given, or start/3's), the
%% parent makes the group and writes its limits first; in v2 the child
%% is then born in it (spawn_into/5 or clone3/4: CLONE_INTO_CGROUP), in
%% v1 its first calls move it in. Otherwise the parent writes the
%% limits and moves the child in before the child runs anything (in v1,
%% memory_max sets memory.memsw.limit_in_bytes too, where swap is
%% accounted). Without the controllers, or without the right to create
%% the group (no delegation), the run fails with `{error, {cgroup,
%% Reason}}' unless `optional' is true: then the sandbox runs without a
%% cgroup. A name inside a group delegated to the user works without
%% root. cleanup/4 removes the group.</dd>
%% <dt>`uid', `gid', `groups'</dt><dd>The identity to run as (inside
%% the user namespace if there is one). Without `groups', the
%% supplementary groups are cleared when uid or gid is given (outside a
%% user namespace).</dd>
%% <dt>`no_new_privs'</dt><dd>prctl(PR_SET_NO_NEW_PRIVS). Default: true
%% when there is a seccomp filter or a `landlock' key.</dd>
%% <dt>`landlock'</dt><dd>A Landlock ruleset the child restricts itself
%% by, once its file system and identity are final: `#{read => Paths,
%% write => Paths, execute => Paths, bind => Ports, connect => Ports,
%% best_effort => boolean()}'. Each of the first five keys given denies
%% its kind of access everywhere but beneath its paths (files or
%% directories, as the child sees them, opened with O_PATH) or on its
%% TCP ports; a kind not given is left free (`write => []' denies every
%% write). `read': reading files and listing directories; `write':
%% writing and truncating files, making and removing names, moving
%% them between directories, device ioctls; `execute': executing
%% files; `bind' and `connect': TCP bind(2) and connect(2). The
%% kernel's Landlock ABI is looked up first (landlock_plan/2 says what
%% each ABI gets): where it lacks a right the spec asks for (the
%% network before ABI 4, truncate before 3, device ioctls before 5, all
%% where Landlock is off), the step fails with `{error, {landlock,
%% enotsup}}' unless `best_effort' is true: then what the kernel lacks
%% is left out, down to nothing. landlock_restrict_self(2) needs
%% no_new_privs (the default with this key) or CAP_SYS_ADMIN:
%% `no_new_privs => false' as a process without it is `{error,
%% {landlock, eperm}}'. A path that cannot be opened is `{error,
%% {landlock, {Errno, Path}}}'.</dd>
%% <dt>`seccomp'</dt><dd>`{allow, Calls}' or `{deny, Calls}', with an
%% action for the other (allow) or listed (deny) calls: `{Kind, Calls,
%% Action}' (see alcove_seccomp; default `{errno, eperm}'). A call is a
%% name with or without `sys_' (`ptrace', `sys_ptrace'). An allow list
%% gets the calls the port makes until execve(2) added (port_calls/0:
%% read, write, epoll_wait, fcntl, execve...; open only when the action
%% is not an errno); a deny list holding one that the port needs is a
%% bad value. An errno name the child's system
%% does not know fails the step: `{error, {seccomp, {unknown_errno,
%% Name}}}'.</dd>
%% <dt>`pty'</dt><dd>`true' or `#{rows => Rows, cols => Cols}'
%% (default 24 by 80, each 0 to 65535; `false', the default, is no
%% terminal): the program runs on a new
%% pseudo-terminal, in a session of its own whose controlling terminal
%% it is, its stdin, stdout and stderr on it (alcove:pty/4, the child's
%% first call after its clone, before its mounts: the host's /dev/ptmx
%% is opened). What it prints comes as its stdout, stderr included,
%% stdin/3 types into it, and resize/3 (alcove:ptysize/5 for a sandbox
%% of run/3) changes its window size, which sends it SIGWINCH. The
%% session is the child's process group (start/3).</dd>
%% <dt>`seccomp_notify'</dt><dd>`#{calls => Calls, handler => Handler,
%% timeout => Ms, errno => Errno}': the calls listed (names, with or
%% without `sys_') are answered by Handler, a fun of a notification or
%% a pid (alcove_seccomp_notify: the notification, the decisions, what
%% happens when the handler dies or does not answer within `timeout',
%% default 5000 ms: the call fails with `errno', default eperm). Its
%% notifier is started before the filter is installed, just before the
%% `seccomp' filter, whose errors and kills come first (a call that both
%% list is that filter's). The calls the port makes until execve(2)
%% (port_calls/0) are notified too when listed. The child is forked
%% (its parent watches the listener), never made by spawn/4.</dd>
%% <dt>`deadline'</dt><dd>start/3 only: `#{wall => Ms, cpu => Ms,
%% grace => Ms}', a wall-clock and a CPU time limit, and how long after
%% SIGTERM SIGKILL follows (default 1000).</dd>
%% <dt>`argv', `env', `cwd'</dt><dd>The program (its path first, not
%% searched in PATH), its environment (`"K=V"' or `{K, V}'; default
%% empty) and working directory. Without `argv' the child is left in
%% the event loop, for more calls.</dd>
%% </dl>
%%
%% == The order ==
%% steps/0 lists the steps run/3 takes, in order, from clone to exec; a
%% step the spec does not ask for does nothing. The order is the one
%% safe order: the id maps are written before any call that needs an
%% id; mount points are made before the root moves; the parent moves
%% the child into its cgroup before the cgroup namespace is unshared,
%% so that the group is its root; privileges are dropped after every
%% privileged step; the Landlock ruleset follows, its paths opened in
%% the final root as the final user; the seccomp filter comes last of
%% the set up, as it may forbid what the earlier steps need. When the
%% kernel refuses a step the child is killed (its exit event still
%% reaches the owner of the port), a cgroup made is removed, and run/3
%% returns `{error, {Step, Reason}}': `{error, {uid_map, eperm}}',
%% `{error, {mounts, {eacces, Entry}}}', `{error, {cgroup, {einval,
%% File}}}'.
%%
%% == Round trips ==
%% From clone to exec, run/3 takes at most three round trips to the
%% port, whatever the spec holds: each step adds its calls to one
%% alcove:sequence/3 of a round trip (the table of steps says which).
%% With `argv', no `user' namespace and no `cgroup' (nothing the parent
%% must do with the child's PID before it runs), the child is made by
%% alcove:spawn/4, sharing the port's memory until it execs: a sequence
%% in the parent looks up what the child's calls need, then the child
%% makes all of them and execs. Otherwise the parent clones the child
%% and makes its lookups, then writes the id maps and makes the cgroup,
%% then the child makes the rest and execs. Where a step fails before
%% the child of spawn/4 exists, the sandbox is made again the other way,
%% so that a failed step always has a child to kill.
%%
%% == Rootless ==
%% A port run by an unprivileged user can build a sandbox with `user'
%% among the namespaces (rootless_clone/3): the child is root inside
%% its user namespace and the caller outside. It can then mount tmpfs,
%% proc (with `pid') and bind mounts, set the host name (with `uts'),
%% have PID 1 (with `pid'), chroot and pivot_root, set rlimits (up to
%% the caller's hard limits), set no_new_privs and a seccomp filter,
%% and switch to another id mapped by uid_map (mapping the caller's uid
%% to itself and running as it leaves the program without
%% capabilities, as the demo does). It cannot use cgroups unless a
%% group is delegated to the user (or `optional' skips them), map ids
%% other than its own (that needs newuidmap(1) or root), keep setgroups
%% (`groups'), get a real uid other than its own outside, nor mount
%% proc where the host's /proc is partly hidden (some containers).
%% Where user namespaces are disabled (a sysctl, a security module) the
%% clone step fails: `{error, {clone, eperm}}' or `{clone, enospc}'.
%%
%% The parent reads the child's /proc and the cgroup file systems: it
%% must see a /proc of its own PID namespace (the port itself does).
-module(alcove_sandbox).

-include("alcove.hrl").

-export([
    run/3,
    start/3,
    wait/2,
    stop/1,
    resize/3,
    pid/1,
    check/1,
    steps/0,
    port_calls/0,
    rootless_clone/3,
    cgroup_version/3,
    cgroup_dirs/4,
    cleanup/4,
    landlock_plan/2
]).

-export_type([spec/0, step/0, mount/0, port_call_path/0, sandbox/0, report/0,
              landlock/0, landlock_plan/0]).

-type namespace() :: pid | mount | net | uts | ipc | user | cgroup.
-type id() :: 0..16#fffffffe.
-type id_map() :: [{Inside :: id(), Outside :: id(), Count :: pos_integer()}].
-type flag() :: ro | nosuid | nodev | noexec.
-type mount() ::
    {tmpfs, Target :: iodata()}
    | {tmpfs, Target :: iodata(), [flag() | {size, pos_integer()} | {mode, 0..8#7777}]}
    | {bind, Source :: iodata(), Target :: iodata()}
    | {bind, Source :: iodata(), Target :: iodata(), [flag() | rec]}
    | {proc, Target :: iodata()}
    | {dev, Target :: iodata()}
    | {dir, Target :: iodata()}
    | {dir, Target :: iodata(), Mode :: 0..8#7777}
    | {remount, Target :: iodata(), [flag()]}.
-type limit() :: non_neg_integer() | infinity.
-type rlimit() :: limit() | {Cur :: limit(), Max :: limit()}.
-type cgroup() :: #{memory_max => pos_integer(), memory_high => pos_integer(),
                    pids_max => pos_integer(),
                    cpu_max => {pos_integer(), pos_integer()},
                    cpus => iodata(), mems => iodata(),
                    name => iodata(), version => v1 | v2,
                    optional => boolean()}.
-type seccomp() :: {allow | deny, [atom()]}
    | {allow | deny, [atom()], alcove_seccomp:action()}.
-type seccomp_notify() :: #{calls := [atom()],
                            handler := alcove_seccomp_notify:handler(),
                            timeout => timeout(), errno => atom() | 1..4095}.
-type spec() :: #{
    namespaces => [namespace()],
    uid_map => id_map(),
    gid_map => id_map(),
    root => tmpfs | iodata(),
    mounts => [mount()],
    hostname => iodata(),
    rlimits => #{atom() => rlimit()} | [{atom(), rlimit()}],
    cgroup => cgroup(),
    uid => id(),
    gid => id(),
    groups => [id()],
    no_new_privs => boolean(),
    seccomp => seccomp(),
    landlock => landlock(),
    seccomp_notify => seccomp_notify(),
    argv => [iodata()],
    env => [iodata() | {iodata(), iodata()}],
    cwd => iodata(),
    pty => boolean() | #{rows => 0..65535, cols => 0..65535},
    deadline => deadline()
}.
-type landlock() :: #{read => [iodata()], write => [iodata()],
                      execute => [iodata()], bind => [0..65535],
                      connect => [0..65535], best_effort => boolean()}.
-type landlock_plan() :: #{fs := [atom()], net := [atom()],
                           paths := [{binary(), [atom()]}],
                           ports := [{0..65535, [atom()]}]}.
-type deadline() :: #{wall => pos_integer(), cpu => pos_integer(),
                      grace => non_neg_integer()}.
-opaque sandbox() :: #{drv := alcove:drv(), chain := alcove:fork_chain(),
                       pid := alcove:pid_t(), watcher := pid(),
                       cgroup := none | {alcove_cgroup:backend(), binary()},
                       pidns := boolean(), deadline := deadline()}.
-type report() :: #{status := {exit_status, integer()} | {termsig, atom() | integer()},
                    ended_by := exit | wall | cpu | stopped | oom,
                    oom_killed := boolean() | unknown,
                    rusage => map(),
                    cgroup => alcove_cgroup:stats()}.
-type port_call_path() :: exec | fork | loop | exec_optional | probe | reexec
    | {instead_of, atom()} | signal | flush | memory | exit.
-type step() :: clone | pty | uid_map | deny_setgroups | gid_map | make_private
    | scratch_root | new_root | mounts | pivot_root | chroot | hostname
    | rlimits | cgroup | cgroup_ns | setgroups | setgid | setuid | chdir
    | no_new_privs | landlock | seccomp | exec.

-record(st, {
    drv :: alcove:drv(),
    chain :: alcove:fork_chain(),
    cfg :: map(),
    spec :: map(),
    pid :: undefined | alcove:pid_t(),
    child = [] :: alcove:fork_chain(),
    new = <<>> :: binary(),   % the new root while it is built
    old = <<>> :: binary(),   % the old root while the new one is built
    cgroup = none :: none | {alcove_cgroup:backend(), binary()},
    vals = #{} :: #{term() => term()}, % results kept, by the id of their call
    how = fork :: fork | spawn, % the child made by fork (or clone), or spawn/4
    born = false :: boolean(), % cloned into its cgroup (clone3), if v2
    pgrp = false :: boolean() % the child leads a process group (start/3)
}).

%% A call of a step, in the sequence of its round trip: its error is
%% {Step, Errno} or, with a tag, {Step, {Errno, Tag}} (a fun of Errno:
%% {Step, Tag(Errno)}); Accept as in alcove:sequence/3; an argument
%% {op, Id} is the result of the call Id of the same sequence, and the
%% result of a call with an id is kept. A failure that Recover takes
%% (an optional cgroup left out) lets the other steps go on.
-record(op, {
    step :: step() | undefined,
    call :: alcove_proto:call(),
    args :: [term()],
    accept = [] :: [atom()],
    tag = none :: term(),
    id = none :: term(),
    recover = none :: none | fun((term(), #st{}) -> {ok, #st{}} | error)
}).

%% A step that needs to see what the calls before it did: Fn runs
%% between two sequences and gives more calls.
-record(run, {
    step :: step() | undefined,
    tag = none :: term(),
    fn :: fun((#st{}) -> {[#op{} | #run{}], #st{}})
}).

-define(KEYS, [namespaces, uid_map, gid_map, root, mounts, hostname, rlimits,
               cgroup, uid, gid, groups, no_new_privs, seccomp, seccomp_notify, argv,
               env, cwd, pty, deadline, landlock]).
-define(NAMESPACES, [{pid, clone_newpid}, {mount, clone_newns},
                     {net, clone_newnet}, {uts, clone_newuts},
                     {ipc, clone_newipc}, {user, clone_newuser},
                     {cgroup, clone_newcgroup}]).
-define(RLIMITS, [rlimit_as, rlimit_core, rlimit_cpu, rlimit_data,
                  rlimit_fsize, rlimit_locks, rlimit_memlock, rlimit_msgqueue,
                  rlimit_nice, rlimit_nofile, rlimit_nproc, rlimit_rss,
                  rlimit_rtprio, rlimit_rttime, rlimit_sigpending,
                  rlimit_stack]).
-define(CGROUP_KEYS, [memory_max, memory_high, pids_max, cpu_max, cpus, mems, name,
                      version, optional]).
-define(FLAGS, [{ro, ms_rdonly}, {nosuid, ms_nosuid}, {nodev, ms_nodev},
                {noexec, ms_noexec}]).
%% The errors of an optional cgroup file (memory.memsw.limit_in_bytes
%% where swap is not accounted).
-define(OPTIONAL, [enoent, eacces, eperm, einval, erofs, ebusy, enospc, eopnotsupp]).
-define(PROBE_ERRORS, [eexist, enotdir, enoent, eacces, eloop, enametoolong, eperm, erofs]).
-define(ATTRS, [{ro, mount_attr_rdonly}, {nosuid, mount_attr_nosuid},
                {nodev, mount_attr_nodev}, {noexec, mount_attr_noexec}]).
-define(DEV_NODES, [<<"null">>, <<"zero">>, <<"full">>, <<"random">>,
                    <<"urandom">>, <<"tty">>]).
-define(DEV_LINKS, [{<<"/proc/self/fd">>, <<"fd">>},
                    {<<"/proc/self/fd/0">>, <<"stdin">>},
                    {<<"/proc/self/fd/1">>, <<"stdout">>},
                    {<<"/proc/self/fd/2">>, <<"stderr">>}]).
%% The kinds of access of the landlock key, with the rights of each and
%% the Landlock ABI each right came with.
-define(LANDLOCK_KEYS, [read, write, execute, bind, connect, best_effort]).
-define(LANDLOCK_RIGHTS,
        [{read, [{landlock_access_fs_read_file, 1}, {landlock_access_fs_read_dir, 1}]},
         {write, [{landlock_access_fs_write_file, 1}, {landlock_access_fs_remove_dir, 1},
                  {landlock_access_fs_remove_file, 1}, {landlock_access_fs_make_char, 1},
                  {landlock_access_fs_make_dir, 1}, {landlock_access_fs_make_reg, 1},
                  {landlock_access_fs_make_sock, 1}, {landlock_access_fs_make_fifo, 1},
                  {landlock_access_fs_make_block, 1}, {landlock_access_fs_make_sym, 1},
                  {landlock_access_fs_refer, 2}, {landlock_access_fs_truncate, 3},
                  {landlock_access_fs_ioctl_dev, 5}]},
         {execute, [{landlock_access_fs_execute, 1}]},
         {bind, [{landlock_access_net_bind_tcp, 4}]},
         {connect, [{landlock_access_net_connect_tcp, 4}]}]).
-define(LANDLOCK_FS, [read, write, execute]).
-define(LANDLOCK_NET, [bind, connect]).
%% The rights a rule on a file, not a directory, may hold.
-define(LANDLOCK_FILE, [landlock_access_fs_execute, landlock_access_fs_write_file,
                        landlock_access_fs_read_file, landlock_access_fs_truncate,
                        landlock_access_fs_ioctl_dev]).
-define(ID(N), (is_integer(N) andalso N >= 0 andalso N =< 16#fffffffe)).
-define(RLIM_INFINITY, 16#ffffffffffffffff).

%%% API

%% @doc Check a spec, then create the sandbox in a child of the process
%% at the end of Chain and return its PID (as the parent sees it): the
%% program of `argv' runs in it, or, without argv, the child waits in
%% the event loop at `Chain ++ [Pid]'.
-spec run(alcove:drv(), alcove:fork_chain(), spec()) ->
    {ok, alcove:pid_t()}
    | {error, {badkey, term()} | {badvalue, term(), term()} | {step(), term()}}.
run(Drv, Chain, Spec) ->
    case parse(Spec) of
        {ok, #{deadline := _}} ->
            {error, {badkey, deadline}};
        {ok, Cfg} ->
            case make(#st{drv = Drv, chain = Chain, cfg = Cfg, spec = Spec}) of
                {ok, #st{pid = Pid}} -> {ok, Pid};
                {error, _} = Error -> Error
            end;
        {error, _} = Error ->
            Error
    end.

%% The sandbox made by spawn/4 (spawn_into/5 for a named v2 group) where
%% it can be, else cloned into its cgroup where the group has a name,
%% else cloned then moved in.
make(#st{cfg = Cfg} = St) ->
    Tries = [St#st{how = spawn} || spawns(Cfg)]
        ++ [St#st{born = true} || born(Cfg)] ++ [St],
    first_made(Tries).

first_made([St | Rest]) ->
    case run_steps(St) of
        again when Rest =/= [] -> first_made(Rest);
        Result -> Result
    end.

%% A cgroup whose name is known before the child exists.
born(#{cgroup := #{name := _}}) -> os:type() =:= {unix, linux};
born(_) -> false.

%% @doc Create a sandbox as run/3 does, and watch it until it ends: a
%% process of the caller's keeps its deadline (the spec's `deadline'
%% key: `#{wall => Ms, cpu => Ms, grace => Ms}'), and once it ends,
%% however it ends, kills every process left in it and removes its
%% cgroup. The child leads a process group of its own, and, without a
%% `name' in its `cgroup', its group gets a name of its own
%% (`alcove-sandbox-VMPid-N'), so that it is cloned into it (see
%% run/3). When a limit is reached the whole sandbox gets SIGTERM, then
%% SIGKILL after `grace' (default 1000 ms). The wall-clock limit counts
%% from now; the CPU time limit counts the CPU time of the cgroup, or
%% without one that of the first process and of the descendants it
%% waited for, looked at every 100 ms.
%%
%% "The whole sandbox" is every process of its cgroup, else of its PID
%% namespace (`pid' in `namespaces': when its first process dies, the
%% kernel kills the rest), else of its process group, which a process can
%% leave: give a sandbox that must leave nothing behind a `pid'
%% namespace or a cgroup. If the caller exits, the sandbox is killed.
%% If the port stops, it kills its children (and so a PID namespace);
%% a v2 group left is then emptied and removed by the VM's own file
%% calls where it can reach it.
%%
%% The caller should be the owner of the driver: wait/2 takes the
%% sandbox's exit event from its mailbox.
%%
%% ```
%% {ok, Sandbox} = alcove_sandbox:start(Drv, [], #{
%%     namespaces => [pid, mount, net],
%%     cgroup => #{memory_max => 64 bsl 20, pids_max => 32},
%%     deadline => #{wall => 2000, grace => 500},
%%     argv => ["/bin/sh", "-c", "trap '' TERM; sleep 100"]}),
%% {ok, #{ended_by := wall, status := {termsig, sigkill},
%%        cgroup := #{cpu := #{usage_usec := _}}}} = alcove_sandbox:wait(Sandbox, 5000).
%% '''
-spec start(alcove:drv(), alcove:fork_chain(), spec()) ->
    {ok, sandbox()}
    | {error, {badkey, term()} | {badvalue, term(), term()} | {step(), term()}}.
start(Drv, Chain, Spec) ->
    case parse(Spec) of
        {ok, Cfg} ->
            St = #st{drv = Drv, chain = Chain, cfg = named(Cfg), spec = Spec, pgrp = true},
            case make(St) of
                {ok, #st{pid = Pid, cgroup = CG}} ->
                    Sandbox = #{drv => Drv, chain => Chain, pid => Pid, cgroup => CG,
                                pidns => lists:member(pid, maps:get(namespaces, Cfg)),
                                deadline => maps:get(deadline, Cfg, #{})},
                    {ok, Sandbox#{watcher => alcove_sandbox_watch:start(Sandbox, self())}};
                {error, _} = Error ->
                    Error
            end;
        {error, _} = Error ->
            Error
    end.

named(#{cgroup := #{name := _}} = Cfg) ->
    Cfg;
named(#{cgroup := CG} = Cfg) ->
    Name = io_lib:format("alcove-sandbox-~s-~B",
                         [os:getpid(), erlang:unique_integer([positive])]),
    Cfg#{cgroup := CG#{name => iolist_to_binary(Name)}};
named(Cfg) ->
    Cfg.

%% @doc Wait, in the owner of the driver, for the sandbox to end, and
%% report how: `status', its exit event; `ended_by', `exit' (the program
%% ended by itself), `oom' (the kernel's OOM killer ended it), `wall' or
%% `cpu' (a deadline), or `stopped' (stop/1); `oom_killed', true when
%% the OOM killer killed in its cgroup (`unknown' without a cgroup);
%% `cgroup', the group's figures read before its removal
%% (alcove_cgroup:group_stats/4: memory_peak, memory_events, cpu...);
%% `rusage', when the parent has the option exit_report set
%% (alcove:setopt/4), what wait4(2) said of the first process and the
%% descendants it waited for. By then nothing of the sandbox is left
%% and its cgroup is removed. `{error, timeout}' if it has not ended
%% within Timeout; the sandbox goes on.
-spec wait(sandbox(), timeout()) -> {ok, report()} | {error, timeout}.
wait(#{drv := Drv, chain := Chain, pid := Pid, watcher := W}, Timeout) ->
    Child = Chain ++ [Pid],
    receive
        {alcove_event, Drv, Child, {Why, _} = Status} when Why =:= exit_status;
                                                         Why =:= termsig ->
            W ! exited,
            Rusage = case alcove:getopt(Drv, Chain, exit_report) of
                         1 -> rusage(Drv, Child);
                         _ -> #{}
                     end,
            Ref = monitor(process, W),
            receive
                {alcove_sandbox, W, Part} ->
                    demonitor(Ref, [flush]),
                    {ok, maps:merge(Part, Rusage#{status => Status})};
                {'DOWN', Ref, process, W, _} ->
                    {ok, Rusage#{status => Status, ended_by => exit, oom_killed => unknown}}
            end
    after Timeout ->
        {error, timeout}
    end.

rusage(Drv, Child) ->
    receive
        {alcove_event, Drv, Child, {exit_report, Report}} ->
            #{rusage => maps:remove(status, Report)}
    after 5000 ->
        #{}
    end.

%% @doc End the sandbox now: every process in it is killed with
%% SIGKILL; wait/2 then reports `ended_by => stopped'.
-spec stop(sandbox()) -> ok.
stop(#{watcher := W}) ->
    W ! stop,
    ok.

%% @doc The PID of the sandbox's first process, as its parent sees it:
%% its output comes as `{alcove_stdout, Drv, Chain ++ [Pid], Data}', and
%% alcove:stdin/3 writes to it at `Chain ++ [Pid]'.
-spec pid(sandbox()) -> alcove:pid_t().
pid(#{pid := Pid}) ->
    Pid.

%% @doc Set the window size of the terminal of a sandbox made with
%% `pty' to Rows by Cols: its program gets SIGWINCH. `{error, enotty}'
%% for a sandbox without one, `{error, esrch}' once it ended.
%%
%% ```
%% {ok, Sb} = alcove_sandbox:start(Drv, [], #{pty => #{rows => 24, cols => 80},
%%     argv => ["/bin/sh", "-c", "trap 'stty size; exit' WINCH; echo ready; "
%%                               "while :; do sleep 0.1; done"]}),
%% receive {alcove_stdout, Drv, [_], <<"ready\r\n">>} -> ok end,
%% ok = alcove_sandbox:resize(Sb, 50, 132),
%% receive {alcove_stdout, Drv, [_], <<"50 132\r\n">>} -> ok end,
%% {ok, #{ended_by := exit, status := {exit_status, 0}}} = alcove_sandbox:wait(Sb, 5000).
%% '''
-spec resize(sandbox(), 0..65535, 0..65535) -> ok | {error, alcove:posix()}.
resize(#{drv := Drv, chain := Chain, pid := Pid}, Rows, Cols) ->
    alcove:ptysize(Drv, Chain, Pid, Rows, Cols).

%% @doc Check a spec without running anything.
-spec check(term()) -> ok | {error, {badkey, term()} | {badvalue, term(), term()}}.
check(Spec) ->
    case parse(Spec) of
        {ok, _} -> ok;
        {error, _} = Error -> Error
    end.

%% @doc The steps of run/3, in the order it takes them. Steps a spec
%% does not ask for do nothing.
-spec steps() -> [step()].
steps() ->
    [Step || {Step, _} <- table()].

%% @doc The system calls the port makes in a sandbox from the
%% installation of its seccomp filter to execve(2), each with the path
%% that makes it:
%% <dl>
%% <dt>`exec'</dt><dd>The exec, in the same request as the filter:
%% the program's signal dispositions, no signal blocked, execve(2).</dd>
%% <dt>`fork'</dt><dd>The exec of a sandbox whose child forked (see
%% run/3): answering the request, making stdio blocking.</dd>
%% <dt>`loop'</dt><dd>Waiting for and reading requests: a sandbox
%% without `argv' is left in the event loop under its filter (allowed
%% to it only then).</dd>
%% <dt>`exec_optional'</dt><dd>The parent death signal armed again, or
%% no longer reaping orphans (prctl): the port goes on when refused.</dd>
%% <dt>`probe'</dt><dd>Whether the program is alcove itself (opened,
%% its header read): when refused the port runs it as any other
%% program.</dd>
%% <dt>`reexec'</dt><dd>When the program is alcove itself: the handover
%% to the new image. Only that exec needs them.</dd>
%% <dt>`{instead_of, Call}'</dt><dd>The same as Call on architectures
%% without it (epoll_pwait for epoll_wait on arm64).</dd>
%% <dt>`signal'</dt><dd>A signal caught meanwhile (SIGCHLD...), or one
%% of the port's signals set to be ignored by the user (reset before
%% exec).</dd>
%% <dt>`flush'</dt><dd>Waiting for the driver to read what the port
%% writes, when upstream is full.</dd>
%% <dt>`memory'</dt><dd>Buffers grown or given back.</dd>
%% <dt>`exit'</dt><dd>The port stopping: upstream closed, or a broken
%% invariant reported with the port's PID.</dd>
%% </dl>
%% An allow list gets them added, but for an errno action the `probe'
%% calls (open would otherwise be allowed to the program too): refused
%% with an errno, the port goes on. A deny list holding a call the port
%% needs, one of any path but `exec_optional', `probe' and `reexec', is
%% a bad value.
%%
%% The calls of `exec', `exec_optional', `probe' and `reexec' are those
%% a trace of the port shows, no more: alcove_sandbox_SUITE traces a
%% sandbox from its filter to its exec, running a program and alcove
%% itself. The other paths are those a trace of a quiet run does not
%% take.
-spec port_calls() -> [{atom(), port_call_path()}].
port_calls() ->
    [{read, loop}, {write, fork}, {epoll_wait, loop}, {close, exec}, {fcntl, fork},
     {rt_sigprocmask, exec}, {execve, exec},
     {prctl, exec_optional},
     {openat, probe}, {pread64, probe},
     {memfd_create, reexec}, {pwrite64, reexec}, {dup2, reexec},
     {epoll_pwait, {instead_of, epoll_wait}}, {dup3, {instead_of, dup2}},
     {rt_sigreturn, signal}, {restart_syscall, signal}, {rt_sigaction, signal},
     {poll, flush}, {epoll_ctl, flush},
     {brk, memory}, {mmap, memory}, {munmap, memory}, {mremap, memory},
     {getpid, exit}, {exit_group, exit}].

%% The calls of the paths Paths, and those standing in for them.
port_calls(Paths) ->
    Calls = [C || {C, P} <- port_calls(), lists:member(P, Paths)],
    Calls ++ [C || {C, {instead_of, I}} <- port_calls(), lists:member(I, Calls)].

%% The calls a deny list may not hold: without them the port cannot
%% reach exec.
needed() ->
    [C || {C, _} <- port_calls()] -- port_calls([exec_optional, probe, reexec]).

%% @doc Clone a child into a new user namespace and Namespaces (such as
%% `[pid, mount, uts, net]'), root inside and the caller's uid and gid
%% outside; the child waits in the event loop for calls. Works in a port
%% run by any user, where user namespaces are allowed.
-spec rootless_clone(alcove:drv(), alcove:fork_chain(), [namespace()]) ->
    {ok, alcove:pid_t()}
    | {error, {badvalue, namespaces, term()} | {step(), term()}}.
rootless_clone(Drv, Chain, Namespaces) when is_list(Namespaces) ->
    run(Drv, Chain, #{namespaces => [user | lists:delete(user, Namespaces)]});
rootless_clone(_, _, Namespaces) ->
    {error, {badvalue, namespaces, Namespaces}}.

%% @doc The cgroup version a cgroup spec gets on this machine, seen from
%% the process at the end of Chain: `v2' when the root of the unified
%% hierarchy offers every controller its limits need, else `v1' when
%% each has a v1 hierarchy, else `{error, {unsupported, Controllers}}'.
-spec cgroup_version(alcove:drv(), alcove:fork_chain(), cgroup()) ->
    {ok, v1 | v2} | {error, {unsupported, [binary()]}}.
cgroup_version(Drv, Chain, CG) ->
    case backend(Drv, Chain, CG) of
        {ok, Backend} -> {ok, element(1, Backend)};
        {error, _} = Error -> Error
    end.

%% @doc The directories of the cgroup of the sandbox Pid made from Spec:
%% one in the unified hierarchy, or one per v1 hierarchy used.
-spec cgroup_dirs(alcove:drv(), alcove:fork_chain(), spec(), alcove:pid_t()) ->
    {ok, v1 | v2, [binary()]} | {error, term()}.
cgroup_dirs(Drv, Chain, Spec, Pid) ->
    case group(Drv, Chain, Spec, Pid) of
        {ok, Backend, Name} ->
            {ok, element(1, Backend), alcove_cgroup:group_dirs(Backend, Name)};
        {error, _} = Error ->
            Error
    end.

%% @doc Remove the cgroup of the sandbox Pid made from Spec, once its
%% processes have exited (after its exit event). A group that is not
%% there is ignored.
-spec cleanup(alcove:drv(), alcove:fork_chain(), spec(), alcove:pid_t()) ->
    ok | {error, {cgroup, term()}}.
cleanup(Drv, Chain, Spec, Pid) ->
    case group(Drv, Chain, Spec, Pid) of
        {ok, Backend, Name} ->
            case alcove_cgroup:group_remove(Drv, Chain, Backend, Name) of
                ok -> ok;
                {error, Reason} -> {error, {cgroup, Reason}}
            end;
        {error, _} ->
            ok
    end.

%% @doc What the `landlock' key of a spec asks of a kernel whose
%% Landlock ABI is ABI (0: none): the rights the ruleset handles
%% (`fs', `net'), and the rights allowed beneath each path and on each
%% port. A right the ABI lacks is left out with `best_effort', else the
%% answer is `{error, enotsup}'. The rights by ABI: 1, all but those
%% below; 2, landlock_access_fs_refer; 3, landlock_access_fs_truncate;
%% 4, landlock_access_net_bind_tcp and landlock_access_net_connect_tcp;
%% 5, landlock_access_fs_ioctl_dev. A path's rule is made of the rights
%% of files alone where it is not a directory.
-spec landlock_plan(landlock(), non_neg_integer()) ->
    {ok, landlock_plan()}
    | {error, enotsup | {badkey, term()} | {badvalue, term(), term()}}.
landlock_plan(Landlock, ABI) when is_integer(ABI), ABI >= 0 ->
    try landlock_spec(Landlock) of
        LL -> landlock_abi(LL, ABI)
    catch
        throw:{?MODULE, Error} -> {error, Error}
    end.

landlock_abi(LL, ABI) ->
    Given = [K || {K, _} <- ?LANDLOCK_RIGHTS, maps:is_key(K, LL)],
    Lacking = [R || K <- Given, {R, V} <- landlock_rights(K), V > ABI],
    case Lacking =/= [] andalso not maps:get(best_effort, LL, false) of
        true ->
            {error, enotsup};
        false ->
            Have = fun(K) -> [R || {R, V} <- landlock_rights(K), V =< ABI] end,
            Handled = fun(Kinds) -> [R || K <- Kinds, maps:is_key(K, LL), R <- Have(K)] end,
            Rules = fun(Kinds) ->
                            Objects = lists:usort([O || K <- Kinds, O <- maps:get(K, LL, [])]),
                            [{O, Rights}
                             || O <- Objects,
                                Rights <- [[R || K <- Kinds,
                                                 lists:member(O, maps:get(K, LL, [])),
                                                 R <- Have(K)]],
                                Rights =/= []]
                    end,
            {ok, #{fs => Handled(?LANDLOCK_FS), net => Handled(?LANDLOCK_NET),
                   paths => Rules(?LANDLOCK_FS), ports => Rules(?LANDLOCK_NET)}}
    end.

landlock_rights(Kind) ->
    {Kind, Rights} = lists:keyfind(Kind, 1, ?LANDLOCK_RIGHTS),
    Rights.

%% The cgroup backend and name of the sandbox Pid made from Spec.
group(Drv, Chain, Spec, Pid) ->
    case parse(Spec) of
        {ok, #{cgroup := CG}} ->
            case backend(Drv, Chain, CG) of
                {ok, Backend} -> {ok, Backend, cgroup_name(CG, Pid)};
                {error, _} = Error -> Error
            end;
        {ok, _} ->
            {error, nocgroup};
        {error, _} = Error ->
            Error
    end.

%%% Checking the spec

parse(Spec) when is_map(Spec) ->
    case lists:sort([K || K <- maps:keys(Spec), not lists:member(K, ?KEYS)]) of
        [K | _] ->
            {error, {badkey, K}};
        [] ->
            try
                Cfg = maps:map(fun value/2, Spec),
                ok = depends(Cfg, Spec),
                {ok, defaults(Cfg)}
            catch
                throw:{?MODULE, Error} -> {error, Error}
            end
    end;
parse(Spec) ->
    {error, {badvalue, spec, Spec}}.

-spec bad(term(), term()) -> no_return().
bad(K, V) -> throw({?MODULE, {badvalue, K, V}}).

%% Each value, normalized, or an error naming it.
value(namespaces, V) ->
    is_list(V) andalso length(lists:usort(V)) =:= length(V)
        andalso lists:all(fun(N) -> lists:keymember(N, 1, ?NAMESPACES) end, V)
        orelse bad(namespaces, V),
    V;
value(K, V) when K =:= uid_map; K =:= gid_map ->
    is_list(V) andalso V =/= [] andalso length(V) =< 340
        andalso lists:all(fun id_range/1, V)
        orelse bad(K, V),
    V;
value(root, tmpfs) ->
    tmpfs;
value(root, V) ->
    path(root, V);
value(mounts, V) when is_list(V) ->
    [mount_entry(M) || M <- V];
value(hostname, V) ->
    B = bin(hostname, V),
    byte_size(B) >= 1 andalso byte_size(B) =< 64 orelse bad(hostname, V),
    B;
value(rlimits, V) when is_map(V) ->
    value(rlimits, lists:sort(maps:to_list(V)));
value(rlimits, V) when is_list(V) ->
    [rlimit(R) || R <- V];
value(cgroup, V) when is_map(V) ->
    maps:map(fun cgroup_value/2, V);
value(K, V) when K =:= uid; K =:= gid ->
    ?ID(V) orelse bad(K, V),
    V;
value(groups, V) ->
    is_list(V) andalso length(V) =< 65536 andalso lists:all(fun(G) -> ?ID(G) end, V)
        orelse bad(groups, V),
    V;
value(no_new_privs, V) when is_boolean(V) ->
    V;
value(landlock, V) ->
    landlock_spec(V);
value(seccomp, {Kind, Calls}) ->
    seccomp(Kind, Calls, {errno, eperm}, {Kind, Calls});
value(seccomp, {Kind, Calls, Action} = V) ->
    seccomp(Kind, Calls, Action, V);
value(seccomp_notify, #{calls := [_ | _] = Calls, handler := H} = V) ->
    lists:all(fun is_atom/1, Calls)
        andalso (is_function(H, 1) orelse is_pid(H))
        andalso lists:all(fun(K) -> lists:member(K, [calls, handler, timeout, errno]) end,
                          maps:keys(V))
        andalso case maps:get(timeout, V, 0) of
                    infinity -> true;
                    T -> is_integer(T) andalso T >= 0
                end
        andalso case maps:get(errno, V, eperm) of
                    E when is_atom(E) -> true;
                    E -> is_integer(E) andalso E >= 1 andalso E =< 4095
                end
        orelse bad(seccomp_notify, V),
    V#{calls := lists:usort([syscall(C) || C <- Calls])};
value(argv, [_ | _] = V) ->
    [str(argv, V, A) || A <- V];
value(env, V) when is_list(V) ->
    [env(E, V) || E <- V];
value(cwd, V) ->
    path(cwd, V);
value(pty, true) ->
    {24, 80};
value(pty, false) ->
    false;
value(pty, V) when is_map(V) ->
    maps:fold(fun(K, N, _) when K =:= rows; K =:= cols ->
                      is_integer(N) andalso N >= 0 andalso N =< 16#ffff;
                 (_, _, _) -> false
              end, true, V) orelse bad(pty, V),
    {maps:get(rows, V, 24), maps:get(cols, V, 80)};
value(deadline, V) when is_map(V) ->
    maps:fold(fun(K, N, _) when K =:= wall; K =:= cpu -> is_integer(N) andalso N > 0;
                 (grace, N, _) -> is_integer(N) andalso N >= 0;
                 (_, _, _) -> false
              end, true, V) andalso map_size(V) > 0 orelse bad(deadline, V),
    V;
value(K, V) ->
    bad(K, V).

seccomp(Kind, Calls, Action, V) ->
    (Kind =:= allow orelse Kind =:= deny) andalso is_list(Calls)
        andalso lists:all(fun is_atom/1, Calls) andalso action(Action)
        orelse bad(seccomp, V),
    %% each once: the filter stays within BPF_MAXINSNS
    Nrs = lists:usort([syscall(C) || C <- Calls]),
    %% the port needs these until execve(2)
    Kind =:= deny andalso [] =/= Nrs -- (Nrs -- [syscall(P) || P <- needed()])
        andalso bad(seccomp, V),
    {Kind, Nrs, Action}.

id_range({I, O, C}) -> ?ID(I) andalso ?ID(O) andalso is_integer(C) andalso C >= 1
                           andalso I + C =< 16#ffffffff andalso O + C =< 16#ffffffff;
id_range(_) -> false.

mount_entry({tmpfs, T} = M) ->
    {tmpfs, target(T, M), [nosuid, nodev]};
mount_entry({tmpfs, T, Opts} = M) when is_list(Opts) ->
    lists:all(fun({size, N}) -> is_integer(N) andalso N > 0;
                 ({mode, N}) -> mode(N);
                 (F) -> lists:keymember(F, 1, ?FLAGS)
              end, Opts) orelse bad(mounts, M),
    {tmpfs, target(T, M), Opts};
mount_entry({bind, S, T}) ->
    mount_entry({bind, S, T, []});
mount_entry({bind, S, T, Opts} = M) when is_list(Opts) ->
    lists:all(fun(F) -> F =:= rec orelse lists:keymember(F, 1, ?FLAGS) end, Opts)
        orelse bad(mounts, M),
    {bind, target(S, M), target(T, M), Opts};
mount_entry({proc, T} = M) ->
    {proc, target(T, M)};
mount_entry({dev, T} = M) ->
    {dev, target(T, M)};
mount_entry({dir, T}) ->
    mount_entry({dir, T, 8#755});
mount_entry({dir, T, Mode} = M) ->
    mode(Mode) orelse bad(mounts, M),
    {dir, target(T, M), Mode};
mount_entry({remount, T, Flags} = M) when is_list(Flags) ->
    lists:all(fun(F) -> lists:keymember(F, 1, ?FLAGS) end, Flags) orelse bad(mounts, M),
    {remount, target(T, M), Flags};
mount_entry(M) ->
    bad(mounts, M).

mode(N) -> is_integer(N) andalso N >= 0 andalso N =< 8#7777.

%% The landlock map: paths absolute, ports of TCP, at least one kind of
%% access restricted.
landlock_spec(V) when is_map(V) ->
    [throw({?MODULE, {badkey, {landlock, K}}})
     || K <- lists:sort(maps:keys(V)), not lists:member(K, ?LANDLOCK_KEYS)],
    LL = maps:map(fun landlock_entry/2, V),
    lists:any(fun({K, _}) -> maps:is_key(K, LL) end, ?LANDLOCK_RIGHTS) orelse bad(landlock, V),
    LL;
landlock_spec(V) ->
    bad(landlock, V).

landlock_entry(best_effort, V) when is_boolean(V) ->
    V;
landlock_entry(K, V) when K =:= bind; K =:= connect ->
    is_list(V) andalso lists:all(fun(P) -> is_integer(P) andalso P >= 0 andalso P =< 65535 end, V)
        orelse bad({landlock, K}, V),
    lists:usort(V);
landlock_entry(K, V) when (K =:= read orelse K =:= write orelse K =:= execute), is_list(V) ->
    try
        lists:usort([path(K, P) || P <- V])
    catch
        throw:{?MODULE, _} -> bad({landlock, K}, V)
    end;
landlock_entry(K, V) ->
    bad({landlock, K}, V).

%% A mount path: absolute, without "." or "..", normalized.
target(P, M) ->
    try iolist_to_binary(P) of
        <<"/", _/binary>> = B ->
            Parts = binary:split(B, <<"/">>, [global, trim_all]),
            nomatch =:= binary:match(B, <<0>>)
                andalso not lists:any(fun(X) -> X =:= <<".">> orelse X =:= <<"..">> end, Parts)
                orelse bad(mounts, M),
            iolist_to_binary([[<<"/">>, X] || X <- Parts] ++ [<<"/">> || Parts =:= []]);
        _ ->
            bad(mounts, M)
    catch
        error:badarg -> bad(mounts, M)
    end.

path(K, V) ->
    case bin(K, V) of
        <<"/", _/binary>> = B -> B;
        _ -> bad(K, V)
    end.

bin(K, V) ->
    try iolist_to_binary(V) of
        B -> binary:match(B, <<0>>) =:= nomatch orelse bad(K, V), B
    catch
        error:badarg -> bad(K, V)
    end.

str(K, All, V) ->
    try iolist_to_binary(V) of
        B -> binary:match(B, <<0>>) =:= nomatch orelse bad(K, All), B
    catch
        error:badarg -> bad(K, All)
    end.

rlimit({R, L} = V) ->
    {Cur, Max} = case L of
                     {C, M} -> {C, M};
                     N -> {N, N}
                 end,
    lists:member(R, ?RLIMITS) andalso limit(Cur) andalso limit(Max)
        andalso lim(Cur) =< lim(Max) orelse bad(rlimits, V),
    {R, #alcove_rlimit{cur = lim(Cur), max = lim(Max)}};
rlimit(V) ->
    bad(rlimits, V).

limit(infinity) -> true;
limit(N) -> is_integer(N) andalso N >= 0 andalso N =< ?RLIM_INFINITY.

lim(infinity) -> ?RLIM_INFINITY;
lim(N) -> N.

cgroup_value(K, V) ->
    lists:member(K, ?CGROUP_KEYS) orelse throw({?MODULE, {badkey, {cgroup, K}}}),
    Ok = case {K, V} of
             {memory_max, N} -> is_integer(N) andalso N > 0;
             {memory_high, N} -> is_integer(N) andalso N > 0;
             {cpus, _} -> cgroup_list_ok(V);
             {mems, _} -> cgroup_list_ok(V);
             {pids_max, N} -> is_integer(N) andalso N > 0;
             {cpu_max, {Q, P}} -> is_integer(Q) andalso Q > 0 andalso is_integer(P) andalso P > 0;
             {version, _} -> V =:= v1 orelse V =:= v2;
             {optional, _} -> is_boolean(V);
             {name, _} -> cgroup_name_ok(V);
             _ -> false
         end,
    Ok orelse throw({?MODULE, {badvalue, {cgroup, K}, V}}),
    case K of
        name -> iolist_to_binary(V);
        _ -> V
    end.

%% A list of CPUs or memory nodes: "0-3,6".
cgroup_list_ok(V) ->
    try iolist_to_binary(V) of
        B -> B =/= <<>> andalso re:run(B, "^[0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*$") =/= nomatch
    catch
        error:badarg -> false
    end.

cgroup_name_ok(V) ->
    try iolist_to_binary(V) of
        B ->
            Parts = binary:split(B, <<"/">>, [global]),
            Parts =/= [] andalso binary:match(B, <<0>>) =:= nomatch
                andalso lists:all(fun(P) -> P =/= <<>> andalso P =/= <<".">>
                                                andalso P =/= <<"..">> end, Parts)
    catch
        error:badarg -> false
    end.

action(A) when A =:= kill; A =:= kill_process; A =:= trap; A =:= log; A =:= allow -> true;
action({errno, E}) -> is_atom(E) orelse (is_integer(E) andalso E >= 0 andalso E =< 16#ffff);
action({T, N}) when T =:= trap; T =:= trace -> is_integer(N) andalso N >= 0 andalso N =< 16#ffff;
action(N) -> is_integer(N) andalso N >= 0 andalso N =< 16#ffffffff.

syscall(Call) ->
    case atom_to_list(Call) of
        "sys_" ++ _ -> Call;
        Name -> list_to_atom("sys_" ++ Name)
    end.

env({K, V}, All) ->
    Key = str(env, All, K),
    Key =/= <<>> andalso binary:match(Key, <<"=">>) =:= nomatch orelse bad(env, All),
    <<Key/binary, "=", (str(env, All, V))/binary>>;
env(E, All) ->
    str(env, All, E).

%% Keys that need another: a mount namespace for mounts, and so on.
depends(Cfg, Spec) ->
    Ns = maps:get(namespaces, Cfg, []),
    Need = [{uid_map, user}, {gid_map, user}, {mounts, mount}, {hostname, uts}],
    [bad(K, maps:get(K, Spec)) || {K, N} <- Need, maps:get(K, Cfg, []) =/= [],
                                  not lists:member(N, Ns)],
    case Cfg of
        #{root := tmpfs} -> lists:member(mount, Ns) orelse bad(root, tmpfs);
        _ -> true
    end,
    ok.

defaults(Cfg) ->
    maps:merge(#{namespaces => [], mounts => [],
                 no_new_privs => maps:is_key(seccomp, Cfg)
                     orelse maps:is_key(seccomp_notify, Cfg)
                     orelse maps:is_key(landlock, Cfg)}, Cfg).

%%% The steps

%% The steps of run/3, in order, each with its function: steps/0, the
%% dispatch and alcove_sandbox_SUITE read this table. Why each comes
%% where it does is said at its function.
%%
%% run/3 takes three round trips, whatever the spec holds: each is one
%% alcove:sequence/3 of the calls that every step adds to it, in the
%% order of the steps (phases/0). A step's function gives, for a phase,
%% its calls and the state for the steps after it.
table() ->
    [{clone, fun clone/2}, {pty, fun pty/2}, {uid_map, fun uid_map/2},
     {deny_setgroups, fun deny_setgroups/2}, {gid_map, fun gid_map/2},
     {make_private, fun make_private/2}, {scratch_root, fun scratch_root/2},
     {new_root, fun new_root/2}, {mounts, fun mounts/2},
     {pivot_root, fun pivot_root/2}, {chroot, fun chroot/2},
     {hostname, fun hostname/2}, {rlimits, fun rlimits/2},
     {cgroup, fun cgroup/2}, {cgroup_ns, fun cgroup_ns/2},
     {setgroups, fun setgroups/2}, {setgid, fun setgid/2},
     {setuid, fun setuid/2}, {chdir, fun chdir/2},
     {no_new_privs, fun no_new_privs/2}, {landlock, fun landlock/2},
     {seccomp, fun seccomp/2},
     {exec, fun exec/2}].

%% The round trips: `fork' in the parent, the clone first, then what
%% needs no PID (looking up ids, bind sources, constants); `parent' in
%% the parent, what needs the child's PID (its id maps, its cgroup);
%% `child' in the child, from its mounts to its exec.
phases() ->
    [fork, parent, child].

run_steps(St) ->
    try lists:foldl(fun phase/2, St, phases()) of
        #st{} = Made -> {ok, Made}
    catch
        throw:{?MODULE, again} ->
            again;
        throw:{?MODULE, failed, Step, Reason, #st{} = At} ->
            abort(At),
            {error, {Step, Reason}};
        Class:Reason:Stack ->
            abort(St),
            erlang:raise(Class, Reason, Stack)
    end.

phase(Phase, St) ->
    {Ops, St1} = lists:foldl(fun({Step, Fun}, {Acc, S}) -> step(Phase, Step, Fun, Acc, S) end,
                             {[], St}, table()),
    run_ops(Phase, lists:flatten(Ops), St1).

%% The calls of a step for a phase, after those of the steps before.
step(Phase, Step, Fun, Acc, St) ->
    try Fun(Phase, St) of
        {Ops, St1} -> {[Acc, [stamp(O, Step, none) || O <- lists:flatten(Ops)]], St1}
    catch
        throw:{?MODULE, Reason} -> failed(Step, Reason, St)
    end.

%% A step failed: the sandbox is killed, as its child is. Made by
%% spawn/4, a failure before there is a child is made again by fork,
%% whose child is there to be killed.
-spec failed(step(), term(), #st{}) -> no_return().
failed(_, _, #st{pid = undefined} = St) when St#st.how =:= spawn; St#st.born ->
    abort(St),
    throw({?MODULE, again});
failed(Step, Reason, St) ->
    throw({?MODULE, failed, Step, Reason, St}).

%% The calls of a phase in one sequence, up to a step that needs to see
%% what they did (a {run, Fun}: a cgroup, or a kernel without
%% mount_setattr(2)).
run_ops(_, [], St) ->
    St;
run_ops(Phase, [#run{step = Step, tag = Tag, fn = Fun} | Rest], St) ->
    try Fun(St) of
        {More, St1} -> run_ops(Phase, [stamp(O, Step, Tag) || O <- More] ++ Rest, St1)
    catch
        throw:{?MODULE, Reason} -> failed(Step, Reason, St)
    end;
run_ops(child, Ops, #st{how = spawn} = St) ->
    lists:all(fun(O) -> is_record(O, op) end, Ops) orelse throw({?MODULE, again}),
    spawn_ops(Ops, St);
run_ops(Phase, Ops, #st{drv = Drv} = St) ->
    {Seq, Rest} = lists:splitwith(fun(O) -> is_record(O, op) end, Ops),
    Calls = calls(Seq),
    case alcove:sequence(Drv, chain(Phase, St), Calls) of
        {ok, Results} ->
            St1 = learn(Seq, Results, St),
            [written(O, R, St1) || {O, R} <- lists:zip(Seq, Results)],
            run_ops(Phase, Rest, St1);
        {error, {I, _, Reason}, Done} ->
            St1 = learn(Seq, Done, St),
            Phase =/= child andalso close_opened(Seq, Done, St1),
            #op{step = Step, tag = Tag, recover = Recover} = lists:nth(I, Seq),
            Reason1 = tag(Reason, Tag),
            case Recover =/= none andalso Recover(Reason1, St1) of
                {ok, St2} ->
                    Others = [O || #op{step = S} = O <- lists:nthtail(I, Seq), S =/= Step],
                    run_ops(Phase, Others ++ Rest, St2);
                _ ->
                    failed(Step, Reason1, St1)
            end
    end.

enum(L) -> lists:zip(lists:seq(1, length(L)), L).

%% The child's calls made by the child of spawn/4 (of spawn_into/5, born
%% in its v2 group), which execs at their end: nothing of the port is
%% copied for it. A step it fails kills it; an exec of alcove itself
%% (enotsup: its handover needs a fork), or a spawn the system refuses,
%% is made again another way (see make/1).
spawn_ops(Ops, #st{drv = Drv, chain = Chain, cgroup = CG} = St) ->
    Spawned = case CG of
                  {{v2, _} = Backend, Name} ->
                      [Dir] = alcove_cgroup:group_dirs(Backend, Name),
                      alcove:spawn_into(Drv, Chain, clone_flags(St), Dir, calls(Ops));
                  _ ->
                      alcove:spawn(Drv, Chain, clone_flags(St), calls(Ops))
              end,
    case Spawned of
        {ok, Pid} ->
            St#st{pid = Pid, child = Chain ++ [Pid]};
        {error, {_, execve, enotsup}, _} ->
            throw({?MODULE, again});
        {error, _} ->
            %% no child (refused by the kernel, a filter, valgrind)
            abort(St),
            throw({?MODULE, again});
        {error, {I, _, Reason}, _} ->
            #op{step = Step, tag = Tag} = lists:nth(I, Ops),
            throw({?MODULE, failed, Step, tag(Reason, Tag), St})
    end.

%% Made by spawn/4: a program to run, on Linux, and nothing the parent
%% does with the child's PID before it runs (id maps, a cgroup named
%% after it, an optional cgroup it may go without); alcove itself is
%% run by fork and exec (its handover).
spawns(#{argv := [Arg0 | _]} = Cfg) ->
    os:type() =:= {unix, linux}
        andalso case Cfg of
                    #{cgroup := #{optional := true}} -> false;
                    #{cgroup := #{name := _}} -> true;
                    #{cgroup := _} -> false;
                    _ -> true
                end
        andalso not lists:member(user, maps:get(namespaces, Cfg))
        %% the listener goes to the parent's loop over the control socket
        andalso not maps:is_key(seccomp_notify, Cfg)
        andalso filename:absname(Arg0) =/= alcove_drv:progname();
spawns(_) ->
    false.

clone_flags(#st{cfg = #{namespaces := Ns}}) ->
    [F || {N, F} <- ?NAMESPACES, N =/= cgroup, lists:member(N, Ns)].

%% The step a call is made for, and what its error is given with (a
%% tag already set is kept).
stamp(#op{step = undefined} = O, Step, Tag) -> stamp(O#op{step = Step}, Step, Tag);
stamp(#op{tag = none} = O, _, Tag) -> O#op{tag = Tag};
stamp(#op{} = O, _, _) -> O;
stamp(#run{tag = none} = R, Step, Tag) -> R#run{step = Step, tag = Tag};
stamp(#run{} = R, Step, _) -> R#run{step = Step}.

chain(child, #st{child = C}) -> C;
chain(_, #st{chain = C}) -> C.

%% The calls of a sequence, for alcove:sequence/3 or alcove:spawn/4.
calls(Ops) ->
    Pos = maps:from_list([{Id, I} || {I, #op{id = Id}} <- enum(Ops), Id =/= none]),
    [{C, [arg(A, Pos) || A <- Args], Accept}
     || #op{call = C, args = Args, accept = Accept} <- Ops].

%% {op, Id}: the result of the call Id of the same sequence.
arg({op, Id}, Pos) -> {result, maps:get(Id, Pos)};
arg(A, _) -> A.

%% The results of the calls with an id are kept; the clone's is the
%% child.
learn(Seq, Results, #st{chain = Chain, vals = Vals} = St) ->
    Ran = lists:zip(lists:sublist(Seq, length(Results)), Results),
    Got = maps:from_list([{Id, R} || {#op{id = Id}, R} <- Ran, Id =/= none]),
    St1 = St#st{vals = maps:merge(Vals, Got)},
    case Got of
        #{pid := {ok, Pid}} -> St1#st{pid = Pid, child = Chain ++ [Pid]};
        _ -> St1
    end.

%% A write of a file the kernel takes whole, or not at all.
written(#op{call = write, args = [_, Data], step = Step, tag = Tag}, {ok, N}, St) ->
    N =:= iolist_size(Data) orelse failed(Step, tag(eio, Tag), St);
written(_, _, _) ->
    ok.

%% A failed sequence in the parent leaves no descriptor open.
close_opened(Seq, Done, #st{drv = Drv, chain = Chain}) ->
    Ran = lists:zip(lists:sublist(Seq, length(Done)), Done),
    Closed = [Id || {#op{call = close, args = [{op, Id}]}, _} <- Ran],
    _ = [alcove:close(Drv, Chain, FD) || {#op{call = open, id = Id}, {ok, FD}} <- Ran,
                                         not lists:member(Id, Closed)],
    ok.

tag(Reason, none) -> Reason;
tag(Reason, Tag) when is_function(Tag, 1) -> Tag(Reason);
tag(Reason, Tag) -> {Reason, Tag}.

%% clone(2) the child into its namespaces (but cgroup: see cgroup_ns);
%% fork(2) it when there are none. It comes first in its round trip, so
%% that a step failing after it has a child to kill, as any failed step.
clone(fork, #st{how = fork, born = true, drv = Drv, chain = Chain,
                cfg = #{cgroup := #{name := Name} = CG}, vals = Vals} = St) ->
    case backend(Drv, Chain, CG) of
        {ok, {v2, _} = Backend} ->
            %% made and filled first, then the child cloned into it:
            %% nothing it does is ever outside its limits
            Plan = [P || P <- alcove_cgroup:group_plan(Backend, Name, limits(CG), 0),
                         not joins(P)],
            [Dir] = alcove_cgroup:group_dirs(Backend, Name),
            Ops = [O#op{step = cgroup} || P <- Plan, O <- cgroup_ops(P)]
                ++ [#op{step = cgroup, call = open, id = cgroup_fd, tag = Dir,
                        args = [Dir, [o_path, o_directory, o_cloexec], 0]},
                    #op{call = clone3, args = [clone_flags(St), {op, cgroup_fd}], id = pid},
                    #op{step = cgroup, call = close, args = [{op, cgroup_fd}]}],
            {Ops, St#st{cgroup = {Backend, Name}}};
        Found ->
            clone(fork, St#st{born = false, vals = Vals#{cgroup => Found}})
    end;
clone(fork, #st{how = fork} = St) ->
    Op = case clone_flags(St) of
             [] -> #op{call = fork, args = []};
             Flags -> #op{call = clone, args = [Flags]}
         end,
    {[Op#op{id = pid}], St};
clone(child, #st{how = spawn, cgroup = {{v1, _} = Backend, Name}} = St) ->
    %% its first calls: into its group, before anything it runs
    {[[O#op{step = cgroup} || O <- write_file(<<Dir/binary, "/cgroup.procs">>, <<"0">>)]
      || Dir <- alcove_cgroup:group_dirs(Backend, Name)]
     ++ [#op{call = setpgid, args = [0, 0]} || St#st.pgrp, not pty(St)], St};
clone(child, #st{pgrp = true} = St) ->
    {[#op{call = setpgid, args = [0, 0]} || not pty(St)], St};
clone(_, St) ->
    {[], St}.

%% The child's stdio onto a new pseudo-terminal whose master the parent
%% holds: a new session (so no setpgid before it: the session is the
%% process group), before the mounts, on the host's /dev/ptmx.
pty(child, #st{cfg = #{pty := {Rows, Cols}}} = St) ->
    {[#op{call = pty, args = [Rows, Cols]}], St};
pty(_, St) ->
    {[], St}.

pty(#st{cfg = Cfg}) -> is_tuple(maps:get(pty, Cfg, false)).

%% The write that moves a process into its group.
joins({write, Path, _, _}) ->
    lists:last(binary:split(Path, <<"/">>, [global])) =:= <<"cgroup.procs">>;
joins(_) ->
    false.

%% Map the child's user ids, from the parent, before anything needs one.
uid_map(Phase, St) ->
    id_map(Phase, St, uid_map, getresuid).

%% Deny setgroups(2) in the child, as an unprivileged gid_map needs.
deny_setgroups(parent, #st{cfg = Cfg} = St) ->
    Deny = userns(St) andalso not maps:is_key(groups, Cfg),
    {[write_proc(St, <<"setgroups">>, <<"deny">>) || Deny], St};
deny_setgroups(_, St) ->
    {[], St}.

%% Map the child's group ids, from the parent.
gid_map(Phase, St) ->
    id_map(Phase, St, gid_map, getresgid).

%% The map given, or the parent's effective id as root: looked up before
%% the child has a PID, written once it has one.
id_map(fork, #st{cfg = Cfg} = St, Key, Get) ->
    {[#op{call = Get, args = [], id = Get} || userns(St), not maps:is_key(Key, Cfg)], St};
id_map(parent, #st{cfg = Cfg, vals = Vals} = St, Key, Get) ->
    case userns(St) of
        true ->
            Map = case Cfg of
                      #{Key := M} -> M;
                      _ -> {ok, _, Id, _} = maps:get(Get, Vals), [{0, Id, 1}]
                  end,
            Data = iolist_to_binary([io_lib:format("~B ~B ~B~n", [I, O, N]) || {I, O, N} <- Map]),
            {[write_proc(St, atom_to_binary(Key), Data)], St};
        false ->
            {[], St}
    end;
id_map(_, St, _, _) ->
    {[], St}.

%% Make every mount of the child private: nothing reaches the host.
make_private(child, St) ->
    {[#op{call = mount, args = ["none", "/", "", [ms_rec, ms_private], "", ""]}
      || ns(St, mount)], St};
make_private(_, St) ->
    {[], St}.

%% Where the new root is put together: on /tmp, the old root left where
%% it is, unless a bind source (or the root directory) is under /tmp,
%% which that would hide; then on /newroot of a tmpfs pivoted into
%% first, the old root at /oldroot (as bubblewrap does).
scratch_root(child, St) ->
    case newroot(St) andalso lists:any(fun under_tmp/1, sources(St)) of
        true ->
            {[#op{call = mount, args = ["tmpfs", "/tmp", "tmpfs", [ms_nosuid, ms_nodev],
                                        "mode=0755", ""]},
              #op{call = mkdir, args = ["/tmp/newroot", 8#755]},
              #op{call = mkdir, args = ["/tmp/oldroot", 8#755]},
              #op{call = pivot_root, args = ["/tmp", "/tmp/oldroot"]},
              #op{call = chdir, args = ["/"]}],
             St#st{new = <<"/newroot">>, old = <<"/oldroot">>}};
        false ->
            {[], St#st{new = case newroot(St) of true -> <<"/tmp">>; false -> <<>> end}}
    end;
scratch_root(_, St) ->
    {[], St}.

sources(#st{cfg = Cfg}) ->
    [Dir || #{root := Dir} <- [Cfg], is_binary(Dir)]
        ++ [S || {bind, S, _, _} <- maps:get(mounts, Cfg)]
        ++ [<<"/dev">> || {dev, _} <- maps:get(mounts, Cfg)].

under_tmp(Path) ->
    Path =:= <<"/tmp">> orelse binary:longest_common_prefix([Path, <<"/tmp/">>]) =:= 5.

%% Mount the new root: a tmpfs, or the directory bound.
new_root(child, #st{new = New, old = Old, cfg = #{root := Root}} = St) when New =/= <<>> ->
    {[case Root of
          tmpfs ->
              #op{call = mount, args = ["tmpfs", New, "tmpfs", [ms_nosuid, ms_nodev],
                                        "mode=0755", ""]};
          Dir ->
              #op{call = mount, args = [<<Old/binary, Dir/binary>>, New, "",
                                        [ms_bind, ms_rec], "", ""]}
      end], St};
new_root(_, St) ->
    {[], St}.

%% Apply the mounts, in order, creating their mount points in a new
%% root. The parent looks first at what each bind source is, and whether
%% the kernel has mount_setattr(2).
mounts(fork, #st{cfg = #{mounts := Mounts}} = St) ->
    Probes = [probe_kind(S, Entry)
              || newroot(St), {Entry, {bind, S, _, _}} <- entries(St, Mounts)],
    %% ok, or an error of its arguments or rights, where it exists
    Setattr = [#op{call = mount_setattr, args = [at_fdcwd, <<>>, [], [], [], 0],
                   accept = [enoent, enosys, enotsup, einval, ebadf, eperm], id = setattr}
               || lists:any(fun readonly/1, Mounts)],
    {Probes ++ Setattr, St};
mounts(child, #st{cfg = #{mounts := Mounts}} = St) ->
    {[[stamp(O, mounts, Entry) || O <- lists:flatten(mount(St, M))]
      || {Entry, M} <- entries(St, Mounts)], St};
mounts(_, St) ->
    {[], St}.

entries(#st{spec = Spec}, Mounts) ->
    lists:zip(maps:get(mounts, Spec, []), Mounts).

readonly({bind, _, _, Opts}) -> flags(Opts) =/= [];
readonly({remount, _, _}) -> true;
readonly(_) -> false.

%% Whether a bind source is a directory, without opening it: mkdir(2)
%% of "Source/." answers eexist for a directory and enotdir for a file.
%% Any other answer is left to the bind to give, in the child.
probe_kind(Source, Entry) ->
    #op{call = mkdir, args = [<<Source/binary, "/.">>, 0], accept = ?PROBE_ERRORS,
        id = {kind, Source}, tag = Entry}.

%% pivot_root(2) into the new root and let go of the old one: with "."
%% for both, the old root ends on top of the new, and is detached.
pivot_root(child, #st{new = New, old = Old} = St) when New =/= <<>> ->
    {[#op{call = umount2, args = [Old, [mnt_detach]]} || Old =/= <<>>]
     ++ [#op{call = chdir, args = [New]},
         #op{call = pivot_root, args = [".", "."]},
         #op{call = umount2, args = [".", [mnt_detach]]},
         #op{call = chdir, args = ["/"]}],
     St#st{new = <<>>, old = <<>>}};
pivot_root(_, St) ->
    {[], St}.

%% chroot(2) into the root directory, without a mount namespace.
chroot(child, #st{cfg = #{root := Dir}} = St) when is_binary(Dir) ->
    {[Op || not ns(St, mount),
            Op <- [#op{call = chroot, args = [Dir]}, #op{call = chdir, args = ["/"]}]], St};
chroot(_, St) ->
    {[], St}.

%% sethostname(2) in the new UTS namespace.
hostname(child, #st{cfg = #{hostname := Name}} = St) ->
    {[#op{call = sethostname, args = [Name]}], St};
hostname(_, St) ->
    {[], St}.

%% setrlimit(2) for each limit.
rlimits(child, #st{cfg = #{rlimits := Limits}} = St) ->
    {[#op{call = setrlimit, args = [R, L], tag = R} || {R, L} <- Limits], St};
rlimits(_, St) ->
    {[], St}.

%% Create the cgroup, write its limits and move the child in, from the
%% parent, before the child runs anything: the hierarchies are looked at
%% before the clone (a failure waits for the child, to be the step's),
%% the rest is calls of the parent's round trip. Without the
%% controllers, or without the right to create the group, an optional
%% cgroup is left out (what was made of it removed).
cgroup(fork, #st{born = true} = St) ->
    {[], St};
cgroup(fork, #st{how = spawn, drv = Drv, chain = Chain,
                 cfg = #{cgroup := #{name := Name} = CG}} = St) ->
    %% made and limited first; the child of spawn_into/5 is born in a
    %% v2 group, the child of spawn/4 joins a v1 group first
    case backend(Drv, Chain, CG) of
        {ok, Backend} ->
            Plan = [P || P <- alcove_cgroup:group_plan(Backend, Name, limits(CG), 0),
                         not joins(P)],
            {[O || P <- Plan, O <- cgroup_ops(P)], St#st{cgroup = {Backend, Name}}};
        {error, Reason} ->
            throw({?MODULE, Reason})
    end;
cgroup(fork, #st{vals = #{cgroup := _}} = St) ->
    {[], St};
cgroup(fork, #st{drv = Drv, chain = Chain, cfg = #{cgroup := CG}, vals = Vals} = St) ->
    {[], St#st{vals = Vals#{cgroup => backend(Drv, Chain, CG)}}};
cgroup(parent, #st{born = true} = St) ->
    {[], St};
cgroup(_, #st{how = spawn} = St) ->
    {[], St};
cgroup(child, #st{born = true, vals = #{cgroup_fd := {ok, FD}}} = St) ->
    %% the copy of the group's descriptor the child got at its clone
    {[#op{call = close, args = [FD], accept = [ebadf]}], St};
cgroup(parent, #st{pid = Pid, cfg = #{cgroup := CG}, vals = #{cgroup := Found}} = St) ->
    Optional = maps:get(optional, CG, false),
    case Found of
        {ok, Backend} ->
            Name = cgroup_name(CG, Pid),
            Recover = fun(Reason, S) -> cgroup_skip(Optional, Reason, S) end,
            Plan = alcove_cgroup:group_plan(Backend, Name, limits(CG), Pid),
            {[recover(O, Recover) || P <- Plan, O <- cgroup_ops(P)],
             St#st{cgroup = {Backend, Name}}};
        {error, _} when Optional ->
            {[], St};
        {error, Reason} ->
            throw({?MODULE, Reason})
    end;
cgroup(_, St) ->
    {[], St}.

cgroup_ops({mkdir, Dir}) ->
    [#op{call = mkdir, args = [Dir, 8#755], accept = [eexist], tag = Dir}];
cgroup_ops({write, Path, Value, optional}) ->
    [O#op{accept = ?OPTIONAL, tag = Path} || O <- write_file(Path, Value)];
cgroup_ops({write, Path, Value, required}) ->
    [O#op{tag = Path} || O <- write_file(Path, Value)];
cgroup_ops({write, Path, Value, {enable, Need}}) ->
    %% refused where the parent does not offer the controllers; a
    %% parent above a delegated subtree is not the caller's to write,
    %% and enables them already where the subtree has them (a limit
    %% file missing says otherwise)
    Tag = fun(E) when E =:= enoent; E =:= einval -> {unsupported, Need};
             (E) -> {E, Path}
          end,
    [O#op{tag = Tag, accept = [eacces, eperm]} || O <- write_file(Path, Value)];
cgroup_ops({copy, From, To}) ->
    %% a v1 cpuset directory made empty gets its parent's CPUs or nodes
    [#run{tag = To,
          fn = fun(#st{drv = Drv, chain = Chain} = St) ->
                       Read = fun(Path) -> alcove_file:read(Drv, Chain, Path) end,
                       case {Read(To), Read(From)} of
                           {{ok, Have}, {ok, Value}} ->
                               Empty = string:trim(Have) =:= <<>>,
                               {[O#op{tag = To} || Empty, O <- write_file(To, Value)], St};
                           {{error, E}, _} -> throw({?MODULE, {E, To}});
                           {_, {error, E}} -> throw({?MODULE, {E, From}})
                       end
               end}].

recover(#op{} = O, Recover) ->
    O#op{recover = Recover};
recover(#run{fn = Fn} = R, Recover) ->
    R#run{fn = fun(St) ->
                       {Ops, St1} = Fn(St),
                       {[recover(O, Recover) || O <- Ops], St1}
               end}.

cgroup_skip(true, {E, _}, #st{drv = Drv, chain = Chain, cgroup = {Backend, Name}} = St)
  when E =:= eacces; E =:= eperm; E =:= erofs; E =:= unsupported ->
    _ = alcove_cgroup:group_remove(Drv, Chain, Backend, Name),
    {ok, St#st{cgroup = none}};
cgroup_skip(_, _, _) ->
    error.

%% unshare(CLONE_NEWCGROUP) once in the cgroup: it is the root the child sees.
cgroup_ns(child, St) ->
    {[#op{call = unshare, args = [[clone_newcgroup]]} || ns(St, cgroup)], St};
cgroup_ns(_, St) ->
    {[], St}.

%% setgroups(2): the groups given, or none when the ids change.
setgroups(child, #st{cfg = Cfg} = St) ->
    Groups = case Cfg of
                 #{groups := G} -> [G];
                 _ -> [[] || not userns(St), maps:is_key(uid, Cfg) orelse maps:is_key(gid, Cfg)]
             end,
    {[#op{call = setgroups, args = [G]} || G <- Groups], St};
setgroups(_, St) ->
    {[], St}.

%% setresgid(2) to the gid.
setgid(child, #st{cfg = #{gid := G}} = St) ->
    {[#op{call = setresgid, args = [G, G, G]}], St};
setgid(_, St) ->
    {[], St}.

%% setresuid(2) to the uid: the last privileged step.
setuid(child, #st{cfg = #{uid := U}} = St) ->
    {[#op{call = setresuid, args = [U, U, U]}], St};
setuid(_, St) ->
    {[], St}.

%% chdir(2) to the working directory, as the final user.
chdir(child, #st{cfg = #{cwd := Dir}} = St) ->
    {[#op{call = chdir, args = [Dir]}], St};
chdir(_, St) ->
    {[], St}.

%% prctl(PR_SET_NO_NEW_PRIVS): exec can no longer raise privileges.
no_new_privs(child, #st{cfg = #{no_new_privs := true}} = St) ->
    {[#op{call = prctl, args = [pr_set_no_new_privs, 1, 0, 0, 0]}], St};
no_new_privs(_, St) ->
    {[], St}.

%% Restrict the child by a Landlock ruleset, once its root, mounts and
%% identity are final: its paths are opened as the program will see
%% them. The parent looks up the kernel's ABI first (any error is no
%% Landlock), then the child makes the ruleset, a rule for each path and
%% port, and restricts itself (no_new_privs is set before, by default).
%% A path is opened O_PATH; its rule holds the rights of directories
%% too, and where it is a file (einval) those of files alone.
landlock(fork, #st{cfg = #{landlock := _}} = St) ->
    {[#op{call = landlock_create_ruleset, args = [0, 0, 0, [landlock_create_ruleset_version]],
          accept = [enosys, eopnotsupp, enotsup, eperm], id = landlock_abi}], St};
landlock(child, #st{cfg = #{landlock := LL}, vals = #{landlock_abi := Found}} = St) ->
    ABI = case Found of
              {ok, N} -> N;
              {error, _} -> 0
          end,
    case landlock_abi(LL, ABI) of
        {error, enotsup} ->
            %% the same whichever way the child is made: no second try
            throw({?MODULE, failed, landlock, enotsup, St});
        {ok, #{fs := [], net := []}} ->
            {[], St};
        {ok, #{fs := Fs, net := Net, paths := Paths, ports := Ports}} ->
            Set = make_ref(),
            {[#op{call = landlock_create_ruleset, args = [Fs, Net, 0, 0], id = Set}]
             ++ [landlock_path(Set, Path, Rights) || {Path, Rights} <- Paths]
             ++ [#op{call = landlock_add_rule, tag = Port,
                     args = [{op, Set}, landlock_rule_net_port, Rights, Port, 0]}
                 || {Port, Rights} <- Ports]
             ++ [#op{call = landlock_restrict_self, args = [{op, Set}, 0]},
                 #op{call = close, args = [{op, Set}]}], St}
    end;
landlock(_, St) ->
    {[], St}.

landlock_path(Set, Path, Rights) ->
    FD = make_ref(),
    Rule = fun(Allowed, Accept) ->
                   #op{call = landlock_add_rule, tag = Path, accept = Accept,
                       args = [{op, Set}, landlock_rule_path_beneath, Allowed, {op, FD}, 0]}
           end,
    Files = [R || R <- Rights, lists:member(R, ?LANDLOCK_FILE)],
    [#op{call = open, args = [Path, [o_path, o_cloexec], 0], id = FD, tag = Path}]
        ++ case Files of
               _ when Files =:= Rights; Files =:= [] -> [Rule(Rights, [])];
               _ -> [Rule(Rights, [einval]), Rule(Files, [])]
           end
        ++ [#op{call = close, args = [{op, FD}]}].

%% Install the seccomp filter, the last limit before exec, with
%% seccomp(2). The numbers it needs are looked up in the parent (the
%% same port, so the same tables). The spec is checked: building the
%% filter fails only on an errno name the port does not know (and raises
%% where alcove_seccomp has no audit architecture for the port, a port
%% built for an unknown machine).
seccomp(Phase, #st{cfg = #{seccomp_notify := _}} = St) ->
    {Notify, St1} = seccomp_notify(Phase, St),
    {Ops, St2} = seccomp1(Phase, St1),
    {Notify ++ Ops, St2};
seccomp(Phase, St) ->
    seccomp1(Phase, St).

%% The notification filter: its numbers looked up in the parent; its
%% notifier started once the child exists, before the child installs
%% the filter, so that no notification reaches the owner.
seccomp_notify(fork, #st{cfg = #{seccomp_notify := #{calls := Calls}}} = St) ->
    {[#op{call = C, args = A, id = {seccomp_notify, I}}
      || {I, {C, A}} <- enum(alcove_seccomp_notify:lookups(Calls))], St};
seccomp_notify(child, #st{drv = Drv, child = Child, vals = Vals,
                          cfg = #{seccomp_notify := #{calls := Calls, handler := H} = N}} = St) ->
    Results = [maps:get({seccomp_notify, I}, Vals)
               || I <- lists:seq(1, length(alcove_seccomp_notify:lookups(Calls)))],
    Prog = alcove_seccomp:program(alcove_seccomp_notify:build(Calls, Results)),
    {ok, Notifier} = alcove_seccomp_notify:start(Drv, Child, H,
                                                 maps:with([timeout, errno], N)),
    {[#op{call = seccomp_notify_filter, args = [0, Prog]}],
     St#st{vals = Vals#{notifier => Notifier}}};
seccomp_notify(_, St) ->
    {[], St}.

seccomp1(fork, #st{cfg = #{seccomp := _}} = St) ->
    {Rule, Action} = seccomp_rule(St),
    {[#op{call = C, args = A, id = {seccomp, I}}
      || {I, {C, A}} <- enum(alcove_seccomp:lookups(Rule, Action))], St};
seccomp1(child, #st{cfg = #{seccomp := {_, _, Action0}}, vals = Vals} = St) ->
    {Rule, Action} = seccomp_rule(St),
    N = length(alcove_seccomp:lookups(Rule, Action)),
    Results = [maps:get({seccomp, I}, Vals) || I <- lists:seq(1, N)],
    Insns = try
                alcove_seccomp:build(Rule, Action, Results)
            catch
                error:badarg ->
                    {errno, Name} = Action0,
                    throw({?MODULE, {unknown_errno, Name}})
            end,
    Prog = alcove_seccomp:program(Insns),
    {[#op{call = seccomp, args = [seccomp_set_mode_filter, 0, Prog]}], St};
seccomp1(_, St) ->
    {[], St}.

%% The filter of the spec, with the calls the port makes until exec.
seccomp_rule(#st{cfg = #{seccomp := {Kind, Calls, Action}} = Cfg}) ->
    Port = [Call || {Call, Path} <- port_calls(),
                    Path =/= loop orelse not maps:is_key(argv, Cfg)],
    Added = case {Kind, Action} of
                {allow, {errno, _}} -> Port -- port_calls([probe]);
                {allow, _} -> Port;
                {deny, _} -> []
            end,
    {{Kind, lists:usort(Calls ++ [syscall(P) || P <- Added])}, Action}.

%% execve(2) the program with its environment, last of the sequence of
%% the child: its answer is the sandbox's.
exec(child, #st{cfg = #{argv := [Arg0 | _] = Argv} = Cfg} = St) ->
    {[#op{call = execve, args = [Arg0, Argv, maps:get(env, Cfg, [])]}], St};
exec(_, St) ->
    {[], St}.

%% A step failed: kill the child; remove a cgroup made once it is gone;
%% stop a notifier (its child may never have sent a listener).
abort(#st{vals = #{notifier := Notifier}} = St) ->
    alcove_seccomp_notify:stop(Notifier),
    abort(St#st{vals = maps:remove(notifier, St#st.vals)});
abort(#st{pid = undefined, cgroup = none}) ->
    ok;
abort(#st{pid = undefined, drv = Drv, chain = Chain, cgroup = {Backend, Name}}) ->
    _ = alcove_cgroup:group_remove(Drv, Chain, Backend, Name),
    ok;
abort(#st{drv = Drv, chain = Chain, pid = Pid, cgroup = CG}) ->
    _ = alcove:kill(Drv, Chain, Pid, sigkill),
    case CG of
        none ->
            ok;
        {Backend, Name} ->
            gone(Drv, Chain, Pid, 500),
            _ = alcove_cgroup:group_remove(Drv, Chain, Backend, Name),
            ok
    end.

gone(_, _, _, 0) ->
    ok;
gone(Drv, Chain, Pid, N) ->
    case lists:keymember(Pid, #alcove_pid.pid, alcove:cpid(Drv, Chain)) of
        true -> timer:sleep(10), gone(Drv, Chain, Pid, N - 1);
        false -> ok
    end.

%%% Helpers of the steps

ns(#st{cfg = #{namespaces := Ns}}, N) -> lists:member(N, Ns).

userns(St) -> ns(St, user).

%% A root put together in the child's own mount namespace.
newroot(#st{cfg = Cfg} = St) ->
    maps:is_key(root, Cfg) andalso ns(St, mount).

%% Write a file of the child's /proc entry, in one write, from the parent.
write_proc(#st{pid = Pid}, File, Data) ->
    write_file(<<"/proc/", (integer_to_binary(Pid))/binary, "/", File/binary>>, Data).

write_file(Path, Data) ->
    Id = make_ref(),
    [#op{call = open, args = [Path, [o_wronly, o_cloexec], 0], id = Id},
     #op{call = write, args = [{op, Id}, Data]},
     #op{call = close, args = [{op, Id}]}].

%%% Mounts

mount(#st{new = New} = St, {tmpfs, T, Opts}) ->
    Target = <<New/binary, T/binary>>,
    Data = lists:join(",", [io_lib:format("size=~B", [N]) || {size, N} <- Opts]
                           ++ [io_lib:format("mode=~.8B", [N]) || {mode, N} <- Opts]),
    mountpoint(St, Target, dir)
        ++ [#op{call = mount, args = ["tmpfs", Target, "tmpfs", flags(Opts),
                                      iolist_to_binary(Data), ""]}];
mount(#st{new = New, old = Old} = St, {bind, S, T, Opts}) ->
    Source = <<Old/binary, S/binary>>,
    Target = <<New/binary, T/binary>>,
    Rec = [ms_rec || lists:member(rec, Opts)],
    mountpoint(St, Target, {bind, S})
        ++ [#op{call = mount, args = [Source, Target, "", [ms_bind | Rec], "", ""]}]
        ++ [Op || flags(Opts) =/= [], Op <- setattr(St, Target, Opts, Rec =/= [])];
mount(#st{new = New} = St, {proc, T}) ->
    Target = <<New/binary, T/binary>>,
    mountpoint(St, Target, dir)
        ++ [#op{call = mount, args = ["proc", Target, "proc", [ms_nosuid, ms_nodev, ms_noexec],
                                      "", ""]}];
mount(#st{new = New, old = Old} = St, {dev, T}) ->
    Target = <<New/binary, T/binary>>,
    mountpoint(St, Target, dir)
        ++ [#op{call = mount, args = ["tmpfs", Target, "tmpfs", [ms_nosuid, ms_noexec],
                                      "mode=0755", ""]}]
        ++ lists:append(
             [[file_mountpoint(Path),
               #op{call = mount, args = [<<Old/binary, "/dev/", Node/binary>>, Path, "",
                                         [ms_bind], "", ""]}]
              || Node <- ?DEV_NODES, Path <- [<<Target/binary, "/", Node/binary>>]])
        ++ [#op{call = symlink, args = [To, <<Target/binary, "/", Link/binary>>]}
            || {To, Link} <- ?DEV_LINKS];
mount(#st{new = New} = St, {dir, T, Mode}) ->
    mkdir_p(St, <<New/binary, T/binary>>, Mode);
mount(#st{new = New} = St, {remount, T, Flags}) ->
    setattr(St, <<New/binary, T/binary>>, Flags, false).

%% The flags asked set on the mount at Target (and the mounts below it
%% for Rec), the others left as they are: mount_setattr(2). Where the
%% kernel lacks it, MS_REMOUNT|MS_BIND with the flags asked and those the
%% mount has, read from the child's mountinfo first (in a user
%% namespace, a flag inherited from the host cannot be dropped); that
%% costs round trips, and covers the top mount only.
setattr(#st{vals = #{setattr := Probe}}, Target, Opts, Rec)
  when Probe =/= {error, enosys}, Probe =/= {error, enotsup} ->
    [#op{call = mount_setattr, args = [at_fdcwd, Target, [at_recursive || Rec],
                                       [F || {O, F} <- ?ATTRS, lists:member(O, Opts)],
                                       [], 0]}];
setattr(_, Target, Opts, _) ->
    [#run{fn = fun(St) ->
                       Keep = mount_flags(St, Target),
                       {[#op{call = mount,
                             args = ["none", Target, "",
                                     lists:usort([ms_remount, ms_bind | flags(Opts) ++ Keep]),
                                     "", ""]}], St}
               end}].

flags(Opts) -> [F || {O, F} <- ?FLAGS, lists:member(O, Opts)].

%% The flags of the mount at Target, from the child's mountinfo.
mount_flags(#st{drv = Drv, child = C, old = Old}, Target) ->
    case alcove_file:read(Drv, C, <<Old/binary, "/proc/self/mountinfo">>) of
        {ok, Info} ->
            Lines = [binary:split(L, <<" ">>, [global])
                     || L <- binary:split(Info, <<"\n">>, [global, trim_all])],
            case [Opts || [_, _, _, _, Point, Opts | _] <- Lines, unescape(Point) =:= Target] of
                [] ->
                    [];
                Found ->
                    Have = binary:split(lists:last(Found), <<",">>, [global]),
                    [F || {O, F} <- ?FLAGS, lists:member(atom_to_binary(O), Have)]
            end;
        {error, _} ->
            []
    end.

%% mountinfo escapes space, tab, newline and backslash as \ooo.
unescape(<<"\\", A, B, C, Rest/binary>>) when A >= $0, A =< $7 ->
    <<((A - $0) * 64 + (B - $0) * 8 + (C - $0)), (unescape(Rest))/binary>>;
unescape(<<H, Rest/binary>>) ->
    <<H, (unescape(Rest))/binary>>;
unescape(<<>>) ->
    <<>>.

%% A directory or a file to mount on, made in a new root if missing: a
%% file for a bind of a file.
mountpoint(#st{new = <<>>}, _, _) ->
    [];
mountpoint(#st{vals = Vals} = St, Path, {bind, Source}) ->
    case maps:get({kind, Source}, Vals) of
        {error, enotdir} -> mkdir_p(St, filename:dirname(Path), 8#755) ++ file_mountpoint(Path);
        _ -> mountpoint(St, Path, dir)
    end;
mountpoint(St, Path, dir) ->
    mkdir_p(St, Path, 8#755).

file_mountpoint(Path) ->
    Id = make_ref(),
    [#op{call = open, args = [Path, [o_rdonly, o_creat, o_cloexec], 8#644], id = Id},
     #op{call = close, args = [{op, Id}]}].

%% mkdir(2) of each directory of Path below the new root, those there
%% already left as they are.
mkdir_p(#st{new = New}, Path, Mode) ->
    Skip = length(binary:split(New, <<"/">>, [global, trim_all])),
    Parts = binary:split(Path, <<"/">>, [global, trim_all]),
    [#op{call = mkdir, args = [iolist_to_binary([[<<"/">>, P] || P <- lists:sublist(Parts, N)]),
                               Mode],
         accept = [eexist]}
     || N <- lists:seq(Skip + 1, length(Parts))].

%%% Cgroups

cgroup_name(#{name := Name}, _) -> Name;
cgroup_name(_, Pid) -> <<"alcove-sandbox-", (integer_to_binary(Pid))/binary>>.

backend(Drv, Chain, CG) ->
    alcove_cgroup:group_backend(Drv, Chain, limits(CG), maps:get(version, CG, auto)).

limits(CG) ->
    maps:with([memory_max, memory_high, pids_max, cpu_max, cpus, mems], CG).
