%% SPDX-License-Identifier: ISC
%% A table of bad inputs, each with its expected answer.
%%
%% Every case ends with intact/1: the port still serves (getpid), a
%% sibling forked before the case still answers and is the only child
%% left, and the port holds exactly the descriptors it held before the
%% case (/proc/PORT/fd): nothing leaked.
%%
%% Inputs come three ways:
%% - through the API (alcove:*), where iodata is flattened and argument
%%   types are checked before a byte is sent;
%% - as raw frames written to the driver's own port (port_command/2,
%%   with the length field the driver would write), which reach the port
%%   as they are. The driver drops replies whose id
%%   it does not know, so raw/3 registers its id (near 16#ffffffff, far
%%   from the driver's ids, which count from 0) as pending, answered to
%%   an alias of the test process: the driver's state is changed with
%%   sys:replace_state/2 and nothing of the driver is modified;
%% - as a raw byte stream written to a port started without the driver
%%   (sp_*), for what the driver's framing cannot produce: a length field
%%   that disagrees with the data.
-module(alcove_hostile_SUITE).

-include_lib("common_test/include/ct.hrl").
-include_lib("alcove/include/alcove.hrl").
%% FRAME_MAX, MSG_*, ALCOVE_* (reply statuses), DIE_PROTO: the port's
-include_lib("alcove/src/alcove_facts.hrl").
-include("alcove_test.hrl").

-import(alcove_test, [poll/3, fds/1, wait_exited/2]).

-export([all/0, suite/0, init_per_testcase/2]).
-export([
    frame_truncated/1,
    frame_length_larger_than_data/1,
    frame_too_large_stream/1,
    frame_too_large_driver/1,
    request_too_large_api/1,
    frame_unknown_type/1,
    frame_stdio_to_port/1,
    call_unknown_number/1,
    arg_wrong_type_api/1,
    arg_wrong_type_raw/1,
    args_malformed_raw/1,
    integer_overflow_raw/1,
    integer_overflow_sizes/1,
    reply_too_large/1,
    negative_fds/1,
    internal_fds/1,
    iolist_nested/1,
    huge_argv_env/1,
    nul_in_paths/1,
    fork_chain_bad/1,
    stdin_to_exited/1,
    stdin_to_closed_reader/1,
    calls_after_eof/1,
    filtered_calls_raw/1,
    output_read_by_writer/1
]).

-define(T, 10000).

suite() ->
    [{timetrap, {seconds, 60}}, {ct_hooks, [{alcove_test, []}]}].

all() ->
    [
        frame_truncated,
        frame_length_larger_than_data,
        frame_too_large_stream,
        frame_too_large_driver,
        request_too_large_api,
        frame_unknown_type,
        frame_stdio_to_port,
        call_unknown_number,
        arg_wrong_type_api,
        arg_wrong_type_raw,
        args_malformed_raw,
        integer_overflow_raw,
        integer_overflow_sizes,
        reply_too_large,
        negative_fds,
        internal_fds,
        iolist_nested,
        huge_argv_env,
        nul_in_paths,
        fork_chain_bad,
        stdin_to_exited,
        stdin_to_closed_reader,
        calls_after_eof,
        filtered_calls_raw,
        output_read_by_writer
    ].

%% Runs in the process of the case, which owns the port.
init_per_testcase(_Case, Config) ->
    {ok, Drv} = alcove_drv:start(),
    Port = alcove:getpid(Drv, []),
    %% 60 KB waiting in a child's pipe make the port open its splice pipe
    %% (c_src/core/upstream.c), which it keeps: opened now, it is among the
    %% descriptors intact/1 expects (flowcontrol 0 keeps them there until
    %% the child has exited, and then they are read)
    {ok, W} = alcove:fork(Drv, []),
    true = alcove:setcpid(Drv, [], W, flowcontrol, 0),
    ok = alcove:execvp(Drv, [W], "/bin/sh", ["sh", "-c", "head -c 60000 /dev/zero"]),
    {0, _, <<>>} = alcove_test:output(Drv, [W]),
    {ok, S} = alcove:fork(Drv, []),
    S = alcove:getpid(Drv, [S]),
    [{drv, Drv}, {port_pid, Port}, {sibling, S}, {fds, fds(Port)} | Config].

%%% Test cases

%% Frames too short for their header. One without a whole request id
%% cannot be answered and is dropped; one with an id is answered badarg.
%% Either way the stream stays in step: the length field says where the
%% next frame starts.
frame_truncated(Config) ->
    Drv = ?config(drv, Config),
    S = ?config(sibling, Config),
    %% no id: nothing to answer
    [port_command(port(Drv), sp_frame(B)) || B <- [<<>>, <<?MSG_CALL>>, <<?MSG_CALL, 0, 0>>,
                                         <<?MSG_CALL, 1, 2, 3>>]],
    ok = nothing_answered(Drv),
    %% an id but no PID count, or fewer PIDs than it says
    Cut = [fun(Id) -> <<?MSG_CALL, Id:32>> end,
           fun(Id) -> <<?MSG_CALL, Id:32, 0>> end,
           fun(Id) -> <<?MSG_CALL, Id:32, 1:16>> end,
           fun(Id) -> <<?MSG_CALL, Id:32, 2:16, S:32>> end,
           fun(Id) -> <<?MSG_CALL, Id:32, 16#ffff:16, S:32, 6:16>> end,
           fun(Id) -> <<?MSG_STDIN, Id:32, 1:16, 1, 2>> end,
           fun(Id) -> <<?MSG_EOF, Id:32, 3:16>> end],
    [{?ALCOVE_BADARG, <<>>} = raw(Drv, [], F) || F <- Cut],
    %% a call frame with a header but no call number
    {?ALCOVE_BADARG, <<>>} = raw(Drv, [], fun(Id) -> <<?MSG_CALL, Id:32, 0:16>> end),
    {?ALCOVE_BADARG, <<>>} = raw(Drv, [S], fun(Id) -> <<?MSG_CALL, Id:32, 1:16, S:32, 6>> end),
    intact(Config).

%% The length field is authoritative: a frame whose data has not all
%% arrived is waited for, whatever follows is taken as its data, and once
%% the frame is complete the next one is read at the right place. Frames
%% written a byte at a time, or many in one write, are read the same.
frame_length_larger_than_data(_Config) ->
    P = sp_open(),
    try
        Pid = sp_getpid(P, 1),
        %% a getpid call announced as 40 bytes longer than it is: the
        %% next frame (a whole getpid) becomes the rest of its data
        Call = getpid_body(2),
        ok = sp_write(P, [<<(byte_size(Call) + 40):32>>, Call]),
        ok = sp_write(P, sp_frame(getpid_body(3))),
        %% 40 - 16 (the second frame, its length field included) = 24
        %% bytes still missing; then a frame that must be read on its own
        ok = sp_write(P, binary:copy(<<0>>, 40 - 4 - byte_size(getpid_body(3)))),
        ok = sp_write(P, sp_frame(getpid_body(4))),
        %% the long frame: trailing bytes after the term, badarg; the
        %% frame taken as its data never ran; the last one did
        [{2, ?ALCOVE_BADARG, <<>>}, {4, ?ALCOVE_OK, PidT}] = sp_replies(P, 2),
        Pid = binary_to_term(PidT),
        %% one frame, a byte per write
        [ok = sp_write(P, <<B>>) || <<B>> <= iolist_to_binary(sp_frame(getpid_body(5)))],
        [{5, ?ALCOVE_OK, PidT}] = sp_replies(P, 1),
        %% a hundred frames in one write
        ok = sp_write(P, [sp_frame(getpid_body(I)) || I <- lists:seq(100, 199)]),
        Replies = sp_replies(P, 100),
        Replies = [{I, ?ALCOVE_OK, PidT} || I <- lists:seq(100, 199)],
        ok = sp_shutdown(P)
    after
        catch port_close(P)
    end.

%% A length field above FRAME_MAX (256 MiB) cannot be resynchronised:
%% the port stops at once with DIE_PROTO (113), without waiting for the
%% data; its children die with it.
frame_too_large_stream(_Config) ->
    [begin
         P = sp_open(),
         try
             {ok, C} = binary_to_term(sp_call(P, 1, [], 0, {})),
             C = binary_to_term(sp_call(P, 2, [C], 6, {})),
             ok = sp_write(P, <<Len:32>>),
             ?DIE_PROTO = sp_exit_status(P),
             [] = wait_exited([C], ?T)
         after
             catch port_close(P)
         end
     end || Len <- [?FRAME_MAX + 1, 16#ffffffff]],
    ok.

%% The same through the driver: a frame over FRAME_MAX written to its
%% port stops the port. The driver stops with {port_exit, _}; the owner
%% is told through its link and its monitor; a caller blocked in a call
%% exits instead of hanging; every child dies.
frame_too_large_driver(Config) ->
    Drv0 = ?config(drv, Config),
    ok = alcove_drv:stop(Drv0),
    process_flag(trap_exit, true),
    {ok, Drv} = alcove_drv:start_link(),
    try
        Port = alcove:getpid(Drv, []),
        {ok, C} = alcove:fork(Drv, []),
        {ok, G} = alcove:fork(Drv, [C]),
        {ok, E} = alcove:fork(Drv, []),
        ok = alcove:execvp(Drv, [E], "sleep", ["sleep", "1000"]),
        %% a caller waiting (without timeout) on a stopped child
        ok = alcove:kill(Drv, [], C, sigstop),
        Self = self(),
        Caller = spawn(fun() -> Self ! {caller, catch alcove:getpid(Drv, [C])} end),
        ok = wait_pending(Drv, 1),
        MRef = erlang:monitor(process, Drv),
        true = port_command(port(Drv), sp_frame(binary:copy(<<0>>, ?FRAME_MAX + 1))),
        Reason = receive {'DOWN', MRef, process, Drv, R} -> R
                 after ?T -> ct:fail(driver_alive)
                 end,
        {port_exit, _} = Reason,
        receive {'EXIT', Drv, Reason} -> ok
        after ?T -> ct:fail(no_exit_signal)
        end,
        receive {caller, {'EXIT', {Reason, {alcove_drv, {call, 6}}}}} -> ok
        after ?T -> ct:fail({caller_hangs, erlang:process_info(Caller)})
        end,
        [] = wait_exited([Port, C, G, E], ?T)
    after
        process_flag(trap_exit, false)
    end.

%% A request the port would refuse (over FRAME_MAX) is refused in the
%% caller instead: badarg, and the port and its children are unharmed.
request_too_large_api(Config) ->
    Drv = ?config(drv, Config),
    S = ?config(sibling, Config),
    Big = binary:copy(<<0>>, ?FRAME_MAX),
    {'EXIT', {badarg, _}} = (catch alcove:iolist_to_bin(Drv, [], Big, ?T)),
    {'EXIT', {badarg, _}} = (catch alcove:write(Drv, [S], 1, [Big, Big], ?T)),
    {'EXIT', {badarg, _}} = (catch alcove:execvp(Drv, [S], "x", ["x", Big], ?T)),
    %% just below the limit goes through
    Fits = ?FRAME_MAX - 64,
    Fits = byte_size(alcove:iolist_to_bin(Drv, [], binary:part(Big, 0, Fits), 60000)),
    intact(Config).

%% Frame types the port does not know are answered badarg. HELLO (the
%% driver's first frame, which opens the port's control connection) is
%% badarg too with a chain, and ignored once the port is connected.
frame_unknown_type(Config) ->
    Drv = ?config(drv, Config),
    S = ?config(sibling, Config),
    [{?ALCOVE_BADARG, <<>>} = raw(Drv, Chain,
                           fun(Id) -> <<Type, Id:32, (length(Chain)):16,
                                        (chain(Chain))/binary, 6:16, 131, 104, 0>> end)
     || Type <- [0, 6, 7, 127, 128, 255], Chain <- [[], [S]]],
    {?ALCOVE_BADARG, <<>>} = raw(Drv, [S], fun(Id) -> <<?MSG_HELLO, Id:32, 1:16, S:32>> end),
    true = port_command(port(Drv), sp_frame(<<?MSG_HELLO, 0:32, 0:16, 0:128, 0, "x">>)),
    ok = nothing_answered(Drv),
    intact(Config).

%% stdin and eof for the port itself (no PID in the chain): badpid, raw;
%% eof/2 answers esrch without sending anything.
frame_stdio_to_port(Config) ->
    Drv = ?config(drv, Config),
    {?ALCOVE_BADPID, <<>>} = raw(Drv, [], fun(Id) -> <<?MSG_STDIN, Id:32, 0:16, "data">> end),
    {?ALCOVE_BADPID, <<>>} = raw(Drv, [], fun(Id) -> <<?MSG_EOF, Id:32, 0:16>> end),
    {'EXIT', {badpid, _}} = (catch alcove:stdin(Drv, [], "data")),
    {error, esrch} = alcove:eof(Drv, []),
    intact(Config).

%% Call numbers past the table: badarg, raw or through alcove_drv:call/5,
%% which must not wrap a number into 16 bits (65536 + 6 is not getpid).
call_unknown_number(Config) ->
    Drv = ?config(drv, Config),
    S = ?config(sibling, Config),
    N = length(alcove_proto:calls()),
    Empty = term_to_binary({}),
    [{?ALCOVE_BADARG, <<>>} = raw_call(Drv, Chain, Nr, Empty)
     || Nr <- [N, N + 1, 255, 256, 16#7fff, 16#ffff], Chain <- [[], [S]]],
    [{'EXIT', {badarg, _}} = (catch alcove_drv:call(Drv, Chain, Nr, {}, ?T))
     || Nr <- [N, 16#ffff, 16#10000 + 6, 16#10000 + N, -1, 1 bsl 64, foo],
        Chain <- [[], [S]]],
    intact(Config).

%% Every argument of every call, given a value of the wrong type, raises
%% badarg in the caller before anything is sent: the stand-in driver
%% receives nothing (a call sent to it would time out instead).
arg_wrong_type_api(Config) ->
    Self = self(),
    Fake = spawn_link(fun() -> fake(Self) end),
    Cases = [{Name, I, Bad}
             || {Name, Types} <- call_types(),
                I <- lists:seq(1, length(Types)),
                Bad <- api_wrong(lists:nth(I, Types))],
    true = length(Cases) > 200,
    Wrong = [{Name, I, Bad, Res}
             || {Name, I, Bad} <- Cases,
                Res <- [catch apply(alcove, Name,
                                    [Fake, [] | replace(I, Bad, api_valid(Name))] ++ [500])],
                not is_badarg(Res)],
    [] = Wrong,
    Fake ! marker,
    receive {fake, First} -> marker = First after ?T -> ct:fail(no_marker) end,
    unlink(Fake),
    exit(Fake, kill),
    intact(Config).

%% The same reaching the port as raw frames (the API would have refused
%% them): every argument of every call, with each wrong value of its
%% type, in a child: badarg, and the call does not run (the child still
%% answers, with its state unchanged).
arg_wrong_type_raw(Config) ->
    Drv = ?config(drv, Config),
    {ok, D} = alcove:fork(Drv, []),
    Cwd = alcove:getcwd(Drv, [D]),
    Cases = [{Name, I, Bad}
             || {Name, Types} <- call_types(),
                I <- lists:seq(1, length(Types)),
                Bad <- raw_wrong(lists:nth(I, Types))],
    true = length(Cases) > 300,
    Wrong = [{Name, I, Bad, Res}
             || {Name, I, Bad} <- Cases,
                Res <- [raw_call(Drv, [D], alcove_proto:call(Name),
                                 term_to_binary(list_to_tuple(
                                                  replace(I, Bad, raw_valid(Name)))))],
                Res =/= {?ALCOVE_BADARG, <<>>}],
    [] = Wrong,
    D = alcove:getpid(Drv, [D]),
    Cwd = alcove:getcwd(Drv, [D]),
    [] = alcove:cpid(Drv, [D]),
    %% the valid arguments used above decode: the table is not vacuous
    {ok, <<>>, <<>>} = decode(raw_call(Drv, [D], alcove_proto:call(alloc),
                                       term_to_binary(list_to_tuple(raw_valid(alloc))))),
    ok = stop_child(Drv, D),
    intact(Config).

%% Argument terms that are not a tuple of the call's arity, or not a
%% whole term: badarg.
args_malformed_raw(Config) ->
    Drv = ?config(drv, Config),
    S = ?config(sibling, Config),
    Nr = alcove_proto:call(iolist_to_bin),
    Good = term_to_binary({<<"x">>}),
    {?ALCOVE_OK, Good1} = raw_call(Drv, [S], Nr, Good),
    <<"x">> = binary_to_term(Good1),
    Bad = [<<>>,
           <<131>>,
           binary:part(Good, 0, byte_size(Good) - 1),  % cut short
           <<Good/binary, 0>>,                          % trailing byte
           <<130, (binary:part(Good, 1, byte_size(Good) - 1))/binary>>,  % version
           term_to_binary({}),
           term_to_binary({<<"x">>, <<"y">>}),
           term_to_binary([<<"x">>]),
           term_to_binary(<<"x">>),
           term_to_binary(x),
           %% compressed: the port does not inflate
           term_to_binary({binary:copy(<<"x">>, 1000)}, [compressed]),
           term_to_binary(list_to_tuple(lists:duplicate(300, <<"x">>)))],
    [{?ALCOVE_BADARG, <<>>} = raw_call(Drv, Chain, Nr, B) || B <- Bad, Chain <- [[], [S]]],
    %% a call with no arguments takes {} only
    [{?ALCOVE_BADARG, <<>>} = raw_call(Drv, [S], alcove_proto:call(getpid), B)
     || B <- [<<>>, term_to_binary({x}), term_to_binary([]), <<131, 104, 0, 0>>]],
    intact(Config).

%% Size and count fields of the external term format larger than the
%% data, and integers out of their type's range: badarg, nothing read
%% past the frame, nothing allocated for the claimed size.
integer_overflow_raw(Config) ->
    Drv = ?config(drv, Config),
    S = ?config(sibling, Config),
    Bin = alcove_proto:call(iolist_to_bin),
    Argv = alcove_proto:call(execvp),
    %% a harmless call taking an int32, should one be decoded by mistake
    Int = alcove_proto:call(errno_id),
    Read = alcove_proto:call(read),
    Groups = alcove_proto:call(setgroups),
    Getopt = alcove_proto:call(getopt),
    Cases =
        [%% binary length field past the data
         {Bin, <<131, 104, 1, 109, 16#ffffffff:32, "x">>},
         {Bin, <<131, 104, 1, 109, 16#7fffffff:32, "x">>},
         {Bin, <<131, 104, 1, 109, 2:32, "x">>},
         %% list and string counts past the data
         {Argv, <<131, 104, 2, 109, 1:32, "x", 108, 16#ffffffff:32, 106>>},
         {Argv, <<131, 104, 2, 109, 1:32, "x", 108, 16#7fffffff:32, 109, 1:32, "x", 106>>},
         {Groups, <<131, 104, 1, 107, 16#ffff:16, 1, 2, 3>>},
         {Groups, <<131, 104, 1, 108, 16#ffffffff:32, 97, 1, 106>>},
         %% tuple arities past the data
         {Bin, <<131, 105, 16#ffffffff:32, 109, 1:32, "x">>},
         {Bin, <<131, 105, 16#80000000:32, 109, 1:32, "x">>},
         %% atom lengths past the data, or longer than an atom can be
         {Getopt, <<131, 104, 1, 100, 16#ffff:16, "maxchild">>},
         {Getopt, <<131, 104, 1, 118, 16#ffff:16, "maxchild">>},
         {Getopt, <<131, 104, 1, 119, 255, "maxchild">>},
         {Getopt, <<131, 104, 1, 100, 300:16, (binary:copy(<<"a">>, 300))/binary>>},
         %% big integers: too many digits, or a length past the data
         {Int, <<131, 104, 1, 110, 9, 0, 1:72>>},
         {Int, <<131, 104, 1, 110, 255, 0, 1>>},
         {Int, <<131, 104, 1, 111, 16#ffffffff:32, 0, 1>>},
         {Int, <<131, 104, 1, 111, 4:32, 0, 1:24>>},
         {Read, <<131, 104, 2, 97, 0, 110, 8, 0, 16#ffffffffffffffff:64/little>>}],
    [{?ALCOVE_BADARG, <<>>} = raw_call(Drv, Chain, Nr, Args)
     || {Nr, Args} <- Cases, Chain <- [[], [S]]],
    %% integers one past the range of their type
    Ranges = [{errno_id, [1 bsl 31]}, {errno_id, [-(1 bsl 31) - 1]},
              {setuid, [1 bsl 32]}, {setuid, [-1]},
              {read, [0, 1 bsl 63]}, {read, [0, -(1 bsl 63) - 1]},
              {setrlimit, [0, {alcove_rlimit, 1 bsl 64, 0}]},
              {setrlimit, [0, {alcove_rlimit, 0, -1}]},
              {kill, [1 bsl 31, 0]}, {kill, [16#7ffffffe, 1 bsl 64]},
              {setgroups, [[1 bsl 32]]}, {setgroups, [[-(1 bsl 31) - 1]]},
              {select, [[1 bsl 32], [], [], []]},
              {filter, [[256], []]}, {filter, [[], [-1]]},
              {alloc, [[{ptr, 16#1000001}]]}, {alloc, [[{ptr, -1}]]},
              {alloc, [[{ptr, 1 bsl 64}]]},
              {alloc, [lists:duplicate(257, <<>>)]}],
    [{?ALCOVE_BADARG, <<>>} = raw_call(Drv, [S], alcove_proto:call(Name),
                                term_to_binary(list_to_tuple(Args)))
     || {Name, Args} <- Ranges],
    intact(Config).

%% Sizes and counts the types allow but the calls cannot honour: an
%% error from the call, not a huge allocation.
integer_overflow_sizes(Config) ->
    Drv = ?config(drv, Config),
    S = ?config(sibling, Config),
    {ok, D} = alcove:fork(Drv, []),
    {ok, Fd} = alcove:open(Drv, [D], "/dev/zero", [o_rdonly], 0),
    {ok, File} = alcove:open(Drv, [D], "/proc/self/status", [o_rdonly], 0),
    [{error, einval} = alcove:read(Drv, [D], Fd, N)
     || N <- [-1, 64 * ?MIB + 1, 1 bsl 31, 1 bsl 62, (1 bsl 63) - 1, -(1 bsl 63)]],
    {ok, Zeros} = alcove:read(Drv, [D], Fd, 64 * ?MIB),
    true = Zeros =:= binary:copy(<<0>>, 64 * ?MIB),
    {error, einval} = alcove:lseek(Drv, [D], File, -1, 0),
    {error, einval} = alcove:lseek(Drv, [D], File, 0, 1 bsl 30),
    [{error, einval} = alcove:select(Drv, [D], Set, [], [], #alcove_timeval{})
     || Set <- [[1024], [65536], [(1 bsl 31) - 1], [Fd, 1 bsl 20]]],
    [{error, einval} = alcove:select(Drv, [D], [Fd], [], [], T)
     || T <- [#alcove_timeval{sec = -1}, #alcove_timeval{usec = -1},
              #alcove_timeval{usec = 1000000},
              #alcove_timeval{sec = -(1 bsl 63)}]],
    {ok, [Fd], [], []} = alcove:select(Drv, [D], [Fd], [], [],
                                       #alcove_timeval{sec = (1 bsl 63) - 1}),
    {error, einval} = alcove:setgroups(Drv, [D], lists:seq(1, 70000)),
    {'EXIT', {badarg, _}} = (catch alcove:alloc(Drv, [D], [{ptr, 16#1000001}])),
    {'EXIT', {badarg, _}} = (catch alcove:alloc(Drv, [D], lists:duplicate(257, <<>>))),
    %% large but allowed
    {ok, Buf, [{ptr, P}]} = alcove:alloc(Drv, [D], [{ptr, 16#1000000}]),
    8 = byte_size(Buf),
    true = P =:= binary:copy(<<0>>, 16#1000000),
    [] = alcove:cpid(Drv, [D]),
    ok = stop_child(Drv, D),
    S = alcove:getpid(Drv, [S]),
    intact(Config).

%% Replies that no frame can carry (over FRAME_MAX) are refused with
%% badarg, at any depth, instead of being cut off (a parent kills a child
%% sending a frame over FRAME_MAX) or overflowing ei's int index (past
%% 2 GiB, a heap overflow). alloc echoes its argument: the buffer, then
%% each element, {ptr, N} as N bytes.
reply_too_large(Config) ->
    Drv = ?config(drv, Config),
    S = ?config(sibling, Config),
    Ptr = {ptr, 16#1000000},
    %% 64 MiB twice and 9 x 16 MiB: 272 MiB of reply for 208 MiB of
    %% memory
    Plain = binary:copy(<<0>>, 64 * ?MIB),
    [{'EXIT', {badarg, _}} = (catch alcove:alloc(Drv, Chain, [Plain | lists:duplicate(9, Ptr)],
                                                 120000))
     || Chain <- [[S], []]],
    %% 17 x 16 MiB (over FRAME_MAX) and 129 x 16 MiB (over 2 GiB) are
    %% more than a reply can carry back: refused before they are made
    [{'EXIT', {badarg, _}} = (catch alcove:alloc(Drv, Chain, lists:duplicate(N, Ptr), 120000))
     || N <- [17, 129], Chain <- [[S], []]],
    %% below the limit, at depth 1
    {ok, _, L} = alcove:alloc(Drv, [S], lists:duplicate(15, Ptr), 60000),
    15 = length(L),
    intact(Config).

%% Negative (and out of range) descriptors: ebadf or einval from the
%% call, never a crash or a descriptor of the loop.
negative_fds(Config) ->
    Drv = ?config(drv, Config),
    {ok, D} = alcove:fork(Drv, []),
    Fds = [-1, -2, -(1 bsl 31), (1 bsl 31) - 1, 4096],
    [begin
         {error, ebadf} = alcove:close(Drv, Chain, Fd),
         {error, ebadf} = alcove:read(Drv, Chain, Fd, 10),
         {error, ebadf} = alcove:write(Drv, Chain, Fd, <<"x">>),
         {error, ebadf} = alcove:lseek(Drv, Chain, Fd, 0, 0),
         {error, ebadf} = alcove:fcntl(Drv, Chain, Fd, f_getfd, 0),
         {error, ebadf} = alcove:ioctl(Drv, Chain, Fd, 0, 0),
         {error, ebadf} = alcove:connect(Drv, Chain, Fd, <<>>),
         {error, einval} = alcove:select(Drv, Chain, [Fd], [], [], #alcove_timeval{}),
         {error, einval} = alcove:select(Drv, Chain, [], [Fd], [], #alcove_timeval{}),
         {error, einval} = alcove:select(Drv, Chain, [], [], [Fd], #alcove_timeval{})
     end || Fd <- Fds, Chain <- [[], [D]]],
    [{error, ebadf} = alcove:setns(Drv, [D], Fd, 0) || Fd <- Fds],
    %% fexecve on a bad descriptor fails (glibc refuses a negative one
    %% itself): the child is still there
    [{error, einval} = alcove:fexecve(Drv, [D], Fd, ["x"], []) || Fd <- Fds, Fd < 0],
    [{error, ebadf} = alcove:fexecve(Drv, [D], Fd, ["x"], []) || Fd <- Fds, Fd >= 0],
    D = alcove:getpid(Drv, [D]),
    ok = stop_child(Drv, D),
    intact(Config).

%% The descriptors the event loop owns (its upstream, the control socket
%% and stdio pipes of each child) are not the caller's: close, read and
%% write on them are ebadf, in the port and in a child. A write to the
%% port's stdout would otherwise be taken by the driver as a frame (and
%% a bad length hangs it); a read would take requests out of the stream.
internal_fds(Config) ->
    Drv = ?config(drv, Config),
    {ok, D} = alcove:fork(Drv, []),
    {ok, G} = alcove:fork(Drv, [D]),
    %% closing a child's stdin, stdout or stderr is eof/3 of that stream
    %% (alcove_fidelity_SUITE): only the others are checked here
    Stdio = fun(Chain) ->
                    [Fd || #alcove_pid{stdin = B, stdout = C, stderr = E}
                               <- alcove:cpid(Drv, Chain),
                           Fd <- [B, C, E]]
            end,
    Check = fun(Chain, Fd) ->
                    {Fd, {error, ebadf}} = {Fd, alcove:write(Drv, Chain, Fd, <<"garbage">>, ?T)},
                    {Fd, {error, ebadf}} = {Fd, alcove:read(Drv, Chain, Fd, 100, ?T)},
                    lists:member(Fd, Stdio(Chain)) orelse
                        ({Fd, {error, ebadf}} = {Fd, alcove:close(Drv, Chain, Fd, ?T)})
            end,
    %% Every descriptor past 5 belongs to the loop: its control socket
    %% (in a child), epoll, the signal pipe, the children's sockets and
    %% pipes. The port's upstream is 0 and 1; a child's 0 to 2 are its own
    %% stdio, which it may use; 3 to 5 hold placeholders, as the
    %% reference's layout has them taken.
    Internal = fun(Chain) ->
                       Fds = fds(alcove:getpid(Drv, Chain)) -- [0, 1, 2, 3, 4, 5],
                       Kids = [Fd || #alcove_pid{fdctl = A, stdin = B, stdout = C, stderr = E}
                                         <- alcove:cpid(Drv, Chain),
                                     Fd <- [A, B, C, E]],
                       [] = Kids -- Fds,
                       true = length(Fds -- Kids) >= 3,
                       case Chain of [] -> [0, 1 | Fds]; _ -> Fds end
               end,
    [Check(Chain, Fd) || Chain <- [[], [D]], Fd <- Internal(Chain)],
    D = alcove:getpid(Drv, [D]),
    G = alcove:getpid(Drv, [D, G]),
    ok = stop_child(Drv, D),
    intact(Config).

%% iodata is flattened by the API whatever its nesting; the port takes
%% only binaries where iodata goes, so a list reaching it raw (however
%% deep) is badarg, decoded without recursion.
iolist_nested(Config) ->
    Drv = ?config(drv, Config),
    S = ?config(sibling, Config),
    Deep = lists:foldl(fun(_, Acc) -> [Acc, <<"y">>] end, <<"x">>, lists:seq(1, 100000)),
    Flat = iolist_to_binary(Deep),
    100001 = byte_size(Flat),
    Flat = alcove:iolist_to_bin(Drv, [], Deep),
    Flat = alcove:iolist_to_bin(Drv, [S], Deep),
    Left = lists:foldl(fun(_, Acc) -> [Acc] end, "/nonexistent", lists:seq(1, 1000000)),
    {error, enoent} = alcove:chdir(Drv, [S], Left),
    %% not iodata: badarg in the caller
    [{'EXIT', {badarg, _}} = (catch alcove:iolist_to_bin(Drv, [S], Bad))
     || Bad <- [[<<"x">> | y], [256], [-1], [1.0], [[[[x]]]], [Deep | z], #{}]],
    %% raw: a list where a binary goes
    Nr = alcove_proto:call(iolist_to_bin),
    Nested = lists:foldl(fun(_, Acc) -> [Acc] end, <<"x">>, lists:seq(1, 100000)),
    [{?ALCOVE_BADARG, <<>>} = raw_call(Drv, Chain, Nr, term_to_binary({L}))
     || L <- [[<<"x">>], "x", Deep, Nested], Chain <- [[], [S]]],
    %% as an argv element, or a path
    [{?ALCOVE_BADARG, <<>>} = raw_call(Drv, [S], alcove_proto:call(Name), term_to_binary(Args))
     || {Name, Args} <- [{execvp, {<<"/bin/true">>, [<<"true">>, Nested]}},
                         {execvp, {<<"/bin/true">>, [Nested]}},
                         {chdir, {Nested}}]],
    S = alcove:getpid(Drv, [S]),
    intact(Config).

%% argv and environments over the kernel's limits are e2big from exec;
%% the process that tried is still there and still serves.
huge_argv_env(Config) ->
    Drv = ?config(drv, Config),
    {ok, D} = alcove:fork(Drv, []),
    Long = binary:copy(<<"a">>, 256 * 1024),                 % > MAX_ARG_STRLEN
    Many = lists:duplicate(300000, <<"aaaaaaaaaaaaaaa">>),   % > ARG_MAX
    {error, e2big} = alcove:execvp(Drv, [D], "/bin/true", ["true", Long]),
    {error, e2big} = alcove:execvp(Drv, [D], "/bin/true", ["true" | Many]),
    {error, e2big} = alcove:execve(Drv, [D], "/bin/true", ["true"], [<<"A=", Long/binary>>]),
    {error, e2big} = alcove:execve(Drv, [D], "/bin/true", ["true"],
                                   [<<"A", (integer_to_binary(I))/binary, "=x">>
                                    || I <- lists:seq(1, 300000)]),
    {error, einval} = alcove:execvp(Drv, [D], "/bin/true", []),
    {error, einval} = alcove:execve(Drv, [D], "/bin/true", [], []),
    %% a name of 1 MiB
    {error, enametoolong} = alcove:execvp(Drv, [D], binary:copy(<<"a">>, ?MIB), ["a"]),
    D = alcove:getpid(Drv, [D]),
    %% and it can still exec
    ok = alcove:execvp(Drv, [D], "/bin/sh", ["sh", "-c", "exit 3"]),
    {exit_status, 3} = alcove:event(Drv, [D], ?T),
    intact(Config).

%% A NUL byte inside a path, a name or an argv/env string is einval (it
%% would silently cut the string short); nothing is created or changed.
nul_in_paths(Config) ->
    Drv = ?config(drv, Config),
    {ok, D} = alcove:fork(Drv, []),
    Dir = "/tmp/alcove_hostile_" ++ os:getpid() ++ "_" ++ integer_to_list(D),
    ok = file:make_dir(Dir),
    try
        P = <<(list_to_binary(Dir))/binary, "/a\0b">>,
        Cwd = alcove:getcwd(Drv, [D]),
        Hostname = alcove:gethostname(Drv, [D]),
        Calls = [fun(C) -> alcove:open(Drv, C, P, [o_creat, o_wronly], 8#644) end,
                 fun(C) -> alcove:chdir(Drv, C, P) end,
                 fun(C) -> alcove:chmod(Drv, C, P, 8#755) end,
                 fun(C) -> alcove:chown(Drv, C, P, 0, 0) end,
                 fun(C) -> alcove:chroot(Drv, C, P) end,
                 fun(C) -> alcove:link(Drv, C, P, <<"/tmp/x">>) end,
                 fun(C) -> alcove:link(Drv, C, <<"/etc/hostname">>, P) end,
                 fun(C) -> alcove:symlink(Drv, C, <<"/etc/hostname">>, P) end,
                 fun(C) -> alcove:symlink(Drv, C, P, <<"/tmp/x">>) end,
                 fun(C) -> alcove:unlink(Drv, C, P) end,
                 fun(C) -> alcove:mkdir(Drv, C, P, 8#755) end,
                 fun(C) -> alcove:mkfifo(Drv, C, P, 8#644) end,
                 fun(C) -> alcove:rmdir(Drv, C, P) end,
                 fun(C) -> alcove:readdir(Drv, C, P) end,
                 fun(C) -> alcove:mount(Drv, C, "tmpfs", P, "tmpfs", [], <<>>, <<>>) end,
                 fun(C) -> alcove:mount(Drv, C, P, Dir, "tmpfs", [], <<>>, <<>>) end,
                 fun(C) -> alcove:mount(Drv, C, "tmpfs", Dir, <<"tmp\0fs">>, [], <<>>, <<>>) end,
                 fun(C) -> alcove:umount(Drv, C, P) end,
                 fun(C) -> alcove:umount2(Drv, C, P, []) end,
                 fun(C) -> alcove:pivot_root(Drv, C, P, Dir) end,
                 fun(C) -> alcove:pivot_root(Drv, C, Dir, P) end,
                 fun(C) -> alcove:sethostname(Drv, C, <<"alcove\0x">>) end,
                 fun(C) -> alcove:setenv(Drv, C, <<"A\0B">>, <<"x">>, 1) end,
                 fun(C) -> alcove:setenv(Drv, C, <<"A">>, <<"x\0y">>, 1) end,
                 fun(C) -> alcove:unsetenv(Drv, C, <<"PATH\0x">>) end,
                 fun(C) -> alcove:execvp(Drv, C, P, ["x"]) end,
                 fun(C) -> alcove:execvp(Drv, C, <<"/bin/true\0x">>, ["true"]) end,
                 fun(C) -> alcove:execvp(Drv, C, "/bin/true", ["true", <<"a\0b">>]) end,
                 fun(C) -> alcove:execve(Drv, C, "/bin/true", [<<"tr\0ue">>], []) end,
                 fun(C) -> alcove:execve(Drv, C, "/bin/true", ["true"], [<<"A=\0">>]) end,
                 fun(C) -> alcove:fexecve(Drv, C, 0, ["true", <<"\0">>], []) end],
        Res = [{I, R} || {I, F} <- lists:zip(lists:seq(1, length(Calls)), Calls),
                         R <- [F([D])], R =/= {error, einval}],
        [] = Res,
        %% a name holding a NUL is in no environment
        false = alcove:getenv(Drv, [D], <<"PATH\0x">>),
        true = is_binary(alcove:getenv(Drv, [D], "PATH")),
        %% nothing happened
        {ok, []} = file:list_dir(Dir),
        Cwd = alcove:getcwd(Drv, [D]),
        Hostname = alcove:gethostname(Drv, [D]),
        false = alcove:getenv(Drv, [D], "A"),
        D = alcove:getpid(Drv, [D]),
        ok = stop_child(Drv, D)
    after
        os:cmd("rm -rf " ++ Dir)
    end,
    intact(Config).

%% Fork chains naming the port itself, a PID twice, a PID that is not a
%% child of the previous one, or PIDs no process can have: badpid for
%% calls and stdin; eof is esrch when the chain up to the last PID
%% holds, badpid when it does not; the processes named are untouched.
fork_chain_bad(Config) ->
    Drv = ?config(drv, Config),
    S = ?config(sibling, Config),
    Port = ?config(port_pid, Config),
    {ok, C} = alcove:fork(Drv, []),
    {ok, G} = alcove:fork(Drv, [C]),
    {ok, H} = alcove:fork(Drv, [S]),
    Bad = [[Port], [Port, C], [C, C], [C, G, C], [C, G, G], [C, Port], [S, G],
           [C, H], [G], [C, G, Port], [0], [C, 0], [16#7fffffff], [C, 16#7fffffff],
           lists:duplicate(17, C), [C, G | lists:duplicate(100, G)]],
    [{'EXIT', {badpid, _}} = (catch alcove:getpid(Drv, Chain)) || Chain <- Bad],
    [{'EXIT', {badpid, _}} = (catch alcove:fork(Drv, Chain)) || Chain <- Bad],
    [case lists:member(lists:droplast(Chain), [[], [C], [C, G], [S]]) of
         true -> {error, esrch} = alcove:eof(Drv, Chain);
         false -> {'EXIT', {badpid, _}} = (catch alcove:eof(Drv, Chain))
     end || Chain <- Bad],
    [ok = alcove:stdin(Drv, Chain, "x") || Chain <- Bad],
    %% PIDs the API refuses (negative, past int32) sent raw: badpid
    [{?ALCOVE_BADPID, <<>>} = raw_call(Drv, Chain, 6, term_to_binary({}))
     || Chain <- [[16#ffffffff], [16#80000000], [C, 16#ffffffff], [C, G, 16#80000000]]],
    [{'EXIT', {badarg, _}} = (catch alcove:getpid(Drv, Chain))
     || Chain <- [[-1], [1 bsl 31], [C, -1], [x], c]],
    %% nothing was forked, nothing died
    C = alcove:getpid(Drv, [C]),
    G = alcove:getpid(Drv, [C, G]),
    H = alcove:getpid(Drv, [S, H]),
    [#alcove_pid{pid = G}] = alcove:cpid(Drv, [C]),
    [] = alcove:cpid(Drv, [C, G]),
    [#alcove_pid{pid = H}] = alcove:cpid(Drv, [S]),
    ok = alcove:exit(Drv, [S, H], 0),
    {exit_status, 0} = alcove:event(Drv, [S, H], ?T),
    ok = stop_child(Drv, C),
    intact(Config).

%% stdin to a process that has exited returns (even for more than the
%% driver's window of a few MiB, which would wait for acknowledgements),
%% and leaves nothing pending in the driver; eof is esrch.
stdin_to_exited(Config) ->
    Drv = ?config(drv, Config),
    {ok, C} = alcove:fork(Drv, []),
    ok = alcove:execvp(Drv, [C], "/bin/true", ["true"]),
    {exit_status, 0} = alcove:event(Drv, [C], ?T),
    ok = alcove:stdin(Drv, [C], "x"),
    ok = alcove:stdin(Drv, [C], binary:copy(<<"x">>, 16 * ?MIB)),
    {error, esrch} = alcove:eof(Drv, [C]),
    %% an event loop that exited
    {ok, E} = alcove:fork(Drv, []),
    ok = alcove:exit(Drv, [E], 0),
    {exit_status, 0} = alcove:event(Drv, [E], ?T),
    ok = alcove:stdin(Drv, [E], binary:copy(<<"x">>, 16 * ?MIB)),
    ok = wait_pending(Drv, 0),
    0 = map_size(element(7, sys:get_state(Drv))),  % inflight stdin
    [] = alcove:stdout(Drv, [C]),
    intact(Config).

%% stdin to a live program that closed its stdin: the writes fail in the
%% port (EPIPE), are acknowledged, and do not pile up; the program and
%% the port are unharmed.
stdin_to_closed_reader(Config) ->
    Drv = ?config(drv, Config),
    {ok, C} = alcove:fork(Drv, []),
    ok = alcove:execvp(Drv, [C], "/bin/sh",
                       ["sh", "-c", "exec 0<&-; echo closed; exec sleep 1000"]),
    [<<"closed\n">>] = stdout_until(Drv, [C], <<"closed\n">>),
    [ok = alcove:stdin(Drv, [C], binary:copy(<<"x">>, ?MIB)) || _ <- lists:seq(1, 32)],
    ok = wait_pending(Drv, 0),
    0 = map_size(element(7, sys:get_state(Drv))),
    %% the pipe was closed by the port when the reader went away
    #alcove_pid{stdin = -1} = lists:keyfind(C, #alcove_pid.pid, alcove:cpid(Drv, [])),
    ok = alcove:stdin(Drv, [C], "more"),
    {error, ebadf} = alcove:eof(Drv, [C]),
    ok = alcove:kill(Drv, [], C, sigkill),
    {termsig, sigkill} = alcove:event(Drv, [C], ?T),
    intact(Config).

%% After eof: a second eof is ebadf; stdin is dropped (the program saw
%% its end of input and got only what came before); an event loop whose
%% stdin was closed shuts down, as the port does, and exits 0.
calls_after_eof(Config) ->
    Drv = ?config(drv, Config),
    {ok, C} = alcove:fork(Drv, []),
    ok = alcove:execvp(Drv, [C], "/bin/sh", ["sh", "-c", "wc -c; exec sleep 1000"]),
    ok = alcove:stdin(Drv, [C], "12345"),
    ok = alcove:eof(Drv, [C]),
    {error, ebadf} = alcove:eof(Drv, [C]),
    ok = alcove:stdin(Drv, [C], "678"),
    [<<"5\n">>] = stdout_until(Drv, [C], <<"5\n">>),
    ok = alcove:stdin(Drv, [C], "9"),
    ok = wait_pending(Drv, 0),
    ok = alcove:kill(Drv, [], C, sigkill),
    {termsig, sigkill} = alcove:event(Drv, [C], ?T),
    [] = alcove:stdout(Drv, [C]),
    %% an event loop
    {ok, E} = alcove:fork(Drv, []),
    {ok, G} = alcove:fork(Drv, [E]),
    ok = alcove:eof(Drv, [E]),
    {exit_status, 0} = alcove:event(Drv, [E], ?T),
    {error, esrch} = alcove:eof(Drv, [E]),
    {'EXIT', {badpid, _}} = (catch alcove:getpid(Drv, [E, G])),
    intact(Config).

%% A filtered call is refused (undef) before its arguments are read,
%% whatever they are: every call number but the allowed ones, sent raw
%% with no, garbage or plausible arguments, to the filtered process and
%% to one it forked after the filter (which inherits it). A filter
%% cannot be loosened: an empty or smaller list changes nothing. A
%% process forked before the filter is not restricted.
filtered_calls_raw(Config) ->
    Drv = ?config(drv, Config),
    {ok, C} = alcove:fork(Drv, []),
    {ok, Before} = alcove:fork(Drv, [C]),
    Allowed = [fork, getpid, filter],
    ok = alcove:filter(Drv, [C], alcove:filter({allow, Allowed})),
    {ok, After} = alcove:fork(Drv, [C]),
    ok = alcove:filter(Drv, [C], []),
    ok = alcove:filter(Drv, [C], alcove:filter({allow, [execve | Allowed]})),
    Denied = [Nr || Nr <- lists:seq(0, length(alcove_proto:calls()) - 1),
                    not lists:member(alcove_proto:name(Nr), Allowed)],
    true = lists:member(alcove_proto:call(execve), Denied),
    Args = [<<>>, <<131>>, term_to_binary({}), term_to_binary({<<"/bin/true">>, [], []}),
            binary:copy(<<255>>, 64)],
    [] = [{Chain, alcove_proto:name(Nr), A, R}
          || Chain <- [[C], [C, After]], Nr <- Denied, A <- Args,
             R <- [raw_call(Drv, Chain, Nr, A)], R =/= {?ALCOVE_UNDEF, <<>>}],
    {'EXIT', {undef, _}} = (catch alcove:execvp(Drv, [C, After], "/bin/true", ["true"])),
    C = alcove:getpid(Drv, [C]),
    After = alcove:getpid(Drv, [C, After]),
    {ok, 0, 0, 0} = alcove:getresuid(Drv, [C, Before]),
    ok = stop_child(Drv, C),
    intact(Config).

%% A program that reads back its own stdout (through /proc/self/fd/1)
%% while writing much to it, racing the port for its pipe: the port takes
%% what it gets, passes only that on (zeros, as written) and goes on
%% serving; the exit status arrives.
output_read_by_writer(Config) ->
    Drv = ?config(drv, Config),
    {ok, C} = alcove:fork(Drv, []),
    ok = alcove:execvp(Drv, [C], "/bin/sh",
                       ["sh", "-c", "cat /proc/$$/fd/1 > /dev/null & "
                        "for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16; do "
                        "head -c 300000 /dev/zero; done; kill $!"]),
    Port = ?config(port_pid, Config),
    [Port = alcove:getpid(Drv, [], ?T) || _ <- lists:seq(1, 50)],
    {0, Out, <<>>} = alcove_test:output(Drv, [C]),
    true = byte_size(Out) =< 16 * 300000,
    <<>> = binary:replace(Out, <<0>>, <<>>, [global]),
    intact(Config).

%%% The invariants every case ends with

intact(Config) ->
    Drv = ?config(drv, Config),
    Port = ?config(port_pid, Config),
    S = ?config(sibling, Config),
    Fds = ?config(fds, Config),
    Port = alcove:getpid(Drv, [], ?T),
    S = alcove:getpid(Drv, [S], ?T),
    [#alcove_pid{pid = S}] = alcove:cpid(Drv, [], ?T),
    %% a child's descriptors are closed before its exit event is sent:
    %% they are gone by now, but allow for a straggler
    Fds = poll(fun() -> fds(Port) end, Fds, ?T),
    ok.

%%% Raw frames through the driver's port

port(Drv) ->
    element(2, sys:get_state(Drv)).

chain(Pids) -> << <<P:32>> || P <- Pids >>.

getpid_body(Id) ->
    <<?MSG_CALL, Id:32, 0:16, 6:16, (term_to_binary({}))/binary>>.

%% Write the frame made by F(Id) to the driver's port and wait for its
%% reply {Status, TermBinary}. The id is registered with the driver as a
%% call from Chain, so that a reply, or the closing of Chain, is passed
%% on to this process.
raw(Drv, Chain, F) ->
    Id = 16#ffff0000 + erlang:unique_integer([positive]) rem 16#ffff,
    Alias = alias([explicit_unalias]),
    _ = sys:replace_state(Drv, fun(S) -> pending(S, Id, {call, Alias, Chain, 6}) end),
    true = port_command(port(Drv), sp_frame(F(Id))),
    receive
        {Alias, Status, Term} ->
            unalias(Alias),
            {Status, Term}
    after ?T ->
        ct:fail({no_reply, F(Id)})
    end.

raw_call(Drv, Chain, Nr, Args) ->
    raw(Drv, Chain, fun(Id) -> [<<?MSG_CALL, Id:32, (length(Chain)):16>>, chain(Chain),
                                <<Nr:16>>, Args] end).

pending(State, Id, Entry) ->
    state = element(1, State),
    setelement(5, State, maps:put(Id, Entry, element(5, State))).

decode({?ALCOVE_OK, T}) -> binary_to_term(T).

%% Frames written before this are answered before a call made now: if
%% one of them was going to be answered, the answer is here.
nothing_answered(Drv) ->
    _ = alcove:getpid(Drv, [], ?T),
    receive {Ref, _, _} = M when is_reference(Ref) -> ct:fail({answered, M})
    after 0 -> ok
    end.

%% Wait until the driver has N requests pending.
wait_pending(Drv, N) ->
    N = poll(fun() -> map_size(element(5, sys:get_state(Drv))) end, N, ?T),
    ok.

%%% A port without the driver, spoken to as a byte stream

sp_open() ->
    open_port({spawn_executable, alcove_drv:progname()},
              [stream, binary, exit_status, use_stdio]).

sp_frame(Body) -> [<<(iolist_size(Body)):32>>, Body].

sp_write(P, Data) ->
    true = port_command(P, Data),
    ok.

%% The replies to the next N frames, as {Id, Status, Term}; other frames
%% (events) are skipped.
sp_replies(P, N) -> sp_replies(P, N, []).

sp_replies(_, 0, Acc) -> lists:reverse(Acc);
sp_replies(P, N, Acc) ->
    case sp_next(P) of
        <<?MSG_REPLY, Id:32, Status, Term/binary>> ->
            sp_replies(P, N - 1, [{Id, Status, Term} | Acc]);
        _ -> sp_replies(P, N, Acc)
    end.

%% The next whole frame the port wrote; what was read past it is kept
%% for the next call.
sp_next(P) ->
    Buf = case get({sp_buf, P}) of undefined -> <<>>; B -> B end,
    case Buf of
        <<Len:32, Frame:Len/binary, Rest/binary>> ->
            put({sp_buf, P}, Rest),
            Frame;
        _ ->
            receive
                {P, {data, D}} -> put({sp_buf, P}, <<Buf/binary, D/binary>>), sp_next(P);
                {P, {exit_status, S}} -> ct:fail({port_exited, S})
            after ?T -> ct:fail(no_frame)
            end
    end.

sp_call(P, Id, Chain, Nr, Args) ->
    ok = sp_write(P, sp_frame([<<?MSG_CALL, Id:32, (length(Chain)):16>>, chain(Chain),
                               <<Nr:16>>, term_to_binary(Args)])),
    [{Id, ?ALCOVE_OK, T}] = sp_replies(P, 1),
    T.

sp_getpid(P, Id) -> binary_to_term(sp_call(P, Id, [], 6, {})).

sp_exit_status(P) ->
    receive
        {P, {exit_status, S}} -> S;
        {P, {data, _}} -> sp_exit_status(P)
    after ?T -> ct:fail(port_alive)
    end.

sp_shutdown(P) ->
    ok = sp_write(P, sp_frame(<<?MSG_SHUTDOWN, 0:32, 0:16>>)),
    0 = sp_exit_status(P),
    ok.

%%% The call table, and values of the right and the wrong type

%% [{Name, [ArgType]}] for every call with arguments, from the one call
%% table, gen/calls.eterm (found next to the source of alcove_proto).
call_types() ->
    Src = proplists:get_value(source, alcove_proto:module_info(compile)),
    File = filename:join([filename:dirname(filename:dirname(Src)), "gen", "calls.eterm"]),
    {ok, Calls} = file:consult(File),
    %% {Name, Args, Result, Os, Flags, Doc} or the same with an Example
    Types = [{element(1, C), [T || {_, T} <- element(2, C)]} || C <- Calls],
    true = length(Types) =:= length(alcove_proto:calls()),
    [{Name, Ts} || {Name, Ts} <- Types, Ts =/= []].

arg_types(Name) ->
    {Name, Types} = lists:keyfind(Name, 1, call_types()),
    Types.

%% Arguments the API and the port accept and which, if a call ran by
%% mistake, would do no harm: a PID no process has, no descriptor,
%% paths that do not exist, limits left as they are.
api_valid(Name) -> [api_valid1(T) || T <- arg_types(Name)].

api_valid1(int32) -> 0;
api_valid1(uint32) -> 0;
api_valid1(int64) -> 0;
api_valid1(uint64) -> 0;
api_valid1(pid) -> 16#7ffffffe;
api_valid1(fd) -> -1;
api_valid1(iodata) -> "/nonexistent/alcove";
api_valid1(argv) -> ["x"];
api_valid1(atom) -> nonexistent_option;
api_valid1({constant, _}) -> 0;
api_valid1({flags, _}) -> [];
api_valid1({enum, _}) -> sig_dfl;
api_valid1(calls) -> [];
api_valid1(rlimit) -> #alcove_rlimit{cur = 16#ffffffffffffffff, max = 16#ffffffffffffffff};
api_valid1(timeval) -> #alcove_timeval{};
api_valid1(int32_list) -> [];
api_valid1(uint32_list) -> [];
api_valid1(nullable_iodata) -> null;
api_valid1({ptrarg, _}) -> 0;
api_valid1(cstruct) -> <<>>;
api_valid1(sequence) -> [].

raw_valid(Name) -> [raw_valid1(T) || T <- arg_types(Name)].

raw_valid1(iodata) -> <<"/nonexistent/alcove">>;
raw_valid1(argv) -> [<<"x">>];
raw_valid1({flags, _}) -> 0;
raw_valid1(T) -> api_valid1(T).

%% Values of the wrong type, for the API (checked in Erlang) ...
api_wrong(T) when T =:= int32; T =:= pid; T =:= fd ->
    [<<"1">>, "1", 1.0, x, 1 bsl 31, -(1 bsl 31) - 1, {result, 1}];
api_wrong(uint32) -> [<<"1">>, x, -1, 1 bsl 32];
api_wrong(int64) -> [<<"1">>, 1.0, 1 bsl 63, -(1 bsl 63) - 1, {result, 1}];
api_wrong(uint64) -> [<<"1">>, -1, 1 bsl 64];
api_wrong(iodata) -> [1, x, 1.0, [256], [-1], [<<"x">> | x], #{}];
api_wrong(argv) -> [<<"x">>, x, [x], [1.0], ["x" | x]];
api_wrong(atom) -> ["x", <<"x">>, 1];
api_wrong({constant, _}) -> [<<"x">>, "x", 1.0, 1 bsl 64];
api_wrong({flags, _}) -> [<<"x">>, [<<"x">>], [1.0], [1 bsl 64], 1 bsl 64];
api_wrong({enum, _}) -> [bogus, "sig_dfl", 1];
%% a number that is no call is {error, einval} from the port
api_wrong(calls) -> [x, [fork], [1.0]];
api_wrong(rlimit) -> [x, {alcove_rlimit, -1, 0}, {alcove_rlimit, 0, 1 bsl 64}, {foo, 0, 0}];
api_wrong(timeval) -> [x, {alcove_timeval, a, 0}, {alcove_timeval, 0, 1 bsl 63}];
api_wrong(int32_list) -> [x, [1 bsl 31], [x], <<"x">>];
api_wrong(uint32_list) -> [x, [-1], [1 bsl 32], [x]];
api_wrong(nullable_iodata) -> [1, 1.0, [256], nil];
api_wrong({ptrarg, _}) -> [1.0, {1}, [{ptr, -1}], [{ptr, 16#1000001}], [x],
                           lists:duplicate(257, <<>>), 1 bsl 64];
api_wrong(cstruct) -> [x, 1.0, [{ptr, -1}], [{ptr, 16#1000001}], [x],
                       lists:duplicate(257, <<>>)];
api_wrong(sequence) -> [x, [x], [{getpid}], [{no_such_call, []}], [{getpid, [1]}],
                        [{exit, [0]}, {getpid, []}], [{getpid, [], x}],
                        [{getpid, [], ["eexist"]}], [{sequence, [[]]}],
                        [{close, [{result, 1}]}], [{getpid, []} | x]].

%% ... and for the port (only what the port itself must refuse: iolists
%% and out of range integers are among them, as the API never sends
%% them).
raw_wrong(T) when T =:= int32; T =:= pid; T =:= fd ->
    [<<"1">>, 1.0, x, [], 1 bsl 31, -(1 bsl 31) - 1, 1 bsl 64, {result, 1}];
raw_wrong(uint32) -> [<<"1">>, x, -1, 1 bsl 32];
raw_wrong(int64) -> [<<"1">>, x, 1 bsl 63, -(1 bsl 63) - 1, {result, 1}];
raw_wrong(uint64) -> [<<"1">>, x, -1, 1 bsl 64];
raw_wrong(iodata) -> [[<<"x">>], "x", [], x, 1, 1.0, {<<"x">>}];
raw_wrong(argv) -> [<<"x">>, x, ["x"], [[<<"x">>]], [x], [1], [<<"x">> | <<"y">>]];
raw_wrong(atom) -> [<<"x">>, "x", 1, []];
raw_wrong({constant, _}) -> [<<"x">>, "x", 1.0, 1 bsl 64, {x}];
raw_wrong({flags, _}) -> [<<"x">>, [<<"x">>], [1.0], [1 bsl 64], 1 bsl 64, [x | y]];
raw_wrong({enum, _}) -> [bogus, "sig_dfl", 1, <<"sig_dfl">>];
raw_wrong(calls) -> [x, [256], [-1], [fork], <<1>>];
raw_wrong(rlimit) -> [x, {alcove_rlimit, -1, 0}, {alcove_rlimit, 0, 1 bsl 64},
                      {foo, 0, 0}, {alcove_rlimit, 0}, {alcove_rlimit, 0, 0, 0}];
raw_wrong(timeval) -> [x, {alcove_timeval, a, 0}, {alcove_timeval, 0, 1 bsl 63},
                       {alcove_timeval, 0}, "x"];
raw_wrong(int32_list) -> [x, [1 bsl 32], [x], <<"x">>, [-(1 bsl 31) - 1]];
raw_wrong(uint32_list) -> [x, [1 bsl 32], [x], <<"x">>];
raw_wrong(nullable_iodata) -> [1, 1.0, [<<"x">>], nil, "x"];
raw_wrong({ptrarg, _}) -> [1.0, {1}, [{ptr, -1}], [{ptr, 16#1000001}], [x], [{ptr}],
                           [{ptr, 1, 2}], [{ptr, x}], lists:duplicate(257, <<>>),
                           1 bsl 64, "abc"];
raw_wrong(cstruct) -> [x, 1.0, [{ptr, -1}], [{ptr, 16#1000001}], [x], [{ptr}],
                       lists:duplicate(257, <<>>), "abc", [<<"x">> | <<"y">>]];
raw_wrong(sequence) -> [x, [x], [<<>>], [<<0>>], [<<0, 0>> | <<>>], "ab", {[]}, <<>>].

replace(I, V, L) ->
    {A, [_ | B]} = lists:split(I - 1, L),
    A ++ [V | B].

is_badarg({'EXIT', {badarg, _}}) -> true;
is_badarg(_) -> false.

fake(Parent) ->
    receive M -> Parent ! {fake, M} end,
    fake(Parent).

%%% Processes and descriptors

stop_child(Drv, C) ->
    ok = alcove:kill(Drv, [], C, sigkill),
    {termsig, sigkill} = alcove:event(Drv, [C], ?T),
    ok.

%% Read the stdout of Chain until it holds as many bytes as Want; the
%% bytes read, as one binary in a list.
stdout_until(Drv, Chain, Want) ->
    stdout_until(Drv, Chain, Want, <<>>).

stdout_until(Drv, Chain, Want, Acc) when byte_size(Acc) < byte_size(Want) ->
    case alcove:stdout(Drv, Chain, ?T) of
        [] -> [Acc];
        L -> stdout_until(Drv, Chain, Want, iolist_to_binary([Acc | L]))
    end;
stdout_until(_, _, _, Acc) ->
    [Acc].
