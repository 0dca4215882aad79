#!/usr/bin/env escript
%% SPDX-License-Identifier: ISC
%%! -noshell
%%
%% Writes the fuzzer's seed corpus, fuzz/corpus/*: one file per call of
%% gen/calls.eterm holding a valid request for it, encoded as alcove_drv
%% encodes it (alcove_proto:arg/2 on each argument, then term_to_binary of
%% the tuple), plus stdin, eof and shutdown frames.
%%
%% Each call file holds the request three times: to the port itself
%% (chain []), to the simulated child ?P1 and to its child ?Q1, so that a
%% seed already crosses the routing of one and two hops. The PIDs are the
%% fake children of fuzz/fuzz_port.c: keep both in step.
%%
%% Usage: escript fuzz/gen_corpus.escript [Root]   (Root defaults to .)

%% Frame types: alcove_facts (gen/facts.eterm), as the port has them.
-define(MSG_CALL, (alcove_facts:down(call))).
-define(MSG_STDIN, (alcove_facts:down(stdin))).
-define(MSG_EOF, (alcove_facts:down(eof))).
-define(MSG_SHUTDOWN, (alcove_facts:down(shutdown))).

%% fuzz_port.c: P1 runs the event loop, P2 has exec'd (its control socket
%% is closed), P3 has exited; Q1 and Q2 are children of P1, alike.
-define(P1, 5000001).
-define(P2, 5000002).
-define(P3, 5000003).
-define(Q1, 6000001).
-define(Q2, 6000002).

main([]) -> main(["."]);
main([Root]) ->
    true = code:add_pathz(filename:join(Root, "_build/default/lib/alcove/ebin")),
    {ok, Calls} = file:consult(filename:join(Root, "gen/calls.eterm")),
    Dir = filename:join(Root, "fuzz/corpus"),
    ok = filelib:ensure_dir(filename:join(Dir, "x")),
    [ok = file:delete(F) || F <- filelib:wildcard(filename:join(Dir, "*"))],
    N = write_calls(Dir, Calls, 0),
    M = write_io(Dir),
    io:format("~s: ~b call seeds, ~b stdin/eof/shutdown seeds~n", [Dir, N, M]).

write_calls(_, [], N) -> N;
%% An entry has six elements, or seven with an example.
write_calls(Dir, [Entry | Rest], N) ->
    {Name, Args} = {element(1, Entry), element(2, Entry)},
    Nr = alcove_proto:call(Name),
    Nr = N, % the call number is the position in calls.eterm
    Tuple = list_to_tuple([alcove_proto:arg(T, value(Name, A, T))
                           || {A, T} <- Args]),
    Body = [<<Nr:16>>, term_to_binary(Tuple)],
    Frames = [call(1, [], Body), call(2, [?P1], Body), call(3, [?P1, ?Q1], Body)],
    write(Dir, "call_" ++ atom_to_list(Name), Frames),
    write_calls(Dir, Rest, N + 1).

%% Requests as alcove_drv:call/5, stdin/3 and eof/3 send them.
call(Id, Pids, Body) -> frame([<<?MSG_CALL, Id:32, (length(Pids)):16>>, chain(Pids), Body]).
stdin(Id, Pids, Data) -> frame([<<?MSG_STDIN, Id:32, (length(Pids)):16>>, chain(Pids), Data]).
eof(Id, Pids) -> frame([<<?MSG_EOF, Id:32, (length(Pids)):16>>, chain(Pids)]).
shutdown() -> frame(<<?MSG_SHUTDOWN, 0:32, 0:16>>).

chain(Pids) -> << <<P:32>> || P <- Pids >>.

frame(Body) ->
    B = iolist_to_binary(Body),
    <<(byte_size(B)):32, B/binary>>.

write(Dir, Name, Frames) ->
    ok = file:write_file(filename:join(Dir, Name), Frames).

write_io(Dir) ->
    Getpid = [<<6:16>>, term_to_binary({})],
    Seeds = [
        {"stdin", [stdin(1, [?P2], <<"hello\n">>)]},
        {"stdin_eof", [stdin(1, [?P2], <<"hello\n">>), eof(2, [?P2])]},
        {"stdin_empty_eof", [stdin(1, [?P2], <<>>), eof(2, [?P2]),
                             stdin(3, [?P2], <<"late">>)]},
        {"eof", [eof(1, [?P2])]},
        {"eof_twice", [eof(1, [?P2]), eof(2, [?P2])]},
        {"stdin_routed", [stdin(1, [?P1, ?Q2], <<"hello\n">>),
                          eof(2, [?P1, ?Q2])]},
        {"stdin_loop_child", [stdin(1, [?P1], <<"to a control process">>)]},
        {"stdin_exited", [stdin(1, [?P3], <<"x">>), eof(2, [?P3])]},
        {"stdin_port", [stdin(1, [], <<"x">>), eof(2, [])]},
        {"shutdown", [shutdown()]},
        {"shutdown_then_call", [shutdown(), call(1, [], Getpid)]},
        {"badpid", [call(1, [4242], Getpid), call(2, [?P1, 4242], Getpid)]},
        {"exec_child", [call(1, [?P2], Getpid), call(2, [?P1, ?Q2], Getpid)]},
        {"exited_child", [call(1, [?P3], Getpid)]},
        {"deep_chain", [call(1, [?P1, ?Q1, ?P1, ?Q1], Getpid)]},
        {"unknown_call", [call(1, [], [<<16#ffff:16>>, term_to_binary({})])]},
        {"unknown_type", [frame(<<9, 1:32, 0:16>>)]},
        {"short_frames", [frame(<<>>), frame(<<?MSG_CALL, 1:32>>),
                          frame(<<?MSG_CALL, 1:32, 3:16, 0:32>>)]},
        {"partial", [call(1, [], Getpid), <<0, 0, 1>>]}
    ],
    [write(Dir, Name, Frames) || {Name, Frames} <- Seeds],
    length(Seeds).

%% A valid value of each argument, in the form the API takes it (before
%% alcove_proto:arg/2): atoms are names of the right constant table, and
%% the types that take several shapes use a different one per call.
value(Call, _, atom) -> atom_arg(Call);
value(_, _, int32) -> -1;
value(_, _, uint32) -> 8#755;
value(_, _, int64) -> 16#100000000;
value(_, _, uint64) -> 16#ffffffffffffffff;
value(_, _, pid) -> 1;
value(_, _, fd) -> 3;
value(_, A, iodata) -> [<<"/tmp/">>, atom_to_list(A)];
value(_, _, argv) -> [<<"/bin/sh">>, "-c", [<<"true">>]];
value(_, _, nullable_iodata) -> <<"stdio">>;
value(_, _, {constant, T}) -> const(T);
value(_, _, {flags, T}) -> [const(T), 0];
value(_, _, {enum, _}) -> sig_info;
value(_, _, calls) -> [0, 12, 39];
value(_, _, rlimit) -> {alcove_rlimit, 1024, 16#ffffffffffffffff};
value(_, _, timeval) -> {alcove_timeval, 1, 500000};
value(_, _, int32_list) -> [0, 1, 2];
value(_, _, uint32_list) -> [0, 100, 16#ffffffff];
value(_, arg2, {ptrarg, _}) -> 0;
value(_, arg3, {ptrarg, _}) -> <<"name">>;
value(_, addr, {ptrarg, _}) -> [<<1, 2, 3, 4>>, {ptr, 16}];
value(_, _, {ptrarg, ioctl}) -> [<<"tun0">>, <<0:128>>, {ptr, <<"data">>}];
value(_, _, {ptrarg, T}) -> const(T);
value(_, _, cstruct) -> [<<1:16/native, "/tmp/sock">>, {ptr, 8}, {ptr, <<"abc">>}].

%% getopt/setopt/getcpid/setcpid take an option name; *_constant a name
%% of their table.
atom_arg(getopt) -> maxforkdepth;
atom_arg(setopt) -> flowcontrol;
atom_arg(getcpid) -> flowcontrol;
atom_arg(setcpid) -> signaloneof;
atom_arg(signal_constant) -> sigterm;
atom_arg(clone_constant) -> clone_newns;
atom_arg(file_constant) -> o_rdonly;
atom_arg(fcntl_constant) -> f_getfd;
atom_arg(ioctl_constant) -> tunsetiff;
atom_arg(mount_constant) -> ms_rdonly;
atom_arg(prctl_constant) -> pr_set_name;
atom_arg(ptrace_constant) -> ptrace_traceme;
atom_arg(rlimit_constant) -> rlimit_nofile;
atom_arg(seccomp_constant) -> seccomp_set_mode_filter;
atom_arg(syscall_constant) -> sys_getpid;
atom_arg(cap_constant) -> cap_read;
atom_arg(_) -> undefined.

const(signal) -> sigterm;
const(clone) -> clone_newns;
const(wait) -> wnohang;
const(file) -> o_cloexec;
const(fcntl) -> f_getfd;
const(mount) -> ms_bind;
const(prctl) -> pr_set_no_new_privs;
const(ptrace) -> ptrace_o_tracefork;
const(rlimit) -> rlimit_nofile;
const(seccomp) -> seccomp_filter_flag_tsync;
const(ioctl) -> tunsetiff;
const(socket) -> af_unix;
const(prio) -> prio_process;
const(procctl) -> 0; % no procctl or cap table on Linux: an integer
const(cap) -> 0.
