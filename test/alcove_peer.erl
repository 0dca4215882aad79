%% SPDX-License-Identifier: ISC
%% Peer nodes for the suites: nodes started by OTP's peer module on the
%% loopback interface, with the test node's code path (they run as the
%% test node's user, so they can start alcove_drv). A plain peer is
%% reached over distribution from the test node. A TLS peer speaks TLS
%% distribution (inet_tls_dist) with certificates made at test time;
%% the test node does not (proto_dist cannot change at run time), so it
%% drives a TLS peer through the peer's standard input and output, and
%% the TLS peers form a cluster of their own.
-module(alcove_peer).

-include_lib("common_test/include/ct.hrl").
-include_lib("kernel/include/net_address.hrl").
-include_lib("public_key/include/public_key.hrl").

-export([
    distribute/1,
    undistribute/1,
    tls_config/1,
    tls_optfile/1,
    start/3,
    call/4,
    call/5,
    stop/1,
    kill/1,
    kill_node/1,
    tls_connected/1
]).

-export_type([peer/0, mode/0]).

-type mode() :: plain | tls.
-type peer() :: #{name := atom(), node := node(), peer := pid(), mode := mode()}.

%% @doc Makes the test node distributed, on loopback, with epmd
%% started if none runs (epmd stays: other nodes of the host may use
%% it). Notes whether it started distribution, for undistribute/1.
-spec distribute(list()) -> list().
distribute(Config) ->
    case node() of
        nonode@nohost ->
            ok = epmd(),
            ok = application:set_env(kernel, inet_dist_use_interface, {127, 0, 0, 1}),
            Name = list_to_atom("alcove_ct_" ++ os:getpid() ++ "@localhost"),
            {ok, _} = net_kernel:start(Name, #{name_domain => shortnames}),
            [{net_started, true} | Config];
        _ ->
            [{net_started, false} | Config]
    end.

%% @doc Stops the distribution distribute/1 started, if it did.
-spec undistribute(list()) -> ok.
undistribute(Config) ->
    case ?config(net_started, Config) of
        true ->
            ok = net_kernel:stop(),
            application:unset_env(kernel, inet_dist_use_interface);
        _ ->
            ok
    end.

%% @doc Makes a CA, a certificate and key for the nodes and an optfile
%% for TLS distribution, under priv_dir: adds `{tls_optfile, Path}'.
-spec tls_config(list()) -> list().
tls_config(Config) ->
    [{tls_optfile, tls_optfile(filename:join(?config(priv_dir, Config), "tls"))} | Config].

%% @doc Writes into Dir a new CA (ca.pem), a certificate signed by it
%% naming localhost and 127.0.0.1 (node.pem, node.key; one for every
%% node, which is both client and server) and an ssl_dist optfile
%% asking both sides for a certificate of that CA, and returns the
%% optfile's path. Each call makes another CA.
-spec tls_optfile(file:filename()) -> file:filename().
tls_optfile(Dir) ->
    ok = filelib:ensure_dir(filename:join(Dir, "x")),
    SubjectAltName = #'Extension'{extnID = ?'id-ce-subjectAltName', critical = false,
                                  extnValue = [{dNSName, "localhost"},
                                               {iPAddress, <<127, 0, 0, 1>>}]},
    Data = public_key:pkix_test_data(#{root => [], peer => [{extensions, [SubjectAltName]}]}),
    {cert, Cert} = lists:keyfind(cert, 1, Data),
    {key, {KeyType, Key}} = lists:keyfind(key, 1, Data),
    {cacerts, CaCerts} = lists:keyfind(cacerts, 1, Data),
    Pem = fun(File, Entries) ->
                  Path = filename:join(Dir, File),
                  ok = file:write_file(Path, public_key:pem_encode(Entries)),
                  Path
          end,
    Files = [{certfile, Pem("node.pem", [{'Certificate', Cert, not_encrypted}])},
             {keyfile, Pem("node.key", [{KeyType, Key, not_encrypted}])},
             {cacertfile, Pem("ca.pem", [{'Certificate', C, not_encrypted} || C <- CaCerts])},
             {verify, verify_peer}],
    %% the client checks the server's name against the host of its
    %% node name (inet_tls_dist sends it as server_name_indication)
    Opts = [{server, [{fail_if_no_peer_cert, true} | Files]}, {client, Files}],
    OptFile = filename:join(Dir, "ssl_dist.conf"),
    ok = file:write_file(OptFile, io_lib:format("~tp.~n", [Opts])),
    OptFile.

%% @doc Starts a peer node named after Name: plain, reached over
%% distribution (the test node must be distributed: distribute/1), or
%% tls, with `-proto_dist inet_tls' and the optfile of tls_config/1,
%% reached through its standard input and output. The peer is not
%% linked to the caller (a killed node would take the caller with it):
%% stop it with stop/1.
-spec start(atom(), mode(), list()) -> peer().
start(Name, Mode, Config) ->
    ok = epmd(),
    Common = ["-kernel", "inet_dist_use_interface", "{127,0,0,1}", "-pa" | code:get_path()],
    %% tls needs tls_config/1 first
    Opts = case {Mode, ?config(tls_optfile, Config)} of
               {plain, _} ->
                   #{args => Common};
               {tls, OptFile} when is_list(OptFile) ->
                   #{connection => standard_io,
                     args => ["-proto_dist", "inet_tls",
                              "-ssl_dist_optfile", OptFile | Common]}
           end,
    {ok, Peer, Node} = peer:start(Opts#{name => peer:random_name(Name), host => "localhost"}),
    #{name => Name, node => Node, peer => Peer, mode => Mode}.

%% @doc call/5 without a timeout.
-spec call(peer(), module(), atom(), list()) -> term().
call(Peer, M, F, A) ->
    call(Peer, M, F, A, infinity).

%% @doc M:F(A) on the peer's node, through its control connection (tls)
%% or distribution (plain). An exception is raised again in the caller,
%% the same in both modes (erpc's wrapping is taken off).
-spec call(peer(), module(), atom(), list(), timeout()) -> term().
call(#{mode := tls, peer := Peer}, M, F, A, Timeout) ->
    peer:call(Peer, M, F, A, Timeout);
call(#{mode := plain, node := Node}, M, F, A, Timeout) ->
    try
        erpc:call(Node, M, F, A, Timeout)
    catch
        error:{exception, Reason, Stack} -> erlang:raise(error, Reason, Stack);
        exit:{exception, Reason} -> exit(Reason)
    end.

%% @doc Stops the peer; ok if it is already gone.
-spec stop(peer()) -> ok.
stop(#{peer := Peer}) ->
    try
        peer:stop(Peer)
    catch
        exit:noproc -> ok;
        exit:{noproc, _} -> ok
    end.

%% @doc Kills the peer's VM with SIGKILL, and waits until its peer
%% process (on the test node) has seen it go.
-spec kill(peer()) -> ok.
kill(#{peer := Peer, node := Node} = P) ->
    OsPid = list_to_integer(call(P, os, getpid, [])),
    true = OsPid > 1,
    Ref = monitor(process, Peer),
    _ = os:cmd("kill -KILL " ++ integer_to_list(OsPid)),
    receive
        {'DOWN', Ref, process, Peer, _} -> ok
    after 10000 ->
        error({still_up, Node})
    end.

%% SIGKILL to the VM of Node, from any node connected to it, and wait
%% for the connection to go (for a node killed inside a case's body).
-spec kill_node(node()) -> ok.
kill_node(Node) ->
    OsPid = erpc:call(Node, os, getpid, []),
    true = list_to_integer(OsPid) > 1,
    true = erlang:monitor_node(Node, true),
    _ = os:cmd("kill -KILL " ++ OsPid),
    receive {nodedown, Node} -> ok after 10000 -> error({still_up, Node}) end.

%% @doc The nodes the peer is connected to over TLS distribution.
-spec tls_connected(peer()) -> [node()].
tls_connected(Peer) ->
    {ok, Nodes} = call(Peer, net_kernel, nodes_info, []),
    lists:sort([Node || {Node, Info} <- Nodes,
                        lists:member({state, up}, Info),
                        {address, #net_address{protocol = tls}} <- Info]).

epmd() ->
    case erl_epmd:names("localhost") of
        {ok, _} ->
            ok;
        {error, _} ->
            Epmd = case os:find_executable("epmd") of
                       false -> filename:join([code:root_dir(), "erts-" ++
                                               erlang:system_info(version), "bin", "epmd"]);
                       Path -> Path
                   end,
            _ = os:cmd("ERL_EPMD_ADDRESS=127.0.0.1 " ++ Epmd ++ " -daemon"),
            wait_epmd(500)
    end.

%% epmd -daemon returns before epmd listens.
wait_epmd(0) ->
    {error, no_epmd};
wait_epmd(N) ->
    case erl_epmd:names("localhost") of
        {ok, _} -> ok;
        {error, _} -> timer:sleep(20), wait_epmd(N - 1)
    end.
