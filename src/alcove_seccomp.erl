%% SPDX-License-Identifier: ISC
%% @doc Seccomp filters from system call names: classic BPF programs
%% that allow a list of calls (and apply an action to the others) or
%% apply an action to a list of calls (and allow the others), and their
%% installation in a process of the port (Linux).
%%
%% A program is a list of 8-byte instructions (include/alcove_seccomp.hrl);
%% program/1 makes the struct sock_fprog Cstruct that seccomp/5 and
%% prctl/7 take. An instruction can also be written as a record,
%% `#alcove_insn{}' (insn/1), or with stmt/2 and jump/4, the checked
%% forms of ?BPF_STMT and ?BPF_JUMP; offset/1 gives the offsets of
%% struct seccomp_data.
%%
%% ```
%% Insns = alcove_seccomp:filter(Drv, [C], {deny, [sys_ptrace]}, kill),
%% ok = alcove_seccomp:install(Drv, [C], Insns)
%% '''
-module(alcove_seccomp).

-include("alcove_seccomp.hrl").

-export([
    filter/4,
    lookups/2,
    build/3,
    syscalls/3,
    action/3,
    program/1,
    install/3,
    install/4,
    insn/1,
    stmt/2,
    jump/4,
    offset/1
]).

-export_type([rule/0, action/0, method/0]).

%% The 16 bits of data an action carries.
-define(IS_DATA(N), (is_integer(N) andalso N >= 0 andalso N =< 16#ffff)).
-define(IS_U8(N), (is_integer(N) andalso N >= 0 andalso N =< 16#ff)).
-define(IS_U16(N), ?IS_DATA(N)).
-define(IS_U32(N), (is_integer(N) andalso N >= 0 andalso N =< 16#ffffffff)).

-type syscall() :: atom() | non_neg_integer().
-type rule() :: {allow, [syscall()]} | {deny, [syscall()]}.
-type action() :: kill | kill_process | trap | log | allow
    | {errno, alcove:constant()} | {trap, 0..16#ffff}
    | {trace, 0..16#ffff} | 0..16#ffffffff.
-type method() :: seccomp | prctl.

%% @doc The instructions of a filter for the process at the end of the
%% fork chain, for its architecture and system call numbers.
%%
%% `{allow, Calls}': the calls listed are allowed, any other gets Action.
%% `{deny, Calls}': the calls listed get Action, any other is allowed;
%% on x86_64 the calls of the x32 ABI get Action too, as they would
%% otherwise pass under other numbers.
%%
%% A system call is a name (`sys_read') or a number. A name this system
%% does not have is left out: no process here can make that call.
%% Any call of another architecture kills the process.
-spec filter(alcove:drv(), alcove:fork_chain(), rule(), action()) -> [binary()].
filter(Drv, Pids, Rule, Action) ->
    Calls = lookups(Rule, Action),
    {ok, Results} = alcove:sequence(Drv, Pids, Calls),
    build(Rule, Action, Results).

%% @doc The calls whose results build/3 needs to make the filter of
%% filter/4, for alcove:sequence/3 in the process the filter is for (or
%% in any process of the same port): the architecture's value, the
%% number of each system call named, and the errno names when Action
%% names one.
-spec lookups(rule(), action()) -> [alcove:sequence_call()].
lookups({Kind, Calls}, Action)
  when (Kind =:= allow orelse Kind =:= deny), is_list(Calls), length(Calls) >= 0 ->
    check(Calls),
    Errnos = case Action of
                 {errno, Name} when is_atom(Name) -> errno_ids();
                 _ -> _ = action(Action), []
             end,
    [{constant_value, [[atom_to_binary(alcove:audit_arch())]]}]
        ++ [{syscall_constant, [C]} || C <- Calls, is_atom(C)]
        ++ [{errno_id, [N]} || N <- Errnos];
lookups(_, _) ->
    erlang:error(badarg).

%% @doc The filter of filter/4 from the results of the sequence of
%% lookups/2 with the same Rule and Action. An errno name none of the
%% process's errno values has raises badarg.
-spec build(rule(), action(), [term()]) -> [binary()].
build({Kind, Calls}, Action, Results) ->
    [Arch | Rest] = Results,
    Arch =:= unknown andalso erlang:error(enotsup),
    {Found, Names} = lists:split(length([C || C <- Calls, is_atom(C)]), Rest),
    Nrs = numbers(Calls, Found),
    Ret = case Action of
              {errno, Errno} when is_atom(Errno) -> ?SECCOMP_RET_ERRNO(errno(Names, Errno));
              _ -> action(Action)
          end,
    Head = lists:flatten([?VALIDATE_ARCHITECTURE(Arch), ?EXAMINE_SYSCALL]),
    Body = case Kind of
               allow ->
                   [match(Nr, ?SECCOMP_RET_ALLOW) || Nr <- Nrs]
                       ++ [ret(Ret)];
               deny ->
                   x32(alcove:audit_arch(), Ret) ++ [match(Nr, Ret) || Nr <- Nrs]
                       ++ [ret(?SECCOMP_RET_ALLOW)]
           end,
    lists:flatten([Head | Body]).

check(Calls) ->
    lists:foreach(fun(C) -> is_atom(C) orelse ?IS_U32(C) orelse erlang:error(badarg) end,
                  Calls).

%% The numbers of Calls, in order, from the numbers looked up for the
%% names; a name this system does not have is left out.
numbers([], []) -> [];
numbers([Nr | Calls], Found) when is_integer(Nr) -> [Nr | numbers(Calls, Found)];
numbers([_ | Calls], [unknown | Found]) -> numbers(Calls, Found);
numbers([_ | Calls], [Nr | Found]) -> [Nr | numbers(Calls, Found)].

%% @doc The numbers of system calls on the process at the end of the
%% fork chain, in order; names it does not know are left out.
-spec syscalls(alcove:drv(), alcove:fork_chain(), [syscall()]) ->
    [non_neg_integer()].
syscalls(Drv, Pids, Calls) when is_list(Calls), length(Calls) >= 0 ->
    check(Calls),
    {ok, Found} = alcove:sequence(Drv, Pids, [{syscall_constant, [C]} || C <- Calls,
                                                                       is_atom(C)]),
    numbers(Calls, Found);
syscalls(_, _, _) ->
    erlang:error(badarg).

%% @doc The 32-bit value a filter returns for an action: an errno may be
%% a name (`eperm'), looked up in the process.
-spec action(alcove:drv(), alcove:fork_chain(), action()) ->
    0..16#ffffffff.
action(Drv, Pids, {errno, Name}) when is_atom(Name) ->
    {ok, Names} = alcove:sequence(Drv, Pids, [{errno_id, [N]} || N <- errno_ids()]),
    ?SECCOMP_RET_ERRNO(errno(Names, Name));
action(_, _, Action) ->
    action(Action).

action(kill) -> ?SECCOMP_RET_KILL;
action(kill_process) -> ?SECCOMP_RET_KILL_PROCESS;
action(trap) -> ?SECCOMP_RET_TRAP;
action(log) -> ?SECCOMP_RET_LOG;
action(allow) -> ?SECCOMP_RET_ALLOW;
action({trap, N}) when ?IS_DATA(N) -> ?SECCOMP_RET_TRAP(N);
action({trace, N}) when ?IS_DATA(N) -> ?SECCOMP_RET_TRACE(N);
action({errno, N}) when ?IS_DATA(N) -> ?SECCOMP_RET_ERRNO(N);
action(N) when is_integer(N), N >= 0, N =< 16#ffffffff -> N;
action(_) -> erlang:error(badarg).

%% The port names errno values but has no table from names: the name of
%% each is looked up (the errno values of the systems alcove runs on are
%% below 256), and Name is the first that has it.
errno_ids() ->
    lists:seq(1, 255).

errno(Names, Name) ->
    errno(Names, Name, 1).

errno([Name | _], Name, N) -> N;
errno([_ | Names], Name, N) -> errno(Names, Name, N + 1);
errno([], _, _) -> erlang:error(badarg).

%% @doc The struct sock_fprog of a program: its length in instructions,
%% padding to a word, and a pointer to the instructions.
-spec program(iodata()) -> alcove:cstruct().
program(Insns) ->
    Bin = iolist_to_binary(Insns),
    Size = byte_size(Bin),
    Len = Size div 8,
    (Size rem 8 =:= 0 andalso Len >= 1 andalso Len =< ?BPF_MAXINSNS)
        orelse erlang:error(badarg),
    [<<Len:16/native-unsigned>>,
     <<0:(alcove:wordalign(2) * 8)>>,
     {ptr, Bin}].

%% @doc Install a program in the process at the end of the fork chain:
%% prctl(PR_SET_NO_NEW_PRIVS) then seccomp(SECCOMP_SET_MODE_FILTER), or
%% prctl(PR_SET_SECCOMP) on a kernel without seccomp(2). The filter
%% holds for the process and the processes it creates, for good.
-spec install(alcove:drv(), alcove:fork_chain(), iodata()) ->
    ok | {error, alcove:posix()}.
install(Drv, Pids, Insns) ->
    case install(Drv, Pids, Insns, seccomp) of
        {error, enosys} -> install(Drv, Pids, Insns, prctl);
        Result -> Result
    end.

%% @doc Like install/3, with the call that loads the program.
-spec install(alcove:drv(), alcove:fork_chain(), iodata(), method()) ->
    ok | {error, alcove:posix()}.
install(Drv, Pids, Insns, Method)
  when Method =:= seccomp; Method =:= prctl ->
    Prog = program(Insns),
    case alcove:prctl(Drv, Pids, pr_set_no_new_privs, 1, 0, 0, 0) of
        {ok, _, _, _, _, _} -> load(Drv, Pids, Prog, Method);
        {error, _} = Error -> Error
    end;
install(_, _, _, _) ->
    erlang:error(badarg).

load(Drv, Pids, Prog, seccomp) ->
    alcove:seccomp(Drv, Pids, seccomp_set_mode_filter, 0, Prog);
load(Drv, Pids, Prog, prctl) ->
    case alcove:prctl(Drv, Pids, pr_set_seccomp, seccomp_mode_filter, Prog,
                      0, 0) of
        {ok, _, _, _, _, _} -> ok;
        {error, _} = Error -> Error
    end.

%%% Instructions and struct seccomp_data (the reference's record API)

%% @doc An instruction as its 8 bytes, from its record; or the record of
%% an instruction's 8 bytes. A field out of its range raises badarg.
%%
%% ```
%% Insns = [alcove_seccomp:insn(#alcove_insn{code = ?BPF_RET + ?BPF_K,
%%                                           k = ?SECCOMP_RET_ALLOW})]
%% '''
-spec insn(#alcove_insn{}) -> binary();
          (binary()) -> #alcove_insn{}.
insn(#alcove_insn{code = Code, jt = JT, jf = JF, k = K})
  when ?IS_U16(Code), ?IS_U8(JT), ?IS_U8(JF), ?IS_U32(K) ->
    ?BPF_INSN(Code, JT, JF, K);
insn(?BPF_INSN(Code, JT, JF, K)) ->
    #alcove_insn{code = Code, jt = JT, jf = JF, k = K};
insn(_) ->
    erlang:error(badarg).

%% @doc The instruction Code with the constant K: ?BPF_STMT(Code, K),
%% range checked.
-spec stmt(0..16#ffff, 0..16#ffffffff) -> binary().
stmt(Code, K) ->
    insn(#alcove_insn{code = Code, k = K}).

%% @doc The jump Code comparing with K, skipping JT instructions if true
%% and JF if false: ?BPF_JUMP(Code, K, JT, JF), range checked.
-spec jump(0..16#ffff, 0..16#ffffffff, 0..16#ff, 0..16#ff) -> binary().
jump(Code, K, JT, JF) ->
    insn(#alcove_insn{code = Code, jt = JT, jf = JF, k = K}).

%% @doc Where a field of struct seccomp_data (#alcove_seccomp_data{})
%% starts, for a load (`?BPF_LD + ?BPF_W + ?BPF_ABS'): `nr', `arch',
%% `instruction_pointer', `args' or `{args, N}' (N from 0 to 5; an
%% argument is 64 bits in the host's byte order).
-spec offset(nr | arch | instruction_pointer | args | {args, 0..5}) ->
    non_neg_integer().
offset(nr) -> ?SECCOMP_DATA_NR;
offset(arch) -> ?SECCOMP_DATA_ARCH;
offset(instruction_pointer) -> ?SECCOMP_DATA_INSTRUCTION_POINTER;
offset(args) -> ?SECCOMP_DATA_ARGS;
offset({args, N}) when is_integer(N), N >= 0, N =< 5 ->
    ?SECCOMP_DATA_ARGS + 8 * N;
offset(_) -> erlang:error(badarg).

%%% Instructions

%% The accumulator holds the call number: return Ret if it is Nr.
match(Nr, Ret) ->
    [?BPF_JUMP(?BPF_JMP + ?BPF_JEQ + ?BPF_K, Nr, 0, 1), ret(Ret)].

ret(Ret) ->
    ?BPF_STMT(?BPF_RET + ?BPF_K, Ret).

%% x32 calls share the audit arch of x86_64, with a bit set in nr.
x32(audit_arch_x86_64, Ret) ->
    [?BPF_JUMP(?BPF_JMP + ?BPF_JGE + ?BPF_K, ?X32_SYSCALL_BIT, 0, 1),
     ret(Ret)];
x32(_, _) ->
    [].
