%% SPDX-License-Identifier: ISC
%% Landlock: the calls of the table (the kernel's ABI read back, a
%% process restricted by a ruleset denied what its rules do not allow,
%% on files and TCP ports), and the landlock key of alcove_sandbox: a
%% program in a sandbox reads, writes, executes, binds and connects only
%% where its spec says, the ABI looked up and what the kernel lacks left
%% out with best_effort only, in a sandbox made as root and in one made
%% by a port run as uid 65534.
-module(alcove_landlock_SUITE).

-include_lib("common_test/include/ct.hrl").
-include_lib("alcove/include/alcove.hrl").
-include("alcove_test.hrl").

-export([
    all/0,
    suite/0,
    init_per_suite/1,
    end_per_suite/1,
    init_per_testcase/2
]).

-export([
    abi/1,
    constants/1,
    restrict_files/1,
    restrict_ports/1,
    restrict_needs_no_new_privs/1,
    rule_errors/1,
    spec_checked/1,
    plan_by_abi/1,
    step_order/1,
    no_new_privs/1,
    sandbox_files/1,
    sandbox_root/1,
    sandbox_in_loop/1,
    sandbox_connect/1,
    sandbox_bind/1,
    sandbox_no_landlock/1,
    sandbox_bad_path/1,
    rootless/1
]).

-define(BUSYBOX, "/bin/busybox").
-define(BASH, "/bin/bash").
-define(AF_INET, 2).
-define(SETPRIV, ["--reuid=65534", "--regid=65534", "--clear-groups"]).
-define(READ, [landlock_access_fs_read_file, landlock_access_fs_read_dir]).
-define(WRITE, [landlock_access_fs_write_file, landlock_access_fs_make_reg]).

suite() ->
    [{timetrap, {seconds, 60}}, {ct_hooks, [{alcove_test, [dir]}]}].

all() ->
    [
        abi,
        constants,
        restrict_files,
        restrict_ports,
        restrict_needs_no_new_privs,
        rule_errors,
        spec_checked,
        plan_by_abi,
        step_order,
        no_new_privs,
        sandbox_files,
        sandbox_root,
        sandbox_in_loop,
        sandbox_connect,
        sandbox_bind,
        sandbox_no_landlock,
        sandbox_bad_path,
        rootless
    ].

%% The port, copied where uid 65534 can run it (rootless).
init_per_suite(Config) ->
    Dir = string:trim(os:cmd("mktemp -d /tmp/alcove-landlock.XXXXXX")),
    Prog = filename:join(Dir, "alcove"),
    {ok, _} = file:copy(alcove_drv:progname(), Prog),
    ok = file:change_mode(Prog, 8#755),
    ok = file:change_mode(Dir, 8#755),
    [{stage, Dir}, {progname, Prog} | Config].

end_per_suite(Config) ->
    ok = file:del_dir_r(?config(stage, Config)),
    Config.

init_per_testcase(rootless, Config) ->
    Setpriv = os:find_executable("setpriv"),
    Setpriv =/= false orelse ct:fail("setpriv (util-linux) is needed"),
    Exec = lists:flatten(lists:join(" ", [Setpriv | ?SETPRIV])),
    alcove_test:start(Config, [{exec, Exec}, {progname, ?config(progname, Config)}]);
init_per_testcase(_Case, Config) ->
    alcove_test:start(Config).

%%%
%%% The calls
%%%

%% landlock_create_ruleset/6 with the version flag gives the kernel's
%% ABI (7 from Linux 6.15 on), the same in a child; a ruleset is a
%% descriptor of its own kind, close-on-exec.
abi(Config) ->
    Drv = ?config(drv, Config),
    {ok, ABI} = alcove:landlock_create_ruleset(Drv, [], 0, 0, 0,
                                               [landlock_create_ruleset_version]),
    true = ABI >= expected_abi(os:version()),
    {ok, Child} = alcove:fork(Drv, []),
    {ok, ABI} = alcove:landlock_create_ruleset(Drv, [Child], 0, 0, 0,
                                               [landlock_create_ruleset_version]),
    {ok, Errata} = alcove:landlock_create_ruleset(Drv, [], 0, 0, 0,
                                                  [landlock_create_ruleset_errata]),
    true = Errata >= 0,
    {ok, FD} = alcove:landlock_create_ruleset(Drv, [Child], ?READ,
                                              [landlock_access_net_connect_tcp],
                                              [landlock_scope_signal], 0),
    {ok, "anon_inode:[landlock-ruleset]"} = file:read_link(fd_path(Child, FD)),
    {ok, Flags} = alcove:fcntl(Drv, [Child], FD, f_getfd, 0),
    1 = Flags band 1,
    ok = alcove:close(Drv, [Child], FD),
    %% no right, a right of no ABI, a name of no table
    {error, enomsg} = alcove:landlock_create_ruleset(Drv, [], 0, 0, 0, 0),
    {error, einval} = alcove:landlock_create_ruleset(Drv, [], 1 bsl 62, 0, 0, 0),
    {error, einval} = alcove:landlock_create_ruleset(Drv, [], ?READ, 0, 0,
                                                     [landlock_create_ruleset_version]),
    {error, enotsup} = alcove:landlock_create_ruleset(Drv, [], [landlock_access_fs_read],
                                                      0, 0, 0).

%% The names of every ABI are known, whatever the headers the port was
%% built with (Debian 12's lack the network, truncate, ioctl, scopes and
%% the rule of ports): the kernel's values.
constants(Config) ->
    Drv = ?config(drv, Config),
    Want = [{landlock_access_fs_execute, 1}, {landlock_access_fs_read_file, 4},
            {landlock_access_fs_refer, 1 bsl 13}, {landlock_access_fs_truncate, 1 bsl 14},
            {landlock_access_fs_ioctl_dev, 1 bsl 15}, {landlock_access_net_bind_tcp, 1},
            {landlock_access_net_connect_tcp, 2}, {landlock_scope_abstract_unix_socket, 1},
            {landlock_scope_signal, 2}, {landlock_rule_path_beneath, 1},
            {landlock_rule_net_port, 2}, {landlock_create_ruleset_version, 1},
            {landlock_restrict_self_log_subdomains_off, 4}],
    [{N, V} = {N, alcove:landlock_constant(Drv, [], N)} || {N, V} <- Want],
    4 = alcove:landlock_constant(Drv, [], 'LANDLOCK_ACCESS_FS_READ_FILE'),
    unknown = alcove:landlock_constant(Drv, [], landlock_access_fs_read),
    12 = alcove:define(Drv, [], ?READ).

%% A child restricted by a ruleset that handles reading and writing
%% reads and writes beneath the directory its rule names, and nowhere
%% else (eacces), where it could before; its own children are bound by
%% it too; what it opened before stays open.
restrict_files(Config) ->
    Drv = ?config(drv, Config),
    {In, Out} = dirs(Config),
    {ok, C} = alcove:fork(Drv, []),
    {ok, <<"out">>} = read(Drv, [C], Out ++ "/f"),
    {ok, Before} = alcove:open(Drv, [C], Out ++ "/f", [o_rdonly], 0),
    {ok, RS} = alcove:landlock_create_ruleset(Drv, [C], ?READ ++ ?WRITE, 0, 0, 0),
    {ok, Dir} = alcove:open(Drv, [C], In, [o_path, o_cloexec], 0),
    ok = alcove:landlock_add_rule(Drv, [C], RS, landlock_rule_path_beneath,
                                  ?READ ++ ?WRITE, Dir, 0),
    ok = alcove:close(Drv, [C], Dir),
    {ok, 0, _, _, _, _} = alcove:prctl(Drv, [C], pr_set_no_new_privs, 1, 0, 0, 0),
    ok = alcove:landlock_restrict_self(Drv, [C], RS, 0),
    ok = alcove:close(Drv, [C], RS),
    {ok, <<"in">>} = read(Drv, [C], In ++ "/f"),
    ok = write(Drv, [C], In ++ "/new", <<"made">>),
    {ok, <<"made">>} = file:read_file(In ++ "/new"),
    {error, eacces} = alcove:open(Drv, [C], Out ++ "/f", [o_rdonly], 0),
    {error, eacces} = alcove:open(Drv, [C], Out ++ "/f", [o_wronly], 0),
    {error, eacces} = alcove:open(Drv, [C], Out ++ "/new", [o_wronly, o_creat], 8#644),
    {error, eacces} = alcove:open(Drv, [C], "/etc/passwd", [o_rdonly], 0),
    {error, eacces} = alcove:readdir(Drv, [C], Out),
    false = filelib:is_file(Out ++ "/new"),
    {ok, <<"out">>} = alcove:read(Drv, [C], Before, 16),
    %% inherited by a child forked after
    {ok, G} = alcove:fork(Drv, [C]),
    {error, eacces} = alcove:open(Drv, [C, G], Out ++ "/f", [o_rdonly], 0),
    {ok, <<"in">>} = read(Drv, [C, G], In ++ "/f"),
    %% reading a file is handled: running a program needs it too
    {error, eacces} = alcove:execvp(Drv, [C, G], ?BUSYBOX, [?BUSYBOX, "true"]),
    %% the parent is not restricted
    {ok, <<"out">>} = read(Drv, [], Out ++ "/f").

%% A ruleset that handles TCP connect allows it to the ports its rules
%% name only (ABI 4); one that handles bind, to none without a rule.
restrict_ports(Config) ->
    Drv = ?config(drv, Config),
    {ok, Allowed} = listen(),
    {ok, Denied} = listen(),
    {ok, C} = alcove:fork(Drv, []),
    {ok, RS} = alcove:landlock_create_ruleset(
                 Drv, [C], 0, [landlock_access_net_connect_tcp, landlock_access_net_bind_tcp],
                 0, 0),
    ok = alcove:landlock_add_rule(Drv, [C], RS, landlock_rule_net_port,
                                  [landlock_access_net_connect_tcp], port(Allowed), 0),
    {ok, 0, _, _, _, _} = alcove:prctl(Drv, [C], pr_set_no_new_privs, 1, 0, 0, 0),
    ok = alcove:landlock_restrict_self(Drv, [C], RS, 0),
    {ok, S1} = alcove:socket(Drv, [C], af_inet, sock_stream, 0),
    {error, eacces} = alcove:connect(Drv, [C], S1, sockaddr(port(Denied))),
    {error, timeout} = gen_tcp:accept(Denied, 0),
    ok = alcove:connect(Drv, [C], S1, sockaddr(port(Allowed))),
    {ok, A} = gen_tcp:accept(Allowed, ?WAIT),
    {ok, 2} = alcove:write(Drv, [C], S1, <<"hi">>),
    {ok, <<"hi">>} = gen_tcp:recv(A, 2, ?WAIT),
    %% bind is handled, with no port allowed: the program cannot listen
    ok = alcove:execvp(Drv, [C], ?BUSYBOX, [?BUSYBOX, "nc", "-l", "-p", "0"]),
    {1, <<>>, Err} = alcove_test:output(Drv, [C]),
    {match, _} = re:run(Err, "Permission denied"),
    ok = gen_tcp:close(A).

%% landlock_restrict_self/4 needs no_new_privs or CAP_SYS_ADMIN: a child
%% as uid 65534 is refused (eperm) before, restricted after.
restrict_needs_no_new_privs(Config) ->
    Drv = ?config(drv, Config),
    {ok, C} = alcove:fork(Drv, []),
    {ok, RS} = alcove:landlock_create_ruleset(Drv, [C], ?WRITE, 0, 0, 0),
    ok = alcove:setresuid(Drv, [C], 65534, 65534, 65534),
    {error, eperm} = alcove:landlock_restrict_self(Drv, [C], RS, 0),
    {ok, FD} = alcove:open(Drv, [C], "/dev/null", [o_wronly], 0),
    ok = alcove:close(Drv, [C], FD),
    {ok, 0, _, _, _, _} = alcove:prctl(Drv, [C], pr_set_no_new_privs, 1, 0, 0, 0),
    ok = alcove:landlock_restrict_self(Drv, [C], RS, 0),
    {error, eacces} = alcove:open(Drv, [C], "/dev/null", [o_wronly], 0),
    %% as root, CAP_SYS_ADMIN is enough
    {ok, R} = alcove:fork(Drv, []),
    {ok, RS2} = alcove:landlock_create_ruleset(Drv, [R], ?WRITE, 0, 0, 0),
    ok = alcove:landlock_restrict_self(Drv, [R], RS2, 0),
    {error, eacces} = alcove:open(Drv, [R], "/dev/null", [o_wronly], 0).

%% The kernel's refusals, and the checks made before it: badarg for
%% arguments of the wrong type, enotsup for an unknown name.
rule_errors(Config) ->
    Drv = ?config(drv, Config),
    {In, _} = dirs(Config),
    {ok, RS} = alcove:landlock_create_ruleset(Drv, [], ?READ, 0, 0, 0),
    {ok, File} = alcove:open(Drv, [], In ++ "/f", [o_path, o_cloexec], 0),
    {ok, Dir} = alcove:open(Drv, [], In, [o_path, o_cloexec], 0),
    Rule = fun(Type, Rights, Target, Flags) ->
                   alcove:landlock_add_rule(Drv, [], RS, Type, Rights, Target, Flags)
           end,
    %% a directory right on a file; a right not handled; flags
    {error, einval} = Rule(landlock_rule_path_beneath, ?READ, File, 0),
    ok = Rule(landlock_rule_path_beneath, [landlock_access_fs_read_file], File, 0),
    ok = Rule(landlock_rule_path_beneath, ?READ, Dir, 0),
    {error, einval} = Rule(landlock_rule_path_beneath, ?WRITE, Dir, 0),
    {error, einval} = Rule(landlock_rule_path_beneath, ?READ, Dir, 1),
    {error, enomsg} = Rule(landlock_rule_path_beneath, 0, Dir, 0),
    %% no such descriptor, one out of range, a port on a ruleset without
    %% network rights, an unknown type
    {error, ebadf} = Rule(landlock_rule_path_beneath, ?READ, 1000, 0),
    {error, ebadf} = Rule(landlock_rule_path_beneath, ?READ, 1 bsl 40, 0),
    {error, einval} = Rule(landlock_rule_net_port, [landlock_access_net_connect_tcp], 80, 0),
    {error, einval} = Rule(99, ?READ, Dir, 0),
    {error, einval} = Rule(1 bsl 32 + 1, ?READ, Dir, 0),
    {error, ebadf} = alcove:landlock_add_rule(Drv, [], File, landlock_rule_path_beneath,
                                              ?READ, Dir, 0),
    {error, ebadf} = alcove:landlock_restrict_self(Drv, [], 1000, 0),
    {error, einval} = alcove:landlock_restrict_self(Drv, [], RS, 1 bsl 33),
    {error, enotsup} = Rule(landlock_rule_nowhere, ?READ, Dir, 0),
    {'EXIT', {badarg, _}} = (catch Rule(landlock_rule_path_beneath, ?READ, "3", 0)),
    {'EXIT', {badarg, _}} = (catch Rule(landlock_rule_path_beneath, [1.0], Dir, 0)),
    {'EXIT', {badarg, _}} = (catch alcove:landlock_restrict_self(Drv, [], RS, 1.0)),
    %% the port is not restricted by any of this
    {ok, <<"in">>} = read(Drv, [], In ++ "/f"),
    ok = alcove:close(Drv, [], RS).

%%%
%%% The landlock key of alcove_sandbox
%%%

%% Bad keys and values are named, before any process exists.
spec_checked(Config) ->
    Drv = ?config(drv, Config),
    Bad = [{#{landlock => []}, {badvalue, landlock, []}},
           {#{landlock => #{}}, {badvalue, landlock, #{}}},
           {#{landlock => #{best_effort => true}}, {badvalue, landlock, #{best_effort => true}}},
           {#{landlock => #{read => "/tmp"}}, {badvalue, {landlock, read}, "/tmp"}},
           {#{landlock => #{write => ["tmp"]}}, {badvalue, {landlock, write}, ["tmp"]}},
           {#{landlock => #{execute => [<<"/bin/", 0>>]}},
            {badvalue, {landlock, execute}, [<<"/bin/", 0>>]}},
           {#{landlock => #{connect => [65536]}}, {badvalue, {landlock, connect}, [65536]}},
           {#{landlock => #{bind => [-1]}}, {badvalue, {landlock, bind}, [-1]}},
           {#{landlock => #{read => ["/"], best_effort => yes}},
            {badvalue, {landlock, best_effort}, yes}},
           {#{landlock => #{read => ["/"], exec => ["/bin"]}}, {badkey, {landlock, exec}}}],
    [{Spec, {error, Reason}} = {Spec, alcove_sandbox:check(Spec)} || {Spec, Reason} <- Bad],
    [{error, Reason} = alcove_sandbox:run(Drv, [], Spec#{argv => [?BUSYBOX, "true"]})
     || {Spec, Reason} <- Bad],
    [] = alcove:cpid(Drv, []),
    ok = alcove_sandbox:check(#{landlock => #{read => ["/", <<"/tmp">>], write => [],
                                              execute => [["/bin", "/sh"]],
                                              bind => [0, 65535], connect => [],
                                              best_effort => false}}).

%% What each ABI gets (a faked one for those this host has not): a
%% right the ABI lacks is enotsup, but with best_effort, which leaves
%% it out, down to nothing at all; a kind of access not given is not
%% handled.
plan_by_abi(_Config) ->
    Spec = #{read => ["/r", "/rw"], write => ["/rw"], connect => [80, 443],
             bind => [8080]},
    Effort = Spec#{best_effort => true},
    Write = [landlock_access_fs_write_file, landlock_access_fs_remove_dir,
             landlock_access_fs_remove_file, landlock_access_fs_make_char,
             landlock_access_fs_make_dir, landlock_access_fs_make_reg,
             landlock_access_fs_make_sock, landlock_access_fs_make_fifo,
             landlock_access_fs_make_block, landlock_access_fs_make_sym],
    New = [landlock_access_fs_refer, landlock_access_fs_truncate,
           landlock_access_fs_ioctl_dev],
    Net = [landlock_access_net_bind_tcp, landlock_access_net_connect_tcp],
    [{error, enotsup} = alcove_sandbox:landlock_plan(Spec, ABI) || ABI <- [0, 1, 2, 3, 4]],
    {ok, #{fs := Fs5, net := Net, paths := Paths5, ports := Ports}} =
        alcove_sandbox:landlock_plan(Spec, 5),
    {ok, #{fs := Fs5, net := Net, paths := Paths5, ports := Ports}} =
        alcove_sandbox:landlock_plan(Spec, 7),
    Fs5 = ?READ ++ Write ++ New,
    [{<<"/r">>, ?READ}, {<<"/rw">>, Fs5}] = Paths5,
    [{80, [landlock_access_net_connect_tcp]}, {443, [landlock_access_net_connect_tcp]},
     {8080, [landlock_access_net_bind_tcp]}] = Ports,
    %% best effort: ABI 3 has no network, no ioctl_dev
    {ok, #{fs := Fs3, net := [], paths := [{<<"/r">>, ?READ}, {<<"/rw">>, Fs3}],
           ports := []}} = alcove_sandbox:landlock_plan(Effort, 3),
    Fs3 = ?READ ++ Write ++ [landlock_access_fs_refer, landlock_access_fs_truncate],
    {ok, #{fs := Fs1}} = alcove_sandbox:landlock_plan(Effort, 1),
    Fs1 = ?READ ++ Write,
    {ok, #{fs := [], net := [], paths := [], ports := []}} =
        alcove_sandbox:landlock_plan(Effort, 0),
    %% read alone is of ABI 1: no best effort needed; the rest is free
    {ok, #{fs := ?READ, net := [], paths := [{<<"/">>, ?READ}]}} =
        alcove_sandbox:landlock_plan(#{read => ["/"]}, 1),
    {ok, #{fs := [landlock_access_fs_execute], net := [landlock_access_net_connect_tcp],
           paths := [], ports := []}} =
        alcove_sandbox:landlock_plan(#{execute => [], connect => []}, 4),
    {error, {badvalue, landlock, #{}}} = alcove_sandbox:landlock_plan(#{}, 7).

%% The landlock step comes once the file system and the identity are
%% final, before the seccomp filter and the exec.
step_order(_Config) ->
    Steps = alcove_sandbox:steps(),
    Index = fun(S) -> string:str(Steps, [S]) end,
    true = lists:all(fun(S) -> Index(S) < Index(landlock) end,
                     [mounts, pivot_root, chroot, setuid, chdir, no_new_privs]),
    true = Index(landlock) < Index(seccomp),
    true = Index(seccomp) < Index(exec).

%% With the key, no_new_privs is set by default; without it, a process
%% with CAP_SYS_ADMIN (root) is restricted all the same, one without is
%% refused (eperm) and killed.
no_new_privs(Config) ->
    Drv = ?config(drv, Config),
    Spec = #{landlock => #{write => []}},
    {ok, Pid} = alcove_sandbox:run(Drv, [], Spec),
    <<"1">> = status(Pid, "NoNewPrivs"),
    {error, eacces} = alcove:open(Drv, [Pid], "/dev/null", [o_wronly], 0),
    {ok, Free} = alcove_sandbox:run(Drv, [], #{}),
    <<"0">> = status(Free, "NoNewPrivs"),
    {ok, Root} = alcove_sandbox:run(Drv, [], Spec#{no_new_privs => false}),
    <<"0">> = status(Root, "NoNewPrivs"),
    {error, eacces} = alcove:open(Drv, [Root], "/dev/null", [o_wronly], 0),
    {error, {landlock, eperm}} =
        alcove_sandbox:run(Drv, [], Spec#{no_new_privs => false, uid => 65534}),
    receive {alcove_event, Drv, [_], {termsig, sigkill}} -> ok after ?WAIT -> ct:fail(alive) end,
    Left = lists:sort([Pid, Free, Root]),
    Left = lists:sort([P || #alcove_pid{pid = P} <- alcove:cpid(Drv, [])]).

%% A program in a sandbox reads, writes and runs programs only where the
%% landlock key says: here read everywhere, write beneath In, execute
%% busybox alone (a file: its rule holds the rights of files).
sandbox_files(Config) ->
    Drv = ?config(drv, Config),
    {In, Out} = dirs(Config),
    Script = lists:flatten(
               io_lib:format("cat ~s/f; echo; cat ~s/f; echo; echo w > ~s/g; echo w > ~s/g; "
                             "ls ~s; /bin/cat ~s/f", [In, Out, In, Out, Out, In])),
    Spec = #{landlock => #{read => ["/"], write => [In], execute => [?BUSYBOX]},
             argv => [?BUSYBOX, "sh", "-c", Script]},
    {ok, Pid} = alcove_sandbox:run(Drv, [], Spec),
    {_, Out1, Err} = alcove_test:output(Drv, [Pid]),
    %% reads anywhere, lists anywhere
    [<<"in">>, <<"out">>, <<"f">>] = binary:split(Out1, <<"\n">>, [global, trim_all]),
    {ok, <<"w\n">>} = file:read_file(In ++ "/g"),
    false = filelib:is_file(Out ++ "/g"),
    %% the write outside, and /bin/cat (not busybox) refused
    2 = denied(Err),
    %% without the key, the same program writes both
    {ok, Pid2} = alcove_sandbox:run(Drv, [], maps:remove(landlock, Spec)),
    {0, _, <<>>} = alcove_test:output(Drv, [Pid2]),
    {ok, <<"w\n">>} = file:read_file(Out ++ "/g").

%% In a sandbox with its own root (a tmpfs, busybox and the case's
%% directories bound), the paths of the key are those of the sandbox:
%% /in readable and writable, /out neither; busybox, a file, readable
%% and executable.
sandbox_root(Config) ->
    Drv = ?config(drv, Config),
    {In, Out} = dirs(Config),
    Spec = #{namespaces => [pid, mount, net, uts, ipc],
             root => tmpfs,
             mounts => [{bind, ?BUSYBOX, ?BUSYBOX, [ro]}, {bind, In, "/in"},
                        {bind, Out, "/out"}, {remount, "/", [ro]}],
             uid => 65534, gid => 65534,
             landlock => #{read => [?BUSYBOX, "/in"], write => ["/in"],
                           execute => [?BUSYBOX]},
             argv => [?BUSYBOX, "sh", "-c",
                      "b=/bin/busybox; $b cat /in/f; echo; $b cat /out/f; echo x > /in/x; "
                      "echo y > /out/y; $b ls /"]},
    ok = file:change_mode(In, 8#777),
    ok = file:change_mode(Out, 8#777),
    {ok, Pid} = alcove_sandbox:run(Drv, [], Spec),
    {1, <<"in\n">>, Err} = alcove_test:output(Drv, [Pid]),
    3 = denied(Err),
    {ok, <<"x\n">>} = file:read_file(In ++ "/x"),
    false = filelib:is_file(Out ++ "/y").

%% Without argv the child stays in the event loop, restricted: every
%% call it makes is (here made by fork, not spawn/4).
sandbox_in_loop(Config) ->
    Drv = ?config(drv, Config),
    {In, Out} = dirs(Config),
    {ok, Pid} = alcove_sandbox:run(Drv, [], #{namespaces => [pid],
                                              landlock => #{read => [In, ?BUSYBOX],
                                                            write => [In]}}),
    C = [Pid],
    {ok, <<"in">>} = read(Drv, C, In ++ "/f"),
    ok = write(Drv, C, In ++ "/loop", <<"loop">>),
    {ok, <<"loop">>} = file:read_file(In ++ "/loop"),
    {error, eacces} = alcove:open(Drv, C, Out ++ "/f", [o_rdonly], 0),
    {error, eacces} = alcove:open(Drv, C, Out ++ "/g", [o_wronly, o_creat], 8#644),
    %% execute was not given: running busybox needs reading it alone
    ok = alcove:execvp(Drv, C, ?BUSYBOX, [?BUSYBOX, "cat", In ++ "/f"]),
    {0, <<"in">>, <<>>} = alcove_test:output(Drv, C).

%% A program connects to the TCP ports of `connect' alone: the test's
%% listener on an allowed port gets its line, the other gets nothing and
%% the program is refused.
sandbox_connect(Config) ->
    Drv = ?config(drv, Config),
    {ok, Allowed} = listen(),
    {ok, Denied} = listen(),
    Send = fun(L) ->
                   Cmd = io_lib:format("echo hi > /dev/tcp/127.0.0.1/~B", [port(L)]),
                   {ok, Pid} = alcove_sandbox:run(
                                 Drv, [], #{landlock => #{connect => [port(Allowed)]},
                                            argv => [?BASH, "-c", lists:flatten(Cmd)]}),
                   alcove_test:output(Drv, [Pid])
           end,
    {0, <<>>, <<>>} = Send(Allowed),
    {ok, A} = gen_tcp:accept(Allowed, ?WAIT),
    {ok, <<"hi\n">>} = gen_tcp:recv(A, 3, ?WAIT),
    {1, <<>>, Err} = Send(Denied),
    {match, _} = re:run(Err, "Permission denied"),
    {error, timeout} = gen_tcp:accept(Denied, 0),
    ok = gen_tcp:close(A).

%% A program listens on the TCP ports of `bind' alone.
sandbox_bind(Config) ->
    Drv = ?config(drv, Config),
    [Allowed, Denied] = free_ports(2),
    Listen = fun(P) ->
                     alcove_sandbox:run(Drv, [], #{landlock => #{bind => [Allowed]},
                                                   argv => [?BUSYBOX, "nc", "-l", "-p",
                                                            integer_to_list(P)]})
             end,
    {ok, Pid} = Listen(Allowed),
    Connect = fun() ->
                      gen_tcp:connect({127, 0, 0, 1}, Allowed, [binary, {active, false}])
              end,
    {ok, S} = wait_connect(Connect, 100),
    ok = gen_tcp:send(S, <<"over\n">>),
    ok = gen_tcp:close(S),
    {0, <<"over\n">>, <<>>} = alcove_test:output(Drv, [Pid]),
    {ok, Pid2} = Listen(Denied),
    {1, <<>>, Err} = alcove_test:output(Drv, [Pid2]),
    {match, _} = re:run(Err, "Permission denied").

%% Where the kernel has no Landlock (here a filter makes the ABI's
%% lookup answer enosys, in a child the sandbox is made from), a spec
%% asking for it is refused, before any process is made, unless
%% best_effort: then the program runs without it.
sandbox_no_landlock(Config) ->
    Drv = ?config(drv, Config),
    {_, Out} = dirs(Config),
    {ok, C} = alcove:fork(Drv, []),
    Insns = alcove_seccomp:filter(Drv, [C], {deny, [sys_landlock_create_ruleset]},
                                  {errno, enosys}),
    ok = alcove_seccomp:install(Drv, [C], Insns),
    {error, enosys} = alcove:landlock_create_ruleset(Drv, [C], 0, 0, 0,
                                                     [landlock_create_ruleset_version]),
    Spec = #{landlock => #{read => ["/nonexistent"]},
             argv => [?BUSYBOX, "cat", Out ++ "/f"]},
    {error, {landlock, enotsup}} = alcove_sandbox:run(Drv, [C], Spec),
    %% made by fork, the child is killed
    {error, {landlock, enotsup}} =
        alcove_sandbox:run(Drv, [C], maps:remove(argv, Spec)),
    receive {alcove_event, Drv, [C, _], {termsig, sigkill}} -> ok
    after ?WAIT -> ct:fail(alive)
    end,
    [] = alcove:cpid(Drv, [C]),
    {ok, Pid} = alcove_sandbox:run(Drv, [C], Spec#{landlock => #{read => ["/nonexistent"],
                                                                 best_effort => true}}),
    {0, <<"out">>, <<>>} = alcove_test:output(Drv, [C, Pid]),
    %% where the kernel has it, the same spec restricts
    {ok, Pid2} = alcove_sandbox:run(Drv, [], Spec#{landlock => #{read => [?BUSYBOX],
                                                                 best_effort => true}}),
    {1, <<>>, _} = alcove_test:output(Drv, [Pid2]).

%% A path of the key that the child cannot open fails the step, naming
%% it; the child is gone.
sandbox_bad_path(Config) ->
    Drv = ?config(drv, Config),
    {error, {landlock, {enoent, <<"/nonexistent">>}}} =
        alcove_sandbox:run(Drv, [], #{landlock => #{read => ["/", "/nonexistent"]},
                                      argv => [?BUSYBOX, "true"]}),
    {error, {landlock, {enoent, <<"/nonexistent">>}}} =
        alcove_sandbox:run(Drv, [], #{landlock => #{write => ["/nonexistent"]}}),
    %% made by spawn/4, then by fork: each killed
    [receive {alcove_event, Drv, [_], {termsig, sigkill}} -> ok after ?WAIT -> ct:fail(alive) end
     || _ <- [spawn, fork]],
    [] = alcove:cpid(Drv, []).

%% A port run as uid 65534 restricts its children by the calls (with
%% no_new_privs), and its rootless sandbox (user and mount namespaces,
%% a tmpfs root) is restricted by the key as a root one is.
rootless(Config) ->
    Drv = ?config(drv, Config),
    {ok, 65534, 65534, 65534} = alcove:getresuid(Drv, []),
    Dir = string:trim(os:cmd("mktemp -d /tmp/alcove-landlock-rootless.XXXXXX")),
    try
        ok = file:change_mode(Dir, 8#777),
        [ok = file:make_dir(filename:join(Dir, D)) || D <- ["in", "out"]],
        [ok = file:change_mode(filename:join(Dir, D), 8#777) || D <- ["in", "out"]],
        ok = file:write_file(filename:join(Dir, "in/f"), "in"),
        ok = file:write_file(filename:join(Dir, "out/f"), "out"),
        In = filename:join(Dir, "in"),
        Out = filename:join(Dir, "out"),
        %% the calls
        {ok, C} = alcove:fork(Drv, []),
        {ok, RS} = alcove:landlock_create_ruleset(Drv, [C], ?READ, 0, 0, 0),
        {ok, D} = alcove:open(Drv, [C], In, [o_path, o_cloexec], 0),
        ok = alcove:landlock_add_rule(Drv, [C], RS, landlock_rule_path_beneath, ?READ, D, 0),
        {error, eperm} = alcove:landlock_restrict_self(Drv, [C], RS, 0),
        {ok, 0, _, _, _, _} = alcove:prctl(Drv, [C], pr_set_no_new_privs, 1, 0, 0, 0),
        ok = alcove:landlock_restrict_self(Drv, [C], RS, 0),
        {ok, <<"in">>} = read(Drv, [C], In ++ "/f"),
        {error, eacces} = alcove:open(Drv, [C], Out ++ "/f", [o_rdonly], 0),
        %% the sandbox
        Spec = #{namespaces => [user, pid, mount, net],
                 root => tmpfs,
                 mounts => [{bind, ?BUSYBOX, ?BUSYBOX, [ro]}, {bind, Dir, "/data"},
                            {remount, "/", [ro]}],
                 landlock => #{read => [?BUSYBOX, "/data/in"], write => ["/data/in"]},
                 argv => [?BUSYBOX, "sh", "-c",
                          "b=/bin/busybox; $b cat /data/in/f; $b cat /data/out/f; "
                          "echo x > /data/in/x; echo y > /data/out/y"]},
        {ok, Pid} = alcove_sandbox:run(Drv, [], Spec),
        {1, <<"in">>, Err} = alcove_test:output(Drv, [Pid]),
        2 = denied(Err),
        {ok, <<"x\n">>} = file:read_file(In ++ "/x"),
        false = filelib:is_file(Out ++ "/y"),
        %% the same sandbox without the key writes there
        {ok, Pid2} = alcove_sandbox:run(Drv, [], maps:remove(landlock, Spec)),
        {0, <<"inout">>, <<>>} = alcove_test:output(Drv, [Pid2]),
        {ok, <<"y\n">>} = file:read_file(Out ++ "/y")
    after
        ok = file:del_dir_r(Dir)
    end.

%%%
%%% Helpers
%%%

%% The ABI of each Linux version that brought one.
expected_abi({Major, Minor, _}) ->
    Versions = [{{6, 15}, 7}, {{6, 12}, 6}, {{6, 10}, 5}, {{6, 7}, 4}, {{6, 2}, 3},
                {{5, 19}, 2}, {{5, 13}, 1}],
    case [ABI || {V, ABI} <- Versions, {Major, Minor} >= V] of
        [ABI | _] -> ABI;
        [] -> 0
    end.

%% In/f holds "in", Out/f "out", in the case's directory.
dirs(Config) ->
    Dir = ?config(dir, Config),
    In = filename:join(Dir, "in"),
    Out = filename:join(Dir, "out"),
    ok = file:make_dir(In),
    ok = file:make_dir(Out),
    ok = file:write_file(In ++ "/f", "in"),
    ok = file:write_file(Out ++ "/f", "out"),
    {In, Out}.

read(Drv, C, Path) ->
    case alcove:open(Drv, C, Path, [o_rdonly], 0) of
        {ok, FD} ->
            {ok, Data} = alcove:read(Drv, C, FD, 65536),
            ok = alcove:close(Drv, C, FD),
            {ok, Data};
        Error ->
            Error
    end.

write(Drv, C, Path, Data) ->
    {ok, FD} = alcove:open(Drv, C, Path, [o_wronly, o_creat, o_trunc], 8#644),
    {ok, _} = alcove:write(Drv, C, FD, Data),
    alcove:close(Drv, C, FD).

%% How many refusals a program printed.
denied(Err) ->
    length(binary:matches(Err, <<"Permission denied">>)).

fd_path(Pid, FD) ->
    "/proc/" ++ integer_to_list(Pid) ++ "/fd/" ++ integer_to_list(FD).

status(Pid, Key) ->
    {ok, Status} = file:read_file("/proc/" ++ integer_to_list(Pid) ++ "/status"),
    {match, [V]} = re:run(Status, "\n" ++ Key ++ ":\t([^\n]*)\n",
                          [{capture, all_but_first, binary}]),
    V.

listen() ->
    gen_tcp:listen(0, [binary, {ip, {127, 0, 0, 1}}, {active, false}]).

port(L) ->
    {ok, P} = inet:port(L),
    P.

%% Ports free now: listened on, then closed.
free_ports(N) ->
    Ls = [L || _ <- lists:seq(1, N), {ok, L} <- [listen()]],
    Ports = [port(L) || L <- Ls],
    [ok = gen_tcp:close(L) || L <- Ls],
    Ports.

sockaddr(Port) ->
    <<?UINT16(?AF_INET), Port:16/big, 127, 0, 0, 1, 0:64>>.

%% Connect once the program listens.
wait_connect(Connect, 0) ->
    Connect();
wait_connect(Connect, N) ->
    case Connect() of
        {ok, _} = Ok -> Ok;
        {error, econnrefused} -> timer:sleep(50), wait_connect(Connect, N - 1)
    end.
