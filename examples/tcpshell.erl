%% SPDX-License-Identifier: ISC
%% @doc A shell server: every TCP connection gets its own sandboxed shell,
%% busybox sh cloned into new namespaces (IPC, network, mounts, PID, UTS),
%% chrooted into busybox's directory as chrootex does, with process
%% limits and an unprivileged user. What the client sends goes to the
%% shell's standard input; what the shell writes to its standard output
%% and error goes back to the client. Closing the connection kills the
%% shell; the shell exiting closes the connection.
%%
%% ```
%% 1> {ok, Server} = tcpshell:start(7070).
%% $ nc 127.0.0.1 7070
%% echo $$
%% 1
%% '''
%%
%% Each connection is served by its own Erlang process, which starts its
%% own port: the shell's output and events go to the port's owner.
-module(tcpshell).

-include_lib("alcove/include/alcove.hrl").

-export([start/1, start/2, port/1, shells/1, stop/1]).

-type option() :: {ip, inet:ip_address()}
    | {busybox, file:filename()}
    | {drv, [alcove_drv:option()]}.

-export_type([option/0]).

%% @doc Listen on 127.0.0.1:Port (0: any free port, see port/1).
-spec start(inet:port_number()) -> {ok, pid()} | {error, term()}.
start(Port) ->
    start(Port, []).

%% @doc Like start/1 with options: `{ip, Address}' (default 127.0.0.1),
%% `{busybox, Path}' (a statically linked busybox, default
%% /bin/busybox), `{drv, Opts}' (options of the ports, by default `sudo
%% -n' unless the VM runs as root).
-spec start(inet:port_number(), [option()]) -> {ok, pid()} | {error, term()}.
start(Port, Opts) ->
    Parent = self(),
    Ref = make_ref(),
    Pid = spawn(fun() -> listen(Parent, Ref, Port, Opts) end),
    MRef = erlang:monitor(process, Pid),
    receive
        {Ref, ok} ->
            erlang:demonitor(MRef, [flush]),
            {ok, Pid};
        {Ref, {error, _} = Error} ->
            erlang:demonitor(MRef, [flush]),
            Error;
        {'DOWN', MRef, process, Pid, Reason} ->
            {error, Reason}
    end.

%% @doc The port the server listens on.
-spec port(pid()) -> inet:port_number().
port(Server) ->
    request(Server, port).

%% @doc The shells being served: `[{ConnectionPid, ShellOSPid}]'.
-spec shells(pid()) -> [{pid(), alcove:pid_t()}].
shells(Server) ->
    request(Server, shells).

%% @doc Stop listening and close every connection (their shells die).
-spec stop(pid()) -> ok.
stop(Server) ->
    request(Server, stop).

request(Server, Req) ->
    Ref = erlang:monitor(process, Server),
    Server ! {Req, self(), Ref},
    receive
        {Ref, Reply} ->
            erlang:demonitor(Ref, [flush]),
            Reply;
        {'DOWN', Ref, process, Server, Reason} ->
            exit(Reason)
    end.

%%% Listener

listen(Parent, Ref, Port, Opts) ->
    process_flag(trap_exit, true),
    IP = proplists:get_value(ip, Opts, {127, 0, 0, 1}),
    case gen_tcp:listen(Port, [binary, {ip, IP}, {active, false},
                               {reuseaddr, true}, {packet, raw}]) of
        {ok, LSock} ->
            Parent ! {Ref, ok},
            Self = self(),
            Acceptor = spawn_link(fun() -> accept(Self, LSock, Opts) end),
            loop(LSock, Acceptor, #{});
        {error, _} = Error ->
            Parent ! {Ref, Error}
    end.

%% Shells: connection pid => shell OS pid (undefined until started). The
%% listener monitors each connection; each connection monitors the
%% listener.
loop(LSock, Acceptor, Shells) ->
    receive
        {conn, Conn} ->
            _ = erlang:monitor(process, Conn),
            loop(LSock, Acceptor, Shells#{Conn => undefined});
        {shell, Conn, OSPid} when is_map_key(Conn, Shells) ->
            loop(LSock, Acceptor, Shells#{Conn := OSPid});
        {'DOWN', _, process, Conn, _} ->
            loop(LSock, Acceptor, maps:remove(Conn, Shells));
        {'EXIT', Acceptor, Reason} ->
            [stop_conn(C) || C <- maps:keys(Shells)],
            exit(Reason);
        {port, From, Ref} ->
            {ok, Port} = inet:port(LSock),
            From ! {Ref, Port},
            loop(LSock, Acceptor, Shells);
        {shells, From, Ref} ->
            From ! {Ref, [{C, P} || {C, P} <- maps:to_list(Shells), is_integer(P)]},
            loop(LSock, Acceptor, Shells);
        {stop, From, Ref} ->
            unlink(Acceptor),
            exit(Acceptor, kill),
            gen_tcp:close(LSock),
            [stop_conn(C) || C <- maps:keys(Shells)],
            From ! {Ref, ok}
    end.

%% Stop a connection and wait for it: its port has stopped the shell.
stop_conn(Conn) ->
    MRef = erlang:monitor(process, Conn),
    exit(Conn, shutdown),
    receive {'DOWN', MRef, process, Conn, _} -> ok end.

accept(Server, LSock, Opts) ->
    case gen_tcp:accept(LSock) of
        {ok, Sock} ->
            Conn = spawn(fun() -> connection(Server, Opts) end),
            Server ! {conn, Conn},
            case gen_tcp:controlling_process(Sock, Conn) of
                ok ->
                    Conn ! {socket, Sock},
                    ok;
                {error, _} ->
                    ok = gen_tcp:close(Sock),
                    exit(Conn, kill)
            end,
            accept(Server, LSock, Opts);
        {error, Reason} ->
            exit(Reason)
    end.

%%% A connection and its shell

connection(Server, Opts) ->
    MRef = erlang:monitor(process, Server),
    Sock = receive {socket, S} -> S end,
    process_flag(trap_exit, true),
    DrvOpts = proplists:get_value(drv, Opts, default_drv()),
    Busybox = proplists:get_value(busybox, Opts, "/bin/busybox"),
    {ok, Drv} = alcove_drv:start_link(DrvOpts),
    case sandbox(Drv, Busybox) of
        {ok, Shell} ->
            Server ! {shell, self(), Shell},
            ok = inet:setopts(Sock, [{active, once}]),
            relay(#{drv => Drv, shell => Shell, sock => Sock, server => MRef});
        {error, Reason} ->
            _ = gen_tcp:send(Sock, io_lib:format("tcpshell: no sandbox: ~p~n", [Reason])),
            gen_tcp:close(Sock),
            alcove_drv:stop(Drv)
    end.

default_drv() ->
    case os:cmd("id -u") of
        "0\n" -> [];
        _ -> [{exec, "sudo -n"}]
    end.

%% Until one side ends: the client's data to the shell's stdin, the
%% shell's stdout and stderr to the client.
relay(#{drv := Drv, shell := Shell, sock := Sock, server := MRef} = S) ->
    receive
        {tcp, Sock, Data} ->
            ok = alcove:stdin(Drv, [Shell], Data),
            ok = inet:setopts(Sock, [{active, once}]),
            relay(S);
        {Std, Drv, [Shell], Data} when Std =:= alcove_stdout; Std =:= alcove_stderr ->
            case gen_tcp:send(Sock, Data) of
                ok -> relay(S);
                {error, _} -> finish(S)
            end;
        {alcove_event, Drv, [Shell], {Exit, _}} when Exit =:= exit_status; Exit =:= termsig ->
            %% the port sends the exit after all the shell wrote
            finish(S);
        {alcove_event, Drv, _, _} ->
            relay(S);
        {tcp_closed, Sock} ->
            finish(S);
        {tcp_error, Sock, _} ->
            finish(S);
        {'DOWN', MRef, process, _, _} ->
            finish(S);
        {'EXIT', _, _} ->
            finish(S)
    end.

%% Stopping the port kills the shell.
finish(#{drv := Drv, sock := Sock}) ->
    gen_tcp:close(Sock),
    catch alcove_drv:stop(Drv),
    ok.

%% busybox sh in new namespaces, chrooted into busybox's directory, with
%% limits, as an unprivileged user.
sandbox(Drv, Busybox) ->
    Root = filename:dirname(Busybox),
    Prog = filename:join("/", filename:basename(Busybox)),
    Id = 16#f0000000 + rand:uniform(16#ffff),
    case alcove:clone(Drv, [], [clone_newipc, clone_newnet, clone_newns,
                                clone_newpid, clone_newuts]) of
        {ok, Child} ->
            C = [Child],
            Steps = [
                fun() -> alcove:sethostname(Drv, C, "tcpshell") end,
                %% no file may grow, few descriptors, few processes
                fun() -> limit(Drv, C, rlimit_fsize, 0) end,
                fun() -> limit(Drv, C, rlimit_nofile, 16) end,
                fun() -> limit(Drv, C, rlimit_nproc, 16) end,
                fun() -> alcove:chroot(Drv, C, Root) end,
                fun() -> alcove:chdir(Drv, C, "/") end,
                fun() -> alcove:setgroups(Drv, C, []) end,
                fun() -> alcove:setresgid(Drv, C, Id, Id, Id) end,
                fun() -> alcove:setresuid(Drv, C, Id, Id, Id) end,
                fun() -> alcove:execvp(Drv, C, Prog, [Prog, "sh"]) end
            ],
            case run(Steps) of
                ok -> {ok, Child};
                Error -> Error
            end;
        Error ->
            Error
    end.

run([]) ->
    ok;
run([Step | Rest]) ->
    case Step() of
        ok -> run(Rest);
        Error -> Error
    end.

limit(Drv, C, Resource, N) ->
    alcove:setrlimit(Drv, C, Resource, #alcove_rlimit{cur = N, max = N}).
