%% SPDX-License-Identifier: ISC
%% @doc A pool of nodes for sandboxes: an alcove_sandbox spec runs on
%% one node of a set, chosen by a rule, within a limit per node.
%%
%% ```
%% {ok, Pool} = alcove_pool:start_link(#{nodes => ['a@host1', 'b@host2'],
%%                                      max => 50}),
%% {ok, #{node := Node, drv := Drv, pid := Pid} = Sb} =
%%     alcove_pool:start(Pool, #{namespaces => [pid, net],
%%                               argv => ["/bin/cat"]}),
%% ok = alcove:stdin(Drv, [Pid], "hello\n"),
%% receive {alcove_stdout, Drv, [Pid], <<"hello\n">>} -> ok end,
%% ok = alcove_sandbox:stop(maps:get(sandbox, Sb)),
%% {ok, #{ended_by := stopped}} = alcove_pool:wait(Sb, 5000).
%% '''
%%
%% Each sandbox gets a driver of its own on the node chosen
%% (alcove_drv:start_on/3), owned by the caller of start/2: its output,
%% events and end reach the caller as those of a local sandbox do
%% (alcove_sandbox:start/3), and a port that fails takes no other
%% sandbox with it. The port stops, killing what is left of the sandbox,
%% when the caller calls wait/2 (once the sandbox ended) or release/1,
%% or when the caller exits, or its node is cut off from the sandbox's.
%% Until then the sandbox keeps its place on its node: a caller that
%% waits with alcove_sandbox:wait/2 itself releases it after.
%%
%% Placement (option `placement'):
%% <ul>
%% <li>`fewest' (the default): the node with the fewest sandboxes of this
%% pool;</li>
%% <li>`load': the node whose load figure (option `load', read on each
%% node every `interval' ms) is the lowest, then the fewest sandboxes.
%% The figure is a sample: a burst of starts within an interval goes to
%% the same node up to its limit, `max'. A node whose figure is unknown
%% comes last.</li>
%% </ul>
%% A node with `max' sandboxes of this pool is full. A node is lost when
%% distribution reports it down (net_kernel:monitor_nodes/1) or a
%% driver cannot be started there; the pool tries to connect it again
%% after every `interval' ms, and distribution says when it is back. Lost and
%% full nodes are skipped: start/2 tries the next node when the one
%% chosen turns out to be lost, and answers `{error, {no_node, #{full
%% := Full, down := Down}}}' when none is left.
%%
%% Every node must run the alcove code, and, as for start_on/3, any node
%% of the cluster may run any call as the port's user there.
-module(alcove_pool).
-behaviour(gen_server).

-export([
    start_link/1, start_link/2,
    stop/1,
    start/2,
    wait/2,
    release/1,
    add_node/2,
    remove_node/2,
    info/1,
    load/1
]).
-export([init/1, handle_call/3, handle_cast/2, handle_info/2]).

-export_type([option/0, load/0, placed/0, node_info/0, no_node/0]).

-type load() :: loadavg | psi | {module(), atom(), [term()]}.
-type option() :: #{nodes => [node()],
                    placement => fewest | load,
                    max => pos_integer() | infinity,
                    load => load(),
                    interval => pos_integer(),
                    driver => [alcove_drv:option()]}.
-type placed() :: #{node := node(), drv := alcove:drv(), pid := alcove:pid_t(),
                    sandbox := alcove_sandbox:sandbox()}.
-type node_info() :: #{node := node(), state := up | down, running := non_neg_integer(),
                       load := number() | undefined}.
-type no_node() :: {no_node, #{full := [node()], down := [node()]}}.

-record(n, {
    state = down :: up | down,
    running = 0 :: non_neg_integer(), % sandboxes placed, starts included
    load :: number() | undefined
}).

-record(s, {
    nodes = #{} :: #{node() => #n{}},
    placement :: fewest | load,
    max :: pos_integer() | infinity,
    load :: load(),
    interval :: pos_integer(),
    driver :: [alcove_drv:option()],
    %% a start under way, by the monitor of its caller; then its driver,
    %% by the monitor of the driver
    starting = #{} :: #{reference() => node()},
    drivers = #{} :: #{reference() => node()},
    ticking = false :: boolean()
}).

-define(KEYS, [nodes, placement, max, load, interval, driver]).
-define(INTERVAL, 1000).

%%% API

%% @doc Start a pool, linked to the caller. Options: `nodes' (default
%% `[node()]'), `placement' (`fewest' or `load'), `max' sandboxes per
%% node (default `infinity'), `load', the figure of a node for
%% placement `load' (`loadavg' by default, `psi', or `{M, F, A}' called
%% on the node: see load/1), `interval' in ms (default 1000), `driver',
%% the options of the drivers (alcove_drv:start/1). The pool first
%% connects to its nodes, waiting for each as long as distribution does
%% (kernel's `net_setuptime', 7 s by default, for a node that does not
%% answer), and, for placement `load', reads their figures.
-spec start_link(option()) -> {ok, pid()} | {error, term()}.
start_link(Opts) ->
    gen_server:start_link(?MODULE, options(Opts), []).

%% @doc start_link/1 with the pool registered locally as Name.
-spec start_link(atom(), option()) -> {ok, pid()} | {error, term()}.
start_link(Name, Opts) when is_atom(Name) ->
    gen_server:start_link({local, Name}, ?MODULE, options(Opts), []).

%% @doc Stop the pool. Its sandboxes go on, each with its owner.
-spec stop(pid() | atom()) -> ok.
stop(Pool) ->
    gen_server:stop(Pool).

%% @doc Run Spec with alcove_sandbox:start/3 on a node of the pool, for
%% the caller. The spec is checked first (alcove_sandbox:check/1); the
%% errors of alcove_sandbox:start/3 and alcove_drv:start_on/3 are
%% returned as they are, after the node's place is given back.
-spec start(pid() | atom(), alcove_sandbox:spec()) ->
    {ok, placed()} | {error, no_node() | term()}.
start(Pool, Spec) ->
    case alcove_sandbox:check(Spec) of
        ok -> place(Pool, Spec, []);
        {error, _} = Error -> Error
    end.

%% @doc alcove_sandbox:wait/2 for a sandbox of start/2, then release/1
%% once it ended.
-spec wait(placed(), timeout()) -> {ok, alcove_sandbox:report()} | {error, timeout}.
wait(#{sandbox := Sandbox} = Placed, Timeout) ->
    case alcove_sandbox:wait(Sandbox, Timeout) of
        {ok, _} = Ok ->
            ok = release(Placed),
            Ok;
        {error, timeout} = Error ->
            Error
    end.

%% @doc Stop the sandbox's driver, which kills what is left of it, and
%% give its place back.
-spec release(placed()) -> ok.
release(#{drv := Drv}) ->
    alcove_drv:stop(Drv).

%% @doc Add a node to the pool: it is used once connected.
-spec add_node(pid() | atom(), node()) -> ok.
add_node(Pool, Node) when is_atom(Node) ->
    gen_server:call(Pool, {add_node, Node}).

%% @doc Place nothing more on Node. Its sandboxes go on.
-spec remove_node(pid() | atom(), node()) -> ok.
remove_node(Pool, Node) when is_atom(Node) ->
    gen_server:call(Pool, {remove_node, Node}).

%% @doc The nodes of the pool: whether each is up, its sandboxes of this
%% pool, and its last load figure (placement `load' only).
-spec info(pid() | atom()) -> [node_info()].
info(Pool) ->
    gen_server:call(Pool, info).

%% @doc The load figure of this node, as the pool reads it on each node:
%% `loadavg', the 1-minute load average over the CPUs available;
%% `psi', the share of the last 10 s in which a task waited for a CPU
%% (/proc/pressure/cpu, 0.0 to 100.0), `undefined' without pressure
%% stall information; `{M, F, A}', what apply(M, F, A) returns.
-spec load(load()) -> number() | undefined.
load(loadavg) ->
    case file:read_file("/proc/loadavg") of
        {ok, <<_/binary>> = B} ->
            [One | _] = binary:split(B, <<" ">>),
            binary_to_float(One) / erlang:system_info(logical_processors_available);
        {error, _} ->
            undefined
    end;
load(psi) ->
    case file:read_file("/proc/pressure/cpu") of
        {ok, <<"some avg10=", Rest/binary>>} ->
            [Avg10 | _] = binary:split(Rest, <<" ">>),
            binary_to_float(Avg10);
        _ ->
            undefined
    end;
load({M, F, A}) ->
    apply(M, F, A).

%%% The caller's side

%% Reserve a place, start a driver there, then the sandbox. A node where
%% no driver can be started is lost: the next one is tried.
place(Pool, Spec, Lost) ->
    case gen_server:call(Pool, {reserve, self(), Lost}) of
        {ok, Node, Ref, Opts} ->
            case alcove_drv:start_on(Node, self(), Opts) of
                {ok, Drv} ->
                    ok = gen_server:call(Pool, {started, Ref, Drv}),
                    sandbox(Node, Drv, Spec);
                {error, {erpc, _}} ->
                    ok = gen_server:call(Pool, {failed, Ref, lost}),
                    place(Pool, Spec, [Node | Lost]);
                {error, _} = Error ->
                    ok = gen_server:call(Pool, {failed, Ref, kept}),
                    Error
            end;
        {error, _} = Error ->
            Error
    end.

%% The driver stops, and so gives its place back, if the sandbox could
%% not be made.
sandbox(Node, Drv, Spec) ->
    try alcove_sandbox:start(Drv, [], Spec) of
        {ok, Sandbox} ->
            {ok, #{node => Node, drv => Drv, pid => alcove_sandbox:pid(Sandbox),
                   sandbox => Sandbox}};
        {error, _} = Error ->
            ok = alcove_drv:stop(Drv),
            Error
    catch
        Class:Reason:Stack ->
            ok = alcove_drv:stop(Drv),
            erlang:raise(Class, Reason, Stack)
    end.

%%% The pool

options(Opts) when is_map(Opts) ->
    case maps:keys(Opts) -- ?KEYS of
        [] -> ok;
        [Key | _] -> erlang:error({badkey, Key}, [Opts])
    end,
    Defaults = #{nodes => [node()], placement => fewest, max => infinity,
                 load => loadavg, interval => ?INTERVAL, driver => []},
    All = maps:merge(Defaults, Opts),
    maps:foreach(fun(K, V) -> valid(K, V) orelse erlang:error({badvalue, K, V}, [Opts]) end,
                 All),
    All;
options(Opts) ->
    erlang:error(badarg, [Opts]).

valid(nodes, Nodes) -> is_list(Nodes) andalso lists:all(fun is_atom/1, Nodes);
valid(placement, P) -> P =:= fewest orelse P =:= load;
valid(max, Max) -> Max =:= infinity orelse (is_integer(Max) andalso Max > 0);
valid(load, L) -> L =:= loadavg orelse L =:= psi orelse
                      (is_tuple(L) andalso tuple_size(L) =:= 3 andalso
                       is_atom(element(1, L)) andalso is_atom(element(2, L))
                       andalso is_list(element(3, L)));
valid(interval, I) -> is_integer(I) andalso I > 0;
valid(driver, D) -> is_list(D).

%% @private
init(#{nodes := Nodes} = Opts) ->
    ok = net_kernel:monitor_nodes(true),
    S = #s{placement = maps:get(placement, Opts), max = maps:get(max, Opts),
           load = maps:get(load, Opts), interval = maps:get(interval, Opts),
           driver = maps:get(driver, Opts),
           nodes = maps:from_list([{N, #n{state = connected(N)}} || N <- Nodes])},
    %% the first round in line: a pool is ready when start_link returns
    {ok, schedule(update(S, tick(S)))}.

%% @private
handle_call({reserve, Caller, Lost}, _From, S) ->
    case choose(S, Lost) of
        {ok, Node} ->
            Ref = monitor(process, Caller),
            S1 = S#s{starting = (S#s.starting)#{Ref => Node}},
            {reply, {ok, Node, Ref, S#s.driver}, count(S1, Node, 1)};
        {error, _} = Error ->
            {reply, Error, S}
    end;
handle_call({started, Ref, Drv}, _From, S) ->
    demonitor(Ref, [flush]),
    case maps:take(Ref, S#s.starting) of
        {Node, Starting} ->
            Drivers = (S#s.drivers)#{monitor(process, Drv) => Node},
            {reply, ok, S#s{starting = Starting, drivers = Drivers}};
        error ->
            {reply, ok, S}
    end;
handle_call({failed, Ref, How}, _From, S) ->
    demonitor(Ref, [flush]),
    case maps:take(Ref, S#s.starting) of
        {Node, Starting} ->
            S1 = count(S#s{starting = Starting}, Node, -1),
            {reply, ok, case How of lost -> state(S1, Node, down); kept -> S1 end};
        error ->
            {reply, ok, S}
    end;
handle_call({add_node, Node}, _From, #s{nodes = Nodes} = S) ->
    case Nodes of
        #{Node := _} -> {reply, ok, S};
        _ ->
            %% a node removed and added again counts what it still runs
            Running = length([N || N <- maps:values(S#s.starting) ++ maps:values(S#s.drivers),
                                   N =:= Node]),
            Nd = #n{state = connected(Node), running = Running},
            {reply, ok, S#s{nodes = Nodes#{Node => Nd}}}
    end;
handle_call({remove_node, Node}, _From, S) ->
    {reply, ok, S#s{nodes = maps:remove(Node, S#s.nodes)}};
handle_call(info, _From, S) ->
    Info = [#{node => N, state => State, running => R, load => L}
            || {N, #n{state = State, running = R, load = L}}
                   <- lists:sort(maps:to_list(S#s.nodes))],
    {reply, Info, S};
handle_call(Request, _From, S) ->
    {reply, {error, {badarg, Request}}, S}.

%% @private
handle_cast(_, S) ->
    {noreply, S}.

%% @private
handle_info({'DOWN', Ref, process, _, _}, S) ->
    case {maps:take(Ref, S#s.starting), maps:take(Ref, S#s.drivers)} of
        {{Node, Starting}, _} -> {noreply, count(S#s{starting = Starting}, Node, -1)};
        {_, {Node, Drivers}} -> {noreply, count(S#s{drivers = Drivers}, Node, -1)};
        _ -> {noreply, S}
    end;
handle_info({nodeup, Node}, S) ->
    {noreply, state(S, Node, up)};
handle_info({nodedown, Node}, S) ->
    {noreply, state(S, Node, down)};
handle_info(tick, #s{ticking = false} = S) ->
    Self = self(),
    spawn_link(fun() -> Self ! {ticked, tick(S)} end),
    {noreply, S#s{ticking = true}};
handle_info({ticked, Round}, S) ->
    {noreply, schedule(update(S#s{ticking = false}, Round))};
handle_info(_, S) ->
    {noreply, S}.

%% A round: connect the nodes that are down, waiting for each as long
%% as distribution does (net_setuptime: a TLS handshake may take a
%% while), then, for placement `load', read the figures of those up, all
%% at once, for up to an interval.
tick(#s{nodes = Nodes, interval = T} = S) ->
    Down = [N || {N, #n{state = down}} <- maps:to_list(Nodes)],
    Connect = [{N, fun() -> net_kernel:connect_node(N) end} || N <- Down],
    Setup = application:get_env(kernel, net_setuptime, 7) * 1000 + 1000,
    Connected = [N || {N, true} <- at_once(Connect, Setup)],
    Loads = case S#s.placement of
                load ->
                    Up = [N || {N, #n{state = up}} <- maps:to_list(Nodes)] ++ Connected,
                    Load = S#s.load,
                    at_once([{N, fun() -> erpc:call(N, ?MODULE, load, [Load], T) end}
                             || N <- Up], T);
                fewest ->
                    []
            end,
    {Connected, [{N, L} || {N, L} <- Loads, is_number(L)]}.

%% Each fun in a process of its own: the results within T ms.
at_once(Funs, T) ->
    Self = self(),
    Ref = make_ref(),
    Pids = [spawn(fun() -> Self ! {Ref, Key, catch Fun()} end) || {Key, Fun} <- Funs],
    Deadline = erlang:monotonic_time(millisecond) + T,
    Results = collect(Ref, length(Pids), Deadline),
    _ = [exit(P, kill) || P <- Pids],
    Results.

collect(_, 0, _) ->
    [];
collect(Ref, N, Deadline) ->
    Left = max(0, Deadline - erlang:monotonic_time(millisecond)),
    receive
        {Ref, Key, Result} -> [{Key, Result} | collect(Ref, N - 1, Deadline)]
    after Left ->
        []
    end.

%% A node up or down by a round; the last figure of each node read, and
%% unknown for the others.
update(S, {Connected, Loads}) ->
    S1 = lists:foldl(fun(N, Acc) -> state(Acc, N, up) end, S, Connected),
    S1#s{nodes = maps:map(fun(N, Nd) -> Nd#n{load = proplists:get_value(N, Loads)} end,
                          S1#s.nodes)}.

schedule(#s{interval = T} = S) ->
    erlang:send_after(T, self(), tick),
    S.

connected(N) ->
    case lists:member(N, [node() | nodes()]) of
        true -> up;
        false -> down
    end.

state(#s{nodes = Nodes} = S, Node, State) ->
    case Nodes of
        #{Node := Nd} -> S#s{nodes = Nodes#{Node := Nd#n{state = State}}};
        _ -> S
    end.

count(#s{nodes = Nodes} = S, Node, Add) ->
    case Nodes of
        #{Node := #n{running = R} = Nd} -> S#s{nodes = Nodes#{Node := Nd#n{running = R + Add}}};
        _ -> S
    end.

%% The node of the rule among those up, not full, not found lost by
%% this start.
choose(#s{nodes = Nodes, max = Max, placement = Placement}, Lost) ->
    Up = [{N, Nd} || {N, #n{state = up} = Nd} <- maps:to_list(Nodes),
                     not lists:member(N, Lost)],
    case [{key(Placement, Nd), N} || {N, #n{running = R} = Nd} <- Up, R < Max] of
        [] ->
            {error, {no_node, #{full => lists:sort([N || {N, _} <- Up]),
                                down => lists:sort(maps:keys(Nodes) -- [N || {N, _} <- Up])}}};
        Keyed ->
            {_, Node} = lists:min(Keyed),
            {ok, Node}
    end.

%% An unknown figure sorts after every number.
key(fewest, #n{running = R}) -> {R};
key(load, #n{load = undefined, running = R}) -> {1, 0, R};
key(load, #n{load = L, running = R}) -> {0, L, R}.
