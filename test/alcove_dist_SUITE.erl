%% SPDX-License-Identifier: ISC
%% A driver on another node (alcove_drv:start_on/2,3): calls, stdio and
%% events across nodes, a large stream, stdin back-pressure from a
%% writer on another node, and what happens when the owner's node or
%% the driver's node goes away. The nodes are peers of the test node
%% (OTP's peer module), on the loopback interface only, with the test
%% node's code path (test/alcove_peer.erl). Group plain runs them over
%% plain distribution; group tls over TLS distribution (inet_tls_dist,
%% with a CA and certificates made at test time), where node t, a TLS
%% peer, plays the test node's part, which does not speak TLS.
-module(alcove_dist_SUITE).

-include_lib("common_test/include/ct.hrl").
-include_lib("alcove/include/alcove.hrl").

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
    calls_across_nodes/1,
    owner_on_another_node/1,
    cat_64mib/1,
    back_pressure/1,
    owner_exit/1,
    owner_node_killed/1,
    driver_node_killed/1,
    application_stopped/1,
    tls_only/1
]).

-export([relay/1, own/3, local_exists/1, rss/1]).

-define(MIB, (1024 * 1024)).
%% alcove_drv's stdin window, and the piece it sends at once
-define(WINDOW, (4 * ?MIB)).

suite() ->
    [{timetrap, {minutes, 3}}].

all() ->
    [{group, plain}, {group, tls}].

%% The same cases over plain and over TLS distribution.
groups() ->
    Cases = [
        calls_across_nodes,
        owner_on_another_node,
        cat_64mib,
        back_pressure,
        owner_exit,
        owner_node_killed,
        driver_node_killed,
        application_stopped
    ],
    [{plain, [], Cases}, {tls, [], [tls_only | Cases]}].

%% The test node is distributed: plain peers are reached over
%% distribution, and tls_only starts one.
init_per_suite(Config) ->
    alcove_peer:distribute(Config).

end_per_suite(Config) ->
    alcove_peer:undistribute(Config).

init_per_group(plain, Config) ->
    [{mode, plain} | Config];
init_per_group(tls, Config) ->
    [{mode, tls} | alcove_peer:tls_config(Config)].

end_per_group(_, _Config) ->
    ok.

%% Nodes a and b for each case. Over TLS, the test node cannot take
%% part: node t, a TLS peer, plays its part (see run/2).
init_per_testcase(_Case, Config) ->
    Tags = case ?config(mode, Config) of
               plain -> [a, b];
               tls -> [t, a, b]
           end,
    [{peers, [alcove_peer:start(Tag, ?config(mode, Config), Config) || Tag <- Tags]} | Config].

end_per_testcase(_Case, Config) ->
    lists:foreach(fun alcove_peer:stop/1, ?config(peers, Config)),
    flush().

%%%
%%% Test cases
%%%

%% A driver on node b, owned by the test process: every kind of call,
%% stdin, stdout, stderr and events, a timed-out call whose reply comes
%% to the owner, badpid, eof, the driver's place under alcove_sup (not
%% linked to the erpc process that started it) and stop/1.
calls_across_nodes(Config) when is_list(Config) ->
    run(?FUNCTION_NAME, Config);
calls_across_nodes({here, Config}) ->
    B = node_of(b, Config),
    {ok, Drv} = alcove_drv:start_on(B, []),
    B = node(Drv),
    %% under the supervisor, linked to it and its port only
    Sup = erpc:call(B, erlang, whereis, [alcove_sup]),
    [{undefined, Drv, worker, [alcove_drv]}] =
        erpc:call(B, supervisor, which_children, [alcove_sup]),
    Port = alcove_drv:port(Drv),
    B = node(Port),
    {links, Links} = erpc:call(B, erlang, process_info, [Drv, links]),
    [Port, Sup] = lists:sort(Links),
    {os_pid, PortPid} = erpc:call(B, erlang, port_info, [Port, os_pid]),
    PortPid = alcove:getpid(Drv, []),
    %% stdio and events
    {ok, Child} = alcove:fork(Drv, []),
    Child = alcove:getpid(Drv, [Child]),
    ok = alcove:execvp(Drv, [Child], "/bin/sh",
                       ["/bin/sh", "-c", "read x; echo \"out $x\"; echo err >&2; exit 3"]),
    ok = alcove:stdin(Drv, [Child], "hello\n"),
    {alcove_stdout, Drv, [Child], <<"out hello\n">>} = wait_for(alcove_stdout),
    {alcove_stderr, Drv, [Child], <<"err\n">>} = wait_for(alcove_stderr),
    {exit_status, 3} = alcove:event(Drv, [Child], 5000),
    {alcove_ctl, Drv, [Child], fdctl_closed} = wait_for(alcove_ctl),
    %% eof and a sequence
    {ok, Cat} = alcove:fork(Drv, []),
    {ok, [ok, {ok, <<"/tmp">>}]} =
        alcove:sequence(Drv, [Cat], [{chdir, ["/tmp"]}, {getcwd, []}]),
    ok = alcove:execvp(Drv, [Cat], "/bin/cat", ["/bin/cat"]),
    ok = alcove:stdin(Drv, [Cat], "cat\n"),
    {alcove_stdout, Drv, [Cat], <<"cat\n">>} = wait_for(alcove_stdout),
    ok = alcove:eof(Drv, [Cat], stdin),
    {exit_status, 0} = alcove:event(Drv, [Cat], 5000),
    %% errors raised in the caller
    {'EXIT', {badpid, _}} = (catch alcove:getpid(Drv, [Cat])),
    {'EXIT', {badarg, _}} = (catch alcove:getpid(Drv, [-1])),
    {error, enoent} = alcove:open(Drv, [], "/nonexistent", [o_rdonly], 0),
    %% a call that times out: its reply reaches the owner
    {'EXIT', {timeout, _}} = (catch alcove:getpid(Drv, [], 0)),
    {alcove_call, Drv, [], PortPid} = wait_for(alcove_call),
    %% a call from another process of another node
    PortPid = erpc:call(node_of(a, Config), alcove, getpid, [Drv, []]),
    %% a sandbox
    {ok, Box} = alcove_sandbox:run(Drv, [], #{namespaces => [pid, uts], hostname => "box",
                                              argv => ["/bin/sh", "-c", "hostname; echo $$"]}),
    {0, <<"box\n1\n">>} = output(Drv, [Box], <<>>),
    %% stop: the driver and its port are gone, and the owner is not told
    ok = alcove_drv:stop(Drv),
    false = erpc:call(B, erlang, is_process_alive, [Drv]),
    ok = until(fun() -> not exists(B, PortPid) end),
    [] = erpc:call(B, supervisor, which_children, [alcove_sup]),
    none = wait_for(alcove_drv_down, 500),
    ok = alcove_drv:stop(Drv),
    %% what start_on/2 cannot do
    {error, {erpc, noconnection}} = alcove_drv:start_on('alcove_dist_none@localhost', []),
    {error, {enoent, "/nonexistent"}} = alcove_drv:start_on(B, [{progname, "/nonexistent"}]).

%% The owner on node a, the driver on node b, the calls from the test
%% node: output and events reach the owner on a.
owner_on_another_node(Config) when is_list(Config) ->
    run(?FUNCTION_NAME, Config);
owner_on_another_node({here, Config}) ->
    A = node_of(a, Config),
    B = node_of(b, Config),
    Owner = spawn(A, ?MODULE, relay, [self()]),
    {ok, Drv} = alcove_drv:start_on(B, Owner, []),
    {ok, Child} = alcove:fork(Drv, []),
    ok = alcove:execvp(Drv, [Child], "/bin/sh", ["/bin/sh", "-c", "echo out; echo err >&2"]),
    {A, {alcove_stdout, Drv, [Child], <<"out\n">>}} = relayed(alcove_stdout),
    {A, {alcove_stderr, Drv, [Child], <<"err\n">>}} = relayed(alcove_stderr),
    {A, {alcove_event, Drv, [Child], {exit_status, 0}}} = relayed(alcove_event),
    %% nothing reached the test process itself
    none = wait_for(alcove_stdout, 0),
    ok = alcove_drv:stop(Drv).

%% 64 MiB through cat on node b, written by a process of the test node
%% in pieces of 1 MiB: the output's hash is the input's.
cat_64mib(Config) when is_list(Config) ->
    run(?FUNCTION_NAME, Config);
cat_64mib({here, Config}) ->
    B = node_of(b, Config),
    {ok, Drv} = alcove_drv:start_on(B, []),
    {ok, Child} = alcove:fork(Drv, []),
    ok = alcove:execvp(Drv, [Child], "/bin/cat", ["/bin/cat"]),
    Total = 64 * ?MIB,
    Writer = writer(Drv, [Child], ?MIB, 64),
    {Total, Hash} = read_all(Drv, [Child], Total, crypto:hash_init(sha256), 0),
    {Writer, written, Total, Hash} = receive {Writer, written, _, _} = W -> W end,
    ok = alcove:eof(Drv, [Child], stdin),
    {exit_status, 0} = alcove:event(Drv, [Child], 10000),
    [] = alcove:stdout(Drv, [Child]),
    ok = alcove_drv:stop(Drv).

%% A program on node b that reads its stdin slowly (64 KiB every 5 ms)
%% and echoes it; a process of the test node writes 48 MiB to it in
%% pieces of 1 MiB. The writer's stdin/3 calls wait: when the last
%% returns, the program has already passed on all but about a window of
%% it. Meanwhile what the driver holds (its port's queue, its heap, its
%% mailbox, the binaries it refers to), what the port program holds,
%% and what the owner and the writer hold stay bounded, well below what
%% was written. Nothing is lost.
back_pressure(Config) when is_list(Config) ->
    run(?FUNCTION_NAME, Config);
back_pressure({here, Config}) ->
    B = node_of(b, Config),
    {ok, Drv} = alcove_drv:start_on(B, []),
    Port = alcove_drv:port(Drv),
    PortPid = alcove:getpid(Drv, []),
    {ok, Child} = alcove:fork(Drv, []),
    Slow = "while (my $n = sysread(STDIN, my $b, 65536)) "
           "{ syswrite(STDOUT, $b); select(undef, undef, undef, 0.005) }",
    ok = alcove:execvp(Drv, [Child], "/usr/bin/perl", ["perl", "-e", Slow]),
    Total = 48 * ?MIB,
    PortBase = erpc:call(B, ?MODULE, rss, [PortPid]),
    Writer = writer(Drv, [Child], ?MIB, 48),
    Sampler = sampler(B, Drv, {Port, PortPid}, self(), Writer),
    {Total, Hash, AtEnd} = read_slow(Drv, [Child], Writer, Total, crypto:hash_init(sha256), 0,
                                     undefined),
    {Writer, written, Total, Hash} = receive {Writer, written, _, _} = W -> W end,
    Sampler ! {self(), stop},
    Samples = receive {Sampler, samples, S} -> S end,
    %% a comment, not ct:pal: over TLS the case runs where ct does not
    Comment = io_lib:format("owner had ~B bytes when the writer returned; port RSS ~B before; "
                            "~B samples, max ~w",
                            [AtEnd, PortBase, length(Samples), max_samples(Samples)]),
    %% the writer returned only once the program had read all but the
    %% window, the piece in flight and what the pipes and buffers hold
    true = AtEnd >= Total - ?WINDOW - 4 * ?MIB,
    true = length(Samples) >= 10,
    #{port_queue := PortQueue, port_rss := PortRss, drv_memory := DrvMemory, drv_queue := DrvQueue,
      drv_binary := DrvBinary, owner_memory := OwnerMemory, owner_queue := OwnerQueue,
      writer_binary := WriterBinary} = max_samples(Samples),
    true = PortQueue =< ?WINDOW + ?MIB,
    %% what the port program holds for the slow reader: the window and
    %% its buffers, a third of what was written (not under a sanitizer,
    %% whose shadow and quarantine it would be)
    true = PortRss - PortBase =< 16 * ?MIB orelse not alcove_test:rss_checked(),
    true = DrvMemory =< 4 * ?MIB,
    true = DrvQueue =< 16,
    true = DrvBinary =< ?WINDOW + 2 * ?MIB,
    true = OwnerMemory =< 4 * ?MIB,
    true = OwnerQueue =< 64,
    true = WriterBinary =< 4 * ?MIB,
    ok = alcove:eof(Drv, [Child], stdin),
    {exit_status, 0} = alcove:event(Drv, [Child], 10000),
    ok = alcove_drv:stop(Drv),
    {comment, lists:flatten(Comment)}.

%% The owner, a process of node a, exits: the driver on node b stops,
%% and the programs it ran are killed.
owner_exit(Config) when is_list(Config) ->
    run(?FUNCTION_NAME, Config);
owner_exit({here, Config}) ->
    A = node_of(a, Config),
    B = node_of(b, Config),
    Owner = spawn(A, ?MODULE, own, [self(), B, 2]),
    {Owner, Drv, PortPid, Pids} = receive {Owner, _, _, _} = O -> O end,
    true = lists:all(fun(P) -> exists(B, P) end, [PortPid | Pids]),
    Owner ! stop,
    ok = gone(B, Drv, [PortPid | Pids]).

%% Node a, where the owner runs, is killed: the driver on node b stops,
%% and the processes of its port are gone, as node b sees them.
owner_node_killed(Config) when is_list(Config) ->
    run(?FUNCTION_NAME, Config);
owner_node_killed({here, Config}) ->
    A = node_of(a, Config),
    B = node_of(b, Config),
    Owner = spawn(A, ?MODULE, own, [self(), B, 3]),
    {Owner, Drv, PortPid, Pids} = receive {Owner, _, _, _} = O -> O end,
    true = lists:all(fun(P) -> exists(B, P) end, [PortPid | Pids]),
    ok = alcove_peer:kill_node(A),
    ok = gone(B, Drv, [PortPid | Pids]).

%% Node b, where the driver runs, is killed: the owner gets one
%% alcove_drv_down message; a call waiting for its reply, a stdin/3
%% waiting for the window and every later call raise.
driver_node_killed(Config) when is_list(Config) ->
    run(?FUNCTION_NAME, Config);
driver_node_killed({here, Config}) ->
    B = node_of(b, Config),
    {ok, Drv} = alcove_drv:start_on(B, []),
    PortPid = alcove:getpid(Drv, []),
    %% a program that never reads: 8 MiB of stdin exceed the window
    {ok, Sleeper} = alcove:fork(Drv, []),
    ok = alcove:execvp(Drv, [Sleeper], "/bin/sleep", ["sleep", "1000"]),
    Self = self(),
    Writer = spawn(fun() ->
                           Self ! {self(), catching(fun() ->
                               alcove:stdin(Drv, [Sleeper], binary:copy(<<0>>, 8 * ?MIB))
                           end)}
                   end),
    %% a call that waits for ever
    {ok, Blocked} = alcove:fork(Drv, []),
    Caller = spawn(fun() ->
                           Self ! {self(), catching(fun() ->
                               alcove:select(Drv, [Blocked], [], [], [], [])
                           end)}
                   end),
    none = wait_for(Writer, 1000),
    none = wait_for(Caller, 0),
    ok = alcove_peer:kill_node(B),
    {alcove_drv_down, Drv, B, noconnection} = wait_for(alcove_drv_down),
    {Writer, {exit, {noconnection, {alcove_drv, stdin}}}} = wait_for(Writer),
    {Caller, {exit, {noconnection, {alcove_drv, {call, _}}}}} = wait_for(Caller),
    {exit, {noconnection, {alcove_drv, {call, _}}}} =
        catching(fun() -> alcove:getpid(Drv, []) end),
    {exit, {noconnection, {alcove_drv, stdin}}} =
        catching(fun() -> alcove:stdin(Drv, [Sleeper], <<"x">>) end),
    {exit, {noconnection, {alcove_drv, port}}} = catching(fun() -> alcove_drv:port(Drv) end),
    ok = alcove_drv:stop(Drv),
    %% one message only; the port and its programs went with the node
    none = wait_for(alcove_drv_down, 500),
    ok = until(fun() -> not lists:any(fun local_exists/1, [PortPid, Sleeper, Blocked]) end).

%% The alcove application stops on node b: its supervisor shuts the
%% driver down, the port's programs are killed, and the owner is told
%% why.
application_stopped(Config) when is_list(Config) ->
    run(?FUNCTION_NAME, Config);
application_stopped({here, Config}) ->
    B = node_of(b, Config),
    {ok, Drv} = alcove_drv:start_on(B, []),
    PortPid = alcove:getpid(Drv, []),
    {ok, Child} = alcove:fork(Drv, []),
    ok = alcove:execvp(Drv, [Child], "/bin/sleep", ["sleep", "1000"]),
    true = exists(B, Child),
    ok = erpc:call(B, application, stop, [alcove]),
    {alcove_drv_down, Drv, B, shutdown} = wait_for(alcove_drv_down),
    false = erpc:call(B, erlang, is_process_alive, [Drv]),
    ok = until(fun() -> not exists(B, PortPid) andalso not exists(B, Child) end),
    %% started again on demand
    {ok, Drv2} = alcove_drv:start_on(B, []),
    true = is_integer(alcove:getpid(Drv2, [])),
    ok = alcove_drv:stop(Drv2).

%% Over TLS: the nodes' connections are TLS ones; a node speaking plain
%% distribution, or TLS with a certificate from another CA, cannot
%% connect to them, nor they to it.
tls_only(Config) ->
    [T, A, B] = ?config(peers, Config),
    [pong, pong] = [alcove_peer:call(T, net_adm, ping, [node_of(N, Config)]) || N <- [a, b]],
    pong = alcove_peer:call(A, net_adm, ping, [node_of(b, Config)]),
    Tls = lists:sort([N || #{node := N} <- [T, A, B]]),
    [Tls, Tls, Tls] = [lists:sort([node_of(Tag, Config) | alcove_peer:tls_connected(P)])
                       || #{name := Tag} = P <- [T, A, B]],
    Plain = alcove_peer:start(plain, plain, Config),
    pang = alcove_peer:call(Plain, net_adm, ping, [node_of(a, Config)]),
    OtherCa = alcove_peer:tls_optfile(filename:join(?config(priv_dir, Config), "other_ca")),
    Other = alcove_peer:start(other_ca, tls, [{tls_optfile, OtherCa} | Config]),
    pang = alcove_peer:call(Other, net_adm, ping, [node_of(a, Config)]),
    pang = alcove_peer:call(A, net_adm, ping, [maps:get(node, Other)]),
    [] = alcove_peer:call(Other, erlang, nodes, []),
    Tls = lists:sort([node_of(a, Config) | alcove_peer:call(A, erlang, nodes, [])]),
    ok = alcove_peer:stop(Plain),
    ok = alcove_peer:stop(Other).

%%%
%%% Helpers
%%%

%% @private A process of node a that passes everything it gets to To,
%% tagged with its node.
-spec relay(pid()) -> no_return().
relay(To) ->
    receive M -> To ! {relayed, node(), M} end,
    relay(To).

%% @private An owner on node a: starts a driver on Node with N programs
%% running, tells Test, and exits when told to.
-spec own(pid(), node(), pos_integer()) -> ok.
own(Test, Node, N) ->
    {ok, Drv} = alcove_drv:start_on(Node, []),
    Pids = [begin
                {ok, C} = alcove:fork(Drv, []),
                ok = alcove:execvp(Drv, [C], "/bin/sleep", ["sleep", "1000"]),
                C
            end || _ <- lists:seq(1, N)],
    Test ! {self(), Drv, alcove:getpid(Drv, []), Pids},
    receive stop -> ok end.

%% Runs a case on the test node, or over TLS on node t, connected to a
%% and b first: every connection t has, before and after, is a TLS one.
run(Case, Config) ->
    Here = {here, [{peers, ?config(peers, Config)}]},
    case lists:search(fun(#{name := Name}) -> Name =:= t end, ?config(peers, Config)) of
        false ->
            ?MODULE:Case(Here);
        {value, T} ->
            AB = lists:sort([node_of(a, Config), node_of(b, Config)]),
            [pong, pong] = [alcove_peer:call(T, net_adm, ping, [N]) || N <- AB],
            AB = alcove_peer:tls_connected(T),
            Result = alcove_peer:call(T, ?MODULE, Case, [Here]),
            [] = alcove_peer:call(T, erlang, nodes, []) -- alcove_peer:tls_connected(T),
            Result
    end.

node_of(Tag, Config) ->
    {value, #{node := Node}} =
        lists:search(fun(#{name := Name}) -> Name =:= Tag end, ?config(peers, Config)),
    Node.

%% The driver Drv of node Node has stopped, and none of the OS processes
%% is left, as Node sees them.
gone(Node, Drv, Pids) ->
    ok = until(fun() -> not erpc:call(Node, erlang, is_process_alive, [Drv]) end),
    ok = until(fun() -> not lists:any(fun(P) -> exists(Node, P) end, Pids) end),
    [] = erpc:call(Node, supervisor, which_children, [alcove_sup]),
    ok.

%% Whether an OS process exists (and is not a zombie) on Node.
exists(Node, Pid) ->
    erpc:call(Node, ?MODULE, local_exists, [Pid]).

local_exists(Pid) ->
    case file:read_file("/proc/" ++ integer_to_list(Pid) ++ "/stat") of
        {ok, Stat} ->
            [_, State | _] = string:lexemes(lists:last(string:split(Stat, ")", trailing)), " "),
            State =/= <<"Z">>;
        {error, _} ->
            false
    end.

until(F) ->
    until(F, 500).

until(_, 0) ->
    timeout;
until(F, N) ->
    case F() of
        true -> ok;
        false -> timer:sleep(20), until(F, N - 1)
    end.

catching(F) ->
    try F() of
        V -> {value, V}
    catch
        Class:Reason -> {Class, Reason}
    end.

%% A process writing N pieces of Size random bytes to the chain's stdin;
%% it tells its parent how much it wrote, and the hash.
writer(Drv, Chain, Size, N) ->
    Parent = self(),
    spawn_link(fun() ->
                       Hash = lists:foldl(fun(_, H) ->
                                                  Piece = crypto:strong_rand_bytes(Size),
                                                  ok = alcove:stdin(Drv, Chain, Piece),
                                                  crypto:hash_update(H, Piece)
                                          end, crypto:hash_init(sha256), lists:seq(1, N)),
                       Parent ! {self(), written, Size * N, crypto:hash_final(Hash)}
               end).

read_all(_, _, Total, Hash, Total) ->
    {Total, crypto:hash_final(Hash)};
read_all(Drv, Chain, Total, Hash, Got) ->
    receive
        {alcove_stdout, Drv, Chain, Data} ->
            read_all(Drv, Chain, Total, crypto:hash_update(Hash, Data), Got + byte_size(Data))
    after 60000 ->
        ct:fail({stalled, Got})
    end.

%% read_all/5 noting how much had come when the writer returned.
read_slow(_, _, _, Total, Hash, Total, AtEnd) ->
    {Total, crypto:hash_final(Hash), AtEnd};
read_slow(Drv, Chain, Writer, Total, Hash, Got, AtEnd) ->
    receive
        {Writer, written, _, _} = W when AtEnd =:= undefined ->
            self() ! W,
            read_slow(Drv, Chain, Writer, Total, Hash, Got, Got);
        {alcove_stdout, Drv, Chain, Data} ->
            read_slow(Drv, Chain, Writer, Total, crypto:hash_update(Hash, Data),
                      Got + byte_size(Data), AtEnd)
    after 60000 ->
        ct:fail({stalled, Got})
    end.

%% Every 50 ms: the driver's port queue, the port program's resident
%% memory, the driver's heap, mailbox and binaries on its node; the
%% owner's heap and mailbox, the writer's binaries.
sampler(Node, Drv, PortIds, Owner, Writer) ->
    Parent = self(),
    spawn_link(fun() -> sample(Parent, Node, Drv, PortIds, Owner, Writer, []) end).

%% The resident memory of an OS process, in bytes.
rss(Pid) ->
    {ok, Status} = file:read_file("/proc/" ++ integer_to_list(Pid) ++ "/status"),
    {match, [Kb]} = re:run(Status, "VmRSS:\\s+(\\d+) kB", [{capture, all_but_first, binary}]),
    binary_to_integer(Kb) * 1024.

sample(Parent, Node, Drv, PortIds, Owner, Writer, Acc) ->
    receive
        {Parent, stop} -> Parent ! {self(), samples, Acc}
    after 50 ->
        [{memory, DrvMemory}, {message_queue_len, DrvQueue}, {binary, DrvBins}] =
            erpc:call(Node, erlang, process_info, [Drv, [memory, message_queue_len, binary]]),
        {Port, PortPid} = PortIds,
        {queue_size, PortQueue} = erpc:call(Node, erlang, port_info, [Port, queue_size]),
        PortRss = erpc:call(Node, ?MODULE, rss, [PortPid]),
        [{memory, OwnerMemory}, {message_queue_len, OwnerQueue}] =
            process_info(Owner, [memory, message_queue_len]),
        WriterBinary = case process_info(Writer, binary) of
                           {binary, WBins} -> bin_size(WBins);
                           undefined -> 0
                       end,
        S = #{port_queue => PortQueue, port_rss => PortRss, drv_memory => DrvMemory,
              drv_queue => DrvQueue, drv_binary => bin_size(DrvBins), owner_memory => OwnerMemory,
              owner_queue => OwnerQueue, writer_binary => WriterBinary},
        sample(Parent, Node, Drv, PortIds, Owner, Writer, [S | Acc])
    end.

bin_size(Bins) ->
    lists:sum([Size || {_, Size, _} <- Bins]).

max_samples(Samples) ->
    lists:foldl(fun(S, Max) -> maps:merge_with(fun(_, X, Y) -> max(X, Y) end, S, Max) end,
                #{}, Samples).

%% The next message with this tag (or, for a pid, from it), or none.
wait_for(Tag) ->
    case wait_for(Tag, 30000) of
        none -> ct:fail({no_message, Tag});
        M -> M
    end.

wait_for(Pid, Timeout) when is_pid(Pid) ->
    receive {Pid, _} = M -> M after Timeout -> none end;
wait_for(Tag, Timeout) ->
    receive M when element(1, M) =:= Tag -> M after Timeout -> none end.

%% What a program printed, and its exit status.
output(Drv, Chain, Out) ->
    receive
        {alcove_stdout, Drv, Chain, Data} -> output(Drv, Chain, <<Out/binary, Data/binary>>);
        {alcove_event, Drv, Chain, {exit_status, N}} -> {N, Out}
    after 30000 ->
        ct:fail({no_exit, Chain, Out})
    end.

relayed(Tag) ->
    receive
        {relayed, Node, M} when element(1, M) =:= Tag -> {Node, M}
    after 30000 ->
        ct:fail({not_relayed, Tag})
    end.

flush() ->
    receive _ -> flush() after 0 -> ok end.
