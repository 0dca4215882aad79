%% SPDX-License-Identifier: ISC
%% alcove_pool: sandboxes placed over three nodes by each rule, within a
%% limit per node, lost and full nodes skipped, sandboxes handled as
%% local ones, and places given back however a sandbox ends. Every case
%% runs twice: over plain distribution, with the test node as the
%% owner, and over TLS distribution (inet_tls_dist), with a TLS node as
%% the owner (the test node drives it through its control connection:
%% see alcove_peer). The nodes are peers on loopback only.
-module(alcove_pool_SUITE).

-include_lib("common_test/include/ct.hrl").

-export([
    all/0,
    groups/0,
    suite/0,
    init_per_suite/1,
    end_per_suite/1,
    init_per_group/2,
    end_per_group/2,
    init_per_testcase/2,
    end_per_testcase/2
]).

-export([
    fewest_100/1,
    load_100/1,
    full_and_lost/1,
    like_local/1,
    places_given_back/1,
    errors/1,
    nodes_changed/1,
    load_figures/1,
    concurrent/1
]).

%% the bodies, run on the owner's node
-export([fewest_100_body/1, load_100_body/1, full_and_lost_body/1, like_local_body/1,
         places_given_back_body/1, errors_body/1, nodes_changed_body/1,
         load_figures_body/1, concurrent_body/1]).
-export([test_load/0]).

-define(CASES, [fewest_100, load_100, full_and_lost, like_local, places_given_back, errors,
                nodes_changed, load_figures, concurrent]).
-define(SLEEPER, #{argv => ["/bin/sleep", "600"]}).
-define(WAIT, 20000).
-define(IS(Pattern, Expr), case Expr of Pattern -> true; _ -> false end).

suite() ->
    [{timetrap, {minutes, 4}}].

all() ->
    [{group, plain}, {group, tls}].

groups() ->
    [{plain, [], ?CASES}, {tls, [], ?CASES}].

init_per_suite(Config) ->
    Config.

end_per_suite(Config) ->
    Config.

init_per_group(plain, Config) ->
    [{mode, plain} | alcove_peer:distribute(Config)];
init_per_group(tls, Config) ->
    [{mode, tls} | alcove_peer:tls_config(Config)].

end_per_group(plain, Config) ->
    alcove_peer:undistribute(Config);
end_per_group(tls, _Config) ->
    ok.

%% Three nodes a, b and c; over TLS a fourth, o, the owner.
init_per_testcase(_Case, Config) ->
    Mode = ?config(mode, Config),
    Owner = [alcove_peer:start(o, tls, Config) || Mode =:= tls],
    Peers = [alcove_peer:start(N, Mode, Config) || N <- [a, b, c]],
    [{owner, Owner}, {peers, Peers} | Config].

end_per_testcase(_Case, Config) ->
    _ = [alcove_peer:stop(P) || P <- ?config(owner, Config) ++ ?config(peers, Config)],
    ok.

%%%
%%% Test cases: each runs its body on the owner's node
%%%

%% 100 sandboxes over three nodes, fewest first: each start goes to a
%% node with the fewest, so that counts never differ by more than one.
fewest_100(Config) ->
    Order = on_owner(fewest_100_body, Config),
    100 = length(Order),
    [A, B, C] = nodes_of(Config),
    [33, 33, 34] = lists:sort([count(N, Order) || N <- [A, B, C]]),
    lists:foldl(fun(N, Counts) ->
                        Counts1 = maps:update_with(N, fun(X) -> X + 1 end, Counts),
                        true = lists:max(maps:values(Counts1))
                            - lists:min(maps:values(Counts1)) =< 1,
                        Counts1
                end, #{A => 0, B => 0, C => 0}, Order),
    ok.

fewest_100_body([A, B, C]) ->
    {ok, Pool} = alcove_pool:start_link(#{nodes => [A, B, C]}),
    Placed = [start(Pool, ?SLEEPER) || _ <- lists:seq(1, 100)],
    Info = alcove_pool:info(Pool),
    [33, 33, 34] = lists:sort([R || #{running := R, state := up} <- Info]),
    %% each a driver of its own, on its node, with its sleeper running
    100 = length(lists:usort([Drv || #{drv := Drv} <- Placed])),
    [N = node(Drv) || #{node := N, drv := Drv} <- Placed],
    [true = alive(Drv, Pid) || #{drv := Drv, pid := Pid} <- Placed],
    ok = release_all(Pool, Placed),
    [N || #{node := N} <- Placed].

%% 100 sandboxes over three nodes by their load figure, at most 40 a
%% node: the least loaded node gets 40, then the next 40, then the last
%% 20, in that order; 20 more fill the last.
load_100(Config) ->
    [A, B, C] = nodes_of(Config),
    ok = set_load(Config, #{A => 0.5, B => 0.1, C => 0.9}),
    Order = on_owner(load_100_body, Config),
    Order = lists:duplicate(40, B) ++ lists:duplicate(40, A) ++ lists:duplicate(20, C),
    ok.

load_100_body([A, B, C]) ->
    {ok, Pool} = alcove_pool:start_link(#{nodes => [A, B, C], placement => load, max => 40,
                                          load => {?MODULE, test_load, []}}),
    [#{node := A, load := 0.5}, #{node := B, load := 0.1}, #{node := C, load := 0.9}] =
        alcove_pool:info(Pool),
    Placed = [start(Pool, ?SLEEPER) || _ <- lists:seq(1, 100)],
    %% c has room for 20 more, then all are full
    More = [#{node := C} = start(Pool, ?SLEEPER) || _ <- lists:seq(1, 20)],
    {error, {no_node, #{full := [A, B, C], down := []}}} = alcove_pool:start(Pool, ?SLEEPER),
    ok = release_all(Pool, More ++ Placed),
    [N || #{node := N} <- Placed].

%% The load figure a test sets on each node.
-spec test_load() -> number() | undefined.
test_load() ->
    application:get_env(alcove_pool_test, load, undefined).

set_load(Config, Loads) ->
    _ = [ok = alcove_peer:call(P, application, set_env,
                               [alcove_pool_test, load, maps:get(N, Loads)])
         || #{node := N} = P <- ?config(peers, Config)],
    ok.

%% Two a node: the seventh finds them full. A node killed is lost: the
%% owner is told of each of its drivers, its places are given back and
%% it is skipped; a place given back on another is taken again.
full_and_lost(Config) ->
    [] = on_owner(full_and_lost_body, Config).

full_and_lost_body([A, B, C]) ->
    {ok, Pool} = alcove_pool:start_link(#{nodes => [A, B, C], max => 2}),
    Placed = [start(Pool, ?SLEEPER) || _ <- lists:seq(1, 6)],
    {error, {no_node, #{full := [A, B, C], down := []}}} = alcove_pool:start(Pool, ?SLEEPER),
    OnB = [P || #{node := N} = P <- Placed, N =:= B],
    2 = length(OnB),
    ok = alcove_peer:kill_node(B),
    [receive {alcove_drv_down, Drv, B, noconnection} -> ok after ?WAIT -> error(no_down) end
     || #{drv := Drv} <- OnB],
    ok = until(fun() -> ?IS([#{state := down, running := 0}], info(Pool, B)) end),
    {error, {no_node, #{full := [A, C], down := [B]}}} = alcove_pool:start(Pool, ?SLEEPER),
    [OnA | _] = [P || #{node := N} = P <- Placed, N =:= A],
    ok = alcove_pool:release(OnA),
    ok = until(fun() -> ?IS([#{running := 1}], info(Pool, A)) end),
    #{node := A} = Again = start(Pool, ?SLEEPER),
    ok = release_all(Pool, [Again | Placed -- [OnA | OnB]]),
    [].

%% A sandbox of the pool is one of alcove_sandbox: its stdio and events
%% reach the owner, stop/1 and wait/2 work, and wait/2 gives its place
%% back.
like_local(Config) ->
    [] = on_owner(like_local_body, Config).

like_local_body([A, B, C]) ->
    {ok, Pool} = alcove_pool:start_link(#{nodes => [A, B, C]}),
    #{node := N, drv := Drv, pid := Pid, sandbox := Sb} = Placed =
        start(Pool, #{namespaces => [pid, uts], hostname => "pooled",
                      argv => ["/bin/sh", "-c", "hostname >&2; exec cat"]}),
    true = lists:member(N, [A, B, C]),
    receive {alcove_stderr, Drv, [Pid], <<"pooled\n">>} -> ok after ?WAIT -> error(stderr) end,
    ok = alcove:stdin(Drv, [Pid], <<"hello\n">>),
    receive {alcove_stdout, Drv, [Pid], <<"hello\n">>} -> ok after ?WAIT -> error(stdout) end,
    {error, timeout} = alcove_pool:wait(Placed, 100),
    ok = alcove_sandbox:stop(Sb),
    {ok, #{ended_by := stopped, status := {termsig, sigkill}}} = alcove_pool:wait(Placed, ?WAIT),
    ok = until(fun() -> [0, 0, 0] =:= [R || #{running := R} <- alcove_pool:info(Pool)] end),
    [] = drivers([N]),
    %% a program that ends by itself
    Done = start(Pool, #{argv => ["/bin/sh", "-c", "exit 7"]}),
    {ok, #{ended_by := exit, status := {exit_status, 7}}} = alcove_pool:wait(Done, ?WAIT),
    ok = until(fun() -> [0, 0, 0] =:= [R || #{running := R} <- alcove_pool:info(Pool)] end),
    [].

%% Places come back when the owner of the sandboxes exits (its drivers
%% stop with it), and when the caller exits while it starts one.
places_given_back(Config) ->
    [] = on_owner(places_given_back_body, Config).

places_given_back_body([A, B, C]) ->
    {ok, Pool} = alcove_pool:start_link(#{nodes => [A, B, C]}),
    Self = self(),
    {Owner, Ref} = spawn_monitor(fun() ->
                                         Placed = [start(Pool, ?SLEEPER) || _ <- lists:seq(1, 6)],
                                         Self ! {placed, Placed},
                                         receive never -> ok end
                                 end),
    Placed = receive {placed, P} -> P after ?WAIT -> error(not_placed) end,
    [2, 2, 2] = [R || #{running := R} <- alcove_pool:info(Pool)],
    exit(Owner, kill),
    receive {'DOWN', Ref, process, Owner, killed} -> ok end,
    ok = until(fun() -> [0, 0, 0] =:= [R || #{running := R} <- alcove_pool:info(Pool)] end),
    ok = until(fun() -> [] =:= drivers([A, B, C]) end),
    [false = alive(Drv, Pid) || #{drv := Drv, pid := Pid} <- Placed],
    [].

%% A bad spec takes no place and starts no driver; a spec that fails on
%% its node gives its place back and stops its driver; bad options.
errors(Config) ->
    [] = on_owner(errors_body, Config).

errors_body([A, B, C]) ->
    {ok, Pool} = alcove_pool:start_link(#{nodes => [A, B, C]}),
    {error, {badkey, nope}} = alcove_pool:start(Pool, #{nope => 1}),
    {error, {badvalue, argv, 1}} = alcove_pool:start(Pool, #{argv => 1}),
    {error, {exec, enoent}} = alcove_pool:start(Pool, #{argv => ["/nonexistent/program"]}),
    ok = until(fun() -> [0, 0, 0] =:= [R || #{running := R} <- alcove_pool:info(Pool)] end),
    ok = until(fun() -> [] =:= drivers([A, B, C]) end),
    {badkey, nope} = caught(fun() -> alcove_pool:start_link(#{nope => 1}) end),
    {badvalue, max, 0} = caught(fun() -> alcove_pool:start_link(#{max => 0}) end),
    {badvalue, placement, x} = caught(fun() -> alcove_pool:start_link(#{placement => x}) end),
    badarg = caught(fun() -> alcove_pool:start_link([]) end),
    [].

%% Nodes added and removed; a node that does not exist stays down and is
%% skipped; with no node at all, the answer says so.
nodes_changed(Config) ->
    [] = on_owner(nodes_changed_body, Config).

nodes_changed_body([A, B, _C]) ->
    Ghost = list_to_atom("ghost@localhost"),
    {ok, Pool} = alcove_pool:start_link(#{nodes => [A, Ghost], interval => 200}),
    [#{node := A, state := up}, #{node := Ghost, state := down}] = alcove_pool:info(Pool),
    [#{node := A} = P1, #{node := A} = P2] = [start(Pool, ?SLEEPER) || _ <- [1, 2]],
    ok = alcove_pool:add_node(Pool, B),
    ok = until(fun() -> ?IS([#{state := up}], info(Pool, B)) end),
    ok = alcove_pool:remove_node(Pool, A),
    [#{node := B}, #{node := B}] = Later = [start(Pool, ?SLEEPER) || _ <- [1, 2]],
    ok = alcove_pool:remove_node(Pool, B),
    {error, {no_node, #{full := [], down := [Ghost]}}} = alcove_pool:start(Pool, ?SLEEPER),
    ok = alcove_pool:remove_node(Pool, Ghost),
    {error, {no_node, #{full := [], down := []}}} = alcove_pool:start(Pool, ?SLEEPER),
    %% sandboxes of a removed node go on, and count when it is back
    [true = alive(Drv, Pid) || #{drv := Drv, pid := Pid} <- [P1, P2 | Later]],
    ok = alcove_pool:add_node(Pool, A),
    [#{node := A, running := 2}] = info(Pool, A),
    ok = release_all(Pool, [P1, P2 | Later]),
    [].

%% The figures a node reports: its load average over its CPUs, and the
%% CPU pressure where the kernel has it; a pool of placement `load'
%% reads the load average of every node by default.
load_figures(Config) ->
    [] = on_owner(load_figures_body, Config).

load_figures_body([A, B, C]) ->
    {ok, Avg} = file:read_file("/proc/loadavg"),
    [One | _] = string:lexemes(Avg, " "),
    Cpus = erlang:system_info(logical_processors_available),
    Expected = binary_to_float(One) / Cpus,
    Loadavg = alcove_pool:load(loadavg),
    %% it may move between the two reads
    true = abs(Loadavg - Expected) < 1.0,
    case file:read_file("/proc/pressure/cpu") of
        {ok, <<"some avg10=", _/binary>>} ->
            Psi = alcove_pool:load(psi),
            true = is_float(Psi) andalso Psi >= 0.0 andalso Psi =< 100.0;
        {error, _} ->
            undefined = alcove_pool:load(psi)
    end,
    7 = alcove_pool:load({erlang, '+', [3, 4]}),
    {ok, Pool} = alcove_pool:start_link(#{nodes => [A, B, C], placement => load}),
    [true, true, true] = [is_float(L) andalso L >= 0.0 || #{load := L} <- alcove_pool:info(Pool)],
    #{node := N} = Placed = start(Pool, ?SLEEPER),
    true = lists:member(N, [A, B, C]),
    ok = release_all(Pool, [Placed]),
    [].

%% 30 callers start 3 sandboxes each at once: places are taken one at a
%% time, so the counts come out even, and each caller owns its own.
concurrent(Config) ->
    [] = on_owner(concurrent_body, Config).

concurrent_body([A, B, C]) ->
    {ok, Pool} = alcove_pool:start_link(#{nodes => [A, B, C]}),
    Self = self(),
    Callers = [spawn_link(fun() ->
                                  Placed = [start(Pool, ?SLEEPER) || _ <- [1, 2, 3]],
                                  Self ! {self(), Placed},
                                  receive release -> ok = release_all(Pool, Placed) end,
                                  Self ! {self(), released}
                          end) || _ <- lists:seq(1, 30)],
    Placed = lists:append([receive {P, Pl} -> Pl after ?WAIT -> error(not_placed) end
                           || P <- Callers]),
    90 = length(Placed),
    [30, 30, 30] = [R || #{running := R} <- alcove_pool:info(Pool)],
    [30, 30, 30] = [length([N || #{node := N} <- Placed, N =:= X]) || X <- [A, B, C]],
    [P ! release || P <- Callers],
    [receive {P, released} -> ok after ?WAIT -> error(not_released) end || P <- Callers],
    [0, 0, 0] = [R || #{running := R} <- alcove_pool:info(Pool)],
    [].

%%%
%%% Helpers
%%%

%% The body of a case on the owner's node: the test node itself over
%% plain distribution, the node o over TLS.
on_owner(Body, Config) ->
    Nodes = nodes_of(Config),
    case ?config(owner, Config) of
        [] ->
            ?MODULE:Body(Nodes);
        [Owner] ->
            Result = alcove_peer:call(Owner, ?MODULE, Body, [Nodes], 180000),
            %% the owner reached nodes, all over TLS
            [_ | _] = Connected = alcove_peer:call(Owner, erlang, nodes, []),
            [] = Connected -- alcove_peer:tls_connected(Owner),
            Result
    end.

nodes_of(Config) ->
    [N || #{node := N} <- ?config(peers, Config)].

count(N, Order) ->
    length([X || X <- Order, X =:= N]).

start(Pool, Spec) ->
    {ok, Placed} = alcove_pool:start(Pool, Spec),
    Placed.

info(Pool, Node) ->
    [I || #{node := N} = I <- alcove_pool:info(Pool), N =:= Node].

%% Release every sandbox: their places are given back, their drivers
%% gone from their nodes.
release_all(Pool, Placed) ->
    [ok = alcove_pool:release(P) || P <- Placed],
    until(fun() -> lists:all(fun(#{running := R}) -> R =:= 0 end, alcove_pool:info(Pool)) end).

%% The drivers running under the alcove_sup of each node (none where
%% the application never started).
drivers(Nodes) ->
    [D || N <- Nodes,
          {_, D, _, _} <- try erpc:call(N, supervisor, which_children, [alcove_sup])
                          catch exit:{exception, {noproc, _}} -> []
                          end].

%% The sandbox's process, seen from its port's node.
alive(Drv, Pid) ->
    try erpc:call(node(Drv), file, read_file_info, ["/proc/" ++ integer_to_list(Pid)]) of
        {ok, _} -> is_process_alive_on(Drv);
        {error, _} -> false
    catch
        error:{erpc, noconnection} -> false
    end.

is_process_alive_on(Drv) ->
    erpc:call(node(Drv), erlang, is_process_alive, [Drv]).

caught(F) ->
    try F() of
        Result -> {returned, Result}
    catch
        error:Reason -> Reason
    end.

%% F true within 20 s.
until(F) ->
    case alcove_test:poll(F, true, ?WAIT) of
        true -> ok;
        Last -> {timeout, Last}
    end.
