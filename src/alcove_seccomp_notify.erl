%% SPDX-License-Identifier: ISC
%% @doc System calls of a process answered by Erlang: seccomp user
%% notification (SECCOMP_RET_USER_NOTIF, Linux 5.5 and later).
%%
%% The process at the end of a fork chain installs a filter that hands
%% the calls listed to its listener (alcove:seccomp_notify_filter/4);
%% the listener goes to the event loop of its parent, which reads each
%% notification and sends it up. A notifier, the process start/4 makes,
%% takes them, asks the handler, and answers each in the parent
%% (alcove:seccomp_notify_respond/6): the call runs as made, fails with
%% an errno, or returns a value without running.
%%
%% ```
%% {ok, C} = alcove:fork(Drv, []),
%% {ok, _} = alcove_seccomp_notify:start(Drv, [C], fun
%%         (#{name := sys_openat, path := <<"/etc/shadow">>}) -> {errno, eacces};
%%         (_) -> allow
%%     end, #{timeout => 1000}),
%% ok = alcove_seccomp_notify:install(Drv, [C],
%%          alcove_seccomp_notify:filter(Drv, [C], [sys_openat])),
%% ok = alcove:execvp(Drv, [C], "/bin/cat", ["cat", "/etc/shadow"])
%% '''
%%
%% A handler is a fun or a pid. A fun of one argument, the notification,
%% runs in a process of its own for each notification and returns the
%% decision; a pid gets `{alcove_seccomp_notify, Notifier, Notif}' and
%% answers with reply/2. A notification is a map: `id', `pid' (the
%% caller, as the parent sees it), `nr' and `name' (`sys_openat'; the
%% architecture's number of the call), `arch', `args' (the six
%% arguments, unsigned), and for open, openat, openat2, execve and
%% execveat `path', for connect and bind `sockaddr' (the bytes) and
%% `addr' (`{inet, IP, Port}', `{inet6, IP, Port}', `{unix, Path}' or
%% `unknown'), read from the caller's memory while it waited. Another
%% thread of the caller can change that memory before an allowed call
%% runs: a path informs a decision, it is no boundary (seccomp_unotify(2)).
%%
%% A decision: `allow' (the call runs, SECCOMP_USER_NOTIF_FLAG_CONTINUE),
%% `deny' (it fails with the notifier's errno), `{errno, E}' (a name or a
%% number), `{value, N}' (it returns N without running).
%%
%% Failures, each answered with the notifier's errno (`errno', default
%% eperm), never by killing the program: the call fails and the program
%% goes on, as it would under a deny filter.
%% <ul>
%% <li>The handler does not decide within `timeout' ms (default 5000):
%% the call fails; a later reply/2 gets `{error, timeout}'.</li>
%% <li>The handler dies: a pid handler, every call pending then and
%% every call notified later fails; a fun that raises, its call
%% fails.</li>
%% <li>The caller is killed while its call waits: the answer gets
%% enoent from the kernel, which reply/2 returns; nothing else
%% changes.</li>
%% <li>A decision that is not one of the above: the call fails.</li>
%% </ul>
%% The notifier ends when the parent stops watching the listener (the
%% installer gone: later notified calls of its descendants fail with
%% enosys), at stop/1, or when the driver stops.
-module(alcove_seccomp_notify).

-include("alcove_seccomp.hrl").

-export([
    start/4,
    stop/1,
    reply/2,
    filter/3,
    lookups/1,
    build/2,
    install/3,
    addr/1
]).

-export_type([handler/0, decision/0, notif/0, options/0]).

-type syscall() :: atom() | non_neg_integer().
-type handler() :: fun((notif()) -> decision()) | pid().
-type decision() :: allow | deny | {errno, alcove:constant()} | {value, integer()}.
-type notif() :: #{id := non_neg_integer(), pid := integer(), nr := integer(),
                   name := atom(), arch := non_neg_integer(),
                   args := [non_neg_integer()], path => binary(),
                   sockaddr => binary(), addr => term(), notifier => pid()}.
-type options() :: #{timeout => timeout(), errno => atom() | 1..4095}.

-define(TIMEOUT, 5000).

%%% API

%% @doc Start the notifier of the process at the end of Chain: its
%% notifications go to it (alcove_drv:notify/3) from now on, so start it
%% before the filter is installed. It answers them in the parent of that
%% process, with what Handler decides (see the module doc for the
%% options, `timeout' and `errno'). It is not linked to the caller.
-spec start(alcove:drv(), alcove:fork_chain(), handler(), options()) -> {ok, pid()}.
start(Drv, Chain, Handler, Opts)
  when is_list(Chain), Chain =/= [], is_map(Opts),
       (is_function(Handler, 1) orelse is_pid(Handler)) ->
    Timeout = maps:get(timeout, Opts, ?TIMEOUT),
    Errno = maps:get(errno, Opts, eperm),
    (Timeout =:= infinity orelse is_integer(Timeout) andalso Timeout >= 0)
        andalso (is_atom(Errno) orelse is_integer(Errno) andalso Errno >= 1
                 andalso Errno =< 4095)
        orelse erlang:error(badarg),
    Caller = self(),
    Pid = spawn(fun() ->
                        ok = alcove_drv:notify(Drv, Chain, self()),
                        Caller ! {?MODULE, self(), ready},
                        init(Drv, Chain, Handler, Timeout, Errno)
                end),
    receive {?MODULE, Pid, ready} -> {ok, Pid} end;
start(_, _, _, _) ->
    erlang:error(badarg).

%% @doc Stop a notifier. Calls notified afterwards wait until their
%% caller ends: stop it once the process is gone, or not at all (it
%% stops by itself).
-spec stop(pid()) -> ok.
stop(Notifier) ->
    Notifier ! {?MODULE, stop},
    ok.

%% @doc Answer a notification a pid handler received: ok, or the error
%% of the answer (`{error, enoent}': its caller no longer waits;
%% `{error, timeout}': the notifier answered already, the timeout
%% passed).
-spec reply(notif(), decision()) -> ok | {error, term()}.
reply(#{notifier := Notifier, id := Id}, Decision) ->
    Ref = monitor(process, Notifier),
    Notifier ! {?MODULE, reply, self(), Ref, Id, Decision},
    receive
        {Ref, Result} -> demonitor(Ref, [flush]), Result;
        {'DOWN', Ref, process, _, _} -> {error, closed}
    end.

%% @doc The instructions of a filter, for the process at the end of the
%% chain, that notifies the calls listed (names, such as `sys_openat',
%% or numbers) and allows the others; a call of another architecture
%% kills the process (alcove_seccomp:filter/4).
-spec filter(alcove:drv(), alcove:fork_chain(), [syscall()]) -> [binary()].
filter(Drv, Chain, Calls) ->
    {ok, Results} = alcove:sequence(Drv, Chain, lookups(Calls)),
    build(Calls, Results).

%% @doc The calls whose results build/2 needs (alcove:sequence/3).
-spec lookups([syscall()]) -> [alcove:sequence_call()].
lookups(Calls) ->
    alcove_seccomp:lookups({deny, Calls}, ?SECCOMP_RET_USER_NOTIF).

%% @doc The filter of filter/3 from the results of lookups/1.
-spec build([syscall()], [term()]) -> [binary()].
build(Calls, Results) ->
    alcove_seccomp:build({deny, Calls}, ?SECCOMP_RET_USER_NOTIF, Results).

%% @doc Install a filter of filter/3 in the process at the end of the
%% chain: prctl(PR_SET_NO_NEW_PRIVS), then
%% alcove:seccomp_notify_filter/4. Start its notifier first.
-spec install(alcove:drv(), alcove:fork_chain(), iodata()) -> ok | {error, alcove:posix()}.
install(Drv, Chain, Insns) ->
    case alcove:prctl(Drv, Chain, pr_set_no_new_privs, 1, 0, 0, 0) of
        {ok, _, _, _, _, _} ->
            alcove:seccomp_notify_filter(Drv, Chain, 0, alcove_seccomp:program(Insns));
        {error, _} = Error ->
            Error
    end.

%% @doc A socket address of connect(2) or bind(2), as its bytes hold it
%% (Linux): `{inet, {A, B, C, D}, Port}', `{inet6, IP, Port}',
%% `{unix, Path}' (`<<>>' for an unnamed socket, `<<0, ...>>' abstract)
%% or `unknown'.
-spec addr(binary()) -> {inet | inet6, inet:ip_address(), inet:port_number()}
                            | {unix, binary()} | unknown.
addr(<<2:16/native, Port:16, A, B, C, D, _/binary>>) ->
    {inet, {A, B, C, D}, Port};
addr(<<10:16/native, Port:16, _:32, IP:16/binary, _/binary>>) ->
    {inet6, list_to_tuple([N || <<N:16>> <= IP]), Port};
addr(<<1:16/native, Path/binary>>) ->
    case binary:match(Path, <<0>>) of
        {0, _} -> {unix, Path};
        {N, _} -> {unix, binary:part(Path, 0, N)};
        nomatch -> {unix, Path}
    end;
addr(_) ->
    unknown.

%%% The notifier

-record(st, {
    drv :: alcove:drv(),
    chain :: alcove:fork_chain(),
    handler :: handler() | down,
    timeout :: timeout(),
    errno :: atom() | integer(),
    %% Id => {Timer, Worker}: the calls waiting for a decision
    pending = #{} :: #{non_neg_integer() => {reference() | none, pid() | none}}
}).

init(Drv, Chain, Handler, Timeout, Errno) ->
    _ = monitor(process, Drv),
    _ = is_pid(Handler) andalso monitor(process, Handler),
    loop(#st{drv = Drv, chain = Chain, handler = Handler, timeout = Timeout,
             errno = Errno}).

loop(#st{drv = Drv, chain = Chain} = St) ->
    receive
        {alcove_seccomp_notify, Drv, Chain, closed} ->
            ok;
        {alcove_seccomp_notify, Drv, Chain, #{id := _} = Notif} ->
            loop(notified(Notif, St));
        {?MODULE, reply, From, Ref, Id, Decision} ->
            {Result, St1} = decided(Id, Decision, St),
            From ! {Ref, Result},
            loop(St1);
        {?MODULE, timeout, Id} ->
            {_, St1} = decided(Id, deny, St),
            loop(St1);
        {?MODULE, decision, Id, Decision} ->
            {_, St1} = decided(Id, Decision, St),
            loop(St1);
        {'DOWN', _, process, Drv, _} ->
            ok;
        {'DOWN', _, process, Handler, _} when Handler =:= St#st.handler ->
            %% every call waiting, and every later one, fails
            St1 = lists:foldl(fun(Id, S) -> element(2, decided(Id, deny, S)) end,
                              St#st{handler = down}, maps:keys(St#st.pending)),
            loop(St1);
        {?MODULE, stop} ->
            ok;
        _ ->
            loop(St)
    end.

%% A notification: to the handler, a timer set; answered at once when
%% the handler is down.
notified(Notif0, #st{handler = down} = St) ->
    #{id := Id} = Notif0,
    _ = respond(Id, deny, St),
    St;
notified(Notif0, #st{handler = Handler, timeout = Timeout, pending = P} = St) ->
    #{id := Id} = Notif0,
    Notif = with_addr(Notif0#{notifier => self()}),
    Worker = case Handler of
                 Fun when is_function(Fun, 1) ->
                     Self = self(),
                     spawn(fun() -> Self ! {?MODULE, decision, Id, decide(Fun, Notif)} end);
                 Pid ->
                     Pid ! {alcove_seccomp_notify, self(), Notif},
                     none
             end,
    Timer = case Timeout of
                infinity -> none;
                _ -> erlang:send_after(Timeout, self(), {?MODULE, timeout, Id})
            end,
    St#st{pending = P#{Id => {Timer, Worker}}}.

%% A fun that raises denies the call.
decide(Fun, Notif) ->
    try Fun(Notif) catch _:_ -> deny end.

with_addr(#{sockaddr := Bin} = Notif) -> Notif#{addr => addr(Bin)};
with_addr(Notif) -> Notif.

%% The decision for Id, if it still waits: answered in the parent.
decided(Id, Decision, #st{pending = P} = St) ->
    case maps:take(Id, P) of
        {{Timer, Worker}, P1} ->
            _ = Timer =/= none andalso erlang:cancel_timer(Timer),
            _ = Worker =/= none andalso exit(Worker, kill),
            {respond(Id, Decision, St), St#st{pending = P1}};
        error ->
            {{error, timeout}, St}
    end.

respond(Id, Decision, #st{drv = Drv, chain = Chain, errno = Errno} = St) ->
    {Action, Value} = case Decision of
                          allow -> {continue, 0};
                          {errno, E} when is_atom(E); is_integer(E) -> {errno, E};
                          {value, V} when is_integer(V) -> {value, V};
                          _ -> {errno, Errno}
                      end,
    Parent = lists:droplast(Chain),
    Pid = lists:last(Chain),
    try alcove:seccomp_notify_respond(Drv, Parent, Pid, Id, Action, Value) of
        ok -> ok;
        {error, enoent} = Error -> Error;
        {error, _} when Action =/= errno orelse Value =/= Errno ->
            %% a value out of range, an errno the port does not know
            _ = respond(Id, deny, St),
            {error, einval};
        {error, _} = Error -> Error
    catch
        error:badarg ->
            _ = respond(Id, deny, St),
            {error, einval}
    end.
