%% SPDX-License-Identifier: ISC
%% The *_constant calls and alcove:define/3: each table maps the names of
%% this system (lowercase, or the C spelling) to their values, and an
%% unknown name to unknown. The values checked are Linux's; those that
%% differ between architectures are checked on x86_64 and aarch64.
-module(alcove_const_SUITE).

-include_lib("common_test/include/ct.hrl").
-include_lib("alcove/include/alcove.hrl").

-export([all/0, groups/0, suite/0]).
-export([
    file_constant/1,
    fcntl_constant/1,
    ioctl_constant/1,
    mount_constant/1,
    prctl_constant/1,
    ptrace_constant/1,
    rlimit_constant/1,
    seccomp_constant/1,
    syscall_constant/1,
    c_spelling/1,
    unknown/1,
    tables_apart/1,
    badarg/1,
    in_child/1,
    define_name/1,
    define_list/1,
    define_audit_arch/1,
    cap_constant_enotsup/1,
    facts_tables/1,
    facts_options/1
]).

suite() ->
    [{timetrap, {seconds, 60}}, {ct_hooks, [{alcove_test, [port]}]}].

all() ->
    [{group, constants}].

groups() ->
    [{constants, [parallel], [
        file_constant,
        fcntl_constant,
        ioctl_constant,
        mount_constant,
        prctl_constant,
        ptrace_constant,
        rlimit_constant,
        seccomp_constant,
        syscall_constant,
        c_spelling,
        unknown,
        tables_apart,
        badarg,
        in_child,
        define_name,
        define_list,
        define_audit_arch,
        cap_constant_enotsup,
        facts_tables,
        facts_options
    ]}].

%%% Helpers

-define(CALLS, [file_constant, fcntl_constant, ioctl_constant,
                mount_constant, prctl_constant, ptrace_constant,
                rlimit_constant, seccomp_constant, syscall_constant]).

arch() ->
    [Arch | _] = string:split(erlang:system_info(system_architecture), "-"),
    list_to_atom(Arch).

%% The value of Name in the table of Call, for each {Name, Value}.
expect(Drv, Call, Pairs) ->
    [{Name, Value} = {Name, alcove:Call(Drv, [], Name)}
     || {Name, Value} <- Pairs],
    ok.

%%% Cases

%% open(2) flags and file modes; an integer from the table opens a file
%% like the atoms do.
file_constant(Config) ->
    Drv = ?config(drv, Config),
    expect(Drv, file_constant,
           [{o_rdonly, 0}, {o_wronly, 1}, {o_rdwr, 2}, {o_creat, 8#100},
            {o_excl, 8#200}, {o_trunc, 8#1000}, {o_append, 8#2000},
            {o_nonblock, 8#4000}, {o_cloexec, 8#2000000},
            {s_irusr, 8#400}, {s_iwusr, 8#200}, {s_irwxu, 8#700},
            {s_ifdir, 8#40000}]),
    RDONLY = alcove:file_constant(Drv, [], o_rdonly),
    {ok, FD} = alcove:open(Drv, [], "/dev/null", RDONLY, 0),
    ok = alcove:close(Drv, [], FD).

%% fcntl(2) commands and flags.
fcntl_constant(Config) ->
    Drv = ?config(drv, Config),
    expect(Drv, fcntl_constant,
           [{f_dupfd, 0}, {f_getfd, 1}, {f_setfd, 2}, {f_getfl, 3},
            {f_setfl, 4}, {fd_cloexec, 1}, {f_dupfd_cloexec, 1030}]).

%% ioctl(2) requests: sockets, TUN devices, terminals.
ioctl_constant(Config) ->
    Drv = ?config(drv, Config),
    expect(Drv, ioctl_constant,
           [{siocgifaddr, 16#8915}, {siocsifflags, 16#8914},
            {tunsetiff, 16#400454ca}, {iff_tun, 1}, {iff_no_pi, 16#1000},
            {tiocgwinsz, 16#5413}]).

%% Mount flags, by their portable name and by the Linux name: rdonly is
%% MS_RDONLY; umount2 flags too.
mount_constant(Config) ->
    Drv = ?config(drv, Config),
    expect(Drv, mount_constant,
           [{rdonly, 1}, {ms_rdonly, 1}, {nosuid, 2}, {ms_nosuid, 2},
            {ms_nodev, 4}, {ms_noexec, 8}, {ms_remount, 32},
            {ms_bind, 4096}, {bind, 4096}, {ms_rec, 16384},
            {ms_private, 1 bsl 18}, {mnt_force, 1}, {mnt_detach, 2}]).

%% prctl(2) options, and the seccomp modes prctl takes.
prctl_constant(Config) ->
    Drv = ?config(drv, Config),
    expect(Drv, prctl_constant,
           [{pr_set_pdeathsig, 1}, {pr_set_name, 15}, {pr_get_name, 16},
            {pr_set_seccomp, 22}, {pr_set_no_new_privs, 38},
            {seccomp_mode_strict, 1}, {seccomp_mode_filter, 2}]).

%% ptrace(2) requests.
ptrace_constant(Config) ->
    Drv = ?config(drv, Config),
    expect(Drv, ptrace_constant,
           [{ptrace_traceme, 0}, {ptrace_peekdata, 2}, {ptrace_cont, 7},
            {ptrace_kill, 8}, {ptrace_attach, 16}, {ptrace_detach, 17},
            {ptrace_seize, 16#4206}]).

%% Resource limits: the number of a name reads the same limit as the
%% name; rlim_infinity is the unsigned value getrlimit gives, which
%% setrlimit takes.
rlimit_constant(Config) ->
    Drv = ?config(drv, Config),
    Inf = 16#ffffffffffffffff,
    expect(Drv, rlimit_constant,
           [{rlimit_cpu, 0}, {rlimit_fsize, 1}, {rlimit_data, 2},
            {rlimit_stack, 3}, {rlimit_core, 4}, {rlimit_nproc, 6},
            {rlimit_nofile, 7}, {rlimit_as, 9}, {rlim_infinity, Inf}]),
    Limit = alcove:getrlimit(Drv, [], rlimit_nofile),
    {ok, #alcove_rlimit{}} = Limit,
    NOFILE = alcove:rlimit_constant(Drv, [], rlimit_nofile),
    Limit = alcove:getrlimit(Drv, [], NOFILE),
    {ok, C} = alcove:fork(Drv, []),
    ok = alcove:setrlimit(Drv, [C], rlimit_cpu,
                          #alcove_rlimit{cur = Inf, max = Inf}),
    {ok, #alcove_rlimit{cur = Inf, max = Inf}} =
        alcove:getrlimit(Drv, [C], rlimit_cpu).

%% seccomp operations, return actions, BPF opcodes.
seccomp_constant(Config) ->
    Drv = ?config(drv, Config),
    expect(Drv, seccomp_constant,
           [{seccomp_set_mode_strict, 0}, {seccomp_set_mode_filter, 1},
            {seccomp_ret_kill, 0}, {seccomp_ret_kill_thread, 0},
            {seccomp_ret_kill_process, 16#80000000},
            {seccomp_ret_trap, 16#30000}, {seccomp_ret_errno, 16#50000},
            {seccomp_ret_allow, 16#7fff0000},
            {seccomp_filter_flag_tsync, 1},
            {bpf_ld, 0}, {bpf_jmp, 5}, {bpf_ret, 6}, {bpf_w, 0},
            {bpf_abs, 16#20}, {bpf_jeq, 16#10}, {bpf_k, 0}]).

%% System call numbers, which depend on the architecture.
syscall_constant(Config) ->
    Drv = ?config(drv, Config),
    Numbers = case arch() of
                  x86_64 -> [{sys_read, 0}, {sys_write, 1}, {sys_getpid, 39},
                             {sys_exit_group, 231}];
                  aarch64 -> [{sys_read, 63}, {sys_write, 64},
                              {sys_getpid, 172}, {sys_exit_group, 94}]
              end,
    expect(Drv, syscall_constant, Numbers).

%% A name can be given in its C spelling, in any case.
c_spelling(Config) ->
    Drv = ?config(drv, Config),
    0 = alcove:file_constant(Drv, [], 'O_RDONLY'),
    8#100 = alcove:file_constant(Drv, [], 'O_CREAT'),
    1 = alcove:fcntl_constant(Drv, [], 'F_GETFD'),
    16#8915 = alcove:ioctl_constant(Drv, [], 'SIOCGIFADDR'),
    1 = alcove:mount_constant(Drv, [], 'MS_RDONLY'),
    15 = alcove:prctl_constant(Drv, [], 'PR_SET_NAME'),
    0 = alcove:ptrace_constant(Drv, [], 'PTRACE_TRACEME'),
    7 = alcove:rlimit_constant(Drv, [], 'RLIMIT_NOFILE'),
    16#7fff0000 = alcove:seccomp_constant(Drv, [], 'SECCOMP_RET_ALLOW'),
    Read = alcove:syscall_constant(Drv, [], sys_read),
    Read = alcove:syscall_constant(Drv, [], 'SYS_READ'),
    Read = alcove:syscall_constant(Drv, [], 'Sys_Read').

%% A name no table has is unknown, in every table, as is the empty atom.
unknown(Config) ->
    Drv = ?config(drv, Config),
    [unknown = alcove:Call(Drv, [], Name)
     || Call <- ?CALLS, Name <- [no_such_constant, '', o_rdonly_x]],
    ok.

%% Each table holds its own names only: a name of one table is unknown
%% to the others.
tables_apart(Config) ->
    Drv = ?config(drv, Config),
    Own = [{file_constant, o_rdonly}, {fcntl_constant, f_getfd},
           {ioctl_constant, siocgifaddr}, {mount_constant, ms_rdonly},
           {prctl_constant, pr_set_name}, {ptrace_constant, ptrace_traceme},
           {rlimit_constant, rlimit_nofile},
           {seccomp_constant, seccomp_ret_allow},
           {syscall_constant, sys_read}],
    [begin
         true = is_integer(alcove:Call(Drv, [], Name)),
         [unknown = alcove:Other(Drv, [], Name)
          || {Other, _} <- Own, Other =/= Call]
     end || {Call, Name} <- Own],
    unknown = alcove:file_constant(Drv, [], sigterm),
    ok.

%% A name that is not an atom is refused in the caller.
badarg(Config) ->
    Drv = ?config(drv, Config),
    [{'EXIT', {badarg, _}} = (catch alcove:Call(Drv, [], Name))
     || Call <- ?CALLS, Name <- ["o_rdonly", <<"o_rdonly">>, 0]],
    0 = alcove:file_constant(Drv, [], o_rdonly),
    ok.

%% A child answers with the same values as the port.
in_child(Config) ->
    Drv = ?config(drv, Config),
    {ok, C} = alcove:fork(Drv, []),
    {ok, GC} = alcove:fork(Drv, [C]),
    lists:foreach(
      fun({Call, Name}) ->
              V = alcove:Call(Drv, [], Name),
              true = is_integer(V),
              V = alcove:Call(Drv, [C, GC], Name)
      end,
      [{file_constant, o_creat}, {mount_constant, rdonly},
       {syscall_constant, sys_write}, {seccomp_constant, seccomp_ret_errno},
       {rlimit_constant, rlim_infinity}]),
    unknown = alcove:prctl_constant(Drv, [C, GC], no_such_constant),
    ok.

%% define/3 on one name looks it up in every table.
define_name(Config) ->
    Drv = ?config(drv, Config),
    1 = alcove:define(Drv, [], o_wronly),
    15 = alcove:define(Drv, [], sigterm),
    16#20000 = alcove:define(Drv, [], clone_newns),
    1 = alcove:define(Drv, [], f_getfd),
    4096 = alcove:define(Drv, [], ms_bind),
    15 = alcove:define(Drv, [], pr_set_name),
    16 = alcove:define(Drv, [], ptrace_attach),
    7 = alcove:define(Drv, [], rlimit_nofile),
    16#7fff0000 = alcove:define(Drv, [], seccomp_ret_allow),
    16#8915 = alcove:define(Drv, [], siocgifaddr),
    Read = alcove:syscall_constant(Drv, [], sys_read),
    Read = alcove:define(Drv, [], sys_read),
    1 = alcove:define(Drv, [], 'O_WRONLY'),
    unknown = alcove:define(Drv, [], no_such_constant).

%% define/3 on a list ORs the values, from any tables; [] is 0, and one
%% unknown name makes the whole unknown.
define_list(Config) ->
    Drv = ?config(drv, Config),
    8#1101 = alcove:define(Drv, [], [o_wronly, o_creat, o_trunc]),
    3 = alcove:define(Drv, [], [ms_rdonly, ms_nosuid]),
    16#4020000 = alcove:define(Drv, [], [clone_newns, clone_newuts]),
    16#7fff0005 = alcove:define(Drv, [], [seccomp_ret_allow, bpf_jmp]),
    0 = alcove:define(Drv, [], []),
    unknown = alcove:define(Drv, [], [o_wronly, no_such_constant]),
    unknown = alcove:define(Drv, [], [no_such_constant, o_wronly]),
    {ok, C} = alcove:fork(Drv, []),
    8#1101 = alcove:define(Drv, [C], [o_wronly, o_creat, o_trunc]).

%% define(audit_arch()) is the seccomp AUDIT_ARCH_* value of this machine.
define_audit_arch(Config) ->
    Drv = ?config(drv, Config),
    Arch = alcove:audit_arch(),
    Value = alcove:define(Drv, [], Arch),
    Value = alcove:seccomp_constant(Drv, [], Arch),
    Value = case arch() of
                x86_64 -> 16#c000003e;
                aarch64 -> 16#c00000b7
            end,
    Value = alcove:define(Drv, [], [Arch]).

%% Capsicum rights exist on FreeBSD only: on Linux cap_constant is
%% enotsup, and define/3 does not ask it.
cap_constant_enotsup(Config) ->
    Drv = ?config(drv, Config),
    {error, enotsup} = alcove:cap_constant(Drv, [], cap_read),
    {error, enotsup} = alcove:cap_constant(Drv, [], no_such_constant),
    unknown = alcove:define(Drv, [], cap_read).

%% The facts of alcove_facts (gen/facts.eterm, which the port's header is
%% generated from too) hold for the running port: each table define/3
%% searches answers through define/3 with the value of its own call, in
%% one call of the port; the version is the app's; every disposition
%% sigaction/4 sets reads back.
facts_tables(Config) ->
    Drv = ?config(drv, Config),
    %% a name of each table, found in no table searched before it
    Sample = #{signal => sigterm, syscall => sys_read,
               seccomp => seccomp_ret_allow, file => o_wronly, fcntl => f_getfd,
               mount => ms_bind, prctl => pr_set_name, rlimit => rlimit_nofile,
               ptrace => ptrace_attach, ioctl => siocgifaddr, clone => clone_newns,
               landlock => landlock_access_fs_read_file},
    Tables = alcove_facts:define_tables(),
    true = lists:sort(Tables) =:= lists:sort(maps:keys(Sample)),
    [] = Tables -- alcove_facts:const_tables(),
    [begin
         Name = maps:get(T, Sample),
         Call = list_to_atom(atom_to_list(T) ++ "_constant"),
         V = alcove:Call(Drv, [], Name),
         true = is_integer(V),
         V = alcove:define(Drv, [], Name),
         V = alcove:constant_value(Drv, [], [atom_to_list(Name)])
     end || T <- Tables],
    All = [maps:get(T, Sample) || T <- Tables],
    Or = lists:foldl(fun(N, Acc) -> alcove:define(Drv, [], N) bor Acc end, 0, All),
    Or = alcove:define(Drv, [], All),
    unknown = alcove:define(Drv, [], [sigterm, no_such_constant]),
    unknown = alcove:constant_value(Drv, [], [<<"sig", 0, "term">>]),
    %% rlimit's values are unsigned, ORed or not
    Inf = alcove:rlimit_constant(Drv, [], rlim_infinity),
    true = Inf > 0,
    Inf = alcove:define(Drv, [], [rlim_infinity, o_wronly]),
    {ok, [{application, alcove, App}]} =
        file:consult(filename:join(code:lib_dir(alcove, src), "alcove.app.src")),
    Vsn = proplists:get_value(vsn, App),
    Vsn = alcove_facts:version(),
    Vsn = binary_to_list(alcove:version(Drv, [])),
    {ok, C} = alcove:fork(Drv, []),
    [begin
         {ok, _} = alcove:sigaction(Drv, [C], sigusr1, D),
         {ok, D} = alcove:sigaction(Drv, [C], sigusr1, [])
     end || D <- alcove_facts:sigdisp()],
    ok.

%% Every option of alcove_facts is set by its flag on the port's command
%% line (alcove_drv:getopts/1) and inherited by a child, read by
%% getopt/3 and set by setopt/4; a name that is no option is false.
facts_options(_Config) ->
    Values = #{maxchild => 7, maxforkdepth => 5, exit_status => 0, termsig => 0,
               flowcontrol => 3, signaloneof => 9, exit_report => 1},
    Opts = alcove_facts:options(),
    true = lists:sort(Opts) =:= lists:sort(maps:keys(Values)),
    {ok, Drv} = alcove_drv:start(maps:to_list(Values)),
    try
        {ok, C} = alcove:fork(Drv, []),
        [V = alcove:getopt(Drv, Pids, O) || {O, V} <- maps:to_list(Values), Pids <- [[], [C]]],
        [begin
             true = alcove:setopt(Drv, [C], O, 1),
             1 = alcove:getopt(Drv, [C], O)
         end || O <- Opts],
        false = alcove:getopt(Drv, [], no_such_option),
        false = alcove:setopt(Drv, [], no_such_option, 1)
    after
        alcove_drv:stop(Drv)
    end,
    ok.
