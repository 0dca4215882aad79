%% SPDX-License-Identifier: ISC
%% Seccomp filters: the reference's prctl example, seccomp(2), and the
%% programs alcove_seccomp builds from system call names. Each filter is
%% installed in a forked child: a denied call kills it ({termsig,
%% sigsys}, the call raising that in the caller) while its other calls,
%% its siblings and the port go on.
%%
%% The call denied is ptrace: the event loop makes it only when asked,
%% and a PID that does not exist makes it harmless where it is allowed
%% ({error, esrch}).
-module(alcove_seccomp_SUITE).

-include_lib("common_test/include/ct.hrl").
-include_lib("alcove/include/alcove.hrl").
-include_lib("alcove/include/alcove_seccomp.hrl").
-include("alcove_test.hrl").

-export([all/0, suite/0]).
-export([
    prctl_example/1,
    seccomp_call/1,
    seccomp_einval/1,
    seccomp_enotsup/1,
    prctl_seccomp_einval/1,
    deny_list/1,
    deny_list_inherited/1,
    deny_list_errno/1,
    allow_list/1,
    allow_list_errno/1,
    filter_instructions/1,
    filter_badarg/1,
    program/1,
    actions/1,
    fork_under_filter/1
]).

suite() ->
    [{timetrap, {seconds, 60}}, {ct_hooks, [{alcove_test, [port]}]}].

all() ->
    [
        prctl_example,
        seccomp_call,
        seccomp_einval,
        seccomp_enotsup,
        prctl_seccomp_einval,
        deny_list,
        deny_list_inherited,
        deny_list_errno,
        allow_list,
        allow_list_errno,
        filter_instructions,
        filter_badarg,
        program,
        actions,
        fork_under_filter
    ].

%% A process whose filter denies (with an errno) what the port may use to
%% make a child, ioctl and close_range, still forks, runs calls in the
%% child and execs there: nothing of the loop depends on them.
fork_under_filter(Config) ->
    Drv = ?config(drv, Config),
    {ok, C} = alcove:fork(Drv, []),
    ok = alcove_seccomp:install(
           Drv, [C],
           alcove_seccomp:filter(Drv, [C], {deny, [sys_ioctl, sys_close_range]},
                                 {errno, eperm})),
    {ok, G} = alcove:fork(Drv, [C]),
    G = alcove:getpid(Drv, [C, G]),
    {ok, G2} = alcove:fork(Drv, [C, G]),
    G2 = alcove:getpid(Drv, [C, G, G2]),
    ok = alcove:execvp(Drv, [C, G], "/bin/sh", ["sh", "-c", "echo forked"]),
    {0, <<"forked\n">>, <<>>} = alcove_test:output(Drv, [C, G]),
    C = alcove:getpid(Drv, [C]).

%%% Helpers

%% A call that the filters deny; without them, esrch.
ptrace(Drv, Pids) ->
    alcove:ptrace(Drv, Pids, ptrace_peekdata, ?NO_SUCH_PID, 0, 0, ?WAIT).

%% The process at the end of Pids made a denied call: it died of SIGSYS.
killed(Drv, Pids) ->
    {'EXIT', {{termsig, sigsys}, _}} = (catch ptrace(Drv, Pids)),
    {termsig, sigsys} = alcove:event(Drv, Pids, ?WAIT),
    ok.

%% The process allows other calls, and the port and a sibling are not
%% filtered.
unfiltered_elsewhere(Drv, C) ->
    C = alcove:getpid(Drv, [C]),
    {ok, Sibling} = alcove:fork(Drv, []),
    {error, esrch} = ptrace(Drv, [Sibling]),
    {error, esrch} = ptrace(Drv, []),
    ok.

%% The deny filter of the reference's example, with the macros: the bare
%% atoms of the reference (sys_read, sys_write) cannot go through
%% list_to_binary/1, the instructions must be binaries: ?DENY_SYSCALL
%% (or ?ALLOW_SYSCALL) of the number alcove:define/3 gives.
deny_ptrace(Drv, Pids) ->
    Arch = alcove:define(Drv, Pids, alcove:audit_arch()),
    [?VALIDATE_ARCHITECTURE(Arch),
     ?EXAMINE_SYSCALL,
     ?DENY_SYSCALL(alcove:define(Drv, Pids, sys_ptrace)),
     ?BPF_STMT(?BPF_RET + ?BPF_K, ?SECCOMP_RET_ALLOW)].

%% The reference's struct sock_fprog.
prog(Filter) ->
    Pad = (erlang:system_info({wordsize, external}) - 2) * 8,
    [<<(iolist_size(Filter) div 8):2/native-unsigned-integer-unit:8>>,
     <<0:Pad>>,
     {ptr, list_to_binary(Filter)}].

%%% The calls

%% The reference's example, in a child: pr_set_no_new_privs, then
%% pr_set_seccomp with the Cstruct of the program, which comes back as it
%% went (the mode atom as its value). pr_get_seccomp says mode 2, the
%% denied call kills, the rest goes on.
prctl_example(Config) ->
    Drv = ?config(drv, Config),
    {ok, C} = alcove:fork(Drv, []),
    Filter = deny_ptrace(Drv, [C]),
    {ok, _, _, _, _, _} =
        alcove:prctl(Drv, [C], pr_set_no_new_privs, 1, 0, 0, 0),
    Prog = prog(Filter),
    Mode = alcove:prctl_constant(Drv, [], seccomp_mode_filter),
    {ok, 0, Mode, Prog, 0, 0} =
        alcove:prctl(Drv, [C], pr_set_seccomp, seccomp_mode_filter, Prog,
                     0, 0),
    {ok, Mode, 0, 0, 0, 0} =
        alcove:prctl(Drv, [C], pr_get_seccomp, 0, 0, 0, 0),
    {ok, 0, 0, 0, 0, 0} =
        alcove:prctl(Drv, [], pr_get_seccomp, 0, 0, 0, 0),
    ok = unfiltered_elsewhere(Drv, C),
    killed(Drv, [C]).

%% The same program through seccomp(SECCOMP_SET_MODE_FILTER).
seccomp_call(Config) ->
    Drv = ?config(drv, Config),
    {ok, C} = alcove:fork(Drv, []),
    {ok, _, _, _, _, _} =
        alcove:prctl(Drv, [C], pr_set_no_new_privs, 1, 0, 0, 0),
    ok = alcove:seccomp(Drv, [C], seccomp_set_mode_filter, 0,
                        prog(deny_ptrace(Drv, [C]))),
    ok = unfiltered_elsewhere(Drv, C),
    killed(Drv, [C]).

%% Programs and arguments the kernel refuses: no instructions, a program
%% that does not end in a return, unknown flags or operation; the
%% process is not filtered after.
seccomp_einval(Config) ->
    Drv = ?config(drv, Config),
    {ok, C} = alcove:fork(Drv, []),
    Op = seccomp_set_mode_filter,
    Empty = [<<0:16/native>>, <<0:(alcove:wordalign(2) * 8)>>, {ptr, <<>>}],
    {error, einval} = alcove:seccomp(Drv, [C], Op, 0, Empty),
    {error, einval} = alcove:seccomp(Drv, [C], Op, 0,
                                     prog([?EXAMINE_SYSCALL])),
    Good = prog(deny_ptrace(Drv, [C])),
    {error, einval} = alcove:seccomp(Drv, [C], Op, 16#40000000, Good),
    {error, einval} = alcove:seccomp(Drv, [C], 999, 0, Good),
    {error, einval} = alcove:seccomp(Drv, [C], -1, 0, Good),
    {error, esrch} = ptrace(Drv, [C]).

%% Names unknown to the port: enotsup.
seccomp_enotsup(Config) ->
    Drv = ?config(drv, Config),
    {error, enotsup} = alcove:seccomp(Drv, [], seccomp_no_such_op, 0, <<>>),
    {error, enotsup} =
        alcove:seccomp(Drv, [], seccomp_set_mode_filter, [no_such_flag],
                       <<>>).

%% pr_set_seccomp refuses a program that does not end in a return.
prctl_seccomp_einval(Config) ->
    Drv = ?config(drv, Config),
    {ok, C} = alcove:fork(Drv, []),
    {error, einval} =
        alcove:prctl(Drv, [C], pr_set_seccomp, seccomp_mode_filter,
                     prog([?EXAMINE_SYSCALL]), 0, 0),
    {error, esrch} = ptrace(Drv, [C]).

%%% alcove_seccomp

%% A deny list installed by install/3 (seccomp) and install/4 (prctl):
%% the call listed kills, the others go on; unknown names are left out.
deny_list(Config) ->
    Drv = ?config(drv, Config),
    [begin
         {ok, C} = alcove:fork(Drv, []),
         Insns = alcove_seccomp:filter(Drv, [C],
                                       {deny, [sys_no_such_call, sys_ptrace]},
                                       kill),
         ok = Install(C, Insns),
         {ok, 1, 0, 0, 0, 0} =
             alcove:prctl(Drv, [C], pr_get_no_new_privs, 0, 0, 0, 0),
         ok = unfiltered_elsewhere(Drv, C),
         killed(Drv, [C])
     end || Install <- [fun(C, I) -> alcove_seccomp:install(Drv, [C], I) end,
                        fun(C, I) ->
                                alcove_seccomp:install(Drv, [C], I, prctl)
                        end,
                        fun(C, I) ->
                                alcove_seccomp:install(Drv, [C], I, seccomp)
                        end]],
    ok.

%% A filter holds for the processes the filtered one creates.
deny_list_inherited(Config) ->
    Drv = ?config(drv, Config),
    {ok, C} = alcove:fork(Drv, []),
    ok = alcove_seccomp:install(
           Drv, [C],
           alcove_seccomp:filter(Drv, [C], {deny, [sys_ptrace]}, kill)),
    {ok, G} = alcove:fork(Drv, [C]),
    killed(Drv, [C, G]),
    C = alcove:getpid(Drv, [C]).

%% The errno action: the denied call fails, the process lives on.
deny_list_errno(Config) ->
    Drv = ?config(drv, Config),
    {ok, C} = alcove:fork(Drv, []),
    ok = alcove_seccomp:install(
           Drv, [C],
           alcove_seccomp:filter(Drv, [C], {deny, [sys_ptrace]},
                                 {errno, eperm})),
    {error, eperm} = ptrace(Drv, [C]),
    {ok, C2} = alcove:fork(Drv, []),
    ok = alcove_seccomp:install(
           Drv, [C2],
           alcove_seccomp:filter(Drv, [C2], {deny, [sys_ptrace]},
                                 {errno, 13})),
    {error, eacces} = ptrace(Drv, [C2]),
    C = alcove:getpid(Drv, [C]),
    C2 = alcove:getpid(Drv, [C2]).

%% An allow list with the default kill: every call number up to 1023 but
%% ptrace's is allowed (the event loop makes a libc's worth of calls), so
%% ptrace is the one that kills.
allow_list(Config) ->
    Drv = ?config(drv, Config),
    {ok, C} = alcove:fork(Drv, []),
    Ptrace = alcove:syscall_constant(Drv, [C], sys_ptrace),
    Insns = alcove_seccomp:filter(Drv, [C],
                                  {allow, lists:seq(0, 1023) -- [Ptrace]},
                                  kill),
    true = length(Insns) =< ?BPF_MAXINSNS,
    ok = alcove_seccomp:install(Drv, [C], Insns),
    ok = unfiltered_elsewhere(Drv, C),
    killed(Drv, [C]).

%% An allow list whose default is an errno: the call not listed fails
%% with it, through install/4 with prctl.
allow_list_errno(Config) ->
    Drv = ?config(drv, Config),
    {ok, C} = alcove:fork(Drv, []),
    Ptrace = alcove:syscall_constant(Drv, [C], sys_ptrace),
    Insns = alcove_seccomp:filter(Drv, [C],
                                  {allow, lists:seq(0, 1023) -- [Ptrace]},
                                  {errno, enosys}),
    ok = alcove_seccomp:install(Drv, [C], Insns, prctl),
    {error, enosys} = ptrace(Drv, [C]),
    C = alcove:getpid(Drv, [C]).

%% The exact program: check the architecture, load the number, one
%% jump and return per call, the default return; a deny list on x86_64
%% also stops the x32 calls.
filter_instructions(Config) ->
    Drv = ?config(drv, Config),
    Arch = alcove:define(Drv, [], alcove:audit_arch()),
    Read = alcove:syscall_constant(Drv, [], sys_read),
    Write = alcove:syscall_constant(Drv, [], sys_write),
    Head = [?BPF_STMT(?BPF_LD + ?BPF_W + ?BPF_ABS, 4),
            ?BPF_JUMP(?BPF_JMP + ?BPF_JEQ + ?BPF_K, Arch, 1, 0),
            ?BPF_STMT(?BPF_RET + ?BPF_K, ?SECCOMP_RET_KILL),
            ?BPF_STMT(?BPF_LD + ?BPF_W + ?BPF_ABS, 0)],
    Head = lists:flatten([?VALIDATE_ARCHITECTURE(Arch), ?EXAMINE_SYSCALL]),
    Allow = Head ++ lists:flatten([?ALLOW_SYSCALL(Read), ?ALLOW_SYSCALL(Write)])
        ++ [?BPF_STMT(?BPF_RET + ?BPF_K, ?SECCOMP_RET_ERRNO(1))],
    Allow = alcove_seccomp:filter(Drv, [],
                                  {allow, [sys_read, sys_no_such, Write]},
                                  {errno, 1}),
    X32 = case alcove:audit_arch() of
              audit_arch_x86_64 ->
                  [?BPF_JUMP(?BPF_JMP + ?BPF_JGE + ?BPF_K, 16#40000000, 0, 1),
                   ?BPF_STMT(?BPF_RET + ?BPF_K, ?SECCOMP_RET_KILL)];
              _ ->
                  []
          end,
    Deny = Head ++ X32 ++ lists:flatten([?DENY_SYSCALL(Read)])
        ++ [?BPF_STMT(?BPF_RET + ?BPF_K, ?SECCOMP_RET_ALLOW)],
    Deny = alcove_seccomp:filter(Drv, [], {deny, [sys_read]}, kill),
    %% each instruction is a struct sock_filter
    [<<16#20:16/native, 0, 0, 4:32/native>> | _] = Allow,
    true = lists:all(fun(I) -> byte_size(I) =:= 8 end, Allow ++ Deny),
    [Read, Write] = alcove_seccomp:syscalls(Drv, [], [sys_read, no, Write]).

%% Rules, calls and actions of the wrong shape: badarg.
filter_badarg(Config) ->
    Drv = ?config(drv, Config),
    Bad = [{{permit, [sys_read]}, kill},
           {{allow, sys_read}, kill},
           {{allow, ["sys_read"]}, kill},
           {{allow, [-1]}, kill},
           {{deny, [sys_read]}, die},
           {{deny, [sys_read]}, {errno, no_such_errno}},
           {{deny, [sys_read]}, {errno, 16#10000}},
           {{deny, [sys_read]}, {trap, -1}},
           {{deny, [sys_read]}, 16#100000000}],
    [{'EXIT', {badarg, _}} =
         (catch alcove_seccomp:filter(Drv, [], Rule, Action))
     || {Rule, Action} <- Bad],
    {'EXIT', {badarg, _}} =
        (catch alcove_seccomp:install(Drv, [], [?EXAMINE_SYSCALL], ioctl)),
    ok.

%% program/1 is the reference's struct sock_fprog; at least one and at
%% most BPF_MAXINSNS instructions of 8 bytes.
program(_Config) ->
    Insns = [?EXAMINE_SYSCALL, [?BPF_STMT(?BPF_RET + ?BPF_K, 0)]],
    Prog = prog(Insns),
    Prog = alcove_seccomp:program(Insns),
    [<<2:16/native>>, _, {ptr, <<_:16/binary>>}] = Prog,
    Max = lists:duplicate(?BPF_MAXINSNS, ?EXAMINE_SYSCALL),
    [<<4096:16/native>> | _] = alcove_seccomp:program(Max),
    [{'EXIT', {badarg, _}} = (catch alcove_seccomp:program(P))
     || P <- [[], <<1, 2, 3>>, [?EXAMINE_SYSCALL, <<0>>],
              [?EXAMINE_SYSCALL | Max], atom]],
    ok.

%% The value of each action.
actions(Config) ->
    Drv = ?config(drv, Config),
    [0, 16#80000000, 16#00030000, 16#00030007, 16#7ff00009, 16#7ffc0000,
     16#7fff0000, 16#00050001, 16#00050026, 42] =
        [alcove_seccomp:action(Drv, [], A)
         || A <- [kill, kill_process, trap, {trap, 7}, {trace, 9}, log,
                  allow, {errno, eperm}, {errno, 38}, 42]],
    EPERM = ?SECCOMP_RET_ERRNO(1),
    EPERM = alcove_seccomp:action(Drv, [], {errno, eperm}),
    ok.
