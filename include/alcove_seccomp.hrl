%% SPDX-License-Identifier: ISC
%% Classic BPF for seccomp filters (linux/filter.h, linux/bpf_common.h,
%% linux/seccomp.h): each instruction is an 8-byte binary, a struct
%% sock_filter {u16 code; u8 jt; u8 jf; u32 k}, in the host's byte order.
%% A program is an iolist of them: see alcove_seccomp for building and
%% installing one. ?BPF_INSN is the one encoding: ?BPF_STMT, ?BPF_JUMP and
%% the record #alcove_insn{} (alcove_seccomp:insn/1) all go through it.

-ifndef(ALCOVE_SECCOMP_HRL).
-define(ALCOVE_SECCOMP_HRL, true).

%% Instruction classes
-define(BPF_LD, 16#00).
-define(BPF_LDX, 16#01).
-define(BPF_ST, 16#02).
-define(BPF_STX, 16#03).
-define(BPF_ALU, 16#04).
-define(BPF_JMP, 16#05).
-define(BPF_RET, 16#06).
-define(BPF_MISC, 16#07).

%% ld/ldx: size
-define(BPF_W, 16#00).
-define(BPF_H, 16#08).
-define(BPF_B, 16#10).

%% ld/ldx: mode
-define(BPF_IMM, 16#00).
-define(BPF_ABS, 16#20).
-define(BPF_IND, 16#40).
-define(BPF_MEM, 16#60).
-define(BPF_LEN, 16#80).
-define(BPF_MSH, 16#a0).

%% alu
-define(BPF_ADD, 16#00).
-define(BPF_SUB, 16#10).
-define(BPF_MUL, 16#20).
-define(BPF_DIV, 16#30).
-define(BPF_OR, 16#40).
-define(BPF_AND, 16#50).
-define(BPF_LSH, 16#60).
-define(BPF_RSH, 16#70).
-define(BPF_NEG, 16#80).
-define(BPF_MOD, 16#90).
-define(BPF_XOR, 16#a0).

%% jmp
-define(BPF_JA, 16#00).
-define(BPF_JEQ, 16#10).
-define(BPF_JGT, 16#20).
-define(BPF_JGE, 16#30).
-define(BPF_JSET, 16#40).

%% source: the constant K or the index register X
-define(BPF_K, 16#00).
-define(BPF_X, 16#08).

%% ret: the accumulator
-define(BPF_A, 16#10).

%% misc
-define(BPF_TAX, 16#00).
-define(BPF_TXA, 16#80).

%% The parts of an opcode
-define(BPF_CLASS(Code), ((Code) band 16#07)).
-define(BPF_SIZE(Code), ((Code) band 16#18)).
-define(BPF_MODE(Code), ((Code) band 16#e0)).
-define(BPF_OP(Code), ((Code) band 16#f0)).
-define(BPF_SRC(Code), ((Code) band 16#08)).
-define(BPF_RVAL(Code), ((Code) band 16#18)).
-define(BPF_MISCOP(Code), ((Code) band 16#f8)).

-define(BPF_MAXINSNS, 4096).

%% One instruction, a struct sock_filter. The fields are not range
%% checked here (a binary field keeps the low bits): alcove_seccomp:insn/1,
%% stmt/2 and jump/4 check them.
-define(BPF_INSN(Code, JT, JF, K),
        <<(Code):16/native-unsigned, (JT):8, (JF):8,
          (K):32/native-unsigned>>).
-define(BPF_STMT(Code, K), ?BPF_INSN(Code, 0, 0, K)).
-define(BPF_JUMP(Code, K, JT, JF), ?BPF_INSN(Code, JT, JF, K)).

%% An instruction as a record: alcove_seccomp:insn/1 encodes it (and
%% decodes an encoded one).
-record(alcove_insn, {
    code = 0 :: 0..16#ffff,
    jt = 0 :: 0..16#ff,
    jf = 0 :: 0..16#ff,
    k = 0 :: 0..16#ffffffff
}).

%% Modes of prctl(PR_GET_SECCOMP) and prctl(PR_SET_SECCOMP)
-define(SECCOMP_MODE_DISABLED, 0).
-define(SECCOMP_MODE_STRICT, 1).
-define(SECCOMP_MODE_FILTER, 2).

%% Return actions, highest precedence first
-define(SECCOMP_RET_KILL_PROCESS, 16#80000000).
-define(SECCOMP_RET_KILL_THREAD, 16#00000000).
-define(SECCOMP_RET_KILL, ?SECCOMP_RET_KILL_THREAD).
-define(SECCOMP_RET_TRAP, 16#00030000).
-define(SECCOMP_RET_ERRNO, 16#00050000).
-define(SECCOMP_RET_USER_NOTIF, 16#7fc00000).
-define(SECCOMP_RET_TRACE, 16#7ff00000).
-define(SECCOMP_RET_LOG, 16#7ffc0000).
-define(SECCOMP_RET_ALLOW, 16#7fff0000).

%% The action with its data: the errno to fail with, the value a tracer
%% or the SIGSYS handler sees
-define(SECCOMP_RET_ERRNO(Errno),
        (?SECCOMP_RET_ERRNO bor ((Errno) band ?SECCOMP_RET_DATA))).
-define(SECCOMP_RET_TRAP(Data),
        (?SECCOMP_RET_TRAP bor ((Data) band ?SECCOMP_RET_DATA))).
-define(SECCOMP_RET_TRACE(Data),
        (?SECCOMP_RET_TRACE bor ((Data) band ?SECCOMP_RET_DATA))).

%% Masks of a return value
-define(SECCOMP_RET_ACTION_FULL, 16#ffff0000).
-define(SECCOMP_RET_ACTION, 16#7fff0000).
-define(SECCOMP_RET_DATA, 16#0000ffff).

%% offsetof(struct seccomp_data, _): int nr; u32 arch; u64
%% instruction_pointer; u64 args[6]
-define(SECCOMP_DATA_NR, 0).
-define(SECCOMP_DATA_ARCH, 4).
-define(SECCOMP_DATA_INSTRUCTION_POINTER, 8).
-define(SECCOMP_DATA_ARGS, 16).
-define(offsetof_syscall, ?SECCOMP_DATA_NR).
-define(offsetof_arch, ?SECCOMP_DATA_ARCH).
-define(OFFSET_SYSCALL_NR, ?SECCOMP_DATA_NR).
-define(OFFSET_ARCH_NR, ?SECCOMP_DATA_ARCH).

%% What a filter examines, a struct seccomp_data: the offset of each
%% field is alcove_seccomp:offset(Field).
-record(alcove_seccomp_data, {
    nr = 0 :: -16#80000000..16#7fffffff,
    arch = 0 :: 0..16#ffffffff,
    instruction_pointer = 0 :: 0..16#ffffffffffffffff,
    args = [0, 0, 0, 0, 0, 0] :: [0..16#ffffffffffffffff]
}).

%% x86_64: system calls of the x32 ABI have this bit set in nr, under
%% the same audit arch
-define(X32_SYSCALL_BIT, 16#40000000).

%% Kill the process unless the system call is of this architecture (an
%% integer: alcove:define(Drv, Pids, alcove:audit_arch())).
-define(VALIDATE_ARCHITECTURE(Arch), [
    ?BPF_STMT(?BPF_LD + ?BPF_W + ?BPF_ABS, ?SECCOMP_DATA_ARCH),
    ?BPF_JUMP(?BPF_JMP + ?BPF_JEQ + ?BPF_K, (Arch), 1, 0),
    ?BPF_STMT(?BPF_RET + ?BPF_K, ?SECCOMP_RET_KILL)
]).

%% Load the system call number into the accumulator.
-define(EXAMINE_SYSCALL,
        ?BPF_STMT(?BPF_LD + ?BPF_W + ?BPF_ABS, ?SECCOMP_DATA_NR)).

%% After ?EXAMINE_SYSCALL: allow, or deny, the system call numbered Nr
%% (an integer: alcove:define(Drv, Pids, sys_read)).
-define(ALLOW_SYSCALL(Nr), [
    ?BPF_JUMP(?BPF_JMP + ?BPF_JEQ + ?BPF_K, (Nr), 0, 1),
    ?BPF_STMT(?BPF_RET + ?BPF_K, ?SECCOMP_RET_ALLOW)
]).
-define(DENY_SYSCALL(Nr), [
    ?BPF_JUMP(?BPF_JMP + ?BPF_JEQ + ?BPF_K, (Nr), 0, 1),
    ?BPF_STMT(?BPF_RET + ?BPF_K, ?SECCOMP_RET_KILL)
]).

-endif.
