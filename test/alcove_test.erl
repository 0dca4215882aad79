%% SPDX-License-Identifier: ISC
%% What the suites share: a fresh port and directory per test case,
%% what a program run in it printed, what /proc says of a process (its
%% descriptors, its state), a child traced and let go, and waiting for
%% what settles. The values they share are in alcove_test.hrl.
%%
%% It is also a Common Test hook, for the setup every case of a suite
%% shares: `suite() -> [{ct_hooks, [{alcove_test, What}]}]' where What
%% lists `port' (a port for each case, as start/1) and `dir' (a fresh
%% directory for each case, as case_dir/3). After each case the hook
%% stops the case's port, whoever started it (stop/1).
-module(alcove_test).

-export([start/1, start/2, stop/1, output/2, flush/0, rss_checked/0, real_dir/1,
         read_pids/2, fill_below/2]).

-export([case_dir/3, poll/3, until/1, proc_cgroup/1]).
-export([fds/1, state_class/1, running/1, wait_exited/2, ptrace_detached/2]).
-export([init/2, pre_init_per_testcase/4, post_end_per_testcase/5]).

%% A port for the case, owned by the case's process: {drv, Drv}.
-spec start(list()) -> list().
start(Config) ->
    start(Config, []).

-spec start(list(), [alcove_drv:option()]) -> list().
start(Config, Opts) ->
    {ok, Drv} = alcove_drv:start(Opts),
    [{drv, Drv} | Config].

%% Stop the case's port and drop what it left in the mailbox. A case
%% that crashed took its port with it, and a case may leave none:
%% stopping is then a no-op. A port that exits by itself as it is
%% stopped is stopped too.
-spec stop(list()) -> ok.
stop(Config) ->
    try alcove_drv:stop(proplists:get_value(drv, Config)) of
        ok -> ok
    catch
        exit:{port_exit, _} -> ok
    end,
    flush().

%% A fresh directory for the case, named after it and its suite in the
%% priv_dir the suites of a run share: {dir, Dir}. Names made in it
%% never collide.
-spec case_dir(module(), atom(), list()) -> list().
case_dir(Suite, Case, Config) ->
    Dir = filename:join(proplists:get_value(priv_dir, Config),
                        atom_to_list(Suite) ++ "." ++ atom_to_list(Case)),
    ok = file:make_dir(Dir),
    [{dir, Dir} | Config].

%% @private The hook: its state is the list of what it sets up.
-spec init(term(), [port | dir]) -> {ok, [port | dir]}.
init(_Id, What) ->
    {ok, What}.

%% @private Run in the case's process, before init_per_testcase: the
%% case's process owns the port.
-spec pre_init_per_testcase(module(), atom(), list(), [port | dir]) ->
    {list(), [port | dir]}.
pre_init_per_testcase(Suite, Case, Config, What) ->
    Config1 = case lists:member(dir, What) of
                  true -> case_dir(Suite, Case, Config);
                  false -> Config
              end,
    case lists:member(port, What) of
        true -> {start(Config1), What};
        false -> {Config1, What}
    end.

%% @private After end_per_testcase.
-spec post_end_per_testcase(module(), atom(), list(), term(), [port | dir]) ->
    {term(), [port | dir]}.
post_end_per_testcase(_Suite, _Case, Config, Return, What) ->
    ok = stop(Config),
    {Return, What}.

%% Call F every 20 ms until it returns Want, for up to T ms; its last
%% value.
-spec poll(fun(() -> term()), term(), integer()) -> term().
poll(F, Want, T) ->
    case F() of
        Want -> Want;
        Other when T =< 0 -> Other;
        _ -> timer:sleep(20), poll(F, Want, T - 20)
    end.

%% poll/3 for ok, for up to 10 s: for state the kernel updates a moment
%% after the event that causes it (cgroup.events after an exit, a cgroup
%% that can be removed once its processes are reaped).
-spec until(fun(() -> term())) -> term().
until(F) ->
    poll(F, ok, 10000).

%% The {Controllers, Path} pairs of /proc/PID/cgroup ("" for v2).
-spec proc_cgroup(non_neg_integer()) -> [{string(), string()}].
proc_cgroup(Pid) ->
    {ok, Data} = file:read_file("/proc/" ++ integer_to_list(Pid) ++ "/cgroup"),
    [begin
         [_, Ctl, Path] = string:split(Line, ":", all),
         {Ctl, Path}
     end || Line <- string:lexemes(binary_to_list(Data), "\n")].

%% Exit status, stdout and stderr of a program, read until its exit.
-spec output(pid(), [non_neg_integer()]) -> {integer(), binary(), binary()}.
output(Drv, Chain) ->
    output(Drv, Chain, <<>>, <<>>).

output(Drv, Chain, Out, Err) ->
    receive
        {alcove_stdout, Drv, Chain, D} -> output(Drv, Chain, <<Out/binary, D/binary>>, Err);
        {alcove_stderr, Drv, Chain, D} -> output(Drv, Chain, Out, <<Err/binary, D/binary>>);
        {alcove_event, Drv, Chain, {exit_status, N}} -> {N, Out, Err}
    after 30000 ->
        ct:fail({no_exit, Chain, Out, Err})
    end.

-spec flush() -> ok.
flush() ->
    receive _ -> flush() after 0 -> ok end.

%% Under AddressSanitizer or valgrind (scripts/test-asan and
%% test-valgrind set ALCOVE_SANITIZED), the port's resident size is the
%% tool's shadow and quarantine, not the port's own memory: only the
%% plain run checks it.
-spec rss_checked() -> boolean().
rss_checked() ->
    os:getenv("ALCOVE_SANITIZED") =:= false.

%% A directory with its symbolic links resolved.
-spec real_dir(file:filename()) -> file:filename().
real_dir(Dir) ->
    {ok, Cwd} = file:get_cwd(),
    ok = file:set_cwd(Dir),
    {ok, Real} = file:get_cwd(),
    ok = file:set_cwd(Cwd),
    Real.

%% The term a VM started by a case prints on a line "PIDS Term." (the
%% processes it made), its other lines logged.
-spec read_pids(port(), timeout()) -> term().
read_pids(Port, T) ->
    receive
        {Port, {data, {eol, "PIDS " ++ Rest}}} ->
            {ok, Toks, _} = erl_scan:string(Rest),
            {ok, Term} = erl_parse:parse_term(Toks),
            Term;
        {Port, {data, {_, Line}}} ->
            ct:pal("vm: ~s", [Line]),
            read_pids(Port, T);
        {Port, {exit_status, S}} ->
            ct:fail({vm_exited, S})
    after T ->
        ct:fail(no_pids_from_vm)
    end.

%% Open /dev/null in the port until the next descriptor would be Base:
%% the descriptors opened.
-spec fill_below(pid(), non_neg_integer()) -> [non_neg_integer()].
fill_below(Drv, Base) ->
    {ok, Fd} = alcove:open(Drv, [], "/dev/null", [o_rdonly], 0),
    case Fd of
        _ when Fd =:= Base - 1 -> [Fd];
        _ when Fd < Base - 1 -> [Fd | fill_below(Drv, Base)]
    end.

%% The descriptors open in a process, sorted (/proc/PID/fd).
-spec fds(non_neg_integer()) -> [non_neg_integer()].
fds(Pid) ->
    {ok, L} = file:list_dir("/proc/" ++ integer_to_list(Pid) ++ "/fd"),
    lists:sort([list_to_integer(F) || F <- L]).

%% The state letter of a process ("R", "S", "T", "Z" ...), or gone.
-spec state_class(non_neg_integer()) -> string() | gone.
state_class(Pid) ->
    case file:read_file("/proc/" ++ integer_to_list(Pid) ++ "/stat") of
        {ok, B} ->
            %% the state follows the last ')' (the name may hold spaces)
            [_, After] = string:split(B, ")", trailing),
            [S | _] = string:lexemes(After, " "),
            binary_to_list(S);
        {error, _} ->
            gone
    end.

%% Whether a process still runs: neither gone nor a zombie. A process
%% reaped between the open of its stat and the read is gone too.
-spec running(non_neg_integer()) -> boolean().
running(Pid) ->
    not lists:member(state_class(Pid), ["Z", gone]).

%% The PIDs still running (neither gone nor zombie: an orphan reparented
%% to an init that does not reap stays a zombie) after up to T ms.
-spec wait_exited([non_neg_integer()], integer()) -> [non_neg_integer()].
wait_exited(Pids, T) ->
    Running = fun() -> [P || P <- Pids, not lists:member(state_class(P), [gone, "Z", "X"])] end,
    poll(Running, [], T).

%% A child C of the port and its child G, which C traces (ptrace_attach,
%% then waitpid for the stop) and detaches, each call answering with
%% integer results (<<>> for Addr and Data): G answers again within T
%% ms. {C, G}.
-spec ptrace_detached(pid(), timeout()) -> {non_neg_integer(), non_neg_integer()}.
ptrace_detached(Drv, T) ->
    {ok, C} = alcove:fork(Drv, []),
    {ok, G} = alcove:fork(Drv, [C]),
    {ok, 0, <<>>, <<>>} = alcove:ptrace(Drv, [C], ptrace_attach, G, 0, 0),
    {ok, G, _, _} = alcove:waitpid(Drv, [C], G, 0),
    {ok, 0, <<>>, <<>>} = alcove:ptrace(Drv, [C], ptrace_detach, G, 0, 0),
    G = alcove:getpid(Drv, [C, G], T),
    {C, G}.
