%% SPDX-License-Identifier: ISC
%% prx 0.14.1, a library built on the reference's API, built at test time
%% against this project and driven through its public API: one Erlang
%% process per Unix process, task lists with rollback, re-exec of the
%% port, call filters, privileges through sudo.
%%
%% prx's source is not part of the project: it is taken from PRX_SRC, by
%% default ../shared/prx-0.14.1 from the project root (or
%% /work/shared/prx-0.14.1, where this machine keeps it), copied into the
%% suite's priv_dir and built there offline with the project under
%% _checkouts/alcove (build_prx.sh in the data directory). A failed build
%% fails the case build_prx with rebar3's output, and every other case
%% with prx_not_built. Only a machine without the source at all skips
%% the suite, saying where it looked.
%%
%% Each case starts its own port with prx:fork/0 (prx starts alcove_drv
%% itself, with the application environment prx options), stopped in
%% end_per_testcase.
-module(alcove_prx_SUITE).

-include_lib("common_test/include/ct.hrl").

-import(alcove_test, [flush/0]).

-export([all/0, suite/0, init_per_suite/1, end_per_suite/1,
         init_per_testcase/2, end_per_testcase/2]).
-export([
    build_prx/1,
    fork_exec_stdio/1,
    fork_chain/1,
    task_ops/1,
    task_rollback/1,
    task_errexit_false/1,
    sh/1,
    cmd/1,
    cmd_enoent/1,
    reexec_port/1,
    reexec_child/1,
    replace_process_image_port/1,
    replace_process_image_child/1,
    filter/1,
    pidof/1,
    cpid/1,
    cpid_exec/1,
    execed/1,
    eof_stdin/1,
    eof_stdout/1,
    atexit/1,
    controlling_process/1,
    waitpid/1,
    sudo/1
]).

%% How long a case waits for output or an exit before failing.
-define(DEADLINE, 5000).
%% How long the build of prx may take.
-define(BUILD_DEADLINE, 120000).

suite() ->
    [{timetrap, {seconds, 15}}].

all() ->
    [build_prx, fork_exec_stdio, fork_chain, task_ops, task_rollback,
     task_errexit_false, sh, cmd, cmd_enoent, reexec_port, reexec_child,
     replace_process_image_port, replace_process_image_child, filter, pidof,
     cpid, cpid_exec, execed, eof_stdin, eof_stdout, atexit,
     controlling_process, waitpid, sudo].

%% Build prx in priv_dir and put its ebin first in the code path. The
%% result, ok or why not, is kept for the cases: a failed build is
%% reported by them, not by a skip.
init_per_suite(Config) ->
    Root = project_root(),
    case prx_src(Root) of
        {ok, Src} -> build(Root, Src, Config);
        {none, Tried} -> {skip, {no_prx_source, Tried, set_prx_src}}
    end.

build(Root, Src, Config) ->
    Dest = filename:join(?config(priv_dir, Config), "prx_build"),
    Script = filename:join(?config(data_dir, Config), "build_prx.sh"),
    Built = case run("/bin/sh", [Script, Root, Src, Dest]) of
                {0, Output} ->
                    ct:log("prx built from ~ts in ~ts:~n~ts", [Src, Dest, Output]),
                    Ebin = filename:join([Dest, "prx", "_build", "default", "lib",
                                          "prx", "ebin"]),
                    true = code:add_patha(Ebin),
                    [{module, M} = code:ensure_loaded(M) || M <- [prx, prx_drv, prx_task]],
                    ok;
                {Status, Output} ->
                    ct:pal("prx (~ts) did not build against ~ts: ~p~n~ts",
                           [Src, Root, Status, Output]),
                    {not_built, Src, Status, Output}
            end,
    [{prx, Built}, {prx_dest, Dest} | Config].

end_per_suite(Config) ->
    [begin code:purge(M), code:delete(M), code:purge(M) end
     || M <- [prx, prx_drv, prx_task]],
    code:del_path(filename:join([?config(prx_dest, Config), "prx", "_build",
                                 "default", "lib", "prx", "ebin"])),
    ok.

init_per_testcase(_Case, Config) ->
    application:unset_env(prx, options),
    Config.

%% The ports the case started, and the privileges prx:sudo/0 set.
end_per_testcase(_Case, _Config) ->
    [catch prx:stop(Task) || Task <- erase_tasks()],
    application:unset_env(prx, options),
    flush().

%%% Test cases

%% prx compiles against alcove and its post-hook copies the port to
%% priv/prx.
build_prx(Config) ->
    case ?config(prx, Config) of
        ok ->
            Prog = prx_drv:progname(),
            "prx" = filename:basename(Prog),
            {ok, Port} = file:read_file(alcove_drv:progname()),
            {ok, Port} = file:read_file(Prog),
            ok;
        {not_built, Src, Status, Output} ->
            %% the output a line an element: readable in the console too
            Plain = re:replace(Output, "\e\\[[0-9;]*m", "", [global, {return, binary}]),
            ct:fail({prx_did_not_build, Src, {exit, Status},
                     [binary_to_list(L) || L <- binary:split(Plain, <<"\n">>, [global]),
                                           L =/= <<>>]})
    end.

%% fork/0 is the port, fork/1 a child of it; the child runs cat after
%% execvp/2 and its standard output comes back as {stdout, Task, Data}.
fork_exec_stdio(Config) ->
    need_prx(Config),
    Task = port(),
    [] = prx:forkchain(Task),
    {ok, Child} = prx:fork(Task),
    [_] = prx:forkchain(Child),
    ok = prx:execvp(Child, ["cat"]),
    ok = prx:stdin(Child, "hello\n"),
    <<"hello\n">> = stdout(Child, 6),
    ok = prx:stdin(Child, [<<"wor">>, "ld\n"]),
    <<"world\n">> = stdout(Child, 6).

%% A fork of a fork of a fork: each task is its own process, the child of
%% the one before it, and its fork chain is the PIDs down to it.
fork_chain(Config) ->
    need_prx(Config),
    Task = port(),
    {ok, T1} = prx:fork(Task),
    {ok, T2} = prx:fork(T1),
    {ok, T3} = prx:fork(T2),
    [P0, P1, P2, P3] = [prx:getpid(T) || T <- [Task, T1, T2, T3]],
    [P1] = prx:forkchain(T1),
    [P1, P2] = prx:forkchain(T2),
    [P1, P2, P3] = prx:forkchain(T3),
    [P0, P1, P2] = [ppid(P) || P <- [P1, P2, P3]],
    T2 = prx:parent(T3),
    T1 = prx:parent(T2).

%% task/3 forks a task and runs the ops in it: it is returned with them
%% done.
task_ops(Config) ->
    need_prx(Config),
    Parent = port(),
    {ok, Task} = prx:task(Parent, [{chdir, ["/tmp"]},
                                   {setenv, ["PRX_SUITE", "task", 1]}], []),
    {ok, <<"/tmp">>} = prx:getcwd(Task),
    <<"task">> = prx:getenv(Task, "PRX_SUITE"),
    [#{pid := Pid}] = prx:cpid(Parent),
    Pid = prx:getpid(Task).

%% task/4: an op failing returns its error and rolls the task back: the
%% ops after it are not run, the task's Erlang process is stopped and
%% its system process killed and reaped by the parent.
task_rollback(Config) ->
    need_prx(Config),
    Parent = port(),
    Init = fun(P) ->
                   {ok, T} = prx:fork(P),
                   put(prx_forked, {T, prx:getpid(T)}),
                   {ok, T}
           end,
    Ops = [{chdir, ["/"]}, {chdir, ["/nonexistent"]}, {setenv, ["PRX_SUITE", "x", 1]}],
    {error, enoent} = prx:task(Parent, Ops, [], [{init, Init}]),
    {Task, Pid} = get(prx_forked),
    false = is_process_alive(Task),
    ok = until(fun() -> [] =:= prx:cpid(Parent) end),
    {error, esrch} = prx:kill(Parent, Pid, 0).

%% An op with {errexit, false} may fail: the task goes on.
task_errexit_false(Config) ->
    need_prx(Config),
    Parent = port(),
    Ops = [{prx, chdir, ["/nonexistent"], [{errexit, false}]}, {chdir, ["/tmp"]}],
    {ok, Task} = prx:task(Parent, Ops, []),
    {ok, <<"/tmp">>} = prx:getcwd(Task).

%% sh/2 runs a command through /bin/sh -c in a child and returns its
%% output once it exits; the task is left as it was.
sh(Config) ->
    need_prx(Config),
    Task = port(),
    <<"hello 2\n">> = prx:sh(Task, "echo hello $((1 + 1))"),
    ok = until(fun() -> [] =:= prx:cpid(Task) end),
    <<"again\n">> = prx:sh(Task, "echo again").

%% cmd/2 runs an argv, searched in PATH.
cmd(Config) ->
    need_prx(Config),
    Task = port(),
    <<"a b\n">> = prx:cmd(Task, ["echo", "a", "b"]),
    <<"x\n">> = prx:cmd(Task, ["printf", "%s\\n", "x"]).

%% cmd/2 of a program that does not exist returns exec's error.
cmd_enoent(Config) ->
    need_prx(Config),
    Task = port(),
    {error, enoent} = prx:cmd(Task, ["/nonexistent/program"]),
    ok = until(fun() -> [] =:= prx:cpid(Task) end).

%% reexec/1 on the port task: same process, new image.
reexec_port(Config) ->
    reexecs(Config, port, fun prx:reexec/1).

%% reexec/1 on a child of the port.
reexec_child(Config) ->
    reexecs(Config, child, fun prx:reexec/1).

%% replace_process_image/1 (reexec/1's alias) on the port task.
replace_process_image_port(Config) ->
    reexecs(Config, port, fun prx:replace_process_image/1).

%% replace_process_image/1 on a child of the port.
replace_process_image_child(Config) ->
    reexecs(Config, child, fun prx:replace_process_image/1).

%% filter/2: a filtered call raises undef in the task and in the tasks it
%% forks afterwards; the other calls still work.
filter(Config) ->
    need_prx(Config),
    Ctrl = port(),
    Uid = prx:getuid(Ctrl),
    ok = prx:filter(Ctrl, [getpid]),
    {'EXIT', {undef, _}} = (catch prx:getpid(Ctrl)),
    Uid = prx:getuid(Ctrl),
    {ok, Task} = prx:fork(Ctrl),
    {'EXIT', {undef, _}} = (catch prx:getpid(Task)),
    Uid = prx:getuid(Task),
    ok.

%% pidof/1 is the system PID, getpid's, without a call for a child and
%% the port's own for the port task; noproc once the task is stopped.
pidof(Config) ->
    need_prx(Config),
    Task = port(),
    {ok, Child} = prx:fork(Task),
    PortPid = prx:getpid(Task),
    PortPid = prx:pidof(Task),
    ChildPid = prx:getpid(Child),
    ChildPid = prx:pidof(Child),
    [ChildPid] = prx:forkchain(Child),
    ok = prx:stop(Child),
    noproc = prx:pidof(Child).

%% cpid/1 lists the children with the parent's descriptors towards
%% them; cpid/2 finds one by Erlang or system PID.
cpid(Config) ->
    need_prx(Config),
    Task = port(),
    [] = prx:cpid(Task),
    {ok, Child} = prx:fork(Task),
    ChildPid = prx:getpid(Child),
    [#{pid := ChildPid, exec := false, flowcontrol := -1, signaloneof := 15,
       fdctl := Ctl, stdin := In, stdout := Out, stderr := Err} = Map] = prx:cpid(Task),
    4 = length(lists:usort([Fd || Fd <- [Ctl, In, Out, Err], Fd >= 0])),
    Map = prx:cpid(Task, Child),
    Map = prx:cpid(Task, ChildPid),
    error = prx:cpid(Task, 1).

%% After exec the child's entry says so: exec true, its control
%% descriptor -2 (closed by the exec).
cpid_exec(Config) ->
    need_prx(Config),
    Task = port(),
    {ok, Child} = prx:fork(Task),
    ChildPid = prx:getpid(Child),
    ok = prx:execvp(Child, ["cat"]),
    #{pid := ChildPid, exec := true, fdctl := -2} = prx:cpid(Task, Child).

%% execed/1 tells a task in exec mode from one in call mode.
execed(Config) ->
    need_prx(Config),
    Task = port(),
    {ok, Child} = prx:fork(Task),
    false = prx:execed(Task),
    false = prx:execed(Child),
    ok = prx:execvp(Child, ["cat"]),
    true = prx:execed(Child),
    false = prx:execed(Task).

%% eof/3 with stdin closes the child's standard input: cat sees the end
%% of its input and exits 0, which is reported.
eof_stdin(Config) ->
    need_prx(Config),
    Task = port(),
    {ok, Child} = prx:fork(Task),
    ok = prx:execvp(Child, ["cat"]),
    ok = prx:stdin(Child, "abc"),
    <<"abc">> = stdout(Child, 3),
    ok = prx:eof(Task, Child, stdin),
    0 = exit_status(Child).

%% eof/3 with stdout closes the parent's end of the child's standard
%% output: cat's next write kills it with SIGPIPE.
eof_stdout(Config) ->
    need_prx(Config),
    Task = port(),
    {ok, Child} = prx:fork(Task),
    ok = prx:execvp(Child, ["cat"]),
    ok = prx:eof(Task, Child, stdout),
    ok = prx:stdin(Child, "lost\n"),
    {termsig, sigpipe} = exit_status(Child).

%% atexit/2: when a child task's Erlang process ends, the parent runs the
%% function with its driver, its own fork chain and the child's entry;
%% here it closes the child's stdin, as the default does, and cat exits.
atexit(Config) ->
    need_prx(Config),
    Task = port(),
    Self = self(),
    ok = prx:atexit(Task, fun(Drv, Chain, #{pid := Pid, stdin := In}) ->
                                  Closed = prx_drv:call(Drv, Chain, close, [In]),
                                  Self ! {atexit, Drv, Chain, Pid, Closed}
                          end),
    {ok, Child} = prx:fork(Task),
    ChildPid = prx:getpid(Child),
    ok = prx:execvp(Child, ["cat"]),
    Drv = prx:drv(Task),
    ok = prx:stop(Child),
    receive
        {atexit, Drv, [], ChildPid, Closed} -> ok = Closed
    after ?DEADLINE ->
        ct:fail(no_atexit)
    end,
    ok = until(fun() -> [] =:= prx:cpid(Task) end).

%% controlling_process/2 hands a task to another process: its calls are
%% the new owner's (the old one's raise eacces) and so is its output
%% once it execs.
controlling_process(Config) ->
    need_prx(Config),
    Task = port(),
    {ok, Child} = prx:fork(Task),
    ChildPid = prx:getpid(Child),
    Owner = owner(),
    ok = prx:controlling_process(Child, Owner),
    ChildPid = as(Owner, fun() -> prx:getpid(Child) end),
    {'EXIT', {eacces, _}} = (catch prx:getpid(Child)),
    <<"moved\n">> = as(Owner, fun() ->
                                      ok = prx:execvp(Child, ["echo", "moved"]),
                                      stdout(Child, 6)
                              end),
    0 = as(Owner, fun() -> exit_status(Child) end),
    ok = receive {stdout, Child, _} -> unexpected after 0 -> ok end.

%% With SIGCHLD caught (sig_info) the event loop leaves its children to
%% waitpid/3, as prx documents: the exit status is the caller's to take.
waitpid(Config) ->
    need_prx(Config),
    Task = port(),
    {ok, sig_dfl} = prx:sigaction(Task, sigchld, sig_info),
    {ok, Child} = prx:fork(Task),
    Pid = prx:getpid(Child),
    ok = prx:exit(Child, 2),
    {ok, Pid, _, [{exit_status, 2}]} = prx:waitpid(Task, Pid, 0).

%% sudo/0 makes the next fork/0 run the port through sudo -n: the task
%% is root and its parent is sudo.
sudo(Config) ->
    need_prx(Config),
    Sudo = os:find_executable("sudo"),
    true = is_list(Sudo),
    ok = prx:sudo(),
    {ok, [{exec, "sudo -n"}]} = application:get_env(prx, options),
    Task = port(),
    0 = prx:getuid(Task),
    Pid = prx:getpid(Task),
    {ok, Exe} = file:read_link("/proc/" ++ integer_to_list(ppid(Pid)) ++ "/exe"),
    "sudo" = filename:basename(Exe),
    {ok, Child} = prx:fork(Task),
    0 = prx:getuid(Child).

%%% Helpers

%% The task (the port, or a child forked by it) the same after Reexec:
%% the same system process running a new image of the port (a
%% close-on-exec descriptor is gone), its environment and options kept,
%% still taking calls, forking a child and reporting its exit.
reexecs(Config, Where, Reexec) ->
    need_prx(Config),
    Task = case Where of
               port ->
                   port();
               child ->
                   {ok, Forked} = prx:fork(port()),
                   Forked
           end,
    Pid = prx:getpid(Task),
    Marker = filename:join(?config(priv_dir, Config), "reexec_marker"),
    ok = file:write_file(Marker, <<>>),
    {ok, Fd} = prx:open(Task, Marker, [o_rdonly, o_cloexec], 0),
    FdLink = "/proc/" ++ integer_to_list(Pid) ++ "/fd/" ++ integer_to_list(Fd),
    {ok, Marker} = file:read_link(FdLink),
    ok = prx:setenv(Task, "PRX_REEXEC", "kept", 1),
    true = prx:setopt(Task, signaloneof, 9),
    ok = Reexec(Task),
    Pid = prx:getpid(Task),
    false = {ok, Marker} =:= file:read_link(FdLink),
    <<"kept">> = prx:getenv(Task, "PRX_REEXEC"),
    9 = prx:getopt(Task, signaloneof),
    false = prx:execed(Task),
    {ok, Child} = prx:fork(Task),
    ChildPid = prx:getpid(Child),
    Pid = ppid(ChildPid),
    ChildChain = prx:forkchain(Task) ++ [ChildPid],
    ChildChain = prx:forkchain(Child),
    ok = prx:execvp(Child, ["/bin/sh", "-c", "exit 3"]),
    3 = exit_status(Child).

%% Fail the case unless prx was built.
need_prx(Config) ->
    case ?config(prx, Config) of
        ok -> ok;
        {not_built, Src, Status, _} -> ct:fail({prx_not_built, Src, Status, see_build_prx})
    end.

%% A port task for the case, stopped by end_per_testcase.
port() ->
    {ok, Task} = prx:fork(),
    put(prx_tasks, [Task | tasks()]),
    Task.

tasks() ->
    case get(prx_tasks) of
        undefined -> [];
        Tasks -> Tasks
    end.

erase_tasks() ->
    case erase(prx_tasks) of
        undefined -> [];
        Tasks -> Tasks
    end.

%% What the task wrote to its standard output, Size bytes of it.
stdout(Task, Size) ->
    stdout(Task, Size, <<>>).

stdout(_Task, Size, Acc) when byte_size(Acc) >= Size ->
    Acc;
stdout(Task, Size, Acc) ->
    receive
        {stdout, Task, Data} -> stdout(Task, Size, <<Acc/binary, Data/binary>>)
    after ?DEADLINE ->
        ct:fail({no_stdout, Task, Acc})
    end.

%% How the task's process ended, as prx reports it to the owner.
exit_status(Task) ->
    receive
        {exit_status, Task, Status} -> Status;
        {termsig, Task, Signal} -> {termsig, Signal}
    after ?DEADLINE ->
        ct:fail({no_exit, Task})
    end.

%% A process that runs functions for the case, a task's other owner,
%% until the case's process ends.
owner() ->
    Case = self(),
    spawn_link(fun() -> owner_loop(erlang:monitor(process, Case)) end).

owner_loop(Monitor) ->
    receive
        {run, From, Ref, Fun} ->
            From ! {Ref, catch Fun()},
            owner_loop(Monitor);
        {'DOWN', Monitor, process, _, _} ->
            ok
    end.

as(Owner, Fun) ->
    Ref = make_ref(),
    Owner ! {run, self(), Ref, Fun},
    receive
        {Ref, Result} -> Result
    after ?DEADLINE ->
        ct:fail({no_reply, Owner})
    end.

%% The parent PID of a system process.
ppid(Pid) ->
    {ok, Status} = file:read_file("/proc/" ++ integer_to_list(Pid) ++ "/status"),
    [PPid] = [binary_to_integer(string:trim(V))
              || <<"PPid:", V/binary>> <- binary:split(Status, <<"\n">>, [global])],
    PPid.

%% Wait until Pred holds: children are reaped asynchronously.
until(Pred) ->
    until(Pred, ?DEADLINE div 50).

until(Pred, 0) ->
    ct:fail({still_false, Pred});
until(Pred, N) ->
    case Pred() of
        true -> ok;
        false -> timer:sleep(50), until(Pred, N - 1)
    end.

%% The project root: alcove's include directory is a link into it under
%% rebar3, or alcove's own directory is the root.
project_root() ->
    filename:dirname(alcove_test:real_dir(filename:join(code:lib_dir(alcove), "include"))).

%% prx's source: PRX_SRC (whatever it holds: a wrong one fails the
%% build), else the first of the usual places that has it.
prx_src(Root) ->
    case os:getenv("PRX_SRC") of
        Src when is_list(Src), Src =/= "" ->
            {ok, filename:absname(Src)};
        _ ->
            Tried = [filename:join([filename:dirname(Root), "shared", "prx-0.14.1"]),
                     "/work/shared/prx-0.14.1"],
            case [D || D <- Tried, filelib:is_regular(filename:join([D, "src", "prx.erl"]))] of
                [Src | _] -> {ok, alcove_test:real_dir(Src)};
                [] -> {none, Tried}
            end
    end.

%% Exit status and output (stderr included) of a command.
run(Cmd, Args) ->
    Port = open_port({spawn_executable, Cmd},
                     [{args, Args}, exit_status, stderr_to_stdout, binary, use_stdio,
                      {env, [{"REBAR_COLOR", "none"}]}]),
    collect(Port, <<>>).

collect(Port, Acc) ->
    receive
        {Port, {data, Data}} -> collect(Port, <<Acc/binary, Data/binary>>);
        {Port, {exit_status, Status}} -> {Status, Acc}
    after ?BUILD_DEADLINE ->
        catch port_close(Port),
        {timeout, Acc}
    end.
