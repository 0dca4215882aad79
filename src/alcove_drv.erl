%% SPDX-License-Identifier: ISC
%% @doc The process that owns the alcove port.
%%
%% Requests are matched to replies by a unique id, never by the shape of
%% a message in a mailbox. Calls are sent by the caller straight to this
%% process and answered through an alias, so a caller that times out
%% exits like `gen_server:call/3' and its late reply is handed to the
%% owner as `{alcove_call, Drv, Chain, Reply}' instead of confusing a
%% later call.
%%
%% Standard output, standard error and events of the processes go to the
%% owner, the process that started the port, as
%% `{alcove_stdout | alcove_stderr | alcove_event, Drv, Chain, Term}'.
-module(alcove_drv).
-behaviour(gen_server).

-export([
    start/0, start/1,
    start_link/0, start_link/1,
    stop/1,
    call/5,
    stdin/3,
    eof/3,
    progname/0,
    getopts/1
]).
-export([init/1, handle_call/3, handle_cast/2, handle_info/2, terminate/2]).

-export_type([option/0]).

-type option() ::
    stderr_to_stdout
    | {env, [{string(), string() | false}]}
    | {exec, string()}
    | {progname, string()}
    | {ctldir, string()}
    | {maxchild, non_neg_integer()}
    | {maxforkdepth, non_neg_integer()}
    | {exit_status, 0 | 1}
    | {termsig, 0 | 1}
    | {flowcontrol, alcove:int32_t()}
    | {signaloneof, 0..255}.

%% Frame types: c_src/frame.h.
-define(MSG_CALL, 1).
-define(MSG_STDIN, 2).
-define(MSG_EOF, 3).
-define(MSG_SHUTDOWN, 4).
-define(MSG_REPLY, 1).
-define(MSG_STDOUT, 2).
-define(MSG_STDERR, 3).
-define(MSG_EVENT, 4).
-define(MSG_CLOSED, 5).
%% Reply status: c_src/reply.h.
-define(ALCOVE_OK, 0).
-define(ALCOVE_BADARG, 1).
-define(ALCOVE_BADPID, 2).
-define(ALCOVE_UNDEF, 3).

%% stdin is sent in pieces of at most STDIN_PIECE bytes; a writer waits
%% while more than STDIN_WINDOW bytes to one process are not yet in its
%% pipe. This bounds what the port holds for a slow reader.
-define(STDIN_PIECE, (1024 * 1024)).
-define(STDIN_WINDOW, (4 * 1024 * 1024)).
%% How long stop/1 waits for the port to stop its children and exit.
-define(STOP_TIMEOUT, 15000).
%% The largest frame the port reads (c_src/frame.h): past it the port
%% cannot find the next frame and stops. A call is refused here instead.
-define(FRAME_MAX, (256 * 1024 * 1024)).
-define(DOWN_HDR, 7).

-record(state, {
    port :: port(),
    owner :: pid(),
    id = 0 :: non_neg_integer(),
    %% Id => {call, Ref, Chain, Nr} | {stdin, Chain, Bytes} | {eof, Ref, Chain}
    pending = #{} :: #{non_neg_integer() => tuple()},
    %% Refs of callers that gave up: their replies go to the owner.
    cancelled = #{} :: #{reference() => true},
    inflight = #{} :: #{[alcove:pid_t()] => non_neg_integer()},
    waiting = #{} :: #{[alcove:pid_t()] => [gen_server:from()]}
}).

%%% API

%% @doc Start the port; the calling process owns it.
-spec start() -> {ok, pid()} | {error, term()}.
start() -> start([]).

%% @doc Start the port with options; the calling process owns it.
%%
%% `{exec, Cmd}' runs the port through a command such as `"sudo -n"';
%% `{progname, Path}' is the port executable; `{env, Env}' its
%% environment; `stderr_to_stdout' merges its stderr into the protocol
%% stream (only for a port that will exec). `{ctldir, Dir}' is accepted
%% for compatibility: control channels are socket pairs, not files. The
%% options of `alcove:getopt/3' set the port's start-up values.
%%
%% The port stops when its owner exits.
-spec start([option()]) -> {ok, pid()} | {error, term()}.
start(Opts) when is_list(Opts) ->
    gen_server:start(?MODULE, {self(), Opts}, []).

%% @doc Like start/0, linked to the caller.
-spec start_link() -> {ok, pid()} | {error, term()}.
start_link() -> start_link([]).

%% @doc Like start/1, linked to the caller.
-spec start_link([option()]) -> {ok, pid()} | {error, term()}.
start_link(Opts) when is_list(Opts) ->
    gen_server:start_link(?MODULE, {self(), Opts}, []).

%% @doc Stop the port: every process it started gets its `signaloneof'
%% signal, and stop returns once the port has reaped them and exited.
-spec stop(pid()) -> ok.
stop(Drv) ->
    gen_server:stop(Drv, normal, ?STOP_TIMEOUT + 5000).

%% @doc Run call number `Nr' with its arguments in the process at the end
%% of the fork chain. Used by the generated functions of `alcove'.
%% An integer `Timeout' makes the caller exit with `timeout', like
%% `gen_server:call/3'. A call number past 16 bits, or arguments too
%% large for one frame of the protocol (256 MiB), raise badarg.
-spec call(pid(), alcove:fork_chain(), non_neg_integer(), tuple(), timeout()) ->
    term().
call(Drv, Pids, Nr, Args, Timeout) when is_pid(Drv), is_integer(Nr), Nr >= 0,
                                        Nr =< 16#ffff, is_tuple(Args) ->
    Chain = chain(Pids),
    timeout(Timeout),
    Req = [Chain, <<Nr:16>>, term_to_binary(Args)],
    iolist_size(Req) =< ?FRAME_MAX - ?DOWN_HDR orelse erlang:error(badarg),
    Ref = erlang:monitor(process, Drv, [{alias, demonitor}]),
    Drv ! {'$alcove_call', Ref, Pids, Nr, Req},
    wait(Drv, Ref, Timeout, {call, Nr});
call(_, _, _, _, _) ->
    erlang:error(badarg).

%% @doc Write to the stdin of the process at the end of the chain. Returns
%% once the data is accepted, which is at once unless more than a
%% window's worth to this process is not yet in its pipe: a slow reader
%% slows the writer instead of losing data.
-spec stdin(pid(), alcove:fork_chain(), iodata()) -> ok.
stdin(Drv, Pids, Data) when is_pid(Drv) ->
    _ = chain(Pids),
    Pids =/= [] orelse erlang:error(badpid),
    gen_server:call(Drv, {stdin, Pids, iolist_to_binary(Data)}, infinity).

%% @doc Close the stdin, stdout or stderr of the process at the end of
%% the chain (`{Stream, Timeout}'; a timeout alone is for stdin), as its
%% parent holds them. stdin is closed after everything written to it
%% before; a process still in its event loop then shuts down as the port
%% does when its stdin closes, and exits 0. `{error, esrch}' for `[]' or a
%% process that is not a child of the one before it, `{error, ebadf}'
%% for a stream already closed.
-spec eof(pid(), alcove:fork_chain(),
          timeout() | {stdin | stdout | stderr, timeout()}) ->
    ok | {error, alcove:posix()}.
eof(Drv, Pids, {Stream, Timeout}) when is_pid(Drv) ->
    Chain = chain(Pids),
    timeout(Timeout),
    %% the byte after the PIDs names the stream (c_src/frame.h)
    Byte = case Stream of
               stdin -> 0;
               stdout -> 1;
               stderr -> 2;
               _ -> erlang:error(badarg)
           end,
    case Pids of
        [] ->
            {error, esrch};
        _ ->
            Ref = erlang:monitor(process, Drv, [{alias, demonitor}]),
            Drv ! {'$alcove_eof', Ref, Pids, <<Chain/binary, Byte>>},
            wait(Drv, Ref, Timeout, eof)
    end;
eof(Drv, Pids, Timeout) ->
    eof(Drv, Pids, {stdin, Timeout}).

%% @doc The default path of the port executable.
-spec progname() -> file:filename().
progname() ->
    Priv = case code:priv_dir(alcove) of
               {error, bad_name} ->
                   filename:join(filename:dirname(filename:dirname(
                       code:which(?MODULE))), "priv");
               Dir -> Dir
           end,
    filename:absname(filename:join(Priv, "alcove")).

%% @doc The command line start/1 runs for these options.
-spec getopts([option()]) -> [string()].
getopts(Opts) ->
    Exec = string:lexemes(proplists:get_value(exec, Opts, ""), " "),
    Prog = proplists:get_value(progname, Opts, progname()),
    Flags = lists:append([["-" ++ Flag, integer_to_list(V)]
                          || {Opt, Flag} <- [{maxchild, "c"},
                                             {maxforkdepth, "d"},
                                             {exit_status, "e"},
                                             {termsig, "t"},
                                             {flowcontrol, "f"},
                                             {signaloneof, "s"}],
                             V <- [proplists:get_value(Opt, Opts)],
                             is_integer(V)]),
    Exec ++ [Prog | Flags].

%%% Internal: the caller's side

chain(Pids) when is_list(Pids), length(Pids) < 16#10000 ->
    << <<(pid(P)):32>> || P <- Pids >>;
chain(_) ->
    erlang:error(badarg).

pid(P) when is_integer(P), P >= 0, P =< 16#7fffffff -> P;
pid(_) -> erlang:error(badarg).

timeout(infinity) -> ok;
timeout(T) when is_integer(T), T >= 0 -> ok;
timeout(_) -> erlang:error(badarg).

wait(Drv, Ref, Timeout, What) ->
    receive
        {Ref, Status, Term} ->
            erlang:demonitor(Ref, [flush]),
            result(Status, Term);
        {'DOWN', Ref, process, _, Reason} ->
            exit({Reason, {?MODULE, What}})
    after Timeout ->
        erlang:demonitor(Ref, [flush]),
        Drv ! {'$alcove_cancel', Ref},
        receive {Ref, _, _} -> ok after 0 -> ok end,
        exit({timeout, {?MODULE, What}})
    end.

result(?ALCOVE_OK, Term) -> binary_to_term(Term);
result(?ALCOVE_BADARG, _) -> erlang:error(badarg);
result(?ALCOVE_BADPID, _) -> erlang:error(badpid);
result(?ALCOVE_UNDEF, _) -> erlang:error(undef).

%%% gen_server

%% @private
init({Owner, Opts}) ->
    process_flag(trap_exit, true),
    erlang:monitor(process, Owner),
    [Cmd | Args] = getopts(Opts),
    case os:find_executable(Cmd) of
        false ->
            {stop, {enoent, Cmd}};
        Exe ->
            PortOpts = [{args, Args}, {packet, 4}, binary, exit_status,
                        use_stdio, {env, proplists:get_value(env, Opts, [])}]
                ++ [stderr_to_stdout || proplists:get_bool(stderr_to_stdout, Opts)],
            Port = open_port({spawn_executable, Exe}, PortOpts),
            {ok, #state{port = Port, owner = Owner}}
    end.

%% @private
handle_call({stdin, Pids, Data}, From, State) ->
    State1 = send_stdin(Pids, Data, State),
    case maps:get(Pids, State1#state.inflight, 0) =< ?STDIN_WINDOW of
        true ->
            {reply, ok, State1};
        false ->
            Waiting = State1#state.waiting,
            Froms = [From | maps:get(Pids, Waiting, [])],
            {noreply, State1#state{waiting = Waiting#{Pids => Froms}}}
    end;
handle_call(_, _, State) ->
    {reply, {error, badarg}, State}.

%% @private
handle_cast(_, State) ->
    {noreply, State}.

%% @private
handle_info({Port, {data, Data}}, #state{port = Port} = State) ->
    {noreply, port_data(Data, State)};
handle_info({'$alcove_call', Ref, Pids, Nr, Req}, State) ->
    {Id, State1} = next_id(State),
    send(State, [<<?MSG_CALL, Id:32, (length(Pids)):16>> | Req]),
    Pending = State1#state.pending,
    {noreply, State1#state{pending = Pending#{Id => {call, Ref, Pids, Nr}}}};
handle_info({'$alcove_eof', Ref, Pids, Chain}, State) ->
    {Id, State1} = next_id(State),
    send(State, [<<?MSG_EOF, Id:32, (length(Pids)):16>>, Chain]),
    Pending = State1#state.pending,
    {noreply, State1#state{pending = Pending#{Id => {eof, Ref, Pids}}}};
handle_info({'$alcove_cancel', Ref}, #state{cancelled = C} = State) ->
    {noreply, State#state{cancelled = C#{Ref => true}}};
handle_info({Port, {exit_status, Status}}, #state{port = Port} = State) ->
    {stop, {port_exit, Status}, State};
handle_info({'DOWN', _, process, Owner, _}, #state{owner = Owner} = State) ->
    {stop, normal, State};
handle_info({'EXIT', Port, Reason}, #state{port = Port} = State) ->
    {stop, {port_exit, Reason}, State};
handle_info({'EXIT', _, _}, State) ->
    {noreply, State};
handle_info(_, State) ->
    {noreply, State}.

%% @private
terminate(_, #state{port = Port}) ->
    %% The port stops its children and exits; its exit status says when.
    try port_command(Port, <<?MSG_SHUTDOWN, 0:32, 0:16>>) of
        true ->
            receive {Port, {exit_status, _}} -> ok
            after ?STOP_TIMEOUT -> catch port_close(Port)
            end
    catch
        error:badarg -> ok
    end.

%%% Internal: the port's side

%% A port that has just died still gets requests until its exit status
%% arrives; they are answered when the driver stops.
send(#state{port = Port}, Data) ->
    try port_command(Port, Data) catch error:badarg -> true end.

next_id(#state{id = Id} = State) ->
    {Id, State#state{id = (Id + 1) band 16#ffffffff}}.

send_stdin(_, <<>>, State) ->
    State;
send_stdin(Pids, Data, State) ->
    Size = min(byte_size(Data), ?STDIN_PIECE),
    <<Piece:Size/binary, Rest/binary>> = Data,
    {Id, State1} = next_id(State),
    send(State, [<<?MSG_STDIN, Id:32, (length(Pids)):16>>, chain(Pids), Piece]),
    #state{pending = Pending, inflight = Inflight} = State1,
    State2 = State1#state{pending = Pending#{Id => {stdin, Pids, Size}},
                          inflight = Inflight#{Pids => maps:get(Pids, Inflight, 0) + Size}},
    send_stdin(Pids, Rest, State2).

port_data(<<?MSG_REPLY, Id:32, Status, Term/binary>>, State) ->
    case maps:take(Id, State#state.pending) of
        {Entry, Pending} -> reply(Entry, Status, Term, State#state{pending = Pending});
        error -> State
    end;
port_data(<<Type, N:16, Rest/binary>>, #state{owner = Owner} = State)
  when Type >= ?MSG_STDOUT, Type =< ?MSG_CLOSED ->
    Size = N * 4,
    <<ChainBin:Size/binary, Payload/binary>> = Rest,
    Chain = [P || <<P:32>> <= ChainBin],
    case Type of
        ?MSG_STDOUT -> Owner ! {alcove_stdout, self(), Chain, Payload}, State;
        ?MSG_STDERR -> Owner ! {alcove_stderr, self(), Chain, Payload}, State;
        ?MSG_EVENT -> Owner ! {alcove_event, self(), Chain, binary_to_term(Payload)}, State;
        ?MSG_CLOSED -> closed(Chain, State)
    end.

reply({call, Ref, Pids, _}, Status, Term, State) ->
    answer(Ref, Pids, Status, Term, State);
reply({eof, Ref, Pids}, Status, Term, State) ->
    answer(Ref, Pids, Status, Term, State);
reply({stdin, Pids, Size}, _, _, State) ->
    stdin_done(Pids, Size, State).

answer(Ref, Pids, Status, Term, #state{cancelled = C} = State) ->
    case maps:take(Ref, C) of
        {true, C1} ->
            Reply = try result(Status, Term) catch error:E -> {error, E} end,
            State#state.owner ! {alcove_call, self(), Pids, Reply},
            State#state{cancelled = C1};
        error ->
            Ref ! {Ref, Status, Term},
            State
    end.

stdin_done(Pids, Size, #state{inflight = Inflight, waiting = Waiting} = State) ->
    Left = maps:get(Pids, Inflight, Size) - Size,
    Inflight1 = case Left of 0 -> maps:remove(Pids, Inflight); _ -> Inflight#{Pids => Left} end,
    case Left =< ?STDIN_WINDOW of
        true ->
            [gen_server:reply(From, ok) || From <- lists:reverse(maps:get(Pids, Waiting, []))],
            State#state{inflight = Inflight1, waiting = maps:remove(Pids, Waiting)};
        false ->
            State#state{inflight = Inflight1}
    end.

%% The control channel of the process at Chain closed: it exec'd or
%% exited. Requests still on their way to it, or through it, are lost:
%% answer them here. Its reply to an exec is this closing.
closed(Chain, #state{pending = Pending} = State) ->
    Lost = maps:filter(fun(_, Entry) -> lost(Chain, Entry) end, Pending),
    maps:fold(
      fun(Id, Entry, S) ->
              S1 = S#state{pending = maps:remove(Id, S#state.pending)},
              case Entry of
                  {call, _, Chain, Nr} ->
                      case alcove_proto:ends_process(Nr) of
                          true -> reply(Entry, ?ALCOVE_OK, term_to_binary(ok), S1);
                          false -> reply(Entry, ?ALCOVE_BADPID, <<>>, S1)
                      end;
                  _ ->
                      reply(Entry, ?ALCOVE_BADPID, <<>>, S1)
              end
      end, State, Lost).

lost(Chain, {call, _, Pids, _}) -> lists:prefix(Chain, Pids);
lost(Chain, {eof, _, Pids}) -> through(Chain, Pids);
lost(Chain, {stdin, Pids, _}) -> through(Chain, Pids).

%% stdin and eof are carried out by the parent of the last PID.
through(Chain, Pids) -> lists:prefix(Chain, Pids) andalso Chain =/= Pids.
