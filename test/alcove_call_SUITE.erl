%% SPDX-License-Identifier: ISC
%% The calls of the event loop and their errors: one case per call, fork
%% chains and their limits, badpid, badarg, undef, enotsup and timeouts.
%%
%% Every case gets its own port (the alcove_test hook), owned by the process
%% running the case, so the cases share nothing and run in parallel.
-module(alcove_call_SUITE).

-include_lib("common_test/include/ct.hrl").
-include_lib("alcove/include/alcove.hrl").
-include("alcove_test.hrl").

-export([all/0, groups/0, suite/0]).
-export([
    call_table/1,
    driver_options/1,
    overview_example/1,
    fork/1,
    clone_integer_flag/1,
    clone_atom_flags/1,
    execvp/1,
    execvp_error/1,
    empty_list_arguments/1,
    execve_env/1,
    fexecve_ebadf/1,
    exit/1,
    getpid/1,
    getopt_defaults/1,
    setopt_getopt/1,
    setopt_out_of_range/1,
    setopt_inherited/1,
    cpid/1,
    getcpid_setcpid/1,
    getcpid_setcpid_unknown/1,
    kill/1,
    sigaction_sig_info/1,
    sigaction_sig_info_sighup/1,
    sigaction_read/1,
    sigaction_sig_ign/1,
    sigaction_errors/1,
    waitpid_reaped/1,
    waitpid_wnohang/1,
    waitpid_no_children/1,
    close/1,
    version/1,
    filter_example_filter3/1,
    filter_example_filter4/1,
    filter_undef/1,
    filter_child_inheritance/1,
    filter_einval/1,
    filter_contents/1,
    filter_of_filter/1,
    signal_constant/1,
    clone_constant/1,
    errno_id/1,
    fork_chain_depth/1,
    maxforkdepth/1,
    maxchild/1,
    badpid_unknown/1,
    badpid_zero/1,
    badpid_exec/1,
    badpid_exited/1,
    badarg_before_send/1,
    timeout_late_reply/1,
    timeout_reply_crosses_cancel/1,
    enotsup/1
]).

%% Positions in alcove_drv's #state{}: pending, cancelled.
-define(STATE_PENDING, 5).
-define(STATE_CANCELLED, 6).
%% The timeout of the call timeout_reply_crosses_cancel/1 lets expire.
-define(CROSS_TIMEOUT, 3000).

%% The Overview of the reference (README), its Erlang code blocks copied
%% verbatim, in order, separated by a blank line.
-define(OVERVIEW,
"{ok, Drv} = alcove_drv:start().

{ok, Child1} = alcove:fork(Drv, []).

{ok, Child2} = alcove:fork(Drv, [Child1]),
Child2 = alcove:getpid(Drv, [Child1,Child2]).

{ok, Child3} = alcove:fork(Drv, []).

ok = alcove:execvp(Drv, [Child1,Child2], \"/bin/cat\", [\"/bin/cat\"]).

alcove:stdin(Drv, [Child1,Child2], \"hello process\\n\"),
[<<\"hello process\\n\">>] = alcove:stdout(Drv, [Child1,Child2]).
").

suite() ->
    [{timetrap, {seconds, 60}}, {ct_hooks, [{alcove_test, [port]}]}].

all() ->
    [{group, calls}].

groups() ->
    [{calls, [parallel], [
        overview_example,
        call_table,
        driver_options,
        fork,
        clone_integer_flag,
        clone_atom_flags,
        execvp,
        execvp_error,
        empty_list_arguments,
        execve_env,
        fexecve_ebadf,
        exit,
        getpid,
        getopt_defaults,
        setopt_getopt,
        setopt_out_of_range,
        setopt_inherited,
        cpid,
        getcpid_setcpid,
        getcpid_setcpid_unknown,
        kill,
        sigaction_sig_info,
        sigaction_sig_info_sighup,
        sigaction_read,
        sigaction_sig_ign,
        sigaction_errors,
        waitpid_reaped,
        waitpid_wnohang,
        waitpid_no_children,
        close,
        version,
        filter_example_filter3,
        filter_example_filter4,
        filter_undef,
        filter_child_inheritance,
        filter_einval,
        filter_contents,
        filter_of_filter,
        signal_constant,
        clone_constant,
        errno_id,
        fork_chain_depth,
        maxforkdepth,
        maxchild,
        badpid_unknown,
        badpid_zero,
        badpid_exec,
        badpid_exited,
        badarg_before_send,
        timeout_late_reply,
        timeout_reply_crosses_cancel,
        enotsup
    ]}].

%%% Helpers

%% Read the stdout of Chain until it holds as many bytes as Want (or
%% nothing more comes within ?WAIT), and return what was read.
stdout(Drv, Chain, Want) ->
    stdout(Drv, Chain, Want, <<>>).

stdout(_Drv, _Chain, Want, Acc) when byte_size(Acc) >= byte_size(Want) ->
    Acc;
stdout(Drv, Chain, Want, Acc) ->
    case alcove:stdout(Drv, Chain, ?WAIT) of
        [] -> Acc;
        Data -> stdout(Drv, Chain, Want, iolist_to_binary([Acc | Data]))
    end.

%% Run a shell command in a new child of the port; return what it
%% printed (one line ending in a newline) once it has exited with 0.
sh(Drv, Cmd) ->
    {ok, C} = alcove:fork(Drv, []),
    ok = alcove:execvp(Drv, [C], "/bin/sh", ["/bin/sh", "-c", Cmd]),
    Out = read_line(Drv, [C]),
    {exit_status, 0} = alcove:event(Drv, [C], ?WAIT),
    Out.

read_line(Drv, Chain) ->
    read_line(Drv, Chain, <<>>).

read_line(Drv, Chain, Acc) ->
    case binary:last(<<0, Acc/binary>>) of
        $\n ->
            Acc;
        _ ->
            [_ | _] = Data = alcove:stdout(Drv, Chain, ?WAIT),
            read_line(Drv, Chain, iolist_to_binary([Acc | Data]))
    end.

%% Evaluate the forms of a text one expression at a time, like a person
%% typing them into the shell, sharing bindings.
eval_text(Text) ->
    {ok, Tokens, _} = erl_scan:string(Text),
    lists:foldl(
      fun(Form, Bindings) ->
              {ok, Exprs} = erl_parse:parse_exprs(Form),
              lists:foldl(
                fun(Expr, B) ->
                        {value, _, B1} = erl_eval:expr(Expr, B),
                        %% a person takes a second or more to type the next
                        %% line; stdout/2 only takes what has arrived already
                        timer:sleep(1000),
                        B1
                end, Bindings, Exprs)
      end, erl_eval:new_bindings(), forms(Tokens)).

%% Split tokens into forms, each ending with its dot.
forms([]) ->
    [];
forms(Tokens) ->
    {Form, [{dot, _} = Dot | Rest]} =
        lists:splitwith(fun(T) -> element(1, T) =/= dot end, Tokens),
    [Form ++ [Dot] | forms(Rest)].

%% Fork a chain of N processes under the port; return the chain.
chain(Drv, N) ->
    lists:foldl(fun(_, Chain) ->
                        {ok, P} = alcove:fork(Drv, Chain),
                        Chain ++ [P]
                end, [], lists:seq(1, N)).

%%% Test cases

%% The reference's Overview example, evaluated expression by expression
%% as typed into erl: fork, fork under it, getpid along the chain, fork
%% again from the port, exec cat in the grandchild, and its stdout echoes
%% its stdin. The text is parsed with erl_scan/erl_parse and each
%% expression evaluated with erl_eval, sharing bindings, with a 1 s
%% sleep after each one, as a person typing into erl would pause: the
%% example's stdout/2 waits 0 ms, so it only sees what already arrived.
%% (The example starts its own port; the one of the alcove_test hook is
%% unused here.)
overview_example(_Config) ->
    B = eval_text(?OVERVIEW),
    {value, Drv} = erl_eval:binding('Drv', B),
    {value, Child1} = erl_eval:binding('Child1', B),
    {value, Child2} = erl_eval:binding('Child2', B),
    {value, Child3} = erl_eval:binding('Child3', B),
    true = is_integer(Child1) andalso is_integer(Child2)
        andalso is_integer(Child3),
    3 = length(lists:usort([Child1, Child2, Child3])),
    %% Child1 and Child3 are the port's children, Child2 is Child1's
    Children = lists:sort([Child1, Child3]),
    Children = lists:sort([P#alcove_pid.pid || P <- alcove:cpid(Drv, [])]),
    [#alcove_pid{pid = Child2}] = alcove:cpid(Drv, [Child1]),
    ok = alcove_drv:stop(Drv).

%% fork/2 creates an event-loop child of the port whose PID is the one
%% returned, distinct from the port's.
fork(Config) ->
    Drv = ?config(drv, Config),
    {ok, C} = alcove:fork(Drv, []),
    true = is_integer(C) andalso C > 0,
    C = alcove:getpid(Drv, [C]),
    true = C =/= alcove:getpid(Drv, []),
    [#alcove_pid{pid = C}] = alcove:cpid(Drv, []),
    %% a child of the child
    {ok, G} = alcove:fork(Drv, [C]),
    G = alcove:getpid(Drv, [C, G]),
    [#alcove_pid{pid = G}] = alcove:cpid(Drv, [C]).

%% clone/3 with an integer flag (CLONE_NEWUTS from clone_constant): the
%% child runs the event loop in a UTS namespace of its own.
clone_integer_flag(Config) ->
    Drv = ?config(drv, Config),
    Flag = alcove:clone_constant(Drv, [], clone_newuts),
    16#04000000 = Flag,
    {ok, C} = alcove:clone(Drv, [], Flag),
    C = alcove:getpid(Drv, [C]),
    Cmd = "readlink /proc/$$/ns/uts",
    ok = alcove:execvp(Drv, [C], "/bin/sh", ["/bin/sh", "-c", Cmd]),
    <<"uts:[", _/binary>> = Cloned = read_line(Drv, [C]),
    {exit_status, 0} = alcove:event(Drv, [C], ?WAIT),
    <<"uts:[", _/binary>> = Forked = sh(Drv, Cmd),
    true = Cloned =/= Forked.

%% clone/3 with a list of atoms: in a new PID namespace the child is
%% PID 1 to itself, while the chain names it by its PID in the parent.
clone_atom_flags(Config) ->
    Drv = ?config(drv, Config),
    {ok, C} = alcove:clone(Drv, [], [clone_newpid, clone_newns]),
    true = is_integer(C) andalso C > 1,
    1 = alcove:getpid(Drv, [C]),
    [#alcove_pid{pid = C}] = alcove:cpid(Drv, []),
    %% its own child is PID 2 or more in that namespace
    {ok, G} = alcove:fork(Drv, [C]),
    G = alcove:getpid(Drv, [C, G]),
    true = G > 1.

%% execvp/4 replaces the event loop with a program found in PATH: its
%% output comes as stdout, then its exit status as an event.
execvp(Config) ->
    Drv = ?config(drv, Config),
    {ok, C} = alcove:fork(Drv, []),
    ok = alcove:execvp(Drv, [C], "sh", ["sh", "-c", "echo hello; exit 7"]),
    <<"hello\n">> = stdout(Drv, [C], <<"hello\n">>),
    {exit_status, 7} = alcove:event(Drv, [C], ?WAIT).

%% A failed execvp/4 returns the errno and leaves the process in its
%% event loop.
execvp_error(Config) ->
    Drv = ?config(drv, Config),
    {ok, C} = alcove:fork(Drv, []),
    {error, enoent} = alcove:execvp(Drv, [C], "/nonexistent/alcove",
                                    ["/nonexistent/alcove"]),
    C = alcove:getpid(Drv, [C]),
    {error, enoent} = alcove:execvp(Drv, [C], "alcove-nonexistent-program",
                                    ["alcove-nonexistent-program"]),
    C = alcove:getpid(Drv, [C]).

%% An empty list is a valid argument: an empty environment for execve/5,
%% no options for waitpid/4, no change for filter/4.
empty_list_arguments(Config) ->
    Drv = ?config(drv, Config),
    {ok, C} = alcove:fork(Drv, []),
    {error, echild} = alcove:waitpid(Drv, [C], -1, []),
    ok = alcove:filter(Drv, [C], [], []),
    C = alcove:getpid(Drv, [C]),
    ok = alcove:execve(Drv, [C], "/bin/sh",
                       ["/bin/sh", "-c", "echo \"${HOME:-empty}\""], []),
    <<"empty\n">> = stdout(Drv, [C], <<"empty\n">>),
    {exit_status, 0} = alcove:event(Drv, [C], ?WAIT).

%% execve/5 runs the program with exactly the environment given.
execve_env(Config) ->
    Drv = ?config(drv, Config),
    {ok, C} = alcove:fork(Drv, []),
    ok = alcove:execve(Drv, [C], "/bin/sh",
                       ["/bin/sh", "-c", "echo \"$FOO:${HOME:-unset}\""],
                       ["FOO=bar"]),
    <<"bar:unset\n">> = stdout(Drv, [C], <<"bar:unset\n">>),
    {exit_status, 0} = alcove:event(Drv, [C], ?WAIT).

%% fexecve/5 on a descriptor that is not open fails with ebadf, and the
%% process stays in its event loop. (Its success path needs open/5.)
fexecve_ebadf(Config) ->
    Drv = ?config(drv, Config),
    {ok, C} = alcove:fork(Drv, []),
    {error, ebadf} = alcove:fexecve(Drv, [C], 12345, ["/bin/sh"], [""]),
    C = alcove:getpid(Drv, [C]).

%% exit/3 replies ok, then the process exits with the status, reported
%% as an {exit_status, N} event; the port then forgets the child.
exit(Config) ->
    Drv = ?config(drv, Config),
    {ok, C} = alcove:fork(Drv, []),
    ok = alcove:exit(Drv, [C], 3),
    {exit_status, 3} = alcove:event(Drv, [C], ?WAIT),
    [] = alcove:cpid(Drv, []).

%% getpid/2 answers with the PID of the process at the end of the chain:
%% the port's PID is the parent PID its child sees.
getpid(Config) ->
    Drv = ?config(drv, Config),
    Port = alcove:getpid(Drv, []),
    true = is_integer(Port) andalso Port > 0,
    true = integer_to_list(Port) =/= os:getpid(),
    Line = integer_to_binary(Port),
    <<Line:(byte_size(Line))/binary, "\n">> = sh(Drv, "echo $PPID").

%% getopt/3 returns the documented defaults, false for an unknown
%% option.
getopt_defaults(Config) ->
    Drv = ?config(drv, Config),
    MaxChild = alcove:getopt(Drv, [], maxchild),
    true = is_integer(MaxChild) andalso MaxChild > 0,
    16 = alcove:getopt(Drv, [], maxforkdepth),
    1 = alcove:getopt(Drv, [], exit_status),
    1 = alcove:getopt(Drv, [], termsig),
    -1 = alcove:getopt(Drv, [], flowcontrol),
    15 = alcove:getopt(Drv, [], signaloneof),
    false = alcove:getopt(Drv, [], nonexistent_option).

%% setopt/4 sets each option (true) and getopt/3 reads the new value;
%% an unknown option is false.
setopt_getopt(Config) ->
    Drv = ?config(drv, Config),
    Opts = [{maxchild, 7}, {maxforkdepth, 5}, {exit_status, 0},
            {termsig, 0}, {flowcontrol, 3}, {signaloneof, 9}],
    [true = alcove:setopt(Drv, [], Opt, Val) || {Opt, Val} <- Opts],
    [Val = alcove:getopt(Drv, [], Opt) || {Opt, Val} <- Opts],
    false = alcove:setopt(Drv, [], nonexistent_option, 1),
    false = alcove:getopt(Drv, [], nonexistent_option),
    %% in a child too, and only there
    {ok, C} = alcove:fork(Drv, []),
    true = alcove:setopt(Drv, [C], maxchild, 2),
    2 = alcove:getopt(Drv, [C], maxchild),
    7 = alcove:getopt(Drv, [], maxchild).

%% setopt/4 rejects values out of an option's range with false and
%% leaves the option as it was.
setopt_out_of_range(Config) ->
    Drv = ?config(drv, Config),
    Bad = [{exit_status, 2}, {exit_status, -1}, {termsig, 2}, {termsig, -1},
           {flowcontrol, -2}, {signaloneof, -1}, {signaloneof, 256},
           {maxchild, -1}, {maxforkdepth, -1}],
    Before = [{Opt, alcove:getopt(Drv, [], Opt)} || {Opt, _} <- Bad],
    [{Opt, false} = {Opt, alcove:setopt(Drv, [], Opt, Val)}
     || {Opt, Val} <- Bad],
    Before = [{Opt, alcove:getopt(Drv, [], Opt)} || {Opt, _} <- Bad].

%% Options set in a process before a fork are inherited by the child.
setopt_inherited(Config) ->
    Drv = ?config(drv, Config),
    Opts = [{maxchild, 11}, {maxforkdepth, 6}, {exit_status, 0},
            {termsig, 0}, {flowcontrol, 4}, {signaloneof, 10}],
    [true = alcove:setopt(Drv, [], Opt, Val) || {Opt, Val} <- Opts],
    {ok, C} = alcove:fork(Drv, []),
    [{Opt, Val} = {Opt, alcove:getopt(Drv, [C], Opt)} || {Opt, Val} <- Opts],
    %% and passed on by the child to its own children
    {ok, G} = alcove:fork(Drv, [C]),
    [{Opt, Val} = {Opt, alcove:getopt(Drv, [C, G], Opt)}
     || {Opt, Val} <- Opts].

%% cpid/2 lists the children with their settings and descriptors; a
%% process without children has [].
cpid(Config) ->
    Drv = ?config(drv, Config),
    [] = alcove:cpid(Drv, []),
    {ok, C1} = alcove:fork(Drv, []),
    {ok, C2} = alcove:fork(Drv, []),
    Pids = alcove:cpid(Drv, []),
    2 = length(Pids),
    [C1, C2] = lists:sort([P#alcove_pid.pid || P <- Pids]),
    [] = alcove:cpid(Drv, [C1]),
    Fds = lists:append(
            [begin
                 #alcove_pid{flowcontrol = -1, signaloneof = 15,
                             fdctl = Ctl, stdin = In, stdout = Out,
                             stderr = Err} = P,
                 [Ctl, In, Out, Err]
             end || P <- Pids]),
    true = lists:all(fun(Fd) -> is_integer(Fd) andalso Fd > 2 end, Fds),
    %% every descriptor is a different one
    8 = length(lists:usort(Fds)),
    %% the records agree with getcpid/4
    [begin
         Ctl = alcove:getcpid(Drv, [], Pid, fdctl),
         In = alcove:getcpid(Drv, [], Pid, stdin),
         Out = alcove:getcpid(Drv, [], Pid, stdout),
         Err = alcove:getcpid(Drv, [], Pid, stderr)
     end || #alcove_pid{pid = Pid, fdctl = Ctl, stdin = In, stdout = Out,
                        stderr = Err} <- Pids].

%% getcpid/4 reads and setcpid/5 changes flowcontrol and signaloneof of
%% a child; the new child takes the parent's flowcontrol option.
getcpid_setcpid(Config) ->
    Drv = ?config(drv, Config),
    {ok, C} = alcove:fork(Drv, []),
    C = alcove:getcpid(Drv, [], C, pid),
    -1 = alcove:getcpid(Drv, [], C, flowcontrol),
    15 = alcove:getcpid(Drv, [], C, signaloneof),
    true = alcove:setcpid(Drv, [], C, flowcontrol, 3),
    3 = alcove:getcpid(Drv, [], C, flowcontrol),
    true = alcove:setcpid(Drv, [], C, signaloneof, 9),
    9 = alcove:getcpid(Drv, [], C, signaloneof),
    [#alcove_pid{pid = C, flowcontrol = 3, signaloneof = 9}] =
        alcove:cpid(Drv, []),
    true = alcove:setcpid(Drv, [], C, flowcontrol, -1),
    -1 = alcove:getcpid(Drv, [], C, flowcontrol),
    %% out of range: false, unchanged
    false = alcove:setcpid(Drv, [], C, flowcontrol, -2),
    false = alcove:setcpid(Drv, [], C, signaloneof, -1),
    -1 = alcove:getcpid(Drv, [], C, flowcontrol),
    9 = alcove:getcpid(Drv, [], C, signaloneof),
    %% options of the parent are the settings of a new child
    true = alcove:setopt(Drv, [], flowcontrol, 5),
    true = alcove:setopt(Drv, [], signaloneof, 2),
    {ok, C2} = alcove:fork(Drv, []),
    5 = alcove:getcpid(Drv, [], C2, flowcontrol),
    2 = alcove:getcpid(Drv, [], C2, signaloneof).

%% getcpid/4 and setcpid/5 are false for a PID that is not a child and
%% for an unknown option.
getcpid_setcpid_unknown(Config) ->
    Drv = ?config(drv, Config),
    Port = alcove:getpid(Drv, []),
    {ok, C} = alcove:fork(Drv, []),
    false = alcove:getcpid(Drv, [], Port, flowcontrol),
    false = alcove:getcpid(Drv, [], 16#7ffffffe, signaloneof),
    false = alcove:setcpid(Drv, [], Port, flowcontrol, 1),
    false = alcove:setcpid(Drv, [], 16#7ffffffe, signaloneof, 9),
    false = alcove:getcpid(Drv, [], C, nonexistent_option),
    false = alcove:setcpid(Drv, [], C, nonexistent_option, 1),
    false = alcove:setcpid(Drv, [], C, pid, 1),
    C = alcove:getcpid(Drv, [], C, pid),
    %% a grandchild is not a child
    {ok, G} = alcove:fork(Drv, [C]),
    false = alcove:getcpid(Drv, [], G, pid).

%% kill/4 with a signal atom or number: the child dies and the port
%% reports {termsig, Name}; a PID that no longer exists gives esrch.
kill(Config) ->
    Drv = ?config(drv, Config),
    {ok, C1} = alcove:fork(Drv, []),
    {ok, C2} = alcove:fork(Drv, []),
    ok = alcove:kill(Drv, [], C1, sigkill),
    {termsig, sigkill} = alcove:event(Drv, [C1], ?WAIT),
    %% an event loop catches SIGTERM: back to the default, it dies of it
    {ok, sig_info} = alcove:sigaction(Drv, [C2], sigterm, sig_dfl),
    ok = alcove:kill(Drv, [], C2, 15),
    {termsig, sigterm} = alcove:event(Drv, [C2], ?WAIT),
    [] = alcove:cpid(Drv, []),
    %% signal 0 checks a process exists
    {ok, C3} = alcove:fork(Drv, []),
    ok = alcove:kill(Drv, [], C3, 0),
    {error, esrch} = alcove:kill(Drv, [], C1, 0).

%% sigaction/4 with sig_info: a caught signal becomes the event
%% {signal, Name, Info}, Info a siginfo_t, and the process lives on.
sigaction_sig_info(Config) ->
    Drv = ?config(drv, Config),
    {ok, C} = alcove:fork(Drv, []),
    {ok, sig_info} = alcove:sigaction(Drv, [C], sigusr1, sig_dfl),
    {ok, sig_dfl} = alcove:sigaction(Drv, [C], sigusr1, sig_info),
    ok = alcove:kill(Drv, [], C, sigusr1),
    {signal, sigusr1, Info} = alcove:event(Drv, [C], ?WAIT),
    true = is_binary(Info),
    Usr1 = alcove:signal_constant(Drv, [], sigusr1),
    %% si_signo, si_errno, si_code (SI_USER: sent by kill)
    <<Usr1:32/native-signed, _:32, 0:32/native-signed, _/binary>> = Info,
    C = alcove:getpid(Drv, [C]),
    {ok, sig_info} = alcove:sigaction(Drv, [C], sigusr1, sig_dfl),
    %% back to the default: the signal kills it
    ok = alcove:kill(Drv, [], C, sigusr1),
    {termsig, sigusr1} = alcove:event(Drv, [C], ?WAIT).

%% sig_info for a signal without digits in its name, SIGHUP: the event
%% {signal, sighup, Info}, and the process lives on.
sigaction_sig_info_sighup(Config) ->
    Drv = ?config(drv, Config),
    {ok, C} = alcove:fork(Drv, []),
    {ok, sig_info} = alcove:sigaction(Drv, [C], sighup, sig_dfl),
    {ok, sig_dfl} = alcove:sigaction(Drv, [C], sighup, sig_info),
    ok = alcove:kill(Drv, [], C, sighup),
    {signal, sighup, Info} = alcove:event(Drv, [C], ?WAIT),
    Hup = alcove:signal_constant(Drv, [], sighup),
    1 = Hup,
    <<Hup:32/native-signed, _:32, 0:32/native-signed, _/binary>> = Info,
    C = alcove:getpid(Drv, [C]),
    {ok, sig_info} = alcove:sigaction(Drv, [C], sighup, sig_dfl),
    ok = alcove:kill(Drv, [], C, sighup),
    {termsig, sighup} = alcove:event(Drv, [C], ?WAIT).

%% sigaction/4 with [] reads the current handler without changing it.
sigaction_read(Config) ->
    Drv = ?config(drv, Config),
    {ok, C} = alcove:fork(Drv, []),
    {ok, sig_info} = alcove:sigaction(Drv, [C], sighup, []),
    {ok, sig_info} = alcove:sigaction(Drv, [C], sighup, sig_dfl),
    {ok, sig_dfl} = alcove:sigaction(Drv, [C], sighup, []),
    {ok, sig_dfl} = alcove:sigaction(Drv, [C], sighup, sig_info),
    {ok, sig_info} = alcove:sigaction(Drv, [C], sighup, []),
    {ok, sig_info} = alcove:sigaction(Drv, [C], sighup, []),
    {ok, sig_info} = alcove:sigaction(Drv, [C], sighup, sig_ign),
    {ok, sig_ign} = alcove:sigaction(Drv, [C], sighup, []).

%% sigaction/4 with sig_ign makes the signal harmless.
sigaction_sig_ign(Config) ->
    Drv = ?config(drv, Config),
    {ok, C} = alcove:fork(Drv, []),
    {ok, sig_info} = alcove:sigaction(Drv, [C], sighup, sig_ign),
    ok = alcove:kill(Drv, [], C, sighup),
    %% an ignored signal is discarded when sent: the process answers
    {ok, sig_ign} = alcove:sigaction(Drv, [C], sighup, sig_dfl),
    C = alcove:getpid(Drv, [C]),
    false = alcove:event(Drv, [C], 0).

%% sigaction/4 cannot catch SIGKILL or SIGSTOP.
sigaction_errors(Config) ->
    Drv = ?config(drv, Config),
    {ok, C} = alcove:fork(Drv, []),
    {error, einval} = alcove:sigaction(Drv, [C], sigkill, sig_ign),
    {error, einval} = alcove:sigaction(Drv, [C], sigstop, sig_info),
    C = alcove:getpid(Drv, [C]).

%% waitpid/4 for a child the event loop has already reaped: echild.
waitpid_reaped(Config) ->
    Drv = ?config(drv, Config),
    {ok, C} = alcove:fork(Drv, []),
    {ok, G} = alcove:fork(Drv, [C]),
    ok = alcove:exit(Drv, [C, G], 0),
    %% the event is sent once C has reaped G
    {exit_status, 0} = alcove:event(Drv, [C, G], ?WAIT),
    {error, echild} = alcove:waitpid(Drv, [C], G, 0),
    {error, echild} = alcove:waitpid(Drv, [C], -1, [wnohang]),
    [] = alcove:cpid(Drv, [C]).

%% waitpid/4 with wnohang on a running child returns {ok, 0, 0, []}.
waitpid_wnohang(Config) ->
    Drv = ?config(drv, Config),
    {ok, C} = alcove:fork(Drv, []),
    {ok, G} = alcove:fork(Drv, [C]),
    {ok, 0, 0, []} = alcove:waitpid(Drv, [C], G, [wnohang]),
    {ok, 0, 0, []} = alcove:waitpid(Drv, [C], -1, [wnohang]),
    G = alcove:getpid(Drv, [C, G]).

%% waitpid/4 in a process without children: echild.
waitpid_no_children(Config) ->
    Drv = ?config(drv, Config),
    {ok, C} = alcove:fork(Drv, []),
    {error, echild} = alcove:waitpid(Drv, [C], -1, [wnohang]),
    {error, echild} = alcove:waitpid(Drv, [C], -1, 1),
    C = alcove:getpid(Drv, [C]).

%% close/3 refuses the event loop's own descriptors with ebadf (the
%% child stays reachable), closes a child's stdio as eof/3 does, and
%% fails with ebadf on a closed descriptor.
close(Config) ->
    Drv = ?config(drv, Config),
    {ok, C} = alcove:fork(Drv, []),
    Ctl = alcove:getcpid(Drv, [], C, fdctl),
    Out = alcove:getcpid(Drv, [], C, stdout),
    true = is_integer(Ctl) andalso is_integer(Out),
    {error, ebadf} = alcove:close(Drv, [], Ctl),
    C = alcove:getpid(Drv, [C]),
    Ctl = alcove:getcpid(Drv, [], C, fdctl),
    %% a child's stdout, as cpid/2 shows it: closing it is eof/3 of it
    ok = alcove:close(Drv, [], Out),
    {error, ebadf} = alcove:close(Drv, [], Out),
    C = alcove:getpid(Drv, [C]),
    {error, ebadf} = alcove:close(Drv, [], 12345),
    {error, ebadf} = alcove:close(Drv, [C], 12345),
    {error, ebadf} = alcove:close(Drv, [], -1).

%% version/2 is a non-empty binary, the same in every process.
version(Config) ->
    Drv = ?config(drv, Config),
    V = alcove:version(Drv, []),
    true = is_binary(V) andalso byte_size(V) > 0,
    {ok, C} = alcove:fork(Drv, []),
    V = alcove:version(Drv, [C]).

%% The reference's filter/3 example: the process and its future children
%% may no longer fork; a filtered call raises undef.
filter_example_filter3(Config) ->
    Ctrl = ?config(drv, Config),
    {ok, Task} = alcove:fork(Ctrl, []),

    Calls = alcove:filter([fork]),
    % equivalent to: alcove:filter(Ctrl, [], Calls, Calls)
    ok = alcove:filter(Ctrl, [], Calls),
    {'EXIT', {undef, _}} = (catch alcove:fork(Ctrl, [])),

    %% a child forked before the filter is not restricted
    {ok, _} = alcove:fork(Ctrl, [Task]),
    %% other calls still work
    true = is_integer(alcove:getpid(Ctrl, [])).

%% The reference's filter/4 example, each half on a port of its own: a
%% port restricted to fork whose children are free, then a port whose
%% children may only call getpid ([] leaves a set unchanged).
filter_example_filter4(Config) ->
    Ctrl = ?config(drv, Config),
    ForkOnly = alcove:filter({allow, [fork]}),

    % Process restricted to fork
    % No filter enforced for subprocesses
    ok = alcove:filter(Ctrl, [], ForkOnly, []),
    {ok, Task1} = alcove:fork(Ctrl, []),
    Task1 = alcove:getpid(Ctrl, [Task1]),
    {'EXIT', {undef, _}} = (catch alcove:getpid(Ctrl, [])),

    {ok, Ctrl2} = alcove_drv:start(),
    try
        GetpidOnly = alcove:filter({allow, [getpid]}),
        % []: no change to filter
        ok = alcove:filter(Ctrl2, [], [], GetpidOnly),
        {ok, Task2} = alcove:fork(Ctrl2, []),
        Task2 = alcove:getpid(Ctrl2, [Task2]),
        {'EXIT', {undef, _}} = (catch alcove:fork(Ctrl2, [Task2])),
        {'EXIT', {undef, _}} = (catch alcove:version(Ctrl2, [Task2])),
        %% the port itself is unrestricted
        true = is_binary(alcove:version(Ctrl2, [])),
        {ok, _} = alcove:fork(Ctrl2, [])
    after
        alcove_drv:stop(Ctrl2)
    end.

%% A filtered call raises undef in the caller every time; the process
%% stays up and answers the calls that are allowed.
filter_undef(Config) ->
    Drv = ?config(drv, Config),
    {ok, C} = alcove:fork(Drv, []),
    ok = alcove:filter(Drv, [C], alcove:filter([version, getpid])),
    {'EXIT', {undef, _}} = (catch alcove:version(Drv, [C])),
    {'EXIT', {undef, _}} = (catch alcove:getpid(Drv, [C])),
    {'EXIT', {undef, _}} = (catch alcove:getpid(Drv, [C])),
    {ok, G} = alcove:fork(Drv, [C]),
    [#alcove_pid{pid = G}] = alcove:cpid(Drv, [C]),
    %% the port is not affected
    true = is_binary(alcove:version(Drv, [])).

%% filter/4: the first set applies to the process, the second to the
%% children forked afterwards and to their children.
filter_child_inheritance(Config) ->
    Drv = ?config(drv, Config),
    ok = alcove:filter(Drv, [], alcove:filter([errno_id]),
                       alcove:filter([version])),
    %% the port: errno_id forbidden, version allowed
    {'EXIT', {undef, _}} = (catch alcove:errno_id(Drv, [], 1)),
    true = is_binary(alcove:version(Drv, [])),
    %% its new child: version forbidden, errno_id allowed
    {ok, C} = alcove:fork(Drv, []),
    {'EXIT', {undef, _}} = (catch alcove:version(Drv, [C])),
    eperm = alcove:errno_id(Drv, [C], 1),
    %% and the child's child inherits the child's filter
    {ok, G} = alcove:fork(Drv, [C]),
    {'EXIT', {undef, _}} = (catch alcove:version(Drv, [C, G])),
    eperm = alcove:errno_id(Drv, [C, G], 1),
    %% filter/3 applies the same set to both
    {ok, D} = alcove:fork(Drv, [C]),
    ok = alcove:filter(Drv, [C, D], alcove:filter([signal_constant])),
    {'EXIT', {undef, _}} = (catch alcove:signal_constant(Drv, [C, D],
                                                         sigterm)),
    {ok, E} = alcove:fork(Drv, [C, D]),
    {'EXIT', {undef, _}} = (catch alcove:signal_constant(Drv, [C, D, E],
                                                         sigterm)),
    %% a call once filtered stays filtered
    {'EXIT', {undef, _}} = (catch alcove:version(Drv, [C, D, E])),
    ok.

%% filter/3,4 with a call number that is no call: {error, einval}, and
%% nothing is filtered; what is not a number is badarg in the caller.
filter_einval(Config) ->
    Drv = ?config(drv, Config),
    N = length(alcove_proto:calls()),
    {error, einval} = alcove:filter(Drv, [], [N]),
    {error, einval} = alcove:filter(Drv, [], [255]),
    {error, einval} = alcove:filter(Drv, [], [0, 200]),
    {error, einval} = alcove:filter(Drv, [], [0], [200]),
    {error, einval} = alcove:filter(Drv, [], [200], [0]),
    %% fork (0) was in some of the rejected sets: it is not filtered
    {ok, C} = alcove:fork(Drv, []),
    {ok, _} = alcove:fork(Drv, [C]),
    {'EXIT', {badarg, _}} = (catch alcove:filter(Drv, [], [fork])),
    ok.

%% filter/1 turns call names into call numbers: a list or {deny, List}
%% gives those calls, {allow, List} every other call.
filter_contents(_Config) ->
    All = lists:seq(0, length(alcove_proto:calls()) - 1),
    [0] = alcove:filter([fork]),
    [0] = alcove:filter({deny, [fork]}),
    [0] = alcove:filter([fork, fork]),
    Named = [fork, clone, getpid],
    Nrs = lists:sort([alcove_proto:call(C) || C <- Named]),
    Nrs = alcove:filter(Named),
    Nrs = alcove:filter({deny, Named}),
    Allow = alcove:filter({allow, Named}),
    Allow = lists:usort(Allow),
    All = lists:sort(Allow ++ Nrs),
    [] = [N || N <- Nrs, lists:member(N, Allow)],
    All = alcove:filter({allow, []}),
    [] = alcove:filter([]),
    {'EXIT', {badarg, _}} = (catch alcove:filter([nonexistent_call])),
    ok.

%% A process restricted with {allow, [fork, clone, getpid]} can only make
%% those calls; filter is then filtered too, so the set is final.
filter_of_filter(Config) ->
    Drv = ?config(drv, Config),
    {ok, C} = alcove:fork(Drv, []),
    ok = alcove:filter(Drv, [C], alcove:filter({allow, [fork, clone, getpid]})),
    C = alcove:getpid(Drv, [C]),
    {ok, G} = alcove:fork(Drv, [C]),
    G = alcove:getpid(Drv, [C, G]),
    {'EXIT', {undef, _}} = (catch alcove:version(Drv, [C])),
    {'EXIT', {undef, _}} = (catch alcove:cpid(Drv, [C])),
    {'EXIT', {undef, _}} = (catch alcove:filter(Drv, [C], [0])),
    {'EXIT', {undef, _}} = (catch alcove:filter(Drv, [C, G], [0])),
    ok.

%% signal_constant/3 maps names, in either case, to numbers.
signal_constant(Config) ->
    Drv = ?config(drv, Config),
    15 = alcove:signal_constant(Drv, [], sigterm),
    9 = alcove:signal_constant(Drv, [], 'SIGKILL'),
    unknown = alcove:signal_constant(Drv, [], nonexistent),
    {ok, C} = alcove:fork(Drv, []),
    15 = alcove:signal_constant(Drv, [C], 'SIGTERM'),
    %% names with digits
    10 = alcove:signal_constant(Drv, [], sigusr1),
    12 = alcove:signal_constant(Drv, [], sigusr2).

%% clone_constant/3 maps clone flag names to their values.
clone_constant(Config) ->
    Drv = ?config(drv, Config),
    16#04000000 = alcove:clone_constant(Drv, [], clone_newuts),
    16#20000000 = alcove:clone_constant(Drv, [], clone_newpid),
    16#00020000 = alcove:clone_constant(Drv, [], clone_newns),
    16#40000000 = alcove:clone_constant(Drv, [], 'CLONE_NEWNET'),
    unknown = alcove:clone_constant(Drv, [], nonexistent).

%% errno_id/3 maps errno values to names.
errno_id(Config) ->
    Drv = ?config(drv, Config),
    eperm = alcove:errno_id(Drv, [], 1),
    enoent = alcove:errno_id(Drv, [], 2),
    eagain = alcove:errno_id(Drv, [], 11),
    einval = alcove:errno_id(Drv, [], 22).

%% A fork chain of the default maximum depth, 16, works at every level;
%% the 16th process cannot fork: eagain.
fork_chain_depth(Config) ->
    Drv = ?config(drv, Config),
    Chain = chain(Drv, 16),
    16 = length(Chain),
    [P = alcove:getpid(Drv, lists:sublist(Chain, N))
     || {N, P} <- lists:zip(lists:seq(1, 16), Chain)],
    {error, eagain} = alcove:fork(Drv, Chain),
    %% the processes above can still fork
    {ok, _} = alcove:fork(Drv, lists:sublist(Chain, 15)).

%% A lower maxforkdepth limits the chain: forking past it is eagain.
maxforkdepth(Config) ->
    Drv = ?config(drv, Config),
    true = alcove:setopt(Drv, [], maxforkdepth, 2),
    [C1, C2] = chain(Drv, 2),
    {error, eagain} = alcove:fork(Drv, [C1, C2]),
    %% set in a child only, it limits that child
    {ok, D} = alcove:fork(Drv, []),
    true = alcove:setopt(Drv, [D], maxforkdepth, 1),
    {error, eagain} = alcove:fork(Drv, [D]),
    {ok, _} = alcove:fork(Drv, []).

%% maxchild limits the number of children: the 4th fork of 3 allowed is
%% eagain, until a child exits.
maxchild(Config) ->
    Drv = ?config(drv, Config),
    true = alcove:setopt(Drv, [], maxchild, 3),
    {ok, C1} = alcove:fork(Drv, []),
    {ok, _} = alcove:fork(Drv, []),
    {ok, _} = alcove:clone(Drv, [], [clone_newuts]),
    {error, eagain} = alcove:fork(Drv, []),
    {error, eagain} = alcove:clone(Drv, [], [clone_newuts]),
    ok = alcove:exit(Drv, [C1], 0),
    {exit_status, 0} = alcove:event(Drv, [C1], ?WAIT),
    {ok, _} = alcove:fork(Drv, []),
    {error, eagain} = alcove:fork(Drv, []).

%% A fork chain naming a PID that is not a child raises badpid.
badpid_unknown(Config) ->
    Drv = ?config(drv, Config),
    Port = alcove:getpid(Drv, []),
    {'EXIT', {badpid, _}} = (catch alcove:getpid(Drv, [Port])),
    {'EXIT', {badpid, _}} = (catch alcove:getpid(Drv, [16#7ffffffe])),
    {ok, C} = alcove:fork(Drv, []),
    {'EXIT', {badpid, _}} = (catch alcove:getpid(Drv, [C, C])),
    {'EXIT', {badpid, _}} = (catch alcove:fork(Drv, [C, 16#7ffffffe])),
    %% a sibling is not a child
    {ok, S} = alcove:fork(Drv, []),
    {'EXIT', {badpid, _}} = (catch alcove:getpid(Drv, [C, S])),
    %% the port still answers
    C = alcove:getpid(Drv, [C]),
    2 = length(alcove:cpid(Drv, [])).

%% PID 0 in a fork chain raises badpid.
badpid_zero(Config) ->
    Drv = ?config(drv, Config),
    {'EXIT', {badpid, _}} = (catch alcove:getpid(Drv, [0])),
    {ok, C} = alcove:fork(Drv, []),
    {'EXIT', {badpid, _}} = (catch alcove:getpid(Drv, [C, 0])),
    C = alcove:getpid(Drv, [C]).

%% A process that exec'd is no event loop: calls to it, or through it,
%% raise badpid, while its stdio still works.
badpid_exec(Config) ->
    Drv = ?config(drv, Config),
    {ok, C} = alcove:fork(Drv, []),
    ok = alcove:execvp(Drv, [C], "/bin/cat", ["/bin/cat"]),
    {'EXIT', {badpid, _}} = (catch alcove:getpid(Drv, [C])),
    {'EXIT', {badpid, _}} = (catch alcove:fork(Drv, [C])),
    {'EXIT', {badpid, _}} = (catch alcove:getpid(Drv, [C, 1])),
    ok = alcove:stdin(Drv, [C], "still here\n"),
    <<"still here\n">> = stdout(Drv, [C], <<"still here\n">>).

%% A chain through a process that exited raises badpid.
badpid_exited(Config) ->
    Drv = ?config(drv, Config),
    {ok, C} = alcove:fork(Drv, []),
    {ok, G} = alcove:fork(Drv, [C]),
    ok = alcove:exit(Drv, [C], 0),
    {exit_status, 0} = alcove:event(Drv, [C], ?WAIT),
    {'EXIT', {badpid, _}} = (catch alcove:getpid(Drv, [C])),
    {'EXIT', {badpid, _}} = (catch alcove:getpid(Drv, [C, G])),
    {'EXIT', {badpid, _}} = (catch alcove:fork(Drv, [C, G])),
    true = is_integer(alcove:getpid(Drv, [])).

%% Arguments of the wrong type raise badarg in the caller before
%% anything is sent: a stand-in for the driver receives nothing.
badarg_before_send(Config) ->
    Drv = ?config(drv, Config),
    Self = self(),
    Fake = spawn_link(fun() -> fake(Self) end),
    Calls = [
        fun(D) -> alcove:kill(D, [], "x", 9) end,
        fun(D) -> alcove:kill(D, [], 1, "x") end,
        fun(D) -> alcove:execvp(D, [], foo, bar) end,
        fun(D) -> alcove:execvp(D, [], "/bin/cat", [foo]) end,
        fun(D) -> alcove:execve(D, [], "/bin/cat", ["cat"], bar) end,
        fun(D) -> alcove:getpid(D, [-1]) end,
        fun(D) -> alcove:getpid(D, [16#80000000]) end,
        fun(D) -> alcove:getpid(D, [foo]) end,
        fun(D) -> alcove:getpid(D, foo) end,
        fun(D) -> alcove:getpid(D, [], -5) end,
        fun(D) -> alcove:getpid(D, [], foo) end,
        fun(D) -> alcove:getopt(D, [], "maxchild") end,
        fun(D) -> alcove:setopt(D, [], maxchild, 1 bsl 40) end,
        fun(D) -> alcove:setopt(D, [], maxchild, "1") end,
        fun(D) -> alcove:exit(D, [], 1.0) end,
        fun(D) -> alcove:clone(D, [], clone_newpid) end,
        fun(D) -> alcove:clone(D, [], [1.5]) end,
        fun(D) -> alcove:sigaction(D, [], sigusr1, bogus) end,
        fun(D) -> alcove:waitpid(D, [], -1, foo) end,
        fun(D) -> alcove:close(D, [], foo) end,
        fun(D) -> alcove:errno_id(D, [], eperm) end,
        fun(D) -> alcove:signal_constant(D, [], 15) end,
        fun(D) -> alcove:getcpid(D, [], foo, pid) end,
        fun(D) -> alcove:filter(D, [], foo) end
    ],
    [{'EXIT', {badarg, _}} = (catch F(Fake)) || F <- Calls],
    {'EXIT', {badarg, _}} = (catch alcove:getpid(not_a_pid, [])),
    %% the first message the stand-in got is this one
    Fake ! marker,
    receive {fake, First} -> marker = First after ?WAIT -> ct:fail(no_marker) end,
    unlink(Fake),
    exit(Fake, kill),
    %% the same calls against the real driver: badarg, and it is fine
    [{'EXIT', {badarg, _}} = (catch F(Drv)) || F <- Calls],
    true = is_integer(alcove:getpid(Drv, [])).

fake(Parent) ->
    receive M -> Parent ! {fake, M} end,
    fake(Parent).

%% A call that cannot be answered within its timeout exits the caller
%% with {timeout, _}; the late reply goes to the owner as alcove_call,
%% and the next call gets its own reply.
timeout_late_reply(Config) ->
    Drv = ?config(drv, Config),
    {ok, C} = alcove:fork(Drv, []),
    ok = alcove:kill(Drv, [], C, sigstop),
    {'EXIT', {timeout, _}} = (catch alcove:getpid(Drv, [C], 100)),
    ok = alcove:kill(Drv, [], C, sigcont),
    receive
        {alcove_call, Drv, [C], Late} -> C = Late
    after ?WAIT ->
        ct:fail(no_late_reply)
    end,
    C = alcove:getpid(Drv, [C]),
    %% the late reply was delivered once
    receive
        {alcove_call, Drv, _, _} = Again -> ct:fail({again, Again})
    after 0 ->
        ok
    end,
    %% a different call after a timed out one gets its own answer
    V = alcove:version(Drv, []),
    V = alcove:version(Drv, [C]),
    C = alcove:getcpid(Drv, [], C, pid).

%% A reply the driver sends after the caller's timeout is over but before
%% it handles the caller's cancel still reaches the owner, once, and the
%% driver keeps nothing of the call. The order is forced: the driver and
%% the caller are suspended while the child, blocked reading a FIFO,
%% answers when the case writes to it, and the caller's cancel is let
%% into the driver's queue only behind that reply.
timeout_reply_crosses_cancel(Config) ->
    Drv = ?config(drv, Config),
    Fifo = filename:join(?config(priv_dir, Config), "crosses_cancel.fifo"),
    ok = alcove:mkfifo(Drv, [], Fifo, 8#600),
    {ok, C} = alcove:fork(Drv, []),
    {ok, Fd} = alcove:open(Drv, [C], Fifo, [o_rdwr], 0),
    Self = self(),
    true = erlang:suspend_process(Drv),
    Caller = spawn_link(fun() ->
                                Self ! {self(), catch alcove:read(Drv, [C], Fd, 1, ?CROSS_TIMEOUT)}
                        end),
    true = queued(Drv, fun({'$alcove_call', _, Pids, _, _}) -> Pids =:= [C]; (_) -> false end,
                  ?WAIT),
    true = erlang:suspend_process(Caller),
    %% the order cannot be forced if the caller gave up before it was
    %% suspended (it had ?CROSS_TIMEOUT for it)
    lists:any(fun is_cancel/1, element(2, process_info(Drv, messages)))
        andalso ct:fail(caller_gave_up_before_suspended),
    true = erlang:resume_process(Drv),
    %% the child reads the FIFO: the call is pending, unanswered
    true = alcove_test:poll(fun() -> has_call(Drv, [C]) end, true, ?WAIT),
    true = erlang:suspend_process(Drv),
    ok = file:write_file(Fifo, <<"x">>),
    true = queued(Drv, fun({P, {data, _}}) -> is_port(P); (_) -> false end, ?WAIT),
    true = erlang:resume_process(Caller),
    true = queued(Drv, fun is_cancel/1, ?CROSS_TIMEOUT + ?WAIT),
    true = erlang:resume_process(Drv),
    receive {Caller, Raised} -> {'EXIT', {timeout, _}} = Raised
    after ?WAIT -> ct:fail(caller_not_done)
    end,
    receive {alcove_call, Drv, [C], Late} -> {ok, <<"x">>} = Late
    after ?WAIT -> ct:fail(late_reply_lost)
    end,
    State = sys:get_state(Drv),
    0 = map_size(element(?STATE_CANCELLED, State)),
    0 = map_size(element(?STATE_PENDING, State)),
    receive {alcove_call, Drv, _, _} = Again -> ct:fail({again, Again})
    after 0 -> ok
    end,
    C = alcove:getpid(Drv, [C]).

is_cancel(M) -> element(1, M) =:= '$alcove_cancel'.

%% Whether a message for which F holds is in the queue of the suspended
%% process Pid within T ms (polled: it may be on its way).
queued(Pid, F, T) ->
    alcove_test:poll(fun() -> lists:any(F, element(2, process_info(Pid, messages))) end,
                     true, T).

has_call(Drv, Pids) ->
    lists:any(fun(E) -> element(1, E) =:= call andalso element(3, E) =:= Pids end,
              maps:values(element(?STATE_PENDING, sys:get_state(Drv)))).

%% An atom constant the platform lacks is {error, enotsup}.
enotsup(Config) ->
    Drv = ?config(drv, Config),
    {ok, C} = alcove:fork(Drv, []),
    {error, enotsup} = alcove:kill(Drv, [], C, sig_nonexistent),
    {error, enotsup} = alcove:sigaction(Drv, [C], sig_nonexistent, sig_ign),
    {error, enotsup} = alcove:clone(Drv, [], [clone_nonexistent]),
    {error, enotsup} = alcove:clone(Drv, [], [clone_newuts, clone_nonexistent]),
    {error, enotsup} = alcove:waitpid(Drv, [C], -1, [w_nonexistent]),
    %% nothing happened: C is alive, no new child
    C = alcove:getpid(Drv, [C]),
    [#alcove_pid{pid = C}] = alcove:cpid(Drv, []).

%% The one call table: every call has its number, both API arities
%% (with and without timeout), and numbers and names map both ways.
call_table(_Config) ->
    Calls = alcove_proto:calls(),
    true = length(Calls) > 0,
    true = length(lists:usort(Calls)) =:= length(Calls),
    Nrs = [alcove_proto:call(C) || C <- Calls],
    Nrs = lists:seq(0, length(Calls) - 1),
    Calls = [alcove_proto:name(N) || N <- Nrs],
    Exports = alcove:module_info(exports),
    Missing = [C || C <- Calls,
                    not (lists:any(fun({F, A}) -> F =:= C andalso A >= 2 end, Exports))],
    [] = Missing,
    %% each call's arities differ by the timeout
    lists:foreach(
      fun(C) ->
              Arities = lists:sort([A || {F, A} <- Exports, F =:= C]),
              true = length(Arities) >= 2,
              true = lists:any(fun(A) -> lists:member(A + 1, Arities) end, Arities)
      end, Calls),
    {'EXIT', {badarg, _}} = (catch alcove_proto:call(no_such_call)),
    ok.

%% Every option of alcove_drv:start/1: the command line it runs
%% (getopts/1), and its effect on a port started with it.
driver_options(_Config) ->
    Prog = alcove_drv:progname(),
    true = filelib:is_regular(Prog),
    ["env", "FOO=baz", Prog, "-c", "7", "-d", "3", "-e", "0", "-t", "0",
     "-f", "5", "-s", "9"] =
        alcove_drv:getopts([{exec, "env FOO=baz"}, {progname, Prog},
                            {maxchild, 7}, {maxforkdepth, 3},
                            {exit_status, 0}, {termsig, 0},
                            {flowcontrol, 5}, {signaloneof, 9}]),
    {ok, Drv} = alcove_drv:start([{exec, "env FOO=baz"}, {progname, Prog},
                                  {env, [{"BAR", "qux"}]}, {ctldir, "/nonexistent"},
                                  stderr_to_stdout,
                                  {maxchild, 7}, {maxforkdepth, 3},
                                  {exit_status, 0}, {termsig, 0},
                                  {flowcontrol, 5}, {signaloneof, 9}]),
    <<"baz">> = alcove:getenv(Drv, [], "FOO"),
    <<"qux">> = alcove:getenv(Drv, [], "BAR"),
    [7, 3, 0, 0, 5, 9] = [alcove:getopt(Drv, [], O)
                          || O <- [maxchild, maxforkdepth, exit_status,
                                   termsig, flowcontrol, signaloneof]],
    ok = alcove_drv:stop(Drv),
    {ok, Drv2} = alcove_drv:start_link([{maxforkdepth, 1}]),
    true = lists:member(Drv2, element(2, process_info(self(), links))),
    {ok, C} = alcove:fork(Drv2, []),
    {error, eagain} = alcove:fork(Drv2, [C]),
    ok = alcove_drv:stop(Drv2),
    {error, {enoent, _}} = alcove_drv:start([{progname, "/nonexistent/alcove"}]),
    ok.
