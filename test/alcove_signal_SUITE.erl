%% SPDX-License-Identifier: ISC
%% Signals as the reference handles them: every event loop catches what
%% it can (sig_info), so a signal from outside is an event, not a death;
%% an exec'd program starts with the default handlers; sigchld set to
%% sig_info hands reaping to waitpid/4; and a process blocked in a call
%% still stops, with its children, when its upstream goes.
-module(alcove_signal_SUITE).

-include_lib("common_test/include/ct.hrl").

-export([all/0, suite/0]).
-export([
    default_sig_info/1,
    default_sig_info_child/1,
    port_survives_kill/1,
    loop_survives_kill/1,
    exec_default_dispositions/1,
    exec_keeps_sig_ign/1,
    fault_kills/1,
    epipe_no_event/1,
    sigchld_default_reaps/1,
    caller_reaps_exit/1,
    caller_reaps_wnohang/1,
    caller_reaps_termsig/1,
    caller_reaps_stop_continue/1,
    caller_reaps_traced_stop/1,
    caller_reaps_output/1,
    sig_dfl_reaps_again/1,
    blocked_select_request/1,
    blocked_waitpid_port/1,
    blocked_read_port/1,
    blocked_select_port/1,
    blocked_open_port/1,
    blocked_waitpid_child/1,
    blocked_read_child/1
]).
-export([vm_blocked/3]).

-define(WAIT, 10000).

suite() ->
    [{timetrap, {seconds, 90}}, {ct_hooks, [{alcove_test, [port]}]}].

all() ->
    [
        default_sig_info,
        default_sig_info_child,
        port_survives_kill,
        loop_survives_kill,
        exec_default_dispositions,
        exec_keeps_sig_ign,
        fault_kills,
        epipe_no_event,
        sigchld_default_reaps,
        caller_reaps_exit,
        caller_reaps_wnohang,
        caller_reaps_termsig,
        caller_reaps_stop_continue,
        caller_reaps_traced_stop,
        caller_reaps_output,
        sig_dfl_reaps_again,
        blocked_select_request,
        blocked_waitpid_port,
        blocked_read_port,
        blocked_select_port,
        blocked_open_port,
        blocked_waitpid_child,
        blocked_read_child
    ].

%%% Default handling

%% The port starts with every catchable signal at sig_info, sigchld
%% excepted (sig_dfl, the loop reaps); sigkill and sigstop cannot be
%% caught.
default_sig_info(Config) ->
    Drv = ?config(drv, Config),
    Info = [sigterm, sigusr1, sigusr2, sighup, sigint, sigquit, sigalrm,
            sigtstp, sigttin, sigttou, sigpipe, sigio, sigwinch, sigcont,
            sigsegv, sigsys],
    [{S, {ok, sig_info}} = {S, alcove:sigaction(Drv, [], S, [])}
     || S <- Info],
    {ok, sig_dfl} = alcove:sigaction(Drv, [], sigchld, []),
    {ok, sig_dfl} = alcove:sigaction(Drv, [], sigkill, []),
    {ok, sig_dfl} = alcove:sigaction(Drv, [], sigstop, []).

%% A child inherits its parent's handling: the defaults, and a change.
default_sig_info_child(Config) ->
    Drv = ?config(drv, Config),
    {ok, C} = alcove:fork(Drv, []),
    {ok, sig_info} = alcove:sigaction(Drv, [C], sigterm, []),
    {ok, sig_dfl} = alcove:sigaction(Drv, [C], sigchld, []),
    {ok, sig_info} = alcove:sigaction(Drv, [C], sighup, sig_ign),
    {ok, G} = alcove:fork(Drv, [C]),
    {ok, sig_ign} = alcove:sigaction(Drv, [C, G], sighup, []),
    {ok, sig_info} = alcove:sigaction(Drv, [C, G], sigusr1, []).

%% kill -USR1, kill -TERM and kill -TSTP on the port's OS PID: events,
%% and the port (with its child) goes on, neither dead nor stopped.
port_survives_kill(Config) ->
    Drv = ?config(drv, Config),
    Port = alcove:getpid(Drv, []),
    {ok, C} = alcove:fork(Drv, []),
    Usr1 = alcove:signal_constant(Drv, [], sigusr1),
    Term = alcove:signal_constant(Drv, [], sigterm),
    [] = os:cmd("kill -USR1 " ++ integer_to_list(Port)),
    %% si_signo, si_errno, si_code (SI_USER: sent by kill)
    {signal, sigusr1, <<Usr1:32/native-signed, _:32, 0:32/native-signed,
                        _/binary>>} = alcove:event(Drv, [], ?WAIT),
    [] = os:cmd("kill -TERM " ++ integer_to_list(Port)),
    {signal, sigterm, <<Term:32/native-signed, _/binary>>} =
        alcove:event(Drv, [], ?WAIT),
    [] = os:cmd("kill -TSTP " ++ integer_to_list(Port)),
    {signal, sigtstp, _} = alcove:event(Drv, [], ?WAIT),
    Port = alcove:getpid(Drv, []),
    C = alcove:getpid(Drv, [C]).

%% kill/4 from the parent and from a sibling on an event loop child:
%% events in the child, which goes on.
loop_survives_kill(Config) ->
    Drv = ?config(drv, Config),
    {ok, C1} = alcove:fork(Drv, []),
    {ok, C2} = alcove:fork(Drv, []),
    ok = alcove:kill(Drv, [], C2, sigterm),
    {signal, sigterm, _} = alcove:event(Drv, [C2], ?WAIT),
    ok = alcove:kill(Drv, [C1], C2, sigusr1),
    {signal, sigusr1, _} = alcove:event(Drv, [C2], ?WAIT),
    ok = alcove:kill(Drv, [], C2, sighup),
    {signal, sighup, _} = alcove:event(Drv, [C2], ?WAIT),
    C2 = alcove:getpid(Drv, [C2]),
    false = alcove:event(Drv, [C2], 0).

%% A program exec'd starts with the default handlers and no signal
%% blocked: nothing of the loop's catching (nor of what the VM ignores)
%% is left.
exec_default_dispositions(Config) ->
    Drv = ?config(drv, Config),
    {ok, C} = alcove:fork(Drv, []),
    ok = alcove:execvp(Drv, [C], "cat", ["cat", "/proc/self/status"]),
    {0, Out, <<>>} = alcove_test:output(Drv, [C]),
    Sig = [L || L <- binary:split(Out, <<"\n">>, [global]),
                lists:member(binary:part(L, 0, min(7, byte_size(L))),
                             [<<"SigBlk:">>, <<"SigIgn:">>, <<"SigCgt:">>])],
    [<<"SigBlk:\t0000000000000000">>, <<"SigIgn:\t0000000000000000">>,
     <<"SigCgt:\t0000000000000000">>] = Sig.

%% What the user set to sig_ign stays ignored in the program exec'd, a
%% signal the loop keeps for itself (sigpipe) as well as another
%% (sighup): SigIgn holds their bits, 13 and 1.
exec_keeps_sig_ign(Config) ->
    Drv = ?config(drv, Config),
    {ok, C} = alcove:fork(Drv, []),
    {ok, sig_info} = alcove:sigaction(Drv, [C], sighup, sig_ign),
    {ok, sig_info} = alcove:sigaction(Drv, [C], sigpipe, sig_ign),
    ok = alcove:execvp(Drv, [C], "cat", ["cat", "/proc/self/status"]),
    {0, Out, <<>>} = alcove_test:output(Drv, [C]),
    {_, _} = binary:match(Out, <<"SigIgn:\t0000000000001001\n">>),
    {_, _} = binary:match(Out, <<"SigCgt:\t0000000000000000\n">>).

%% A fault raised by the kernel kills the loop, whatever the handling
%% (returning from the handler would undo nothing, or fault for ever):
%% here SIGSYS from a seccomp trap on ptrace. The same signal sent by
%% kill() is only an event.
fault_kills(Config) ->
    Drv = ?config(drv, Config),
    {ok, C} = alcove:fork(Drv, []),
    {ok, sig_info} = alcove:sigaction(Drv, [C], sigsys, []),
    ok = alcove:kill(Drv, [], C, sigsys),
    {signal, sigsys, _} = alcove:event(Drv, [C], ?WAIT),
    ok = alcove_seccomp:install(
           Drv, [C],
           alcove_seccomp:filter(Drv, [C], {deny, [sys_ptrace]}, trap)),
    {'EXIT', {{termsig, sigsys}, _}} =
        (catch alcove:ptrace(Drv, [C], ptrace_peekdata, 16#7fffffff, 0, 0,
                             ?WAIT)),
    {termsig, sigsys} = alcove:event(Drv, [C], ?WAIT).

%% Writing to a pipe without a reader fails with epipe: the port neither
%% dies nor sends an event for the SIGPIPE it raised itself; one sent
%% from outside is an event.
epipe_no_event(Config) ->
    Drv = ?config(drv, Config),
    Port = alcove:getpid(Drv, []),
    Fifo = filename:join(?config(priv_dir, Config), "epipe.fifo"),
    ok = alcove:mkfifo(Drv, [], Fifo, 8#600),
    {ok, R} = alcove:open(Drv, [], Fifo, [o_rdonly, o_nonblock], 0),
    {ok, W} = alcove:open(Drv, [], Fifo, [o_wronly, o_nonblock], 0),
    ok = alcove:close(Drv, [], R),
    {error, epipe} = alcove:write(Drv, [], W, <<"x">>),
    [] = os:cmd("kill -PIPE " ++ integer_to_list(Port)),
    %% events come in order: the first is the one from outside
    {signal, sigpipe, <<_:64, 0:32/native-signed, _/binary>>} =
        alcove:event(Drv, [], ?WAIT),
    Port = alcove:getpid(Drv, []),
    false = alcove:event(Drv, [], 0).

%%% Caller-managed children

%% By default the loop reaps: the exit is an event, waitpid/4 finds no
%% child, and no SIGCHLD event is sent.
sigchld_default_reaps(Config) ->
    Drv = ?config(drv, Config),
    {ok, sig_dfl} = alcove:sigaction(Drv, [], sigchld, []),
    {ok, C} = alcove:fork(Drv, []),
    ok = alcove:exit(Drv, [C], 2),
    {exit_status, 2} = alcove:event(Drv, [C], ?WAIT),
    {error, echild} = alcove:waitpid(Drv, [], -1, [wnohang]),
    false = alcove:event(Drv, [], 0).

%% sigchld at sig_info: a SIGCHLD event, the exit left to waitpid/4,
%% which decodes it; the exit event follows, once.
caller_reaps_exit(Config) ->
    Drv = ?config(drv, Config),
    {ok, sig_dfl} = alcove:sigaction(Drv, [], sigchld, sig_info),
    {ok, sig_info} = alcove:sigaction(Drv, [], sigchld, []),
    {ok, C} = alcove:fork(Drv, []),
    ok = alcove:exit(Drv, [C], 2),
    {signal, sigchld, _} = alcove:event(Drv, [], ?WAIT),
    {ok, C, 16#200, [{exit_status, 2}]} =
        alcove:waitpid(Drv, [], C, [wnohang]),
    {exit_status, 2} = alcove:event(Drv, [C], ?WAIT),
    [] = alcove:cpid(Drv, []),
    {error, echild} = alcove:waitpid(Drv, [], -1, [wnohang]),
    false = alcove:event(Drv, [C], 0).

%% wnohang with nothing to report: {ok, 0, 0, []}.
caller_reaps_wnohang(Config) ->
    Drv = ?config(drv, Config),
    {ok, sig_dfl} = alcove:sigaction(Drv, [], sigchld, sig_info),
    {ok, C} = alcove:fork(Drv, []),
    {ok, 0, 0, []} = alcove:waitpid(Drv, [], C, [wnohang]),
    {ok, 0, 0, []} = alcove:waitpid(Drv, [], -1, [wnohang]),
    C = alcove:getpid(Drv, [C]).

%% A program killed by a signal: [{termsig, Name}].
caller_reaps_termsig(Config) ->
    Drv = ?config(drv, Config),
    {ok, sig_dfl} = alcove:sigaction(Drv, [], sigchld, sig_info),
    {ok, C} = alcove:fork(Drv, []),
    ok = alcove:execvp(Drv, [C], "sleep", ["sleep", "1000"]),
    ok = alcove:kill(Drv, [], C, sigterm),
    {signal, sigchld, _} = alcove:event(Drv, [], ?WAIT),
    {ok, C, 15, [{termsig, sigterm}]} = alcove:waitpid(Drv, [], C, 0),
    {termsig, sigterm} = alcove:event(Drv, [C], ?WAIT).

%% Stops and continues are SIGCHLD events too, and waitpid/4 decodes
%% them: [{stopsig, sigstop}], [continued].
caller_reaps_stop_continue(Config) ->
    Drv = ?config(drv, Config),
    {ok, sig_dfl} = alcove:sigaction(Drv, [], sigchld, sig_info),
    {ok, C} = alcove:fork(Drv, []),
    ok = alcove:execvp(Drv, [C], "sleep", ["sleep", "1000"]),
    Chld = alcove:signal_constant(Drv, [], sigchld),
    ok = alcove:kill(Drv, [], C, sigstop),
    %% si_code CLD_STOPPED (5)
    {signal, sigchld, <<Chld:32/native-signed, _:32, 5:32/native-signed,
                        _/binary>>} = alcove:event(Drv, [], ?WAIT),
    {ok, C, _, [{stopsig, sigstop}]} =
        alcove:waitpid(Drv, [], C, [wuntraced]),
    ok = alcove:kill(Drv, [], C, sigcont),
    %% CLD_CONTINUED (6)
    {signal, sigchld, <<Chld:32/native-signed, _:32, 6:32/native-signed,
                        _/binary>>} = alcove:event(Drv, [], ?WAIT),
    {ok, C, 16#ffff, [continued]} = alcove:waitpid(Drv, [], C, [wcontinued]),
    ok = alcove:kill(Drv, [], C, sigkill),
    {ok, C, 9, [{termsig, sigkill}]} = alcove:waitpid(Drv, [], C, 0).

%% A traced child's stop is a SIGCHLD event (CLD_TRAPPED, 4), and
%% waitpid/4 reports it: the program stops with SIGTRAP at its exec.
caller_reaps_traced_stop(Config) ->
    Drv = ?config(drv, Config),
    {ok, sig_dfl} = alcove:sigaction(Drv, [], sigchld, sig_info),
    {ok, C} = alcove:fork(Drv, []),
    {ok, 0, <<>>, <<>>} = alcove:ptrace(Drv, [C], ptrace_traceme, 0, 0, 0),
    ok = alcove:execvp(Drv, [C], "sleep", ["sleep", "1000"]),
    {signal, sigchld, <<_:64, 4:32/native-signed, _/binary>>} =
        alcove:event(Drv, [], ?WAIT),
    {ok, C, _, [{stopsig, sigtrap}]} = alcove:waitpid(Drv, [], C, 0),
    ok = alcove:kill(Drv, [], C, sigkill),
    {ok, C, 9, [{termsig, sigkill}]} = alcove:waitpid(Drv, [], C, 0),
    {termsig, sigkill} = alcove:event(Drv, [C], ?WAIT).

%% A child the caller reaps loses none of its output, its entry goes
%% and its exit is reported once, after the output.
caller_reaps_output(Config) ->
    Drv = ?config(drv, Config),
    {ok, sig_dfl} = alcove:sigaction(Drv, [], sigchld, sig_info),
    {ok, C} = alcove:fork(Drv, []),
    ok = alcove:execvp(Drv, [C], "sh", ["sh", "-c", "echo hello; exit 4"]),
    {signal, sigchld, _} = alcove:event(Drv, [], ?WAIT),
    %% not reaped: no exit yet, the entry stays
    [_] = alcove:cpid(Drv, []),
    false = alcove:event(Drv, [C], 0),
    {ok, C, _, [{exit_status, 4}]} = alcove:waitpid(Drv, [], -1, 0),
    {4, <<"hello\n">>, <<>>} = alcove_test:output(Drv, [C]),
    [] = alcove:cpid(Drv, []),
    false = alcove:event(Drv, [C], 0).

%% Back to sig_dfl, the loop reaps again, at once the children that
%% exited meanwhile.
sig_dfl_reaps_again(Config) ->
    Drv = ?config(drv, Config),
    {ok, sig_dfl} = alcove:sigaction(Drv, [], sigchld, sig_info),
    {ok, C} = alcove:fork(Drv, []),
    ok = alcove:exit(Drv, [C], 3),
    {signal, sigchld, _} = alcove:event(Drv, [], ?WAIT),
    {ok, sig_info} = alcove:sigaction(Drv, [], sigchld, sig_dfl),
    {exit_status, 3} = alcove:event(Drv, [C], ?WAIT),
    {error, echild} = alcove:waitpid(Drv, [], -1, [wnohang]),
    {ok, C2} = alcove:fork(Drv, []),
    ok = alcove:exit(Drv, [C2], 5),
    {exit_status, 5} = alcove:event(Drv, [C2], ?WAIT),
    false = alcove:event(Drv, [], 0).

%%% Blocked in a call when the VM is killed

%% While a call blocks, the process watches upstream (SIGIO): a request
%% arriving meanwhile is no hangup and does not end select/6 with eintr;
%% it is answered once the call returns.
blocked_select_request(Config) ->
    Drv = ?config(drv, Config),
    Port = alcove:getpid(Drv, []),
    Fifo = filename:join(?config(priv_dir, Config), "request.fifo"),
    ok = alcove:mkfifo(Drv, [], Fifo, 8#600),
    {ok, Fd} = alcove:open(Drv, [], Fifo, [o_rdwr], 0),
    Self = self(),
    spawn_link(fun() ->
                       Self ! {select, alcove:select(Drv, [], [Fd], [], [], [])}
               end),
    ok = wait_blocked(Port, select, 10000),
    spawn_link(fun() -> Self ! {getpid, alcove:getpid(Drv, [])} end),
    %% the request on its way to the port's stdin: give it time to land
    timer:sleep(200),
    ok = wait_blocked(Port, select, 0),
    [] = os:cmd("printf x > " ++ Fifo),
    receive {select, Selected} -> {ok, [Fd], [], []} = Selected
    after ?WAIT -> ct:fail(select_not_returned)
    end,
    receive {getpid, Pid} -> Port = Pid
    after ?WAIT -> ct:fail(getpid_not_answered)
    end.

%% The port waits in waitpid/4 for its child; the VM is killed: the
%% port gives the child its signaloneof signal and exits.
blocked_waitpid_port(Config) ->
    blocked(Config, waitpid, port).

%% The same, the port reading a FIFO nobody writes to.
blocked_read_port(Config) ->
    blocked(Config, read, port).

%% The same, the port in select/6 without a timeout.
blocked_select_port(Config) ->
    blocked(Config, select, port).

%% The same, the port opening a FIFO nobody opens for writing.
blocked_open_port(Config) ->
    blocked(Config, open, port).

%% A child of the port waits in waitpid/4: the port stops on the VM's
%% death and closes the child's control socket; the child notices,
%% gives its own child signaloneof and exits, rather than waiting to be
%% killed (its child then dying of SIGKILL).
blocked_waitpid_child(Config) ->
    blocked(Config, waitpid, child).

%% The same, the child reading a FIFO nobody writes to.
blocked_read_child(Config) ->
    blocked(Config, read, child).

%%% Helpers

%% Run vm_blocked/3 in a VM of its own, kill that VM once the process is
%% blocked in the call, and wait for the port's tree to go: each process
%% of it reaped, the program having got its signaloneof (SIGTERM), which
%% it writes down in a file.
blocked(Config, Call, Where) ->
    Dir = filename:join(?config(priv_dir, Config),
                        atom_to_list(Call) ++ "_" ++ atom_to_list(Where)),
    ok = filelib:ensure_dir(filename:join(Dir, "x")),
    Erl = os:find_executable("erl"),
    true = is_list(Erl),
    Ebin = filename:dirname(code:which(alcove_drv)),
    Suite = filename:dirname(code:which(?MODULE)),
    Eval = lists:flatten(io_lib:format("~p:vm_blocked(~p, ~p, ~p).",
                                       [?MODULE, Call, Where, Dir])),
    VmPort = open_port({spawn_executable, Erl},
                       [{args, ["-noshell", "-pa", Ebin, "-pa", Suite,
                                "-eval", Eval]},
                        {line, 4096}, exit_status, stderr_to_stdout]),
    {Vm, Port, Blocked} = alcove_test:read_pids(VmPort, 30000),
    try
        Tree = [Port | descendants(Port)],
        %% the port, a loop child when it is the one blocked, the shell
        %% and its sleep
        true = length(Tree) >= 3,
        ok = wait_blocked(Blocked, Call, 10000),
        [] = os:cmd("kill -9 " ++ integer_to_list(Vm)),
        %% (its exit status comes only once every holder of its stdout,
        %% the port included, has closed it)
        [] = wait_exited([Vm], 15000),
        %% the port is left to init, which may leave it a zombie
        [] = wait_gone(Tree -- [Port], 30000),
        [] = wait_exited([Port], 30000),
        {ok, <<"term\n">>} = file:read_file(filename:join(Dir, "marker"))
    after
        %% what a failure leaves: a blocked port and its tree
        [os:cmd("kill -9 " ++ integer_to_list(P) ++ " 2>/dev/null")
         || P <- [Vm | descendants(Port)] ++ [Port], state(P) =/= gone],
        catch port_close(VmPort)
    end.

%% @doc In a VM of its own (see blocked/3): start a port, a shell under
%% it that writes down the SIGTERM it gets, then block the process at
%% Where (the port, or a child of it) in Call, and print the PIDs.
-spec vm_blocked(waitpid | read | select | open, port | child,
                 file:filename()) -> no_return().
vm_blocked(Call, Where, Dir) ->
    {ok, Drv} = alcove_drv:start(),
    Port = alcove:getpid(Drv, []),
    Chain = case Where of
                port -> [];
                child -> {ok, C} = alcove:fork(Drv, []), [C]
            end,
    Blocked = alcove:getpid(Drv, Chain),
    {ok, Sh} = alcove:fork(Drv, Chain),
    Marker = filename:join(Dir, "marker"),
    Ready = filename:join(Dir, "ready"),
    ok = alcove:execvp(Drv, Chain ++ [Sh], "/bin/sh",
                       ["sh", "-c",
                        "trap 'echo term > " ++ Marker ++ "; kill $S; exit 0'"
                        " TERM; sleep 1000 & S=$!; touch " ++ Ready
                        ++ "; wait"]),
    wait_file(Ready),
    Fifo = filename:join(Dir, "fifo"),
    ok = alcove:mkfifo(Drv, Chain, Fifo, 8#600),
    Fd = case Call of
             open -> none;
             waitpid -> none;
             _ ->
                 {ok, F} = alcove:open(Drv, Chain, Fifo, [o_rdwr], 0),
                 F
         end,
    spawn(fun() ->
                  case Call of
                      waitpid -> alcove:waitpid(Drv, Chain, Sh, 0);
                      read -> alcove:read(Drv, Chain, Fd, 1);
                      select -> alcove:select(Drv, Chain, [Fd], [], [], []);
                      open -> alcove:open(Drv, Chain, Fifo, [o_rdonly], 0)
                  end
          end),
    io:format("PIDS ~w.~n", [{list_to_integer(os:getpid()), Port, Blocked}]),
    timer:sleep(infinity).

wait_file(Path) ->
    case filelib:is_file(Path) of
        true -> ok;
        false -> timer:sleep(20), wait_file(Path)
    end.

%% Where the kernel shows a process waiting in each call (/proc/PID/wchan:
%% names vary with the kernel's version).
wchan(waitpid) -> ["do_wait"];
wchan(read) -> ["pipe_read"];
wchan(select) -> ["do_select", "poll_schedule_timeout"];
wchan(open) -> ["wait_for_partner", "fifo_open"].

%% Wait until Pid sleeps in the call (the request may still be on its
%% way when the PIDs are printed).
wait_blocked(Pid, Call, T) ->
    {ok, W} = file:read_file("/proc/" ++ integer_to_list(Pid) ++ "/wchan"),
    In = [F || F <- wchan(Call), binary:match(W, list_to_binary(F)) =/= nomatch],
    case In of
        [_ | _] -> ok;
        [] when T =< 0 -> {not_blocked, Pid, Call, W};
        [] -> timer:sleep(20), wait_blocked(Pid, Call, T - 20)
    end.

%% All processes below Pid, as the kernel lists them.
descendants(Pid) ->
    P = integer_to_list(Pid),
    case file:read_file("/proc/" ++ P ++ "/task/" ++ P ++ "/children") of
        {ok, B} ->
            Kids = [binary_to_integer(K)
                    || K <- binary:split(B, <<" ">>, [global, trim_all])],
            Kids ++ lists:append([descendants(K) || K <- Kids]);
        {error, _} ->
            []
    end.

%% F's value once it is [], or its last after up to T ms.
poll(F, T) -> alcove_test:poll(F, [], T).

state(Pid) ->
    case file:read_file("/proc/" ++ integer_to_list(Pid) ++ "/stat") of
        {ok, B} ->
            [_, After] = binary:split(B, <<") ">>),
            binary:first(After);
        {error, _} ->
            gone
    end.

%% Pids still in /proc after up to T ms.
wait_gone(Pids, T) ->
    Left = poll(fun() -> [P || P <- Pids, state(P) =/= gone] end, T),
    [{P, state(P)} || P <- Left].

%% Pids neither gone nor zombies after up to T ms.
wait_exited(Pids, T) ->
    Left = poll(fun() -> [P || P <- Pids, not lists:member(state(P), [gone, $Z])]
                end, T),
    [{P, state(P)} || P <- Left].
