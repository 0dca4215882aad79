%% SPDX-License-Identifier: ISC
%% What code written against the reference compiles and runs against:
%% the records and macros of the headers, the functions they call,
%% alcove_cstruct:jail/1, alcove_proto:will_return/1, the types alcove
%% exports, the reference's alcove_cgroup helpers (on this machine's real
%% hierarchies: v1 under /sys/fs/cgroup/<controller>, v2 at
%% /sys/fs/cgroup/unified), and the way stdout/3, stderr/3 and event/3
%% read the mailbox.
%%
%% Every cgroup made here is named alcove_compat_<random> (or alcove,
%% the reference's default, when the machine has none of that name) and
%% removed by the case and again by end_per_testcase.
-module(alcove_compat_SUITE).

-include_lib("common_test/include/ct.hrl").
-include_lib("alcove/include/alcove.hrl").
-include_lib("alcove/include/alcove_seccomp.hrl").
-include("alcove_test.hrl").

-export([all/0, suite/0, init_per_testcase/2, end_per_testcase/2]).
-export([
    uint_macros/1,
    jail_record/1,
    jail_record_layout/1,
    seccomp_macros/1,
    seccomp_insn_record/1,
    seccomp_offset/1,
    seccomp_record_filter/1,
    will_return/1,
    exported_types/1,
    stdout_gap/1,
    stderr_gap/1,
    stdout_short_gap/1,
    stdout_infinity/1,
    stdio_skip_ctl/1,
    event_one_at_a_time/1,
    cgroup_mounts/1,
    cgroup_hierarchies/1,
    cgroup_mount_points/1,
    cgroup_mount_escaped/1,
    cgroup_create_destroy_default/1,
    cgroup_fold/1,
    cgroup_fold_files/1,
    cgroup_is_dir_is_file/1,
    cgroup_paths/1
]).

-define(CGROUP, "/sys/fs/cgroup").

suite() ->
    [{timetrap, {seconds, 60}}].

all() ->
    [
        uint_macros,
        jail_record,
        jail_record_layout,
        seccomp_macros,
        seccomp_insn_record,
        seccomp_offset,
        seccomp_record_filter,
        will_return,
        exported_types,
        stdout_gap,
        stderr_gap,
        stdout_short_gap,
        stdout_infinity,
        stdio_skip_ctl,
        event_one_at_a_time,
        cgroup_mounts,
        cgroup_hierarchies,
        cgroup_mount_points,
        cgroup_mount_escaped,
        cgroup_create_destroy_default,
        cgroup_fold,
        cgroup_fold_files,
        cgroup_is_dir_is_file,
        cgroup_paths
    ].

%% The cgroup alcove is the reference's default: a case that makes it
%% runs only where there is none (one that is there is not ours).
init_per_testcase(cgroup_create_destroy_default, Config) ->
    case [Dir || {_, Dir} <- proc_cgroups(),
                 filelib:is_dir(filename:join(Dir, "alcove"))] of
        [] -> start([{names, [<<"alcove">>]} | Config]);
        Taken -> {skip, {not_ours, Taken}}
    end;
init_per_testcase(_Case, Config) ->
    Name = list_to_binary("alcove_compat_"
                          ++ integer_to_list(rand:uniform(1 bsl 40))),
    Names = [<<Name/binary, "/child">>, <<Name/binary, "/tasks_child">>, Name],
    start([{name, Name}, {names, Names} | Config]).

start(Config) ->
    alcove_test:start(Config).

%% Stop the port, then remove whatever cgroup the case left.
end_per_testcase(_Case, Config) ->
    ok = alcove_test:stop(Config),
    _ = [file:del_dir(filename:join(Dir, Name))
         || Name <- ?config(names, Config), {_, Dir} <- proc_cgroups()],
    ok.

%%% include/alcove.hrl

%% ?UINT16 and ?UINT32 are fields of the host's byte order, in a binary
%% made or matched.
uint_macros(_Config) ->
    Bin = <<?UINT16(16#0102), ?UINT32(16#03040506)>>,
    Bin = <<16#0102:16/native, 16#03040506:32/native>>,
    6 = byte_size(Bin),
    <<?UINT16(A), ?UINT32(B)>> = Bin,
    {16#0102, 16#03040506} = {A, B},
    N = 5,
    <<5:32/native>> = <<?UINT32(N)>>,
    <<16#ffff:16>> = <<?UINT16(-1)>>.

%% The record's defaults are the reference's; jail/1 lays out its
%% fields (struct_jail2/5 is the same function).
jail_record(_Config) ->
    {alcove_jail, 2, <<>>, <<>>, <<>>, [], []} = #alcove_jail{},
    W = erlang:system_info({wordsize, external}),
    Pad = (W - 4 rem W) rem W,
    Jail = #alcove_jail{path = "/rescue", hostname = <<"test">>,
                        jailname = [<<"jail">>, "0"],
                        ip4 = [{127, 0, 0, 1}, {10, 1, 2, 3}],
                        ip6 = [{16#fe80, 0, 0, 0, 0, 0, 0, 1}]},
    [<<2:32/native>>, <<0:(Pad * 8)>>,
     {ptr, <<"/rescue", 0>>}, {ptr, <<"test", 0>>}, {ptr, <<"jail0", 0>>},
     <<2:32/native, 1:32/native>>,
     {ptr, <<127, 0, 0, 1, 10, 1, 2, 3>>},
     {ptr, <<16#fe80:16, 0:96, 1:16>>}] = Cstruct = alcove_cstruct:jail(Jail),
    %% u32 and padding, three pointers, two u32, two pointers
    Size = 4 + Pad + 3 * W + 8 + 2 * W,
    Size = alcove_cstruct:sizeof(Cstruct),
    Cstruct = alcove_cstruct:struct_jail2("/rescue", <<"test">>,
                                          [<<"jail">>, "0"],
                                          Jail#alcove_jail.ip4,
                                          Jail#alcove_jail.ip6),
    [<<3:32/native>> | _] = alcove_cstruct:jail(#alcove_jail{version = 3}),
    [{'EXIT', {badarg, _}} = (catch alcove_cstruct:jail(J))
     || J <- [#alcove_jail{version = -1}, #alcove_jail{version = 1 bsl 32},
              #alcove_jail{ip4 = [{256, 0, 0, 0}]},
              #alcove_jail{path = <<"a", 0>>},
              {alcove_jail, 2, <<>>}]],
    ok.

%% The buffer the port builds from jail/1 (alloc/3: no FreeBSD needed):
%% version, padding, five distinct pointers and the two counts.
jail_record_layout(Config) ->
    Drv = ?config(drv, Config),
    Bits = erlang:system_info({wordsize, external}) * 8,
    Cstruct = alcove_cstruct:jail(#alcove_jail{path = "/", hostname = "h",
                                               jailname = "j",
                                               ip4 = [{10, 0, 0, 1}]}),
    {ok, Buf, Back} = alcove:alloc(Drv, [], Cstruct),
    Size = alcove_cstruct:sizeof(Cstruct),
    Size = byte_size(Buf),
    Pad = alcove:wordalign(4) * 8,
    <<2:32/native, 0:Pad, Path:Bits/native, Host:Bits/native,
      Name:Bits/native, 1:32/native, 0:32/native, IP4:Bits/native,
      0:Bits/native>> = Buf,
    4 = length(lists:usort([Path, Host, Name, IP4])),
    %% no IPv6 address: a NULL pointer, given back as a zero word
    <<0:Bits>> = lists:last(Back).

%%% include/alcove_seccomp.hrl

%% The macros have the values of linux/filter.h, linux/bpf_common.h and
%% linux/seccomp.h, those the port was built with agreeing.
seccomp_macros(Config) ->
    Drv = ?config(drv, Config),
    %% BPF_JMP | BPF_JEQ | BPF_K, BPF_LD | BPF_W | BPF_ABS, BPF_RET | BPF_A,
    %% BPF_MISC | BPF_TXA, BPF_LDX | BPF_B | BPF_MSH, BPF_ALU | BPF_X
    {16#05, 16#10, 16#00, 16#10, 16#00, 16#10} =
        {?BPF_CLASS(16#15), ?BPF_SIZE(16#15), ?BPF_MODE(16#15),
         ?BPF_OP(16#15), ?BPF_SRC(16#15), ?BPF_MISCOP(16#15)},
    {16#00, 16#00, 16#20} =
        {?BPF_CLASS(16#20), ?BPF_SIZE(16#20), ?BPF_MODE(16#20)},
    {16#06, 16#10} = {?BPF_CLASS(16#16), ?BPF_RVAL(16#16)},
    {16#07, 16#80} = {?BPF_CLASS(16#87), ?BPF_MISCOP(16#87)},
    {16#01, 16#10, 16#a0} =
        {?BPF_CLASS(16#b1), ?BPF_SIZE(16#b1), ?BPF_MODE(16#b1)},
    {16#04, 16#08} = {?BPF_CLASS(16#0c), ?BPF_SRC(16#0c)},
    {0, 1, 2} = {?SECCOMP_MODE_DISABLED, ?SECCOMP_MODE_STRICT,
                 ?SECCOMP_MODE_FILTER},
    ?SECCOMP_MODE_DISABLED = alcove:define(Drv, [], seccomp_mode_disabled),
    ?SECCOMP_MODE_STRICT = alcove:define(Drv, [], seccomp_mode_strict),
    ?SECCOMP_MODE_FILTER = alcove:define(Drv, [], seccomp_mode_filter),
    [{Name, Value} = {Name, alcove:define(Drv, [], Name)}
     || {Name, Value} <- [{bpf_ld, ?BPF_LD}, {bpf_jmp, ?BPF_JMP},
                          {bpf_ret, ?BPF_RET}, {bpf_misc, ?BPF_MISC},
                          {bpf_b, ?BPF_B}, {bpf_msh, ?BPF_MSH},
                          {bpf_jset, ?BPF_JSET}, {bpf_x, ?BPF_X},
                          {bpf_txa, ?BPF_TXA}]],
    ok.

%% #alcove_insn{} is one struct sock_filter: insn/1 encodes it as
%% ?BPF_STMT and ?BPF_JUMP do (stmt/2 and jump/4 are those, checked),
%% and decodes it back; a field out of range is badarg, not truncated.
seccomp_insn_record(_Config) ->
    {alcove_insn, 0, 0, 0, 0} = #alcove_insn{},
    Ret = #alcove_insn{code = ?BPF_RET + ?BPF_K, k = ?SECCOMP_RET_ALLOW},
    Stmt = ?BPF_STMT(?BPF_RET + ?BPF_K, ?SECCOMP_RET_ALLOW),
    Stmt = alcove_seccomp:insn(Ret),
    Stmt = alcove_seccomp:stmt(?BPF_RET + ?BPF_K, ?SECCOMP_RET_ALLOW),
    <<16#06:16/native, 0, 0, 16#7fff0000:32/native>> = Stmt,
    Ret = alcove_seccomp:insn(Stmt),
    Jeq = #alcove_insn{code = ?BPF_JMP + ?BPF_JEQ + ?BPF_K, jt = 1, jf = 2,
                       k = 16#c000003e},
    Jump = ?BPF_JUMP(?BPF_JMP + ?BPF_JEQ + ?BPF_K, 16#c000003e, 1, 2),
    Jump = alcove_seccomp:insn(Jeq),
    Jump = alcove_seccomp:jump(?BPF_JMP + ?BPF_JEQ + ?BPF_K, 16#c000003e, 1, 2),
    <<16#15:16/native, 1, 2, 16#c000003e:32/native>> = Jump,
    Jeq = alcove_seccomp:insn(Jump),
    [{'EXIT', {badarg, _}} = (catch alcove_seccomp:insn(I))
     || I <- [#alcove_insn{code = 16#10000}, #alcove_insn{jt = 256},
              #alcove_insn{jf = -1}, #alcove_insn{k = 1 bsl 32},
              <<0:56>>, <<0:72>>, atom]],
    {'EXIT', {badarg, _}} = (catch alcove_seccomp:stmt(0, -1)),
    {'EXIT', {badarg, _}} = (catch alcove_seccomp:jump(0, 0, 0, 256)),
    ok.

%% The offsets of struct seccomp_data (nr, arch, instruction_pointer,
%% args[6], 64 bytes), by macro and by offset/1.
seccomp_offset(_Config) ->
    {alcove_seccomp_data, 0, 0, 0, [0, 0, 0, 0, 0, 0]} = #alcove_seccomp_data{},
    {0, 4} = {?OFFSET_SYSCALL_NR, ?OFFSET_ARCH_NR},
    [0, 4, 8, 16, 16, 56] =
        [alcove_seccomp:offset(F)
         || F <- [nr, arch, instruction_pointer, args, {args, 0}, {args, 5}]],
    64 = alcove_seccomp:offset({args, 5}) + 8,
    ?OFFSET_SYSCALL_NR = alcove_seccomp:offset(nr),
    ?OFFSET_ARCH_NR = alcove_seccomp:offset(arch),
    [{'EXIT', {badarg, _}} = (catch alcove_seccomp:offset(F))
     || F <- [{args, 6}, {args, -1}, pc, 0]],
    ok.

%% A filter written with the records alone, in a forked child: ptrace
%% fails with eperm there (esrch elsewhere), its other calls go on, and
%% prctl says the child is in ?SECCOMP_MODE_FILTER.
seccomp_record_filter(Config) ->
    Drv = ?config(drv, Config),
    {ok, C} = alcove:fork(Drv, []),
    Arch = alcove:define(Drv, [C], alcove:audit_arch()),
    Ptrace = alcove:define(Drv, [C], sys_ptrace),
    Ld = ?BPF_LD + ?BPF_W + ?BPF_ABS,
    Jeq = ?BPF_JMP + ?BPF_JEQ + ?BPF_K,
    Ret = ?BPF_RET + ?BPF_K,
    Filter = [alcove_seccomp:insn(I)
              || I <- [#alcove_insn{code = Ld, k = alcove_seccomp:offset(arch)},
                       #alcove_insn{code = Jeq, k = Arch, jt = 1},
                       #alcove_insn{code = Ret, k = ?SECCOMP_RET_KILL},
                       #alcove_insn{code = Ld, k = ?OFFSET_SYSCALL_NR},
                       #alcove_insn{code = Jeq, k = Ptrace, jf = 1},
                       #alcove_insn{code = Ret, k = ?SECCOMP_RET_ERRNO(1)},
                       #alcove_insn{code = Ret, k = ?SECCOMP_RET_ALLOW}]],
    {ok, ?SECCOMP_MODE_DISABLED, _, _, _, _} =
        alcove:prctl(Drv, [C], pr_get_seccomp, 0, 0, 0, 0),
    {error, esrch} = ptrace(Drv, [C]),
    ok = alcove_seccomp:install(Drv, [C], Filter),
    {error, eperm} = ptrace(Drv, [C]),
    {ok, ?SECCOMP_MODE_FILTER, _, _, _, _} =
        alcove:prctl(Drv, [C], pr_get_seccomp, 0, 0, 0, 0),
    C = alcove:getpid(Drv, [C]),
    {error, esrch} = ptrace(Drv, []).

ptrace(Drv, Pids) ->
    alcove:ptrace(Drv, Pids, ptrace_peekdata, ?NO_SUCH_PID, 0, 0, ?WAIT).

%%% alcove_proto and alcove

%% Only the calls that replace or end the process have no reply of their
%% own: those flagged exec or exit in the table.
will_return(_Config) ->
    false = alcove_proto:will_return(execve),
    true = alcove_proto:will_return(getpid),
    true = alcove_proto:will_return(fork),
    [execve, execvp, exit, fexecve] =
        lists:sort([C || C <- alcove_proto:calls(),
                         not alcove_proto:will_return(C)]),
    {'EXIT', {badarg, _}} = (catch alcove_proto:will_return(no_such_call)),
    ok.

%% alcove exports the reference's types, defined as the reference has
%% them (read from the abstract code: the project compiles with
%% debug_info).
exported_types(_Config) ->
    {ok, {alcove, [{abstract_code, {raw_abstract_v1, Forms}}]}} =
        beam_lib:chunks(code:which(alcove), [abstract_code]),
    Exported = lists:append([Ts || {attribute, _, export_type, Ts} <- Forms]),
    Want = [{alcove_pid, 0}, {alcove_rlimit, 0}, {alcove_timeval, 0},
            {alcove_pid_field, 0}, {fd_set, 0}, {mode_t, 0}, {off_t, 0},
            {size_t, 0}, {ssize_t, 0}, {int8_t, 0}, {int16_t, 0},
            {uint16_t, 0}],
    [] = Want -- Exported,
    Types = maps:from_list([{Name, Def}
                            || {attribute, _, type, {Name, Def, []}} <- Forms]),
    [{type, _, record, [{atom, _, R}]} = maps:get(R, Types)
     || R <- [alcove_pid, alcove_rlimit, alcove_timeval]],
    {type, _, list, [{user_type, _, fd, []}]} = maps:get(fd_set, Types),
    Fields = lists:sort([F || {atom, _, F} <- union(maps:get(alcove_pid_field, Types))]),
    Fields = lists:sort(record_info(fields, alcove_pid)),
    [{-128, 127}, {-32768, 32767}, {0, 65535}] =
        [range(maps:get(T, Types)) || T <- [int8_t, int16_t, uint16_t]],
    %% alcove_drv:ref(), the driver as prx's specs name it
    {ok, {alcove_drv, [{abstract_code, {raw_abstract_v1, DrvForms}}]}} =
        beam_lib:chunks(code:which(alcove_drv), [abstract_code]),
    true = lists:member({ref, 0},
                        lists:append([Ts || {attribute, _, export_type, Ts} <- DrvForms])),
    ok.

union({type, _, union, Ts}) -> Ts.

range({type, _, range, [Lo, Hi]}) ->
    {value, L, _} = erl_eval:expr(Lo, []),
    {value, H, _} = erl_eval:expr(Hi, []),
    {L, H}.

%%% stdout/3, stderr/3, event/3

%% Pieces written 200 ms apart, read with a timeout of 1000 ms, come
%% back in one call: the timeout is the longest gap between pieces.
stdout_gap(Config) ->
    Drv = ?config(drv, Config),
    {ok, C} = alcove:fork(Drv, []),
    ok = alcove:execvp(Drv, [C], "/bin/sh",
                       ["/bin/sh", "-c",
                        "echo a; sleep 0.2; echo b; sleep 0.2; echo c"]),
    Pieces = alcove:stdout(Drv, [C], 1000),
    <<"a\nb\nc\n">> = iolist_to_binary(Pieces),
    {exit_status, 0} = alcove:event(Drv, [C], ?WAIT),
    [] = alcove:stdout(Drv, [C], 0).

stderr_gap(Config) ->
    Drv = ?config(drv, Config),
    {ok, C} = alcove:fork(Drv, []),
    ok = alcove:execvp(Drv, [C], "/bin/sh",
                       ["/bin/sh", "-c",
                        "echo a >&2; sleep 0.2; echo b >&2; sleep 0.2; echo c >&2"]),
    Pieces = alcove:stderr(Drv, [C], 1000),
    <<"a\nb\nc\n">> = iolist_to_binary(Pieces),
    {exit_status, 0} = alcove:event(Drv, [C], ?WAIT),
    [] = alcove:stderr(Drv, [C], 0).

%% A gap longer than the timeout ends the read: what came after it is
%% for the next one.
stdout_short_gap(Config) ->
    Drv = ?config(drv, Config),
    {ok, C} = alcove:fork(Drv, []),
    ok = alcove:execvp(Drv, [C], "/bin/sh",
                       ["/bin/sh", "-c", "echo a; sleep 1; echo b"]),
    [<<"a\n">>] = first(fun() -> alcove:stdout(Drv, [C], 50) end),
    [<<"b\n">>] = alcove:stdout(Drv, [C], 2000),
    {exit_status, 0} = alcove:event(Drv, [C], ?WAIT).

%% infinity waits for the first piece only.
stdout_infinity(Config) ->
    Drv = ?config(drv, Config),
    {ok, C} = alcove:fork(Drv, []),
    ok = alcove:execvp(Drv, [C], "/bin/sh",
                       ["/bin/sh", "-c", "echo a; sleep 1; echo b"]),
    [<<"a\n">>] = alcove:stdout(Drv, [C], infinity),
    [<<"b\n">>] = alcove:stdout(Drv, [C], infinity),
    {exit_status, 0} = alcove:event(Drv, [C], ?WAIT).

%% An {alcove_ctl, ...} message (the reference's control messages) is
%% neither returned nor taken by stdout, stderr or event: it stays,
%% behind the output they read.
stdio_skip_ctl(Config) ->
    Drv = ?config(drv, Config),
    {ok, C} = alcove:fork(Drv, []),
    self() ! {alcove_ctl, Drv, [C], fdctl_closed},
    [] = alcove:stdout(Drv, [C], 0),
    [] = alcove:stderr(Drv, [C], 0),
    false = alcove:event(Drv, [C], 0),
    ok = alcove:execvp(Drv, [C], "/bin/sh",
                       ["/bin/sh", "-c", "echo out; echo err >&2"]),
    [<<"out\n">>] = alcove:stdout(Drv, [C], 1000),
    [<<"err\n">>] = alcove:stderr(Drv, [C], 1000),
    {exit_status, 0} = alcove:event(Drv, [C], ?WAIT),
    receive
        {alcove_ctl, Drv, [C], fdctl_closed} -> ok
    after 0 ->
        ct:fail(ctl_taken)
    end.

%% event/2,3 return one event a call, in order, as the reference's do.
event_one_at_a_time(Config) ->
    Drv = ?config(drv, Config),
    {ok, C} = alcove:fork(Drv, []),
    {ok, sig_info} = alcove:sigaction(Drv, [C], sigusr1, sig_info),
    {ok, sig_info} = alcove:sigaction(Drv, [C], sigusr2, sig_dfl),
    ok = alcove:kill(Drv, [], C, sigusr1),
    {signal, sigusr1, _} = alcove:event(Drv, [C], ?WAIT),
    ok = alcove:kill(Drv, [], C, sigusr2),
    {termsig, sigusr2} = alcove:event(Drv, [C], ?WAIT),
    self() ! {alcove_event, Drv, [C], first},
    self() ! {alcove_event, Drv, [C], second},
    first = alcove:event(Drv, [C]),
    second = alcove:event(Drv, [C], 0),
    false = alcove:event(Drv, [C], 0).

%% The first result of Read that is not [], read again until then.
first(Read) ->
    first(Read, erlang:monotonic_time(millisecond) + ?WAIT).

first(Read, Deadline) ->
    case Read() of
        [] ->
            erlang:monotonic_time(millisecond) < Deadline
                orelse ct:fail(no_output),
            first(Read, Deadline);
        Pieces ->
            Pieces
    end.

%%% alcove_cgroup

%% mounts/1,2: the lines of /proc/mounts as 6-tuples of binaries, as the
%% file has them; the error of a process that cannot read it.
cgroup_mounts(Config) ->
    Drv = ?config(drv, Config),
    {ok, Entries} = alcove_cgroup:mounts(Drv),
    {ok, Entries2} = alcove_cgroup:mounts(Drv, []),
    true = lists:all(fun(E) -> tuple_size(E) =:= 6 andalso
                                   lists:all(fun is_binary/1, tuple_to_list(E))
                     end, Entries ++ Entries2),
    {ok, Mine} = file:read_file("/proc/self/mounts"),
    Lines = [list_to_tuple(binary:split(L, <<" ">>, [global]))
             || L <- binary:split(Mine, <<"\n">>, [global, trim_all])],
    {_, _, _, Opts, _, _} = Memory =
        lists:keyfind(<<?CGROUP "/memory">>, 2, Lines),
    {<<"cgroup">>, _, <<"cgroup">>, _, <<"0">>, <<"0">>} = Memory,
    true = lists:member(<<"memory">>, binary:split(Opts, <<",">>, [global])),
    Unified = lists:keyfind(<<?CGROUP "/unified">>, 2, Lines),
    {<<"cgroup2">>, _, <<"cgroup2">>, _, <<"0">>, <<"0">>} = Unified,
    true = lists:member(Memory, Entries) andalso lists:member(Unified, Entries),
    true = lists:member(Memory, Entries2),
    {ok, J} = alcove:fork(Drv, []),
    ok = alcove:chroot(Drv, [J], ?config(priv_dir, Config)),
    {error, enoent} = alcove_cgroup:mounts(Drv, [J]).

%% hierarchies/2 is the v1/v2 view mounts/2 had before: the v1
%% hierarchies with their controllers, the unified one.
cgroup_hierarchies(Config) ->
    Drv = ?config(drv, Config),
    Hierarchies = alcove_cgroup:hierarchies(Drv, []),
    Expect = [case Type of
                  <<"cgroup">> -> {v1, Dir};
                  <<"cgroup2">> -> {v2, Dir}
              end || {Type, Dir} <- proc_cgroups()],
    Expect = [case H of {v1, Dir, _} -> {v1, Dir}; V2 -> V2 end
              || H <- Hierarchies],
    {v1, _, [<<"memory">>]} =
        lists:keyfind(<<?CGROUP "/memory">>, 2, Hierarchies),
    {v1, _, []} = lists:keyfind(<<?CGROUP "/systemd">>, 2, Hierarchies),
    {v2, <<?CGROUP "/unified">>} = lists:keyfind(v2, 1, Hierarchies).

%% cgroup/1,2: the mount points of the cgroup file systems, v1 and v2,
%% and not the tmpfs they are under.
cgroup_mount_points(Config) ->
    Drv = ?config(drv, Config),
    Dirs = alcove_cgroup:cgroup(Drv),
    Dirs = alcove_cgroup:cgroup(Drv, []),
    Dirs = [Dir || {_, Dir} <- proc_cgroups()],
    true = lists:member(<<?CGROUP "/memory">>, Dirs),
    true = lists:member(<<?CGROUP "/unified">>, Dirs),
    false = lists:member(<<?CGROUP>>, Dirs),
    {ok, J} = alcove:fork(Drv, []),
    ok = alcove:chroot(Drv, [J], ?config(priv_dir, Config)),
    [] = alcove_cgroup:cgroup(Drv, [J]).

%% In a mount namespace of its own, a child mounts the unified
%% hierarchy again at a path with a space: mounts/2 shows it as
%% /proc/mounts does (\040), cgroup/2 as the path itself, which fold/6
%% visits; the port sees neither.
cgroup_mount_escaped(Config) ->
    Drv = ?config(drv, Config),
    Dir = filename:join(?config(priv_dir, Config), "a b"),
    ok = file:make_dir(Dir),
    Path = list_to_binary(Dir),
    Escaped = iolist_to_binary(string:replace(Dir, " ", "\\040")),
    {ok, C} = alcove:clone(Drv, [], [clone_newns]),
    ok = alcove:mount(Drv, [C], "none", "/", [], [ms_rec, ms_private], [], []),
    ok = alcove:mount(Drv, [C], "cgroup2", Dir, "cgroup2", [], [], []),
    {ok, Entries} = alcove_cgroup:mounts(Drv, [C]),
    {<<"cgroup2">>, Escaped, <<"cgroup2">>, _, <<"0">>, <<"0">>} =
        lists:keyfind(Escaped, 2, Entries),
    true = lists:member(Path, alcove_cgroup:cgroup(Drv, [C])),
    false = lists:member(Path, alcove_cgroup:cgroup(Drv, [])),
    true = lists:member(Path, alcove_cgroup:fold(Drv, [C], <<>>, <<>>,
                                                 fun(D, A) -> [D | A] end,
                                                 [])),
    true = alcove_cgroup:is_file(Drv, [C], <<Path/binary, "/cgroup.procs">>),
    {v2, Path} = lists:keyfind(Path, 2, alcove_cgroup:hierarchies(Drv, [C])).

%% create/2 and destroy/2 work on the reference's default cgroup,
%% alcove, in every v1 hierarchy.
cgroup_create_destroy_default(Config) ->
    Drv = ?config(drv, Config),
    V1 = [Dir || {<<"cgroup">>, Dir} <- proc_cgroups()],
    ok = alcove_cgroup:create(Drv, []),
    [true = filelib:is_dir(filename:join(D, "alcove")) || D <- V1],
    false = filelib:is_dir(?CGROUP "/unified/alcove"),
    ok = alcove_cgroup:destroy(Drv, []),
    [false = filelib:is_dir(filename:join(D, "alcove")) || D <- V1],
    ok.

%% fold/5,6 visit the cgroup's directory in each hierarchy mounted with
%% the option (a controller, or <<>>: every one) where it exists.
cgroup_fold(Config) ->
    Drv = ?config(drv, Config),
    Name = ?config(name, Config),
    ok = alcove_cgroup:create(Drv, [], Name),
    Collect = fun(Dir, Acc) -> [Dir | Acc] end,
    V1 = [<<Dir/binary, "/", Name/binary>>
          || {<<"cgroup">>, Dir} <- proc_cgroups()],
    V1 = lists:reverse(alcove_cgroup:fold(Drv, <<>>, Name, Collect, [])),
    V1 = lists:reverse(alcove_cgroup:fold(Drv, [], "", Name, Collect, [])),
    Memory = <<?CGROUP "/memory/", Name/binary>>,
    [Memory] = alcove_cgroup:fold(Drv, [], <<"memory">>, Name, Collect, []),
    [Memory] = alcove_cgroup:fold(Drv, "memory", [Name], Collect, []),
    %% the root of each hierarchy, v2 too
    Roots = [Dir || {_, Dir} <- proc_cgroups()],
    Roots = lists:reverse(alcove_cgroup:fold(Drv, <<>>, <<>>, Collect, [])),
    [] = alcove_cgroup:fold(Drv, <<"memory">>, <<"alcove_compat_none">>,
                            Collect, []),
    [] = alcove_cgroup:fold(Drv, <<"no_such_controller">>, Name, Collect, []),
    {ok, C} = alcove:fork(Drv, []),
    [Memory] = alcove_cgroup:fold(Drv, [C], <<"memory">>, Name, Collect, []),
    {'EXIT', {badarg, _}} =
        (catch alcove_cgroup:fold(Drv, <<>>, <<"../x">>, Collect, [])),
    ok = alcove_cgroup:destroy(Drv, [], Name).

%% fold_files/6,7 visit the files (not the child cgroups) whose names
%% match.
cgroup_fold_files(Config) ->
    Drv = ?config(drv, Config),
    Name = ?config(name, Config),
    ok = alcove_cgroup:create(Drv, [], [Name, <<"child">>]),
    Collect = fun(Path, Acc) -> [Path | Acc] end,
    Memory = <<?CGROUP "/memory/", Name/binary>>,
    Limit = <<Memory/binary, "/memory.limit_in_bytes">>,
    [Limit] = alcove_cgroup:fold_files(Drv, <<"memory">>, Name,
                                       "^memory\\.limit_in_bytes$", Collect, []),
    Tasks = [<<Dir/binary, "/", Name/binary, "/tasks">>
             || {<<"cgroup">>, Dir} <- proc_cgroups()],
    %% the files tasks, not the directory tasks_child
    ok = alcove_cgroup:create(Drv, [], [Name, <<"tasks_child">>]),
    Tasks = lists:reverse(alcove_cgroup:fold_files(Drv, [], <<>>, Name,
                                                   "^tasks", Collect, [])),
    ok = alcove_cgroup:destroy(Drv, [], [Name, <<"tasks_child">>]),
    %% in name order, within a directory
    Files = alcove_cgroup:fold_files(Drv, <<"pids">>, Name, "^pids\\.",
                                     Collect, []),
    Files = lists:reverse(lists:sort(Files)),
    [<<?CGROUP "/pids/", _/binary>> | _] = Files,
    {ok, Ls} = file:list_dir(?CGROUP "/pids/" ++ binary_to_list(Name)),
    Want = length([F || "pids." ++ _ = F <- Ls]),
    Want = length(Files),
    [] = alcove_cgroup:fold_files(Drv, <<"pids">>, Name, "^nothing$",
                                  Collect, []),
    %% a child cgroup is a directory: never visited
    [] = alcove_cgroup:fold_files(Drv, <<"pids">>, Name, "^child$",
                                  Collect, []),
    ok = alcove_cgroup:destroy(Drv, [], [Name, <<"child">>]),
    ok = alcove_cgroup:destroy(Drv, [], Name).

%% is_dir/3 and is_file/3, through the port and its children.
cgroup_is_dir_is_file(Config) ->
    Drv = ?config(drv, Config),
    {ok, C} = alcove:fork(Drv, []),
    [{true, false} = is_dir_is_file(Drv, P, D)
     || P <- [[], [C]], D <- [<<?CGROUP "/memory">>, ?CGROUP "/unified", "/"]],
    [{false, true} = is_dir_is_file(Drv, P, F)
     || P <- [[], [C]], F <- [<<?CGROUP "/memory/tasks">>,
                              ?CGROUP "/unified/cgroup.procs", "/dev/null"]],
    {false, false} = is_dir_is_file(Drv, [], "/no/such/path"),
    %% what the process sees, not the VM
    ok = alcove:chroot(Drv, [C], ?config(priv_dir, Config)),
    {false, false} = is_dir_is_file(Drv, [C], ?CGROUP "/memory"),
    {false, false} = is_dir_is_file(Drv, [C], ?CGROUP "/memory/tasks").

is_dir_is_file(Drv, Chain, Path) ->
    {alcove_cgroup:is_dir(Drv, Chain, Path),
     alcove_cgroup:is_file(Drv, Chain, Path)}.

%% join/2, relpath/1 and expand/1, on binaries, strings and lists of
%% parts.
cgroup_paths(_Config) ->
    <<"/sys/fs/cgroup/cpu/alcove">> =
        alcove_cgroup:join(<<"/sys/fs/cgroup/cpu">>, <<"/alcove">>),
    <<"/sys/fs/cgroup/cpu/alcove/web">> =
        alcove_cgroup:join("/sys/fs/cgroup/cpu/", [<<"alcove">>, "web/"]),
    <<"/sys/fs/cgroup/cpu">> =
        alcove_cgroup:join(<<"/sys/fs/cgroup/cpu">>, <<>>),
    <<"/a">> = alcove_cgroup:join(<<"/">>, "a"),
    <<"a/b">> = alcove_cgroup:join(<<>>, "/a/b"),
    <<"alcove/web">> = alcove_cgroup:relpath(<<"/alcove/web">>),
    <<"alcove/web">> = alcove_cgroup:relpath("alcove/web"),
    <<"alcove/web">> = alcove_cgroup:relpath([<<"/alcove">>, "web"]),
    <<>> = alcove_cgroup:relpath(<<"/">>),
    <<"/alcove/web">> = alcove_cgroup:expand([<<"/alcove/">>, "web", <<".">>]),
    <<"/alcove/web">> = alcove_cgroup:expand(<<"//alcove//./web/">>),
    <<"alcove/../web">> = alcove_cgroup:expand("alcove/../web"),
    <<"/">> = alcove_cgroup:expand("/"),
    <<>> = alcove_cgroup:expand(""),
    ok.

%% {Type, MountPoint} of the cgroup file systems in /proc/self/mounts
%% (the VM's: the port shares its mount namespace).
proc_cgroups() ->
    {ok, Data} = file:read_file("/proc/self/mounts"),
    [{Type, Dir} || Line <- binary:split(Data, <<"\n">>, [global, trim_all]),
                    [_, Dir, Type | _] <- [binary:split(Line, <<" ">>, [global])],
                    Type =:= <<"cgroup">> orelse Type =:= <<"cgroup2">>].
