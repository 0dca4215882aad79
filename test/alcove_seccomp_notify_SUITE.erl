%% SPDX-License-Identifier: ISC
%% Seccomp user notification: a sandboxed program's openat and connect
%% answered by an Erlang function or process (alcove_seccomp_notify, the
%% sandbox key seccomp_notify), the three failures (the handler dies,
%% does not answer in time, the caller is killed while its call waits),
%% the calls themselves, and a rootless sandbox of a port run as uid
%% 65534.
%%
%% The programs are the static busybox: with a dynamic one, the loader's
%% own openat calls (libc...) would be notified too.
-module(alcove_seccomp_notify_SUITE).

-include_lib("common_test/include/ct.hrl").
-include("alcove_test.hrl").

-export([all/0, suite/0, init_per_testcase/2, end_per_testcase/2]).
-export([
    openat_decided/1,
    connect_decided/1,
    value_decided/1,
    handler_dies/1,
    handler_timeout/1,
    killed_while_pending/1,
    calls/1,
    installs/1,
    recvmsg_refused/1,
    spec_checked/1,
    rootless/1
]).

-define(BUSYBOX, "/bin/busybox").
-define(SETPRIV, "setpriv --reuid=65534 --regid=65534 --clear-groups").

suite() ->
    [{timetrap, {seconds, 60}}].

all() ->
    [openat_decided, connect_decided, value_decided, handler_dies, handler_timeout,
     killed_while_pending, calls, installs,
     recvmsg_refused, spec_checked, rootless].

%% A directory all can read, with a file allowed and one refused; the
%% port, for the rootless case, where uid 65534 can run it.
init_per_testcase(Case, Config) ->
    Dir = lists:flatten(io_lib:format("/tmp/alcove-notify-~s-~B",
                                      [os:getpid(), erlang:unique_integer([positive])])),
    ok = file:make_dir(Dir),
    ok = file:change_mode(Dir, 8#755),
    Ok = filename:join(Dir, "ok"),
    No = filename:join(Dir, "no"),
    ok = file:write_file(Ok, <<"allowed\n">>),
    ok = file:write_file(No, <<"secret\n">>),
    [ok = file:change_mode(F, 8#644) || F <- [Ok, No]],
    Opts = case Case of
               rootless ->
                   Prog = filename:join(Dir, "alcove"),
                   {ok, _} = file:copy(alcove_drv:progname(), Prog),
                   ok = file:change_mode(Prog, 8#755),
                   [{exec, ?SETPRIV}, {progname, Prog}];
               _ ->
                   []
           end,
    alcove_test:start([{tmp, Dir}, {ok_file, Ok}, {no_file, No} | Config], Opts).

end_per_testcase(_Case, Config) ->
    ok = alcove_test:stop(Config),
    ok = file:del_dir_r(?config(tmp, Config)).

%%% Decisions

%% cat of a file allowed and of one refused: the function sees both
%% paths, the program prints the first and fails on the second with the
%% errno chosen.
openat_decided(Config) ->
    Drv = ?config(drv, Config),
    {Ok, No} = {?config(ok_file, Config), ?config(no_file, Config)},
    Self = self(),
    Handler = fun(#{name := sys_openat, path := Path, pid := Pid}) ->
                      Self ! {seen, Path, Pid},
                      case Path =:= list_to_binary(No) of
                          true -> {errno, eacces};
                          false -> allow
                      end
              end,
    {ok, Pid} = alcove_sandbox:run(Drv, [], #{
        namespaces => [mount],
        seccomp_notify => #{calls => [openat], handler => Handler},
        argv => [?BUSYBOX, "cat", Ok, No]}),
    {1, <<"allowed\n">>, Err} = alcove_test:output(Drv, [Pid]),
    Err = refused(No, "Permission denied"),
    OkBin = list_to_binary(Ok),
    NoBin = list_to_binary(No),
    receive {seen, OkBin, Pid} -> ok after ?WAIT -> ct:fail(no_ok) end,
    receive {seen, NoBin, Pid} -> ok after ?WAIT -> ct:fail(no_no) end.

%% connect to two listening sockets of this node on 127.0.0.1: the
%% first allowed (the bytes arrive), the second refused (econnrefused
%% without a connection made).
connect_decided(Config) ->
    Drv = ?config(drv, Config),
    {ok, L1} = gen_tcp:listen(0, [binary, {ip, {127, 0, 0, 1}}, {active, false}]),
    {ok, L2} = gen_tcp:listen(0, [binary, {ip, {127, 0, 0, 1}}, {active, false}]),
    {ok, P1} = inet:port(L1),
    {ok, P2} = inet:port(L2),
    Self = self(),
    Handler = fun(#{name := sys_connect, addr := Addr}) ->
                      Self ! {addr, Addr},
                      case Addr of
                          {inet, {127, 0, 0, 1}, P1} -> allow;
                          _ -> {errno, econnrefused}
                      end
              end,
    Script = io_lib:format("echo hi | ~s nc 127.0.0.1 ~B; echo $?; "
                           "echo no | ~s nc 127.0.0.1 ~B; echo $?",
                           [?BUSYBOX, P1, ?BUSYBOX, P2]),
    {ok, Pid} = alcove_sandbox:run(Drv, [], #{
        seccomp_notify => #{calls => [connect], handler => Handler},
        argv => [?BUSYBOX, "sh", "-c", lists:flatten(Script)]}),
    {ok, S} = gen_tcp:accept(L1, ?WAIT),
    {ok, <<"hi\n">>} = gen_tcp:recv(S, 0, ?WAIT),
    ok = gen_tcp:close(S),
    {0, <<"0\n1\n">>, Err} = alcove_test:output(Drv, [Pid]),
    {match, _} = re:run(Err, "Connection refused"),
    {error, timeout} = gen_tcp:accept(L2, 100),
    receive {addr, {inet, {127, 0, 0, 1}, P1}} -> ok after ?WAIT -> ct:fail(no_p1) end,
    receive {addr, {inet, {127, 0, 0, 1}, P2}} -> ok after ?WAIT -> ct:fail(no_p2) end.

%% A value instead of the call: getuid answered 4242 without running.
value_decided(Config) ->
    Drv = ?config(drv, Config),
    {ok, Pid} = alcove_sandbox:run(Drv, [], #{
        seccomp_notify => #{calls => [getuid, geteuid], handler => fun(_) -> {value, 4242} end},
        argv => [?BUSYBOX, "id", "-u"]}),
    {0, <<"4242\n">>, <<>>} = alcove_test:output(Drv, [Pid]).

%%% Failures

%% A handler process dies while a call waits: that call and every later
%% one fail with the errno of the spec, and the program goes on.
handler_dies(Config) ->
    Drv = ?config(drv, Config),
    {Ok, No} = {?config(ok_file, Config), ?config(no_file, Config)},
    NoBin = list_to_binary(No),
    Self = self(),
    Handler = spawn(fun Loop() ->
                            receive
                                {alcove_seccomp_notify, _, #{path := NoBin}} ->
                                    Self ! dying,
                                    exit(dead);
                                {alcove_seccomp_notify, _, Notif} ->
                                    ok = alcove_seccomp_notify:reply(Notif, allow),
                                    Loop()
                            end
                    end),
    Ref = monitor(process, Handler),
    {ok, Pid} = alcove_sandbox:run(Drv, [], #{
        seccomp_notify => #{calls => [openat], handler => Handler, errno => eacces},
        argv => [?BUSYBOX, "cat", No, Ok]}),
    receive dying -> ok after ?WAIT -> ct:fail(not_asked) end,
    receive {'DOWN', Ref, process, Handler, dead} -> ok end,
    {1, <<>>, Err} = alcove_test:output(Drv, [Pid]),
    Err = <<(refused(No, "Permission denied"))/binary,
            (refused(Ok, "Permission denied"))/binary>>.

%% A function that does not decide within the timeout: its call fails
%% with the errno of the spec, the others are decided as usual.
handler_timeout(Config) ->
    Drv = ?config(drv, Config),
    {Ok, No} = {?config(ok_file, Config), ?config(no_file, Config)},
    NoBin = list_to_binary(No),
    Handler = fun(#{path := P}) when P =:= NoBin -> timer:sleep(infinity);
                 (_) -> allow
              end,
    {ok, Pid} = alcove_sandbox:run(Drv, [], #{
        seccomp_notify => #{calls => [openat], handler => Handler, timeout => 1000,
                            errno => enoent},
        argv => [?BUSYBOX, "cat", No, Ok]}),
    {1, <<"allowed\n">>, Err} = alcove_test:output(Drv, [Pid]),
    Err = refused(No, "No such file or directory").

%% The caller is killed while its call waits: the answer gets enoent,
%% the program that ran it goes on, and its next calls are decided.
killed_while_pending(Config) ->
    Drv = ?config(drv, Config),
    {Ok, No} = {?config(ok_file, Config), ?config(no_file, Config)},
    NoBin = list_to_binary(No),
    Self = self(),
    Handler = spawn_link(fun Loop() ->
                                 receive
                                     {alcove_seccomp_notify, _, #{path := NoBin} = N} ->
                                         Self ! {waiting, N};
                                     {alcove_seccomp_notify, _, N} ->
                                         ok = alcove_seccomp_notify:reply(N, allow)
                                 end,
                                 Loop()
                         end),
    %% the shell waits for a line before its next call, so that it is
    %% still there, and its listener, when the answer comes
    Script = io_lib:format("~s cat ~s; echo $?; read x; ~s cat ~s",
                           [?BUSYBOX, No, ?BUSYBOX, Ok]),
    {ok, Pid} = alcove_sandbox:run(Drv, [], #{
        seccomp_notify => #{calls => [openat], handler => Handler, timeout => infinity},
        argv => [?BUSYBOX, "sh", "-c", lists:flatten(Script)]}),
    Notif = receive {waiting, N} -> N after ?WAIT -> ct:fail(not_asked) end,
    #{pid := Cat} = Notif,
    true = is_integer(Cat) andalso Cat > 1 andalso Cat =/= Pid,
    ok = alcove:kill(Drv, [], Cat, sigkill),
    %% dead (a zombie, or reaped): its call no longer waits
    false = alcove_test:poll(fun() -> alcove_test:running(Cat) end, false, ?WAIT),
    {error, enoent} = alcove_seccomp_notify:reply(Notif, allow),
    ok = alcove:stdin(Drv, [Pid], "go\n"),
    {0, <<"137\nallowed\n">>, <<"Killed\n">>} = alcove_test:output(Drv, [Pid]),
    true = is_integer(alcove:getpid(Drv, [])).

%%% The calls

%% seccomp_notify_filter/4 and seccomp_notify_respond/6 themselves: the
%% event reaches the owner when no notifier takes it; the port itself
%% has no loop above it; an errno out of range, a continue with a value,
%% a child with no listener are refused; the listener's end is an event.
calls(Config) ->
    Drv = ?config(drv, Config),
    Prog = alcove_seccomp:program(alcove_seccomp_notify:filter(Drv, [], [sys_getcwd])),
    {error, einval} = alcove:seccomp_notify_filter(Drv, [], 0, Prog),
    {ok, C} = alcove:fork(Drv, []),
    {error, enoent} = alcove:seccomp_notify_respond(Drv, [], C, 1, continue, 0),
    ok = alcove_seccomp_notify:install(Drv, [C], alcove_seccomp_notify:filter(
                                                     Drv, [C], [sys_getcwd])),
    {error, ebusy} = alcove:seccomp_notify_filter(Drv, [C], 0, Prog),
    Self = self(),
    spawn(fun() -> Self ! {cwd, alcove:getcwd(Drv, [C])} end),
    {seccomp_notify, #{id := Id, pid := C, name := sys_getcwd, args := [_, _, _, _, _, _]}} =
        alcove:event(Drv, [C], ?WAIT),
    {error, einval} = alcove:seccomp_notify_respond(Drv, [], C, Id, errno, 0),
    {error, einval} = alcove:seccomp_notify_respond(Drv, [], C, Id, continue, 1),
    ok = alcove:seccomp_notify_respond(Drv, [], C, Id, continue, 0),
    {ok, <<"/", _/binary>>} = receive {cwd, Cwd} -> Cwd after ?WAIT -> no_cwd end,
    {error, enoent} = alcove:seccomp_notify_respond(Drv, [], C, Id, continue, 0),
    ok = alcove:kill(Drv, [], C, sigkill),
    {seccomp_notify, closed} = alcove:event(Drv, [C], ?WAIT),
    {termsig, sigkill} = alcove:event(Drv, [C], ?WAIT),
    {error, enoent} = alcove:seccomp_notify_respond(Drv, [], C, Id, continue, 0).

%% The answer to the install follows the listener on the control
%% socket, and the kernel ends a read with the descriptor's bytes: the
%% parent reads on, and each install is answered.
installs(Config) ->
    Drv = ?config(drv, Config),
    Insns = alcove_seccomp_notify:filter(Drv, [], [sys_getcwd]),
    lists:foreach(fun(_) ->
                          {ok, C} = alcove:fork(Drv, []),
                          ok = alcove_seccomp_notify:install(Drv, [C], Insns),
                          C = alcove:getpid(Drv, [C], ?WAIT)
                  end, lists:seq(1, 50)).

%% A loop reads its children's control sockets with recvmsg (for the
%% listener they may send): under a filter that refuses it, as an allow
%% list of alcove_sandbox:port_calls/0 does, it reads them with read.
recvmsg_refused(Config) ->
    Drv = ?config(drv, Config),
    {ok, C} = alcove:fork(Drv, []),
    ok = alcove_seccomp:install(
           Drv, [C], alcove_seccomp:filter(Drv, [C], {deny, [sys_recvmsg]}, {errno, eperm})),
    {ok, G} = alcove:fork(Drv, [C]),
    G = alcove:getpid(Drv, [C, G], ?WAIT).

%% The sandbox key is checked before any process exists.
spec_checked(Config) ->
    Drv = ?config(drv, Config),
    Bad = [#{calls => [], handler => self()},
           #{calls => [openat]},
           #{calls => [openat], handler => fun() -> allow end},
           #{calls => ["openat"], handler => self()},
           #{calls => [openat], handler => self(), timeout => -1},
           #{calls => [openat], handler => self(), errno => 0},
           #{calls => [openat], handler => self(), other => 1}],
    [{error, {badvalue, seccomp_notify, V}} =
         alcove_sandbox:run(Drv, [], #{seccomp_notify => V, argv => ["/bin/true"]})
     || V <- Bad],
    [] = alcove:cpid(Drv, []).

%%% Rootless

%% A port run as uid 65534: a sandbox in a user namespace (no_new_privs
%% set for its filter) has its openat decided as root's are.
rootless(Config) ->
    Drv = ?config(drv, Config),
    {ok, 65534, 65534, 65534} = alcove:getresuid(Drv, []),
    {Ok, No} = {?config(ok_file, Config), ?config(no_file, Config)},
    NoBin = list_to_binary(No),
    Handler = fun(#{path := P}) when P =:= NoBin -> {errno, eacces};
                 (_) -> allow
              end,
    {ok, Pid} = alcove_sandbox:run(Drv, [], #{
        namespaces => [user, pid, mount],
        seccomp_notify => #{calls => [openat], handler => Handler},
        argv => [?BUSYBOX, "sh", "-c",
                 "cat " ++ Ok ++ " " ++ No ++ "; "
                 "grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status"]}),
    {0, Out, Err} = alcove_test:output(Drv, [Pid]),
    <<"allowed\nNoNewPrivs:\t1\nSeccomp:\t2\n">> = Out,
    Err = refused(No, "Permission denied").

%% What busybox cat says of a file it cannot open.
refused(Path, Why) ->
    iolist_to_binary(["cat: can't open '", Path, "': ", Why, "\n"]).
