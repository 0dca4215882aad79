%% SPDX-License-Identifier: ISC
%% @doc `make bench': what alcove costs, beside what the machine or a
%% user's alternative costs, measured in the same run.
%%
%% Every figure is the median of ?REPS repetitions; an alcove repetition
%% and its baseline repetition run one after the other, so that both see
%% the same machine (its speed here varies from minute to minute). The
%% table is printed and written as JSON to results.json beside this
%% module. Nothing here asserts a time: it reports.
%%
%% Two VMs run it (see the Makefile): `main pinned' on one CPU measures
%% every figure but the stream's throughput and the sandboxes a second
%% and keeps its rows in rows.term; `main spread', on every CPU,
%% measures those two, then prints the table of both. A stream through
%% a process in between is a pipeline: its throughput is what it does
%% on several CPUs, while on one CPU the same run measures its CPU cost
%% (both are reported). Sandboxes a second from concurrent owners show
%% how sandbox starts scale with the CPUs. A driver on a peer node
%% (alcove_drv:start_on/2) is measured beside a local one: the round
%% trip and the sandbox start in the first VM, the stream in the second
%% (this VM is made a distributed node on loopback for them).
%%
%% Run: erl -noshell -pa _build/default/lib/alcove/ebin -pa bench \
%%          -s alcove_bench main
-module(alcove_bench).

-export([main/0, main/1]).

-define(REPS, 7).
%% Round trips per repetition: enough for ~0.1 s each.
-define(CALLS, 10000).
-define(PINGPONGS, 20000).
-define(CALLS_DEPTH4, 2000).
-define(CHILDREN, 1000).
-define(STREAM_BYTES, (256 * 1024 * 1024)).
-define(STREAM_CHUNK, (64 * 1024)).
-define(STREAM_REPS, 5).
-define(SPAWNS, 200).
-define(SANDBOXES, 20).
-define(SANDBOX_FLAGS,
        [clone_newpid, clone_newns, clone_newnet, clone_newuts, clone_newipc]).
-define(BWRAP_ARGS, ["--unshare-all", "--ro-bind", "/", "/", "/bin/true"]).
%% The realistic sandbox: the namespaces above, a tmpfs root, these
%% directories bound read-only (those that exist), /proc, /bin/true.
-define(REALISTIC_DIRS, ["/bin", "/lib", "/lib64", "/usr"]).
%% Sandboxes per repetition: enough for ~0.1 s each.
-define(REALISTIC, 15).
%% Concurrent owners, each with its port, starting sandboxes for
%% ?OWNER_MS in each of ?OWNER_REPS repetitions.
-define(OWNERS, [1, 2, 8]).
-define(OWNER_MS, 500).
-define(OWNER_REPS, 3).
-define(TIMEOUT, 60000).

%% A row: {Measure, Unit, AlcoveSamples, BaselineSamples | none,
%%         Target | none} with Target = {le | ge, Ratio}; the ratio is
%% always alcove / baseline.

%% Everything in this VM.
main() ->
    main([all]).

main([Part]) ->
    try
        case Part of
            all ->
                report(merge(pinned(), spread()));
            pinned ->
                ok = file:write_file(rows_file(), term_to_binary(pinned()));
            spread ->
                {ok, Bin} = file:read_file(rows_file()),
                ok = file:delete(rows_file()),
                report(merge(binary_to_term(Bin), spread()))
        end,
        halt(0)
    catch
        Class:Reason:Stack ->
            io:format(standard_error, "bench failed: ~p:~p~n~p~n",
                      [Class, Reason, Stack]),
            halt(1)
    end.

report(Rows) ->
    print(Rows),
    write_json(Rows).

%% The stream's throughput beside its CPU cost, the other rows of the
%% spread run last.
merge(Pinned, Spread) ->
    {Stream, Rest} = lists:partition(fun is_stream/1, Spread),
    lists:flatmap(fun(Row) ->
                          case is_stream(Row) of
                              true -> [Row | Stream];
                              false -> [Row]
                          end
                  end, Pinned) ++ Rest.

is_stream({M, _, _, _, _}) -> lists:prefix("stream", lists:flatten(M));
is_stream(_) -> false.

rows_file() ->
    filename:join(filename:dirname(code:which(?MODULE)), "rows.term").

pinned() ->
    progress("calls at depth 0 and 4"),
    Calls = calls(),
    progress("~b idle children", [?CHILDREN]),
    Scale = scale(),
    progress("stream of ~b MiB through cat, CPU cost", [?STREAM_BYTES bsr 20]),
    Stream = stream(cost),
    progress("fork + exec /bin/true"),
    Spawn = spawn_true(),
    progress("sandbox start"),
    Sandbox = sandbox(),
    progress("realistic sandbox start"),
    Realistic = realistic(),
    progress("a driver on a peer node: getpid, realistic sandbox start"),
    Remote = with_peer(fun remote/1),
    Calls ++ Scale ++ [Stream, Spawn, Sandbox] ++ Realistic ++ Remote
        ++ [{setting, setting()}].

spread() ->
    progress("stream of ~b MiB through cat, throughput", [?STREAM_BYTES bsr 20]),
    Stream = stream(throughput),
    progress("a driver on a peer node: stream of ~b MiB", [?STREAM_BYTES bsr 20]),
    Remote = with_peer(fun remote_stream/1),
    progress("realistic sandboxes per second, ~w owners", [?OWNERS]),
    [Stream | Remote] ++ owners() ++ [{setting, setting()}].

%%% Call round trips

calls() ->
    {ok, Drv} = alcove_drv:start(),
    Echo = open_echo(),
    Relay = spawn_link(fun() -> relay(open_echo(), #{}, 0) end),
    Depth0 = reps(fun() ->
                          {getpid_us(Drv, [], ?CALLS), pingpong_us(),
                           echo_us(Echo, ?CALLS), relay_us(Relay, ?CALLS)}
                  end),
    port_close(Echo),
    unlink(Relay),
    exit(Relay, kill),
    Chain = chain(Drv, 4),
    Depth4 = reps(fun() ->
                          {getpid_us(Drv, Chain, ?CALLS_DEPTH4),
                           5 * pingpong_us()}
                  end),
    ok = alcove_drv:stop(Drv),
    flush(),
    [{"getpid, depth 0 / pipe ping-pong", "us", col(1, Depth0),
      col(2, Depth0), {le, 1.3}},
     {"getpid, depth 0 / open_port echo", "us", col(1, Depth0),
      col(3, Depth0), none},
     {"getpid, depth 0 / echo through an owner", "us", col(1, Depth0),
      col(4, Depth0), none},
     {"getpid, depth 4 / 5 pipe ping-pongs", "us", col(1, Depth4),
      col(2, Depth4), {le, 1.3}}].

getpid_us(Drv, Chain, N) ->
    Pid = alcove:getpid(Drv, Chain),
    time_ns(fun() -> call_loop(Drv, Chain, Pid, N) end) / N / 1000.

call_loop(_, _, _, 0) ->
    ok;
call_loop(Drv, Chain, Pid, N) ->
    Pid = alcove:getpid(Drv, Chain),
    call_loop(Drv, Chain, Pid, N - 1).

echo_us(Port, N) ->
    time_ns(fun() -> echo_loop(Port, N) end) / N / 1000.

echo_loop(_, 0) ->
    ok;
echo_loop(Port, N) ->
    true = port_command(Port, <<0>>),
    receive {Port, {data, <<0>>}} -> ok end,
    echo_loop(Port, N - 1).

open_echo() ->
    open_port({spawn_executable, pingpong()}, [{args, ["echo"]}, {packet, 4}, binary]).

%% The floor of any port owned by a server process, as alcove_drv owns
%% the port: the caller sends to the owner, which writes to the echo
%% program and sends each reply back to its caller, matched by an id.
relay_us(Relay, N) ->
    time_ns(fun() -> relay_loop(Relay, N) end) / N / 1000.

relay_loop(_, 0) ->
    ok;
relay_loop(Relay, N) ->
    Alias = alias([reply]),
    Relay ! {call, Alias},
    receive {Alias, ok} -> ok end,
    relay_loop(Relay, N - 1).

relay(Port, Pending, Id) ->
    receive
        {call, Alias} ->
            true = port_command(Port, <<Id:32>>),
            relay(Port, Pending#{Id => Alias}, (Id + 1) band 16#ffffffff);
        {Port, {data, <<Done:32>>}} ->
            {Alias, Rest} = maps:take(Done, Pending),
            Alias ! {Alias, ok},
            relay(Port, Rest, Id)
    end.

%% The C program times itself, so its start-up is not counted.
pingpong_us() ->
    Out = os:cmd(pingpong() ++ " pingpong " ++ integer_to_list(?PINGPONGS)),
    list_to_integer(string:trim(Out)) / 1000.

%% A chain of Depth processes, each forked by the one above.
chain(Drv, Depth) ->
    lists:foldl(fun(_, Chain) ->
                        {ok, Pid} = alcove:fork(Drv, Chain),
                        Chain ++ [Pid]
                end, [], lists:seq(1, Depth)).

%%% 1000 idle children: call cost, fork cost, memory

scale() ->
    Reps = reps(fun scale_rep/0),
    [{io_lib:format("getpid, ~b children / none", [?CHILDREN]), "us",
      col(2, Reps), col(1, Reps), {le, 1.2}},
     {io_lib:format("fork, the ~bth / the 10th", [?CHILDREN]), "us",
      col(4, Reps), col(3, Reps), {le, 1.0}},
     {"port RSS, idle", "KiB", col(5, Reps), none, none},
     {io_lib:format("port RSS, ~b children", [?CHILDREN]), "KiB",
      col(6, Reps), none, none}].

%% A fresh port each time, so that every repetition forks from zero.
scale_rep() ->
    %% The default maxchild is nofile/4 - 4; ask for enough explicitly,
    %% the Makefile raises nofile.
    {ok, Drv} = alcove_drv:start([{maxchild, 4 * ?CHILDREN}]),
    None = getpid_us(Drv, [], ?CALLS),
    Idle = rss_kib(Drv),
    Forks = [time_ns(fun() -> fork_ok(Drv) end)
             || _ <- lists:seq(1, ?CHILDREN)],
    Many = getpid_us(Drv, [], ?CALLS),
    Full = rss_kib(Drv),
    ok = alcove_drv:stop(Drv),
    flush(),
    {None, Many,
     median(lists:sublist(Forks, 5, 11)) / 1000,
     median(lists:sublist(Forks, ?CHILDREN - 10, 11)) / 1000,
     Idle, Full}.

fork_ok(Drv) ->
    case alcove:fork(Drv, []) of
        {ok, _} -> ok;
        {error, E} ->
            erlang:error({fork, E, "raise ulimit -n: the port needs about "
                          "4 fds per child"})
    end.

rss_kib(Drv) ->
    Pid = alcove:getpid(Drv, []),
    Path = "/proc/" ++ integer_to_list(Pid) ++ "/status",
    {ok, Status} = file:read_file(Path),
    [_, Rest] = binary:split(Status, <<"VmRSS:">>),
    [Kib | _] = string:lexemes(Rest, " \t\n"),
    binary_to_integer(Kib).

%%% Throughput through cat

%% Throughput with the CPUs the VM has (the target), or CPU cost: the
%% same on one CPU, where every copy and context switch is paid in turn.
stream(Kind) ->
    {ok, Drv} = alcove_drv:start(),
    Reps = reps(?STREAM_REPS,
                fun() -> {stream_alcove(Drv), stream_port()} end),
    ok = alcove_drv:stop(Drv),
    flush(),
    CPUs = erlang:system_info(logical_processors_available),
    {Name, Target} = case Kind of
                         throughput -> {"~b CPUs", {ge, 1.0}};
                         cost -> {"~b CPU, cost", none}
                     end,
    {io_lib:format("stream ~b MiB through cat, " ++ Name, [?STREAM_BYTES bsr 20, CPUs]),
     "MB/s", col(1, Reps), col(2, Reps), Target}.

%% One process writes, the owner counts what comes back.
stream_alcove(Drv) ->
    {ok, Cat} = alcove:fork(Drv, []),
    ok = alcove:execvp(Drv, [Cat], "/bin/cat", ["/bin/cat"]),
    Chunk = binary:copy(<<"x">>, ?STREAM_CHUNK),
    T0 = erlang:monotonic_time(nanosecond),
    writer(fun(Data) -> ok = alcove:stdin(Drv, [Cat], Data) end, Chunk),
    count(fun() -> receive {alcove_stdout, Drv, [Cat], D} -> byte_size(D)
                   after ?TIMEOUT -> erlang:error(stream_timeout)
                   end end, 0),
    T = erlang:monotonic_time(nanosecond) - T0,
    ok = alcove:eof(Drv, [Cat]),
    {exit_status, 0} = alcove:event(Drv, [Cat], ?TIMEOUT),
    mb_s(T).

stream_port() ->
    Port = open_port({spawn_executable, "/bin/cat"},
                     [binary, stream, use_stdio, exit_status]),
    Chunk = binary:copy(<<"x">>, ?STREAM_CHUNK),
    T0 = erlang:monotonic_time(nanosecond),
    writer(fun(Data) -> true = port_command(Port, Data) end, Chunk),
    count(fun() -> receive {Port, {data, D}} -> byte_size(D)
                   after ?TIMEOUT -> erlang:error(stream_timeout)
                   end end, 0),
    T = erlang:monotonic_time(nanosecond) - T0,
    port_close(Port),
    mb_s(T).

writer(Write, Chunk) ->
    spawn_link(fun() ->
                       [Write(Chunk)
                        || _ <- lists:seq(1, ?STREAM_BYTES div ?STREAM_CHUNK)]
               end).

%% Not a byte lost, nor one too many.
count(_, ?STREAM_BYTES) ->
    ok;
count(_, N) when N > ?STREAM_BYTES ->
    erlang:error({stream_too_long, N});
count(Next, N) ->
    count(Next, N + Next()).

mb_s(Ns) ->
    ?STREAM_BYTES * 1000 / Ns.

%%% Process start

spawn_true() ->
    {ok, Drv} = alcove_drv:start(),
    Reps = reps(fun() ->
                        {per_spawn(fun() -> exec_true(Drv, [], fun none/2) end,
                                   ?SPAWNS),
                         per_spawn(fun() -> port_true("/bin/true", []) end,
                                   ?SPAWNS)}
                end),
    ok = alcove_drv:stop(Drv),
    flush(),
    {"fork + exec /bin/true / open_port", "us", col(1, Reps), col(2, Reps),
     {le, 1.0}}.

sandbox() ->
    Bwrap = bwrap(),
    {ok, Drv} = alcove_drv:start(),
    Reps = reps(fun() ->
                        {per_spawn(fun() ->
                                           exec_true(Drv, ?SANDBOX_FLAGS, fun none/2)
                                   end, ?SANDBOXES),
                         per_spawn(fun() -> port_true(Bwrap, ?BWRAP_ARGS) end,
                                   ?SANDBOXES)}
                end),
    ok = alcove_drv:stop(Drv),
    flush(),
    {"sandbox (5 namespaces) + /bin/true / bwrap", "us", col(1, Reps),
     col(2, Reps), {le, 0.5}}.

bwrap() ->
    case os:find_executable("bwrap") of
        false -> erlang:error("no bwrap: ./scripts/deps bubblewrap");
        Path -> Path
    end.

%%% The realistic sandbox

%% alcove_sandbox:run/3 beside bwrap and beside the C floor (cloned as
%% fork does, and sharing memory until exec as spawn/4 does), the same
%% sandbox built call by call, and the sandbox with a cgroup and with
%% seccomp and rlimits beside the plain one.
realistic() ->
    Bwrap = bwrap(),
    BwrapArgs = realistic_bwrap_args(),
    Spec = realistic_spec(),
    %% Not optional: the row would then time a sandbox without one. As
    %% root, a v1 or v2 pids controller is enough.
    Cgroup = Spec#{cgroup => #{pids_max => 64}},
    %% the same limit in a group named beforehand (v1 here: the child
    %% joins it by its first calls)
    Named = Spec#{cgroup => #{name => <<"alcove-bench-named">>, pids_max => 64}},
    %% cloned into a named v2 group (on a hybrid host, one without
    %% controllers), and the same group watched by start/3
    Born = Spec#{cgroup => #{name => <<"alcove-bench-born">>, version => v2}},
    Watched = Spec#{cgroup => #{version => v2}},
    Seccomp = Spec#{seccomp => {deny, [ptrace, mount]},
                    rlimits => #{rlimit_nproc => 64}},
    {ok, Drv} = alcove_drv:start(),
    Sandbox = fun(S) -> fun() -> sandbox_true(Drv, S) end end,
    Reps = reps(fun() ->
                        {per_spawn(Sandbox(Spec), ?REALISTIC),
                         per_spawn(fun() -> port_true(Bwrap, BwrapArgs) end,
                                   ?REALISTIC),
                         sandbox_floor_us([], ?REALISTIC),
                         per_spawn(fun() ->
                                           exec_true(Drv, ?SANDBOX_FLAGS,
                                                     fun realistic_calls/2)
                                   end, ?REALISTIC),
                         per_spawn(Sandbox(Cgroup), ?REALISTIC),
                         per_spawn(Sandbox(Seccomp), ?REALISTIC),
                         sandbox_floor_us(["-m"], ?REALISTIC),
                         per_spawn(Sandbox(Born), ?REALISTIC),
                         per_spawn(fun() -> watched_true(Drv, Watched) end, ?REALISTIC),
                         per_spawn(Sandbox(Named), ?REALISTIC)}
                end),
    ok = alcove_drv:stop(Drv),
    flush(),
    [{"realistic sandbox / bwrap", "us", col(1, Reps), col(2, Reps), {le, 0.6}},
     {"realistic sandbox / C floor", "us", col(1, Reps), col(3, Reps), {le, 1.3}},
     {"realistic sandbox / C floor, CLONE_VM", "us", col(1, Reps), col(7, Reps), {le, 1.3}},
     {"realistic sandbox, call by call / bwrap", "us", col(4, Reps), col(2, Reps),
      none},
     {"realistic sandbox + cgroup / realistic", "us", col(5, Reps), col(1, Reps),
      none},
     {"realistic + named cgroup / realistic", "us", col(10, Reps), col(1, Reps),
      none},
     {"realistic + seccomp + rlimits / realistic", "us", col(6, Reps),
      col(1, Reps), none},
     {"realistic + cgroup v2, born in it / realistic", "us", col(8, Reps),
      col(1, Reps), none},
     {"start/3 + wait/2, cgroup v2 / realistic", "us", col(9, Reps),
      col(1, Reps), none}].

ro_dirs() ->
    [D || D <- ?REALISTIC_DIRS, filelib:is_dir(D)].

realistic_spec() ->
    #{namespaces => [pid, mount, net, uts, ipc],
      root => tmpfs,
      mounts => [{bind, D, D, [ro]} || D <- ro_dirs()] ++ [{proc, "/proc"}],
      argv => ["/bin/true"]}.

realistic_bwrap_args() ->
    ["--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-ipc",
     "--tmpfs", "/"]
        ++ lists:append([["--ro-bind", D, D] || D <- ro_dirs()])
        ++ ["--proc", "/proc", "/bin/true"].

%% Run the sandbox of Spec, wait for /bin/true to exit, remove its
%% cgroup (if it has one), as a user does.
sandbox_true(Drv, Spec) ->
    {ok, Pid} = alcove_sandbox:run(Drv, [], Spec),
    wait_true(Drv, Pid),
    ok = alcove_sandbox:cleanup(Drv, [], Spec, Pid).

%% The same watched by start/3 until wait/2 reports its end (its group
%% emptied and removed).
watched_true(Drv, Spec) ->
    {ok, Sb} = alcove_sandbox:start(Drv, [], Spec),
    {ok, #{status := {exit_status, 0}}} = alcove_sandbox:wait(Sb, 10000),
    ok.

%% The calls the realistic sandbox needs and no more, one round trip
%% each, as sandbox_floor.c makes them: the new root is a tmpfs on /tmp
%% (as bwrap's), pivoted into.
realistic_calls(Drv, Child) ->
    ok = alcove:mount(Drv, Child, "none", "/", "", [ms_rec, ms_private], "", ""),
    ok = alcove:mount(Drv, Child, "tmpfs", "/tmp", "tmpfs", [ms_nosuid, ms_nodev],
                      "mode=0755", ""),
    lists:foreach(fun(D) ->
                          Target = "/tmp" ++ D,
                          ok = alcove:mkdir(Drv, Child, Target, 8#755),
                          ok = alcove:mount(Drv, Child, D, Target, "", [ms_bind],
                                            "", ""),
                          ok = alcove:mount(Drv, Child, "none", Target, "",
                                            [ms_remount, ms_bind, ms_rdonly],
                                            "", "")
                  end, ro_dirs()),
    ok = alcove:mkdir(Drv, Child, "/tmp/proc", 8#755),
    ok = alcove:mount(Drv, Child, "proc", "/tmp/proc", "proc",
                      [ms_nosuid, ms_nodev, ms_noexec], "", ""),
    ok = alcove:mkdir(Drv, Child, "/tmp/oldroot", 8#755),
    ok = alcove:pivot_root(Drv, Child, "/tmp", "/tmp/oldroot"),
    ok = alcove:chdir(Drv, Child, "/"),
    ok = alcove:umount2(Drv, Child, "/oldroot", [mnt_detach]).

%% The C program loops and times itself (sandbox_floor.c): no port
%% start nor round trip is counted, only the system calls.
sandbox_floor_us(Flags, N) ->
    Path = filename:join(filename:dirname(code:which(?MODULE)), "sandbox_floor"),
    Out = os:cmd(lists:join(" ", [Path | Flags] ++ [integer_to_list(N) | ro_dirs()])),
    try
        list_to_integer(string:trim(Out)) / 1000
    catch
        error:badarg -> erlang:error({sandbox_floor, Out})
    end.

%%% A driver on another node

%% A driver on a peer node of this machine beside a local one, in the
%% same run: what distribution adds. With 2 CPUs, the two VMs and the
%% port share them: this is the cost of the hops, not how work spreads
%% over machines. The round trip and the sandbox start are measured in
%% the pinned VM, as the other rows of their kind: the peer node
%% inherits its one CPU, so the bench VM, the peer and the port take
%% turns on it and the ratio is the CPU the extra hops cost (across
%% CPUs, round trips here vary tenfold from one repetition to the next).
remote(Node) ->
    Spec = realistic_spec(),
    [beside(Node, "getpid", "us", ?REPS, fun(Drv) -> getpid_us(Drv, [], ?CALLS) end),
     beside(Node, "realistic sandbox", "us", ?REPS,
            fun(Drv) -> per_spawn(fun() -> sandbox_true(Drv, Spec) end, ?REALISTIC) end)].

%% The stream in the spread VM, as the other throughput: a pipeline
%% through one more VM, which on one CPU would only add its turns.
remote_stream(Node) ->
    CPUs = erlang:system_info(logical_processors_available),
    Name = io_lib:format("stream ~b MiB, ~b CPUs", [?STREAM_BYTES bsr 20, CPUs]),
    [beside(Node, Name, "MB/s", ?STREAM_REPS, fun stream_alcove/1)].

%% The row of Measure(Drv) for a driver on Node and for a local one,
%% owned by this process, their repetitions interleaved.
beside(Node, Name, Unit, N, Measure) ->
    {ok, Remote} = alcove_drv:start_on(Node, []),
    {ok, Local} = alcove_drv:start(),
    Reps = reps(N, fun() -> {Measure(Remote), Measure(Local)} end),
    ok = alcove_drv:stop(Remote),
    ok = alcove_drv:stop(Local),
    flush(),
    {"peer node: " ++ Name ++ " / local driver", Unit, col(1, Reps), col(2, Reps), none}.

%% Fun(Node) for Node a peer of this VM (OTP's peer module), on
%% loopback, with alcove in its code path and the environment of this
%% VM (ERL_FLAGS, the CPUs): this VM is made a distributed node for it,
%% epmd started if none runs; all of it undone after.
with_peer(Fun) ->
    Up = fun() -> element(1, erl_epmd:names("localhost")) =:= ok end,
    Started = not Up() andalso begin _ = epmd("-daemon"), true = until(Up, 50) end,
    Loopback = ["-kernel", "inet_dist_use_interface", "{127,0,0,1}"],
    ok = application:set_env(kernel, inet_dist_use_interface, {127, 0, 0, 1}),
    Name = list_to_atom("alcove_bench_" ++ os:getpid() ++ "@localhost"),
    {ok, _} = net_kernel:start(Name, #{name_domain => shortnames}),
    {ok, Peer, Node} =
        peer:start(#{name => peer:random_name(alcove_bench), host => "localhost",
                     args => Loopback ++ ["-pa", filename:dirname(code:which(alcove))]}),
    try
        Fun(Node)
    after
        ok = peer:stop(Peer),
        ok = net_kernel:stop(),
        ok = application:unset_env(kernel, inet_dist_use_interface),
        %% epmd refuses while a node is registered: the peer's name
        %% goes when epmd sees its connection close, another
        %% program's would keep it running.
        Started andalso until(fun() -> lists:prefix("Killed", epmd("-kill")) end, 50)
    end.

epmd(Arg) ->
    Epmd = filename:join([code:root_dir(), "bin", "epmd"]),
    os:cmd("ERL_EPMD_ADDRESS=127.0.0.1 " ++ Epmd ++ " " ++ Arg).

%% Whether Fun() holds within N tries a tenth of a second apart.
until(Fun, 0) ->
    Fun();
until(Fun, N) ->
    Fun() orelse begin timer:sleep(100), until(Fun, N - 1) end.

%%% Sandboxes per second, concurrent owners

%% The realistic sandbox started in a loop by N processes at once, each
%% with its own port, beside bwrap started the same way (a rate: the
%% higher the ratio, the better).
owners() ->
    Bwrap = bwrap(),
    BwrapArgs = realistic_bwrap_args(),
    Spec = realistic_spec(),
    CPUs = erlang:system_info(logical_processors_available),
    Alcove = {fun() -> {ok, Drv} = alcove_drv:start(), Drv end,
              fun(Drv) -> sandbox_true(Drv, Spec) end,
              fun(Drv) -> ok = alcove_drv:stop(Drv) end},
    Port = {fun() -> none end,
            fun(none) -> port_true(Bwrap, BwrapArgs) end,
            fun(none) -> ok end},
    [begin
         Reps = reps(?OWNER_REPS,
                     fun() -> {per_second(N, Alcove), per_second(N, Port)} end),
         {io_lib:format("realistic sandboxes/s, ~b owner~s, ~b CPUs / bwrap",
                        [N, [$s || N > 1], CPUs]),
          "1/s", col(1, Reps), col(2, Reps), none}
     end || N <- ?OWNERS].

%% Sandboxes a second started by N owners for ?OWNER_MS: each makes its
%% state (a port) with Init, then calls Run until the time is up.
per_second(N, {Init, Run, Done}) ->
    Self = self(),
    Owners = [spawn_link(fun() ->
                                 State = Init(),
                                 Self ! {ready, self()},
                                 receive {go, Until} -> ok end,
                                 Count = run_until(Run, State, Until, 0),
                                 Done(State),
                                 Self ! {done, self(), Count}
                         end) || _ <- lists:seq(1, N)],
    [receive {ready, O} -> ok end || O <- Owners],
    T0 = erlang:monotonic_time(millisecond),
    [O ! {go, T0 + ?OWNER_MS} || O <- Owners],
    Counts = [receive {done, O, C} -> C end || O <- Owners],
    T = erlang:monotonic_time(millisecond) - T0,
    lists:sum(Counts) * 1000 / T.

run_until(Run, State, Until, Count) ->
    case erlang:monotonic_time(millisecond) < Until of
        true ->
            Run(State),
            run_until(Run, State, Until, Count + 1);
        false ->
            Count
    end.

%%% Helpers for process start

per_spawn(Fun, N) ->
    time_ns(fun() -> [Fun() || _ <- lists:seq(1, N)] end) / N / 1000.

%% Start /bin/true in a new process (cloned into namespaces if Flags are
%% given), after Setup(Drv, Child) made its calls there, and wait for its
%% exit status.
exec_true(Drv, Flags, Setup) ->
    {ok, Pid} = case Flags of
                    [] -> alcove:fork(Drv, []);
                    _ -> alcove:clone(Drv, [], Flags)
                end,
    Setup(Drv, [Pid]),
    ok = alcove:execvp(Drv, [Pid], "/bin/true", ["/bin/true"]),
    wait_true(Drv, Pid).

none(_, _) -> ok.

wait_true(Drv, Pid) ->
    receive
        {alcove_event, Drv, [Pid], {exit_status, 0}} -> ok
    after ?TIMEOUT -> erlang:error({no_exit_status, Pid})
    end.

port_true(Path, Args) ->
    Port = open_port({spawn_executable, Path}, [exit_status, {args, Args}]),
    receive
        {Port, {exit_status, 0}} -> ok
    after ?TIMEOUT -> erlang:error({no_exit_status, Path})
    end.

%%% Report

print(All) ->
    {Settings, Rows} = lists:partition(fun(R) -> element(1, R) =:= setting end, All),
    [io:format("~s~n", [S]) || {setting, S} <- lists:usort(Settings)],
    Fmt = "~-50s ~-5s ~12s ~12s ~7s ~7s ~s~n",
    io:format(Fmt, ["measure", "unit", "alcove", "baseline", "ratio",
                    "target", "met"]),
    [io:format(Fmt, [M, U, num(A), num(B), num(R), T, Met])
     || {M, U, A, B, R, T, Met} <- [summary(Row) || Row <- Rows]],
    ok.

%% {Measure, Unit, Alcove, Baseline, Ratio, Target, Met}: medians, and
%% "-" where there is nothing to compare with.
summary({Measure, Unit, As, Bs, Target}) ->
    A = median(As),
    B = case Bs of none -> "-"; _ -> median(Bs) end,
    R = case Bs of none -> "-"; _ -> A / B end,
    {T, Met} = case Target of
                   none -> {"-", "-"};
                   {le, X} -> {"<= " ++ num(X), yes(R =< X)};
                   {ge, X} -> {">= " ++ num(X), yes(R >= X)}
               end,
    {lists:flatten(Measure), Unit, A, B, R, T, Met}.

yes(true) -> "yes";
yes(false) -> "no".

num(X) when is_integer(X) -> integer_to_list(X);
num(X) when is_float(X), abs(X) >= 100 -> float_to_list(X, [{decimals, 0}]);
num(X) when is_float(X) -> float_to_list(X, [{decimals, 2}]);
num(X) -> X.

%% The same as the table, with every repetition, so that runs can be
%% compared and their noise judged.
write_json(All) ->
    {Settings, Rows} = lists:partition(fun(R) -> element(1, R) =:= setting end, All),
    Objects = [begin
                   {M, U, A, B, R, T, Met} = summary(Row),
                   {_, _, As, Bs, _} = Row,
                   [{measure, str(M)}, {unit, str(U)}, {alcove, A},
                    {baseline, str(B)}, {ratio, str(R)}, {target, str(T)},
                    {met, str(Met)},
                    {alcove_samples, As},
                    {baseline_samples, case Bs of none -> []; _ -> Bs end}]
               end || Row <- Rows],
    Path = filename:join(filename:dirname(code:which(?MODULE)),
                         "results.json"),
    Date = calendar:system_time_to_rfc3339(erlang:system_time(second)),
    Json = json([{date, str(Date)},
                 {settings, [str(lists:flatten(S)) || {setting, S} <- lists:usort(Settings)]},
                 {rows, Objects}]),
    ok = file:write_file(Path, [Json, $\n]),
    io:format("~nwritten: ~s~n", [Path]).

%% What the figures depend on besides alcove: the Makefile runs the VM
%% on one CPU, then on all (see there).
setting() ->
    lists:flatten(io_lib:format("cpus: ~b available to the VM, ~b schedulers",
                                [erlang:system_info(logical_processors_available),
                                 erlang:system_info(schedulers_online)])).

%% Strings become binaries, so that a list is always a JSON array.
str("-") -> null;
str(S) when is_list(S) -> list_to_binary(S);
str(X) -> X.

json(null) -> "null";
json(X) when is_integer(X) -> integer_to_list(X);
json(X) when is_float(X) -> float_to_list(X, [{decimals, 3}, compact]);
json(B) when is_binary(B) -> [$", B, $"];
json([{_, _} | _] = Object) ->
    ["{", lists:join(", ", [[json(atom_to_binary(K)), ": ", json(V)]
                            || {K, V} <- Object]), "}"];
json(L) when is_list(L) ->
    ["[", lists:join(", ", [json(X) || X <- L]), "]"].

%%% Helpers

reps(Fun) ->
    reps(?REPS, Fun).

%% One more than asked, the first dropped: it warms up code, pages and
%% caches.
reps(N, Fun) ->
    [_ | Reps] = [Fun() || _ <- lists:seq(0, N)],
    Reps.

%% The Nth figure of each repetition.
col(N, Reps) ->
    [element(N, Rep) || Rep <- Reps].

time_ns(Fun) ->
    T0 = erlang:monotonic_time(nanosecond),
    Fun(),
    erlang:monotonic_time(nanosecond) - T0.

median(L) ->
    S = lists:sort(L),
    N = length(S),
    case N rem 2 of
        1 -> lists:nth(N div 2 + 1, S);
        0 -> (lists:nth(N div 2, S) + lists:nth(N div 2 + 1, S)) / 2
    end.

flush() ->
    receive _ -> flush() after 0 -> ok end.

pingpong() ->
    filename:join(filename:dirname(code:which(?MODULE)), "pingpong").

progress(Fmt) -> progress(Fmt, []).
progress(Fmt, Args) ->
    io:format(standard_error, "bench: " ++ Fmt ++ "~n", Args).
