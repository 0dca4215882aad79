%% SPDX-License-Identifier: ISC
%% The examples, compiled here (warning-free) into priv_dir and driven as
%% the reference's transcripts do: the chroot sandbox (chrootex), the
%% namespace sandbox with its cgroup (nsex), the GPIO LED (gpioled, on a
%% fake sysfs directory) and the TCP shell server (tcpshell). The
%% sandboxes run /bin/busybox (Debian's busybox-static).
-module(alcove_examples_SUITE).

-include_lib("common_test/include/ct.hrl").
-include_lib("alcove/include/alcove.hrl").

-import(alcove_test, [until/1, proc_cgroup/1]).

-export([
    all/0,
    suite/0,
    init_per_suite/1,
    end_per_suite/1,
    init_per_testcase/2,
    end_per_testcase/2
]).

-export([
    compile_warning_free/1,
    chrootex_cat/1,
    chrootex_shell/1,
    nsex_cgroup/1,
    nsex_shell/1,
    gpioled_fake_sysfs/1,
    gpioled_export_fails/1,
    tcpshell_echo/1,
    tcpshell_two_connections/1,
    tcpshell_shell_exit/1
]).

-define(EXAMPLES, [chrootex, nsex, gpioled, tcpshell]).
-define(BUSYBOX, "/bin/busybox").
-define(DEADLINE, 10000).
-define(CGROUP, "/sys/fs/cgroup").

suite() ->
    [{timetrap, {seconds, 60}}].

all() ->
    [
        compile_warning_free,
        chrootex_cat,
        chrootex_shell,
        nsex_cgroup,
        nsex_shell,
        gpioled_fake_sysfs,
        gpioled_export_fails,
        tcpshell_echo,
        tcpshell_two_connections,
        tcpshell_shell_exit
    ].

%% Compile the examples into priv_dir (include_lib finds alcove.hrl
%% through the alcove application in the code path) and load them.
init_per_suite(Config) ->
    true = filelib:is_regular(?BUSYBOX),
    Src = examples_dir(),
    Out = filename:join(?config(priv_dir, Config), "examples_ebin"),
    ok = filelib:ensure_dir(filename:join(Out, "x")),
    Include = filename:join(code:lib_dir(alcove), "include"),
    Warnings = [begin
                    File = filename:join(Src, atom_to_list(M) ++ ".erl"),
                    {ok, M, W} = compile:file(File, [{outdir, Out}, {i, Include},
                                                     debug_info, return]),
                    code:purge(M),
                    {module, M} = code:load_abs(filename:join(Out, atom_to_list(M))),
                    {M, W}
                end || M <- ?EXAMPLES],
    [{warnings, Warnings} | Config].

end_per_suite(_Config) ->
    ok.

init_per_testcase(nsex_shell, Config) ->
    nsex_init(Config);
init_per_testcase(nsex_cgroup, Config) ->
    nsex_init(Config);
init_per_testcase(_Case, Config) ->
    Config.

%% nsex makes the cgroup "alcove" in every v1 hierarchy: remember those
%% where it did not exist, to remove it from them afterwards.
nsex_init(Config) ->
    New = [Dir || Dir <- alcove_dirs(), not filelib:is_dir(Dir)],
    [{alcove_cgroups, New} | Config].

end_per_testcase(_Case, Config) ->
    [catch alcove_drv:stop(Drv) || Drv <- cleanup_drvs(Config)],
    case ?config(alcove_cgroups, Config) of
        undefined -> ok;
        Dirs -> [ok = until(fun() -> rmdir(Dir) end) || Dir <- Dirs]
    end,
    ok.

cleanup_drvs(Config) ->
    [Drv || {drv, Drv} <- Config] ++ erase_drvs().

%%% Test cases

%% Each example compiles without a warning.
compile_warning_free(Config) ->
    [{M, []} = {M, W} || {M, W} <- ?config(warnings, Config)],
    [true = erlang:function_exported(M, F, A)
     || {M, F, A} <- [{chrootex, sandbox, 2}, {nsex, sandbox, 2},
                      {gpioled, start, 2}, {tcpshell, start, 1}]],
    ok.

%% The reference's first transcript: the default sandbox is a cat.
chrootex_cat(_Config) ->
    {ok, Drv} = chrootex:start(),
    keep(Drv),
    Cat = chrootex:sandbox(Drv),
    ok = alcove:stdin(Drv, [Cat], "test test\n"),
    <<"test test\n">> = line(Drv, [Cat], stdout).

%% The reference's shell transcript: echo answers; creating a file fails
%% (no descriptor may be opened); forking fails (one process) and the
%% shell exits. The shell runs chrooted into busybox's directory as an
%% unprivileged user, sharing the host's hostname (no UTS namespace).
chrootex_shell(_Config) ->
    {ok, Drv} = chrootex:start(),
    keep(Drv),
    Sh = chrootex:sandbox(Drv, [?BUSYBOX, "sh"]),
    ok = alcove:stdin(Drv, [Sh], "echo hello\n"),
    <<"hello\n">> = line(Drv, [Sh], stdout),
    Root = alcove_test:real_dir(filename:dirname(?BUSYBOX)),
    {ok, Root} = file:read_link("/proc/" ++ integer_to_list(Sh) ++ "/root"),
    {Uid, Gid} = ids(Sh),
    true = Uid >= 16#f0000000 andalso Uid =:= Gid,
    ok = alcove:stdin(Drv, [Sh], "echo $HOSTNAME\n"),
    Host = host_name(),
    Host = line(Drv, [Sh], stdout),
    ok = alcove:stdin(Drv, [Sh], "> foo\n"),
    <<"sh: can't create foo: Too many open files\n">> = line(Drv, [Sh], stderr),
    ok = alcove:stdin(Drv, [Sh], "ls\n"),
    <<"sh: can't fork", _/binary>> = line(Drv, [Sh], stderr),
    {exit_status, 2} = alcove:event(Drv, [Sh], ?DEADLINE).

%% nsex:start/0 makes the cgroup "alcove" as the reference describes:
%% CPU 0, memory node 0, 16 MiB of memory, and as much memory+swap
%% where swap is accounted.
nsex_cgroup(_Config) ->
    Drv = nsex:start(),
    keep(Drv),
    [true = filelib:is_dir(Dir) || Dir <- alcove_dirs()],
    {ok, <<"0">>} = alcove_cgroup:get(Drv, [], <<"cpuset">>, <<"alcove">>, <<"cpuset.cpus">>),
    {ok, <<"0">>} = alcove_cgroup:get(Drv, [], <<"cpuset">>, <<"alcove">>, <<"cpuset.mems">>),
    {ok, <<"16777216">>} = alcove_cgroup:get(Drv, [], <<"memory">>, <<"alcove">>,
                                             <<"memory.limit_in_bytes">>),
    case filelib:is_regular(?CGROUP "/memory/alcove/memory.memsw.limit_in_bytes") of
        true ->
            {ok, <<"16777216">>} = alcove_cgroup:get(Drv, [], <<"memory">>, <<"alcove">>,
                                                     <<"memory.memsw.limit_in_bytes">>);
        false ->
            {error, enoent} = alcove_cgroup:get(Drv, [], <<"memory">>, <<"alcove">>,
                                                <<"memory.memsw.limit_in_bytes">>)
    end.

%% The reference's container: the shell is PID 1 of its PID namespace,
%% has a private hostname (the host's is unchanged), is in the "alcove"
%% cgroup of every hierarchy, cannot create a file nor fork.
nsex_shell(_Config) ->
    HostBefore = host_name(),
    Drv = nsex:start(),
    keep(Drv),
    Sh = nsex:sandbox(Drv, [?BUSYBOX, "sh"]),
    ok = alcove:stdin(Drv, [Sh], "echo $$\n"),
    <<"1\n">> = line(Drv, [Sh], stdout),
    ok = alcove:stdin(Drv, [Sh], "echo $HOSTNAME\n"),
    Private = iolist_to_binary(["alcove", integer_to_list(Sh), "\n"]),
    Private = line(Drv, [Sh], stdout),
    HostBefore = host_name(),
    [true = ns(Sh, NS) =/= ns(self, NS) || NS <- ["ipc", "net", "mnt", "pid", "uts"]],
    Groups = proc_cgroup(Sh),
    [{Ctl, "/alcove"} = lists:keyfind(Ctl, 1, Groups) || Ctl <- ["cpuset", "memory", "pids"]],
    {Uid, _} = ids(Sh),
    true = Uid >= 16#f0000000,
    ok = alcove:stdin(Drv, [Sh], "> foo\n"),
    <<"sh: can't create foo: Too many open files\n">> = line(Drv, [Sh], stderr),
    ok = alcove:stdin(Drv, [Sh], "ls\n"),
    <<"sh: can't fork", _/binary>> = line(Drv, [Sh], stderr),
    {exit_status, 2} = alcove:event(Drv, [Sh], ?DEADLINE).

%% gpioled on a directory laid out as /sys/class/gpio: the port exports
%% the pin and makes it an output; blinking writes 1 then 0 per blink to
%% the value file (which, being a regular file, keeps them all); the
%% child lives in new namespaces and both processes dropped privileges:
%% the child can no longer open the file, only write to its descriptor.
gpioled_fake_sysfs(Config) ->
    Base = fake_sysfs(Config, 24),
    Value = filename:join([Base, "gpio24", "value"]),
    Id = 16#f0000000 + rand:uniform(16#ffff),
    {ok, #{drv := Drv, child := Child, fd := FD} = Led} = gpioled:start(24, Base, [{id, Id}]),
    keep(Drv),
    {ok, <<"24">>} = file:read_file(filename:join(Base, "export")),
    {ok, <<"out">>} = file:read_file(filename:join([Base, "gpio24", "direction"])),
    {ok, <<>>} = file:read_file(Value),
    ok = gpioled:blink(Led, 3, 1),
    {ok, <<"101010">>} = file:read_file(Value),
    ok = gpioled:on(Led),
    {ok, <<"1010101">>} = file:read_file(Value),
    ok = gpioled:off(Led),
    {ok, <<"10101010">>} = file:read_file(Value),
    %% privileges: both dropped for good
    {ok, Id, Id, Id} = alcove:getresuid(Drv, []),
    {ok, Id, Id, Id} = alcove:getresuid(Drv, [Child]),
    {ok, Id, Id, Id} = alcove:getresgid(Drv, [Child]),
    {ok, []} = alcove:getgroups(Drv, [Child]),
    {error, eacces} = alcove:open(Drv, [Child], Value, [o_wronly], 0),
    {error, eperm} = alcove:setuid(Drv, [], 0),
    [true = ns(alcove:getpid(Drv, []), NS) =/= ns(Child, NS) || NS <- ["net", "mnt", "pid", "uts"]],
    %% the descriptor still works
    {ok, 1} = alcove:write(Drv, [Child], FD, <<"1">>),
    ok = gpioled:stop(Led).

%% Failures name their step, with the kernel's errno, and leave no port
%% running: no GPIO directory at all, a pin whose directory never appears
%% after the export, a direction file that cannot be written.
gpioled_export_fails(Config) ->
    Base = fake_sysfs(Config, 24),
    Ports = ports(),
    {error, {export, enoent}} = gpioled:start(24, filename:join(Base, "nonesuch")),
    {error, {export, enoent}} = gpioled:start(25, Base),
    {ok, <<"25">>} = file:read_file(filename:join(Base, "export")),
    Direction = filename:join([Base, "gpio24", "direction"]),
    ok = file:delete(Direction),
    ok = file:make_dir(Direction),
    {error, {direction, eisdir}} = gpioled:start(24, Base),
    Ports = ports().

%% A connection gets a shell: echo answers, the shell is PID 1 of its own
%% PID namespace with its own hostname, chrooted as an unprivileged
%% user; closing the connection kills it.
tcpshell_echo(_Config) ->
    {ok, Server} = tcpshell:start(0),
    keep_server(Server),
    Port = tcpshell:port(Server),
    {ok, S} = gen_tcp:connect({127, 0, 0, 1}, Port, [binary, {active, false}]),
    ok = gen_tcp:send(S, "echo hi\n"),
    <<"hi\n">> = recv_line(S),
    ok = gen_tcp:send(S, "echo $$\n"),
    <<"1\n">> = recv_line(S),
    ok = gen_tcp:send(S, "echo $HOSTNAME\n"),
    <<"tcpshell\n">> = recv_line(S),
    %% stderr comes back too
    ok = gen_tcp:send(S, "nonesuch_cmd\n"),
    <<"sh: nonesuch_cmd: not found\n">> = recv_line(S),
    [{_Conn, OSPid}] = tcpshell:shells(Server),
    {Uid, _} = ids(OSPid),
    true = Uid >= 16#f0000000,
    [true = ns(OSPid, NS) =/= ns(self, NS) || NS <- ["net", "pid", "uts", "mnt"]],
    ok = gen_tcp:close(S),
    ok = until(fun() ->
                       Proc = "/proc/" ++ integer_to_list(OSPid),
                       case {tcpshell:shells(Server), filelib:is_dir(Proc)} of
                           {[], false} -> ok;
                           Other -> Other
                       end
               end),
    ok = tcpshell:stop(Server).

%% Two connections at once: two shells, each answering its own client.
tcpshell_two_connections(_Config) ->
    {ok, Server} = tcpshell:start(0),
    keep_server(Server),
    Port = tcpshell:port(Server),
    {ok, S1} = gen_tcp:connect({127, 0, 0, 1}, Port, [binary, {active, false}]),
    {ok, S2} = gen_tcp:connect({127, 0, 0, 1}, Port, [binary, {active, false}]),
    ok = gen_tcp:send(S1, "x=one; echo $x\n"),
    ok = gen_tcp:send(S2, "x=two; echo $x\n"),
    <<"two\n">> = recv_line(S2),
    <<"one\n">> = recv_line(S1),
    ok = gen_tcp:send(S1, "echo $x\n"),
    <<"one\n">> = recv_line(S1),
    ok = until(fun() -> case length(tcpshell:shells(Server)) of 2 -> ok; N -> N end end),
    [{_, P1}, {_, P2}] = tcpshell:shells(Server),
    true = P1 =/= P2,
    %% stopping the server ends both
    ok = tcpshell:stop(Server),
    {error, closed} = gen_tcp:recv(S1, 0, ?DEADLINE),
    {error, closed} = gen_tcp:recv(S2, 0, ?DEADLINE),
    [false = filelib:is_dir("/proc/" ++ integer_to_list(P)) || P <- [P1, P2]].

%% The shell exiting closes the connection, after its last output.
tcpshell_shell_exit(_Config) ->
    {ok, Server} = tcpshell:start(0),
    keep_server(Server),
    {ok, S} = gen_tcp:connect({127, 0, 0, 1}, tcpshell:port(Server), [binary, {active, false}]),
    ok = gen_tcp:send(S, "echo bye; exit 3\n"),
    <<"bye\n">> = recv_line(S),
    {error, closed} = gen_tcp:recv(S, 0, ?DEADLINE),
    ok = until(fun() -> case tcpshell:shells(Server) of [] -> ok; L -> L end end),
    ok = tcpshell:stop(Server).

%%% Helpers

%% The directory of the examples' sources: the project's, found through
%% the alcove application (its include directory is a link into the
%% project under rebar3).
examples_dir() ->
    Lib = code:lib_dir(alcove),
    Candidates = [filename:dirname(alcove_test:real_dir(filename:join(Lib, "include"))), Lib],
    [Dir | _] = [filename:join(C, "examples") || C <- Candidates,
                 filelib:is_regular(filename:join([C, "examples", "chrootex.erl"]))],
    Dir.

%% Ports and servers to stop in end_per_testcase, whatever happened.
keep(Drv) ->
    put(drvs, [Drv | case get(drvs) of undefined -> []; L -> L end]).

keep_server(Server) ->
    put(servers, [Server | case get(servers) of undefined -> []; L -> L end]).

erase_drvs() ->
    [catch tcpshell:stop(S) || S <- case erase(servers) of undefined -> []; L -> L end],
    case erase(drvs) of undefined -> []; L -> L end.

%% One line (up to its newline) of the process's stdout or stderr.
line(Drv, Chain, Which) ->
    line(Drv, Chain, Which, <<>>).

line(Drv, Chain, Which, Acc) ->
    Data = iolist_to_binary(alcove:Which(Drv, Chain, ?DEADLINE)),
    case <<Acc/binary, Data/binary>> of
        Acc -> {timeout, Which, Acc};
        Line ->
            case binary:last(Line) of
                $\n -> Line;
                _ -> line(Drv, Chain, Which, Line)
            end
    end.

recv_line(S) ->
    recv_line(S, <<>>).

recv_line(S, Acc) ->
    case gen_tcp:recv(S, 0, ?DEADLINE) of
        {ok, Data} ->
            Line = <<Acc/binary, Data/binary>>,
            case binary:last(Line) of
                $\n -> Line;
                _ -> recv_line(S, Line)
            end;
        Error ->
            {Error, Acc}
    end.

ports() ->
    lists:sort([P || P <- erlang:ports(), erlang:port_info(P, name) =/= undefined]).

host_name() ->
    {ok, Name} = file:read_file("/proc/sys/kernel/hostname"),
    Name.

%% Real UID and GID of a process.
ids(Pid) ->
    {ok, Status} = file:read_file("/proc/" ++ integer_to_list(Pid) ++ "/status"),
    Lines = string:lexemes(binary_to_list(Status), "\n"),
    ["Uid:" ++ U] = [L || L <- Lines, lists:prefix("Uid:", L)],
    ["Gid:" ++ G] = [L || L <- Lines, lists:prefix("Gid:", L)],
    {list_to_integer(hd(string:lexemes(U, "\t "))), list_to_integer(hd(string:lexemes(G, "\t ")))}.

ns(self, NS) ->
    {ok, L} = file:read_link("/proc/self/ns/" ++ NS),
    L;
ns(Pid, NS) ->
    {ok, L} = file:read_link("/proc/" ++ integer_to_list(Pid) ++ "/ns/" ++ NS),
    L.

%% The cgroup "alcove" in each v1 hierarchy.
alcove_dirs() ->
    {ok, Data} = file:read_file("/proc/self/mounts"),
    [filename:join(Dir, "alcove")
     || Line <- string:lexemes(binary_to_list(Data), "\n"),
        [_, Dir, "cgroup" | _] <- [string:split(Line, " ", all)]].

rmdir(Dir) ->
    case file:del_dir(Dir) of
        ok -> ok;
        {error, enoent} -> ok;
        Error -> Error
    end.

%% A directory laid out as /sys/class/gpio with pin Pin exported.
fake_sysfs(Config, Pin) ->
    Base = filename:join(?config(priv_dir, Config),
                         "gpio_" ++ integer_to_list(erlang:unique_integer([positive]))),
    Dir = filename:join(Base, "gpio" ++ integer_to_list(Pin)),
    ok = filelib:ensure_dir(filename:join(Dir, "x")),
    ok = file:write_file(filename:join(Base, "export"), <<>>),
    ok = file:write_file(filename:join(Dir, "direction"), <<>>),
    ok = file:write_file(filename:join(Dir, "value"), <<>>),
    %% root's, readable by all, writable by root only
    ok = file:change_mode(filename:join(Dir, "value"), 8#644),
    [ok = file:change_mode(D, 8#755) || D <- [Base, Dir]],
    Base.
