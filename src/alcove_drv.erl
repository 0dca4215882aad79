%% SPDX-License-Identifier: ISC
%% @doc The process that owns the alcove port.
%%
%% Requests are matched to replies by a unique id, never by the shape of
%% a message in a mailbox. Calls are sent by the caller straight to this
%% process and answered through an alias, so a caller that times out
%% raises `timeout' and its late reply is handed to the owner as
%% `{alcove_call, Drv, Chain, Reply}' instead of confusing a later call.
%% This process decides, in the order it handles messages, who gets a
%% reply: a caller that times out keeps its alias until told whether its
%% reply is already on its way to it (it then passes it on to the owner
%% through this process) or will go to the owner, so no reply is lost.
%%
%% Standard output, standard error and events of the processes go to the
%% owner, the process that started the port, as
%% `{alcove_stdout | alcove_stderr | alcove_event, Drv, Chain, Term}'.
%% The owner also gets `{alcove_ctl, Drv, Chain, fdctl_closed}' when the
%% control channel of a process closes (it exec'd or exited). The
%% seccomp notifications of a process (`{seccomp_notify, _}' events) go
%% instead to the process notify/3 names for it, if any.
%%
%% The owner may send requests it encoded with `alcove_codec:call/3'
%% itself, as the reference's users do: `gen_server:call(Drv, {send,
%% Data}, infinity)' answers `ok' and the reply reaches the owner as
%% `{alcove_call, Drv, Chain, Reply}', or `{alcove_ctl, Drv, Chain,
%% badpid}' for a chain that names no process.
%%
%% Besides the port's stdin and stdout, the port holds a control
%% connection to this process (a unix socket in the abstract namespace,
%% authenticated by a secret sent on stdin): when the port itself execs,
%% that connection closing is the proof that the exec happened, and the
%% port's output is passed on unparsed from then on.
%%
%% The driver may run on another node than its owner (start_on/2,3): a
%% driver is a pid, every message above is an ordinary message, and the
%% aliases and monitors of calls work across nodes, so nothing changes
%% for the caller. Such a driver is a child of `alcove_sup' on its node,
%% and its owner's node runs a watcher that tells the owner when the
%% driver ends: `{alcove_drv_down, Drv, Node, Reason}'.
-module(alcove_drv).
-behaviour(gen_server).

-export([
    start/0, start/1, start/2,
    start_link/0, start_link/1, start_link/2,
    start_on/2, start_on/3,
    stop/1,
    call/5,
    stdin/3,
    eof/3,
    stdout/3,
    stderr/3,
    event/3,
    raw/1,
    notify/3,
    port/1,
    progname/0,
    getopts/1
]).
-export([init/1, handle_call/3, handle_cast/2, handle_info/2, terminate/2]).

-export_type([option/0, ref/0]).

-type ref() :: pid().
-type option() ::
    stderr_to_stdout
    | {env, [{string(), string() | false}]}
    | {exec, string()}
    | {progname, string()}
    | {ctldir, string()}
    | port_option().

%% Frame types (MSG_*), reply statuses (ALCOVE_*), FRAME_MAX, DOWN_HDR,
%% the stream of an EOF (EOF_*), what the port writes on its control
%% connection after an exec of its own that did not replace it by
%% another program (CTL_*), and port_option(): from gen/facts.eterm, as
%% the port's.
-include("alcove_facts.hrl").

%% stdin is sent in pieces of at most STDIN_PIECE bytes; a writer waits
%% while more than STDIN_WINDOW bytes to one process are not yet in its
%% pipe. This bounds what the port holds for a slow reader.
-define(STDIN_PIECE, (1024 * 1024)).
-define(STDIN_WINDOW, (4 * 1024 * 1024)).
%% How long stop/1 waits for the port to stop its children and exit.
-define(STOP_TIMEOUT, 15000).

-record(state, {
    port :: port(),
    owner :: pid(),
    id = 0 :: non_neg_integer(),
    %% Id => {call, Ref, Chain, Nr} | {owner, Chain, Nr}
    %%     | {stdin, Chain, Bytes} | {eof, Ref, Chain}; Nr becomes
    %%     {exec, Term} when a sequence answered Term before its exec
    %%     (alcove_exec status): the answer if the exec succeeds
    pending = #{} :: #{non_neg_integer() => tuple()},
    %% Refs of callers that gave up before their call was answered: the
    %% replies go to the owner. Only unanswered calls are here.
    cancelled = #{} :: #{reference() => true},
    inflight = #{} :: #{[alcove:pid_t()] => non_neg_integer()},
    waiting = #{} :: #{[alcove:pid_t()] => [gen_server:from()]},
    %% Calls whose process died before answering, by the chain of the
    %% process whose exit event will explain it.
    dead = #{} :: #{[alcove:pid_t()] => [tuple()]},
    %% The port's output not yet parsed, newest first: a frame in pieces
    %% (joined once all `need' bytes are here, so that a large frame is
    %% copied once), or held back while an exec of the port is undecided.
    buf = [] :: [binary()],
    have = 0 :: non_neg_integer(),
    need = 0 :: non_neg_integer(),
    mode = frames :: frames | {exec, non_neg_integer()} | raw,
    %% listening: the connections that have not yet said the secret,
    %% with what they said so far
    ctl = none :: none
                | {listen, socket:socket(), binary(), #{socket:socket() => binary()}}
                | {up, socket:socket()},
    %% What the control connection said, not yet matched to an exec.
    ctl_events = [] :: [failed | reexec | closed],
    %% Where the seccomp notifications of a process go (notify/3).
    notify = #{} :: #{[alcove:pid_t()] => pid()}
}).

%%% API

%% @doc Start the port; the calling process owns it.
-spec start() -> {ok, ref()} | {error, term()}.
start() -> start([]).

%% @doc Start the port with options; the calling process owns it.
%%
%% `{exec, Cmd}' runs the port through a command such as `"sudo -n"';
%% `{progname, Path}' is the port executable; `{env, Env}' its
%% environment; `stderr_to_stdout' merges its stderr into its stdout
%% (only for a port that will exec another program). `{ctldir, Dir}' is
%% accepted for compatibility: control channels are socket pairs, not
%% files. The options of `alcove:getopt/3' set the port's start-up
%% values.
%%
%% The port stops when its owner exits.
-spec start([option()]) -> {ok, ref()} | {error, term()}.
start(Opts) when is_list(Opts) ->
    start(self(), Opts).

%% @doc Like start/1, for the owner Owner.
-spec start(pid(), [option()]) -> {ok, ref()} | {error, term()}.
start(Owner, Opts) when is_pid(Owner), is_list(Opts) ->
    gen_server:start(?MODULE, {Owner, Opts}, []).

%% @doc Like start/0, linked to the caller.
-spec start_link() -> {ok, ref()} | {error, term()}.
start_link() -> start_link([]).

%% @doc Like start/1, linked to the caller.
-spec start_link([option()]) -> {ok, ref()} | {error, term()}.
start_link(Opts) when is_list(Opts) ->
    start_link(self(), Opts).

%% @doc Like start/2, linked to the caller.
-spec start_link(pid(), [option()]) -> {ok, ref()} | {error, term()}.
start_link(Owner, Opts) when is_pid(Owner), is_list(Opts) ->
    gen_server:start_link(?MODULE, {Owner, Opts}, []).

%% @doc Like start/1, on the node Node, for the calling process.
-spec start_on(node(), [option()]) -> {ok, ref()} | {error, term()}.
start_on(Node, Opts) ->
    start_on(Node, self(), Opts).

%% @doc Start the port on the node Node (where the alcove code must be
%% in the code path), owned by Owner, a process of any node. The `Drv'
%% returned is taken by every function of `alcove' and of this module,
%% from any node. Node runs the driver under its `alcove_sup', starting
%% the alcove application there if it is not running: it is linked to
%% no caller. Options are those of start/1, read on Node (`progname'
%% and `exec' name programs of Node).
%%
%% The port stops, and its processes are killed, when Owner exits or
%% its node is cut off from Node. The node of Owner runs a process that
%% watches the driver: when the driver ends other than by stop/1 or
%% Owner's exit, Owner gets one message, `{alcove_drv_down, Drv, Node,
%% Reason}', where Reason is `noconnection' when Node went down or could
%% no longer be reached, else the driver's exit reason (`shutdown' when
%% the application stopped on Node, `{port_exit, Status}'). A call
%% waiting for the driver then raises (exit `{noconnection, _}'), and so
%% does every later call.
%%
%% Any process of the cluster may run any call as the port's user:
%% distribution trusts every node.
%%
%% `{error, {erpc, Reason}}' when Node cannot be reached
%% (`noconnection'), `{error, undef}' when it lacks alcove, and the
%% errors of start/1 (`{error, {enoent, Path}}').
-spec start_on(node(), pid(), [option()]) -> {ok, ref()} | {error, term()}.
start_on(Node, Owner, Opts) when is_atom(Node), is_pid(Owner), is_list(Opts) ->
    try erpc:call(Node, alcove_sup, start_driver, [Owner, Opts]) of
        {ok, Drv} ->
            ok = watcher(Drv, Owner),
            {ok, Drv};
        {error, _} = Error ->
            Error
    catch
        error:{erpc, Reason} -> {error, {erpc, Reason}};
        error:{exception, Reason, _} -> {error, Reason}
    end.

%% @doc Stop the port: every process it started gets its `signaloneof'
%% signal, and stop returns once the port has reaped them and exited.
%% A driver already stopped answers `ok' too, as does one on a node no
%% longer reachable (it stops as its owner's node is cut off from it).
-spec stop(ref()) -> ok.
stop(Drv) ->
    try
        gen_server:stop(Drv, normal, ?STOP_TIMEOUT + 5000)
    catch
        exit:noproc -> ok;
        exit:normal -> ok;
        exit:noconnection -> ok;
        exit:{{nodedown, _}, _} -> ok
    end.

%% @doc Run call number `Nr' with its arguments in the process at the end
%% of the fork chain. Used by the generated functions of `alcove'.
%% An integer `Timeout' that expires raises `timeout' in the caller, once
%% the driver has handled the cancel (so a busy driver delays it), and
%% the reply reaches the owner as `{alcove_call, Drv, Pids, Reply}'. A
%% call number past 16 bits, or arguments too large for one frame of the
%% protocol (256 MiB), raise badarg.
-spec call(ref(), alcove:fork_chain(), non_neg_integer(), tuple(), timeout()) ->
    term().
call(Drv, Pids, Nr, Args, Timeout) when is_pid(Drv), is_integer(Nr), Nr >= 0,
                                        Nr =< 16#ffff, is_tuple(Args) ->
    Chain = chain(Pids),
    timeout(Timeout),
    Req = [Chain, <<Nr:16>>, term_to_binary(Args)],
    %% past FRAME_MAX the port cannot find the next frame and stops
    iolist_size(Req) =< ?FRAME_MAX - ?DOWN_HDR orelse erlang:error(badarg),
    Ref = erlang:monitor(process, Drv, [{alias, demonitor}]),
    Drv ! {'$alcove_call', Ref, Pids, Nr, Req},
    wait(Drv, Ref, Pids, Timeout, {call, Nr});
call(_, _, _, _, _) ->
    erlang:error(badarg).

%% @doc Write to the stdin of the process at the end of the chain. Returns
%% once the data is accepted, which is at once unless more than a
%% window's worth to this process is not yet in its pipe: a slow reader
%% slows the writer instead of losing data. With `[]', after the port
%% has exec'd another program, the data goes to that program.
-spec stdin(ref(), alcove:fork_chain(), iodata()) -> ok.
stdin(Drv, Pids, Data) when is_pid(Drv) ->
    _ = chain(Pids),
    case drv_call(Drv, {stdin, Pids, iolist_to_binary(Data)}, stdin) of
        ok -> ok;
        badpid -> erlang:error(badpid)
    end.

%% @doc Close the stdin, stdout or stderr of the process at the end of
%% the chain (`{Stream, Timeout}'; a timeout alone is for stdin), as its
%% parent holds them. stdin is closed after everything written to it
%% before; a process still in its event loop then shuts down as the port
%% does when its stdin closes, and exits 0. `{error, esrch}' for `[]' or a
%% process that is not a child of the one before it, `{error, ebadf}'
%% for a stream already closed.
-spec eof(ref(), alcove:fork_chain(),
          timeout() | {stdin | stdout | stderr, timeout()}) ->
    ok | {error, alcove:posix()}.
eof(Drv, Pids, {Stream, Timeout}) when is_pid(Drv) ->
    Chain = chain(Pids),
    timeout(Timeout),
    %% the byte after the PIDs names the stream (c_src/wire/frame.h)
    Byte = case Stream of
               stdin -> ?EOF_STDIN;
               stdout -> ?EOF_STDOUT;
               stderr -> ?EOF_STDERR;
               _ -> erlang:error(badarg)
           end,
    case Pids of
        [] ->
            {error, esrch};
        _ ->
            Ref = erlang:monitor(process, Drv, [{alias, demonitor}]),
            Drv ! {'$alcove_eof', Ref, Pids, <<Chain/binary, Byte>>},
            wait(Drv, Ref, Pids, Timeout, eof)
    end;
eof(Drv, Pids, Timeout) ->
    eof(Drv, Pids, {stdin, Timeout}).

%% @doc The standard output of the process, as `alcove:stdout/3'.
-spec stdout(ref(), alcove:fork_chain(), timeout()) -> [binary()].
stdout(Drv, Pids, Timeout) ->
    alcove:stdout(Drv, Pids, Timeout).

%% @doc The standard error of the process, as `alcove:stderr/3'.
-spec stderr(ref(), alcove:fork_chain(), timeout()) -> [binary()].
stderr(Drv, Pids, Timeout) ->
    alcove:stderr(Drv, Pids, Timeout).

%% @doc The next event of the process, as `alcove:event/3'.
-spec event(ref(), alcove:fork_chain(), timeout()) -> term().
event(Drv, Pids, Timeout) ->
    alcove:event(Drv, Pids, Timeout).

%% @doc From now on, pass everything the port writes to the owner as it
%% is, as `{alcove_stdout, Drv, [], Data}': for a port that exec'd
%% another program. The driver does this by itself when the port execs
%% through it.
-spec raw(ref()) -> ok.
raw(Drv) ->
    drv_call(Drv, raw, raw).

%% @doc Send the seccomp notifications of the process at the end of the
%% chain (the events `{seccomp_notify, Notif}' of alcove:seccomp_notify_filter/4)
%% to Pid instead of the owner, as `{alcove_seccomp_notify, Drv, Chain,
%% Notif}', until Pid exits; `undefined' sends them to the owner again.
%% Made before the filter is installed, none can reach the owner
%% (alcove_seccomp_notify does so).
-spec notify(ref(), alcove:fork_chain(), pid() | undefined) -> ok.
notify(Drv, Pids, To) when is_pid(Drv), is_pid(To) orelse To =:= undefined ->
    _ = chain(Pids),
    drv_call(Drv, {notify, Pids, To}, notify).

%% @doc The Erlang port of the driver.
-spec port(ref()) -> port().
port(Drv) ->
    drv_call(Drv, port, port).

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

%% @doc The command line start/1 runs for these options: the program's
%% path resolved (a name without a slash is looked up in PATH), then the
%% flags of the options given. `{depth, N}' is the length of the fork
%% chain of a process that execs this command line again.
-spec getopts([option()]) -> [string()].
getopts(Opts) ->
    Exec = string:lexemes(proplists:get_value(exec, Opts, ""), " "),
    Prog = resolve(proplists:get_value(progname, Opts, progname())),
    Flags = lists:append([[[$-, alcove_facts:option_flag(Opt)], integer_to_list(V)]
                          || Opt <- alcove_facts:options() ++ alcove_facts:argv_options(),
                             V <- [proplists:get_value(Opt, Opts)],
                             is_integer(V)]),
    Exec ++ [Prog | Flags].

resolve(Prog) ->
    case lists:member($/, Prog) of
        true ->
            filename:absname(Prog);
        false ->
            case os:find_executable(Prog) of
                false -> Prog;
                Path -> Path
            end
    end.

%%% Internal: the caller's side

%% The watcher of a driver of another node, on its owner's node: the
%% owner could not otherwise learn that the driver's node went away. It
%% watches before start_on/3 returns: a driver stopped at once is not
%% taken for one that was lost.
watcher(Drv, Owner) ->
    Caller = self(),
    {Pid, Ref} = spawn_monitor(node(Owner), fun() -> watch(Caller, Drv, Owner) end),
    receive
        {Pid, watching} -> erlang:demonitor(Ref, [flush]), ok;
        {'DOWN', Ref, process, Pid, _} -> ok
    end.

watch(Caller, Drv, Owner) ->
    OwnerRef = erlang:monitor(process, Owner),
    DrvRef = erlang:monitor(process, Drv),
    Caller ! {self(), watching},
    receive
        {'DOWN', OwnerRef, process, _, _} ->
            ok;
        {'DOWN', DrvRef, process, _, normal} ->
            ok;
        {'DOWN', DrvRef, process, _, Reason} ->
            Owner ! {alcove_drv_down, Drv, node(Drv), Reason},
            ok
    end.

chain(Pids) when is_list(Pids), length(Pids) < 16#10000 ->
    << <<(pid(P)):32>> || P <- Pids >>;
chain(_) ->
    erlang:error(badarg).

pid(P) when is_integer(P), P >= 0, P =< 16#7fffffff -> P;
pid(_) -> erlang:error(badarg).

%% A call to the driver that raises as call/5 does when the driver is
%% gone, `{Reason, {alcove_drv, What}}', without the request (stdin's
%% data) in the exception; `noconnection' for a node that went away, as
%% a monitor says it.
drv_call(Drv, Request, What) ->
    try
        gen_server:call(Drv, Request, infinity)
    catch
        exit:{{nodedown, _}, {gen_server, call, _}} -> exit({noconnection, {?MODULE, What}});
        exit:{Reason, {gen_server, call, _}} -> exit({Reason, {?MODULE, What}})
    end.

timeout(infinity) -> ok;
timeout(T) when is_integer(T), T >= 0 -> ok;
timeout(_) -> erlang:error(badarg).

wait(Drv, Ref, Pids, Timeout, What) ->
    receive
        {Ref, Status, Term} ->
            erlang:demonitor(Ref, [flush]),
            result(Status, Term);
        {'DOWN', Ref, process, _, Reason} ->
            exit({Reason, {?MODULE, What}})
    after Timeout ->
        cancel(Drv, Ref, Pids),
        erlang:error(timeout)
    end.

%% The alias stays up until the driver has answered the cancel, which it
%% does only for a call it has not answered yet: the reply will go to
%% the owner. A reply sent before the driver handled the cancel is here
%% first (the driver's messages to this process keep their order) and
%% goes to the owner through the driver.
cancel(Drv, Ref, Pids) ->
    Drv ! {'$alcove_cancel', Ref},
    receive
        {Ref, cancelled} -> ok;
        {Ref, Status, Term} -> Drv ! {'$alcove_late', Pids, late_reply(Status, Term)};
        {'DOWN', Ref, process, _, _} -> ok
    end,
    erlang:demonitor(Ref, [flush]).

%% died: the process died before it answered; Term is the event that
%% says how, raised as the reference does.
result(?ALCOVE_OK, Term) -> binary_to_term(Term);
result(?ALCOVE_BADARG, _) -> erlang:error(badarg);
result(?ALCOVE_BADPID, _) -> erlang:error(badpid);
result(?ALCOVE_UNDEF, _) -> erlang:error(undef);
result(died, Event) -> erlang:error(Event).

%% A reply as the owner gets it when its caller gave up.
late_reply(Status, Term) ->
    try result(Status, Term) catch error:E -> {error, E} end.

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
            PortOpts = [{args, Args}, stream, binary, exit_status,
                        use_stdio, {env, proplists:get_value(env, Opts, [])}]
                ++ [stderr_to_stdout || proplists:get_bool(stderr_to_stdout, Opts)],
            Port = open_port({spawn_executable, Exe}, PortOpts),
            State = #state{port = Port, owner = Owner},
            {ok, ctl_listen(State)}
    end.

%% @private
handle_call({stdin, Pids, Data}, _From, #state{mode = raw, port = Port} = State)
  when Pids =:= [] ->
    _ = (catch port_command(Port, Data)),
    {reply, ok, State};
handle_call({stdin, [], _}, _From, State) ->
    {reply, badpid, State};
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
handle_call({send, Data}, _From, State) ->
    case owner_request(Data) of
        {ok, Pids, _} when State#state.mode =:= raw ->
            State#state.owner ! {alcove_ctl, self(), Pids, badpid},
            {reply, ok, State};
        {ok, Pids, Nr} ->
            {Id, State1} = next_id(State),
            send(State, [<<?MSG_CALL, Id:32>>, Data]),
            Pending = State1#state.pending,
            {reply, ok, State1#state{pending = Pending#{Id => {owner, Pids, Nr}}}};
        error ->
            {reply, badarg, State}
    end;
handle_call({notify, Pids, undefined}, _From, #state{notify = N} = State) ->
    {reply, ok, State#state{notify = maps:remove(Pids, N)}};
handle_call({notify, Pids, To}, _From, #state{notify = N} = State) ->
    _ = erlang:monitor(process, To),
    {reply, ok, State#state{notify = N#{Pids => To}}};
handle_call(raw, _From, State) ->
    {reply, ok, to_raw(held(State), State)};
handle_call(port, _From, #state{port = Port} = State) ->
    {reply, Port, State};
handle_call(_, _, State) ->
    {reply, {error, badarg}, State}.

%% @private
handle_cast(_, State) ->
    {noreply, State}.

%% @private
handle_info({Port, {data, Data}}, #state{port = Port} = State) ->
    {noreply, port_data(Data, State)};
handle_info({'$alcove_call', Ref, _, _, _}, #state{mode = raw} = State) ->
    Ref ! {Ref, ?ALCOVE_BADPID, <<>>},
    {noreply, State};
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
    case unanswered(Ref, State) of
        true ->
            Ref ! {Ref, cancelled},
            {noreply, State#state{cancelled = C#{Ref => true}}};
        false ->
            {noreply, State}
    end;
handle_info({'$alcove_late', Pids, Reply}, #state{owner = Owner} = State) ->
    Owner ! {alcove_call, self(), Pids, Reply},
    {noreply, State};
handle_info({'$socket', Socket, select, _}, State) ->
    {noreply, ctl_ready(Socket, State)};
handle_info({'$socket', S, abort, _}, #state{ctl = {up, S}} = State) ->
    {noreply, ctl_event(closed, State#state{ctl = none})};
handle_info({Port, {exit_status, Status}}, #state{port = Port} = State) ->
    {stop, {port_exit, Status}, State};
handle_info({'DOWN', _, process, Owner, _}, #state{owner = Owner} = State) ->
    {stop, normal, State};
handle_info({'DOWN', _, process, Pid, _}, #state{notify = N} = State) ->
    {noreply, State#state{notify = maps:filter(fun(_, To) -> To =/= Pid end, N)}};
handle_info({'EXIT', Port, Reason}, #state{port = Port} = State) ->
    {stop, {port_exit, Reason}, State};
handle_info({'EXIT', _, _}, State) ->
    {noreply, State};
handle_info(_, State) ->
    {noreply, State}.

%% @private
terminate(_, #state{port = Port, mode = Mode} = State) ->
    ctl_close(State),
    %% The port stops its children and exits; its exit status says when.
    %% A program that replaced the port is only closed.
    Shutdown = case Mode of
                   raw -> <<>>;
                   _ -> frame(<<?MSG_SHUTDOWN, 0:32, 0:16>>)
               end,
    try port_command(Port, Shutdown) of
        true when Mode =:= raw ->
            catch port_close(Port);
        true ->
            receive {Port, {exit_status, _}} -> ok
            after ?STOP_TIMEOUT -> catch port_close(Port)
            end
    catch
        error:badarg -> ok
    end.

%%% Internal: the port's side

frame(Data) ->
    [<<(iolist_size(Data)):32>>, Data].

%% A port that has just died still gets requests until its exit status
%% arrives; they are answered when the driver stops.
send(#state{port = Port}, Data) ->
    try port_command(Port, frame(Data)) catch error:badarg -> true end.

next_id(#state{id = Id} = State) ->
    {Id, State#state{id = (Id + 1) band 16#ffffffff}}.

%% A request from alcove_codec:call/3: its chain and call number.
owner_request(<<N:16, Rest/binary>>) when byte_size(Rest) >= N * 4 + 2 ->
    Size = N * 4,
    <<ChainBin:Size/binary, Nr:16, _/binary>> = Rest,
    {ok, [P || <<P:32>> <= ChainBin], Nr};
owner_request(Data) when is_list(Data) ->
    try iolist_to_binary(Data) of
        Bin -> owner_request(Bin)
    catch
        error:badarg -> error
    end;
owner_request(_) ->
    error.

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

port_data(Data, #state{mode = raw, owner = Owner} = State) ->
    Owner ! {alcove_stdout, self(), [], Data},
    State;
port_data(Data, #state{mode = {exec, _}} = State) ->
    hold(Data, State);
port_data(Data, #state{have = Have, need = Need} = State)
  when Have + byte_size(Data) < Need ->
    hold(Data, State);
port_data(Data, #state{buf = []} = State) ->
    frames(Data, State);
port_data(Data, #state{buf = Buf} = State) ->
    frames(iolist_to_binary(lists:reverse(Buf, [Data])),
           State#state{buf = [], have = 0, need = 0}).

hold(Data, #state{buf = Buf, have = Have} = State) ->
    State#state{buf = [Data | Buf], have = Have + byte_size(Data)}.

held(#state{buf = Buf}) ->
    iolist_to_binary(lists:reverse(Buf)).

frames(<<Len:32, Body:Len/binary, Rest/binary>>, #state{mode = frames} = State) ->
    frames(Rest, frame_in(Body, State));
frames(<<>>, #state{mode = {exec, _}} = State) ->
    exec_decide(State);
frames(Rest, #state{mode = {exec, _}} = State) ->
    exec_decide(hold(Rest, State));
frames(Rest, #state{mode = raw} = State) ->
    to_raw(Rest, State);
frames(<<Len:32, _/binary>> = Rest, State) ->
    (hold(Rest, State))#state{need = 4 + Len};
frames(<<>>, State) ->
    State;
frames(Rest, State) ->
    hold(Rest, State).

frame_in(<<?MSG_REPLY, Id:32, ?ALCOVE_EXEC, Term/binary>>, #state{pending = Pending} = State) ->
    case Pending of
        #{Id := {call, Ref, Pids, _}} ->
            State#state{pending = Pending#{Id := {call, Ref, Pids, {exec, Term}}}};
        #{Id := {owner, Pids, _}} ->
            State#state{pending = Pending#{Id := {owner, Pids, {exec, Term}}}};
        _ ->
            State
    end;
frame_in(<<?MSG_REPLY, Id:32, Status, Term/binary>>, State) ->
    case maps:take(Id, State#state.pending) of
        {Entry, Pending} -> reply(Entry, Status, Term, State#state{pending = Pending});
        error -> State
    end;
frame_in(<<?MSG_EXEC, Id:32>>, State) ->
    State#state{mode = {exec, Id}};
frame_in(<<Type, N:16, Rest/binary>>, #state{owner = Owner} = State)
  when Type >= ?MSG_STDOUT, Type =< ?MSG_CLOSED, byte_size(Rest) >= N * 4 ->
    Size = N * 4,
    <<ChainBin:Size/binary, Payload/binary>> = Rest,
    Chain = [P || <<P:32>> <= ChainBin],
    case Type of
        ?MSG_STDOUT ->
            Owner ! {alcove_stdout, self(), Chain, Payload},
            State;
        ?MSG_STDERR ->
            Owner ! {alcove_stderr, self(), Chain, Payload},
            State;
        ?MSG_EVENT ->
            case {binary_to_term(Payload), State#state.notify} of
                {{seccomp_notify, Notif}, #{Chain := To}} ->
                    To ! {alcove_seccomp_notify, self(), Chain, Notif},
                    State;
                {Event, _} ->
                    Owner ! {alcove_event, self(), Chain, Event},
                    explain(Chain, Event, State)
            end;
        ?MSG_CLOSED ->
            closed(Chain, State)
    end;
frame_in(_, State) ->
    State.

to_raw(<<>>, State) ->
    State#state{mode = raw, buf = [], have = 0, need = 0};
to_raw(Bytes, #state{owner = Owner} = State) ->
    Owner ! {alcove_stdout, self(), [], Bytes},
    State#state{mode = raw, buf = [], have = 0, need = 0}.

reply({call, Ref, Pids, {exec, Done}}, ?ALCOVE_OK, Term, State) ->
    answer(Ref, Pids, ?ALCOVE_OK, exec_answer(Done, Term), State);
reply({call, Ref, Pids, _}, Status, Term, State) ->
    answer(Ref, Pids, Status, Term, State);
reply({owner, Pids, {exec, Done}}, ?ALCOVE_OK, Term, State) ->
    reply({owner, Pids, exec}, ?ALCOVE_OK, exec_answer(Done, Term), State);
reply({eof, Ref, Pids}, Status, Term, State) ->
    answer(Ref, Pids, Status, Term, State);
reply({owner, Pids, _}, Status, Term, #state{owner = Owner} = State) ->
    Owner ! case Status of
                ?ALCOVE_OK -> {alcove_call, self(), Pids, binary_to_term(Term)};
                ?ALCOVE_BADARG -> {alcove_call, self(), Pids, badarg};
                ?ALCOVE_UNDEF -> {alcove_call, self(), Pids, undef};
                ?ALCOVE_BADPID -> {alcove_ctl, self(), Pids, badpid};
                died -> {alcove_call, self(), Pids, Term}
            end,
    State;
reply({stdin, Pids, Size}, _, _, State) ->
    stdin_done(Pids, Size, State).

answer(Ref, Pids, Status, Term, #state{cancelled = C} = State) ->
    case maps:take(Ref, C) of
        {true, C1} ->
            State#state.owner ! {alcove_call, self(), Pids, late_reply(Status, Term)},
            State#state{cancelled = C1};
        error ->
            Ref ! {Ref, Status, Term},
            State
    end.

%% Whether the call of Ref still waits for its reply, from the port or
%% from the exit event of its process.
unanswered(Ref, #state{pending = Pending, dead = Dead}) ->
    lists:any(fun(Entry) -> caller(Entry) =:= Ref end,
              maps:values(Pending) ++ lists:append(maps:values(Dead))).

caller({call, Ref, _, _}) -> Ref;
caller({eof, Ref, _}) -> Ref;
caller(_) -> none.

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
%% exited. Requests still on their way to it, or through it, are lost.
%% An exec it was asked for succeeded: that exec is answered `ok' and
%% the others `badpid'. Otherwise the process died: its calls wait for
%% the event that says how, and raise it.
closed(Chain, #state{owner = Owner, pending = Pending} = State) ->
    Owner ! {alcove_ctl, self(), Chain, fdctl_closed},
    Lost = maps:filter(fun(_, Entry) -> lost(Chain, Entry) end, Pending),
    Execed = lists:any(fun(Entry) -> ends(Chain, Entry) end, maps:values(Lost)),
    State1 = State#state{pending = maps:without(maps:keys(Lost), Pending)},
    State2 = adopt_dead(Chain, State1),
    lists:foldl(fun(Entry, S) -> lose(Chain, Execed, Entry, S) end, State2,
                [E || {_, E} <- lists:keysort(1, maps:to_list(Lost))]).

lose(_, _, {stdin, _, _} = Entry, State) ->
    reply(Entry, ?ALCOVE_OK, term_to_binary(ok), State);
lose(Chain, true, Entry, State) ->
    case ends(Chain, Entry) of
        true -> exec_done(Entry, State);
        false -> reply(Entry, ?ALCOVE_BADPID, <<>>, State)
    end;
lose(Chain, false, Entry, #state{dead = Dead} = State) ->
    State#state{dead = Dead#{Chain => [Entry | maps:get(Chain, Dead, [])]}}.

%% The owner learns of its own exec from fdctl_closed, as in the
%% reference; a caller of alcove gets `ok'.
exec_done({owner, _, Nr}, State) when not is_tuple(Nr) -> State;
exec_done(Entry, State) -> reply(Entry, ?ALCOVE_OK, term_to_binary(ok), State).

%% A sequence that execs answered before the exec; the exec itself
%% answers ok (alcove again answers from its new image), or the failure.
exec_answer(Done, Term) ->
    case binary_to_term(Term) of
        ok -> Done;
        _ -> Term
    end.

ends(Chain, {call, _, Chain, {exec, _}}) -> true;
ends(Chain, {owner, Chain, {exec, _}}) -> true;
ends(Chain, {call, _, Chain, Nr}) -> alcove_proto:ends_process(Nr);
ends(Chain, {owner, Chain, Nr}) -> alcove_proto:ends_process(Nr);
ends(_, _) -> false.

%% Calls waiting for the exit of a process below Chain now wait for
%% Chain's: the process that closed took its children with it.
adopt_dead(Chain, #state{dead = Dead} = State) ->
    {Below, Rest} = lists:partition(
                      fun({C, _}) -> lists:prefix(Chain, C) andalso C =/= Chain end,
                      maps:to_list(Dead)),
    Entries = lists:append([maps:get(Chain, Dead, []) | [E || {_, E} <- Below]]),
    State#state{dead = case Entries of
                           [] -> maps:from_list(Rest);
                           _ -> maps:from_list([{Chain, Entries} | Rest])
                       end}.

%% The exit event of a process: it explains why its lost calls got no
%% answer.
explain(Chain, {Why, _} = Event, #state{dead = Dead} = State)
  when Why =:= exit_status; Why =:= termsig ->
    case maps:take(Chain, Dead) of
        {Entries, Dead1} ->
            lists:foldl(fun(Entry, S) -> died(Entry, Event, S) end,
                        State#state{dead = Dead1}, lists:reverse(Entries));
        error ->
            State
    end;
explain(_, _, State) ->
    State.

died({eof, _, _} = Entry, _, State) ->
    reply(Entry, ?ALCOVE_OK, term_to_binary({error, esrch}), State);
died({owner, _, _}, _, State) ->
    %% the owner has the event itself
    State;
died(Entry, Event, State) ->
    reply(Entry, died, Event, State).

lost(Chain, {call, _, Pids, _}) -> lists:prefix(Chain, Pids);
lost(Chain, {owner, Pids, _}) -> lists:prefix(Chain, Pids);
lost(Chain, {eof, _, Pids}) -> through(Chain, Pids);
lost(Chain, {stdin, Pids, _}) -> through(Chain, Pids).

%% stdin and eof are carried out by the parent of the last PID.
through(Chain, Pids) -> lists:prefix(Chain, Pids) andalso Chain =/= Pids.

%%% Internal: an exec of the port itself

%% The port wrote MSG_EXEC and tried to exec: what follows it on stdout
%% is held until the control connection says how that ended. It closes
%% when another program replaced the port; the port says CTL_FAILED when
%% the exec failed and CTL_REEXEC when it exec'd alcove again: both go
%% on speaking the protocol.
exec_decide(#state{mode = {exec, _}, ctl_events = []} = State) ->
    State;
exec_decide(#state{mode = {exec, _}, ctl_events = [closed | _]} = State) ->
    State1 = closed([], State#state{ctl_events = []}),
    to_raw(held(State), State1);
exec_decide(#state{mode = {exec, _}, ctl_events = [_ | Events]} = State) ->
    frames(held(State), State#state{mode = frames, buf = [], have = 0, need = 0,
                                    ctl_events = Events});
exec_decide(State) ->
    State.

ctl_event(Event, #state{ctl_events = Events} = State) ->
    exec_decide(State#state{ctl_events = Events ++ [Event]}).

%% The port connects to a socket in the abstract namespace, named in the
%% first frame it reads, and proves who it is with the secret sent with
%% the name. Whoever else connects (the name can be read in
%% /proc/net/unix) is held apart until it has said 16 bytes, and dropped
%% then; it delays nothing. Without sockets, the port runs on without
%% this connection and refuses to exec itself.
ctl_listen(State) ->
    Name = <<0, "alcove-", (binary:encode_hex(crypto:strong_rand_bytes(16)))/binary>>,
    Secret = crypto:strong_rand_bytes(?CTL_SECRET_LEN),
    try
        {ok, L} = socket:open(local, stream, default),
        ok = socket:bind(L, #{family => local, path => Name}),
        ok = socket:listen(L, 8),
        send(State, [<<?MSG_HELLO, 0:32, 0:16>>, Secret, Name]),
        ctl_ready(L, State#state{ctl = {listen, L, Secret, #{}}})
    catch
        error:_ -> State
    end.

ctl_ready(L, #state{ctl = {listen, L, Secret, Cands}} = State) ->
    case socket:accept(L, nowait) of
        {ok, S} ->
            %% its bytes, then the next connection
            State1 = ctl_ready(S, State#state{ctl = {listen, L, Secret, Cands#{S => <<>>}}}),
            ctl_ready(L, State1);
        {select, _} ->
            State;
        {error, _} ->
            ctl_close(State),
            State#state{ctl = none}
    end;
ctl_ready(S, #state{ctl = {listen, L, Secret, Cands}} = State)
  when is_map_key(S, Cands) ->
    Got = maps:get(S, Cands),
    case socket:recv(S, ?CTL_SECRET_LEN - byte_size(Got), nowait) of
        {ok, More} when <<Got/binary, More/binary>> =:= Secret ->
            ctl_close(State#state{ctl = {listen, L, Secret, maps:remove(S, Cands)}}),
            ctl_ready(S, State#state{ctl = {up, S}});
        {ok, More} when byte_size(Got) + byte_size(More) < ?CTL_SECRET_LEN ->
            Cands1 = Cands#{S => <<Got/binary, More/binary>>},
            ctl_ready(S, State#state{ctl = {listen, L, Secret, Cands1}});
        {select, _} ->
            State;
        _ ->
            _ = socket:close(S),
            State#state{ctl = {listen, L, Secret, maps:remove(S, Cands)}}
    end;
ctl_ready(S, #state{ctl = {up, S}} = State) ->
    case socket:recv(S, 0, nowait) of
        {ok, Bytes} ->
            Events = [case B of
                          ?CTL_FAILED -> failed;
                          ?CTL_REEXEC -> reexec
                      end || <<B>> <= Bytes, B =:= ?CTL_FAILED orelse B =:= ?CTL_REEXEC],
            ctl_ready(S, lists:foldl(fun ctl_event/2, State, Events));
        {select, _} ->
            State;
        {error, _} ->
            _ = socket:close(S),
            ctl_event(closed, State#state{ctl = none})
    end;
ctl_ready(_, State) ->
    State.

ctl_close(#state{ctl = {listen, L, _, Cands}}) ->
    _ = [socket:close(S) || S <- [L | maps:keys(Cands)]],
    ok;
ctl_close(#state{ctl = {up, S}}) -> _ = socket:close(S), ok;
ctl_close(_) -> ok.
