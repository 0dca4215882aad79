%% SPDX-License-Identifier: ISC
%% Load with nothing lost: many fork/exit cycles and many calls leave the
%% port as they found it (same descriptors, same resident memory), every
%% reply answers its own request, and concurrent callers each get their
%% own replies.
-module(alcove_load_SUITE).

-include_lib("common_test/include/ct.hrl").
-include_lib("alcove/include/alcove.hrl").

-export([all/0, suite/0]).
-export([
    fork_exit_cycles/1,
    calls_in_a_row/1,
    concurrent_callers/1,
    large_replies_given_back/1
]).

-define(T, 10000).
-define(CYCLES, 10000).
-define(CALLS, 100000).
-define(CALLERS, 16).
-define(CALLS_EACH, 5000).
%% How much the port's resident memory may grow between the first
%% hundred cycles (or calls) and the end. Not zero: the allocator keeps
%% freed memory (glibc trims its heap only past 128 KiB free at the top),
%% buffers keep up to 64 KiB once grown (frame.c ABUF_KEEP), the child
%% table keeps its buckets, and RSS counts whole pages. Small enough that
%% a leak shows: the smallest block malloc hands out is 32 bytes, so one
%% leaked per cycle is 312 KiB over 10,000 cycles, and 3 MiB over 100,000
%% calls.
-define(RSS_SLACK_KB, 256).

suite() ->
    [{timetrap, {seconds, 150}}, {ct_hooks, [{alcove_test, [port]}]}].

all() ->
    [fork_exit_cycles, calls_in_a_row, concurrent_callers, large_replies_given_back].

%%% Test cases

%% 10,000 cycles of fork, a call, exit and its exit event: the port's
%% descriptors are the same at the end as after the first hundred, its
%% resident memory the same within RSS_SLACK_KB, and no child is left.
fork_exit_cycles(Config) ->
    Drv = ?config(drv, Config),
    Port = alcove:getpid(Drv, []),
    ok = cycles(Drv, 100),
    {Fds, Rss} = usage(Port),
    T0 = erlang:monotonic_time(millisecond),
    Cycles = cycles(),
    ok = cycles(Drv, Cycles - 100),
    Ms = erlang:monotonic_time(millisecond) - T0,
    {Fds1, Rss1} = usage(Port),
    ct:pal("~p fork/exit cycles in ~p ms (~.1f us each); port VmRSS ~p KiB "
           "after 100, ~p KiB after ~p; descriptors ~p",
           [Cycles - 100, Ms, Ms * 1000 / (Cycles - 100), Rss, Rss1, Cycles, Fds1]),
    Fds = Fds1,
    true = Rss1 =< Rss + ?RSS_SLACK_KB orelse not alcove_test:rss_checked(),
    [] = alcove:cpid(Drv, []),
    0 = pending(Drv).

%% 100,000 calls in a row, each answered with what it was given (a
%% number and a piece whose size varies with it): every reply is its own
%% request's; descriptors and resident memory as after the first hundred.
calls_in_a_row(Config) ->
    Drv = ?config(drv, Config),
    Port = alcove:getpid(Drv, []),
    ok = calls(Drv, [], 1, 100),
    {Fds, Rss} = usage(Port),
    T0 = erlang:monotonic_time(millisecond),
    ok = calls(Drv, [], 101, ?CALLS),
    Ms = erlang:monotonic_time(millisecond) - T0,
    {Fds1, Rss1} = usage(Port),
    ct:pal("~p calls in ~p ms; port VmRSS ~p KiB after 100, ~p KiB after ~p",
           [?CALLS - 100, Ms, Rss, Rss1, ?CALLS]),
    Fds = Fds1,
    true = Rss1 =< Rss + ?RSS_SLACK_KB orelse not alcove_test:rss_checked(),
    0 = pending(Drv).

%% Sixteen processes call at once, each into its own child (half of them
%% at depth 1, half at depth 2 under a shared parent): every reply
%% reaches the process that asked, answering its own request, and
%% nothing stray reaches the owner.
concurrent_callers(Config) ->
    Drv = ?config(drv, Config),
    Port = alcove:getpid(Drv, []),
    {ok, Mid} = alcove:fork(Drv, []),
    Chains = [case K rem 2 of
                  0 -> {ok, C} = alcove:fork(Drv, []), [C];
                  1 -> {ok, C} = alcove:fork(Drv, [Mid]), [Mid, C]
              end || K <- lists:seq(1, ?CALLERS)],
    {Fds, _} = usage(Port),
    Self = self(),
    Go = make_ref(),
    Workers = [spawn_monitor(fun() -> receive Go -> ok end,
                                      Self ! {done, K, worker(Drv, K, Chain)}
                             end)
               || {K, Chain} <- lists:zip(lists:seq(1, ?CALLERS), Chains)],
    T0 = erlang:monotonic_time(millisecond),
    [Pid ! Go || {Pid, _} <- Workers],
    Results = [receive {done, K, R} -> {K, R} after 60000 -> ct:fail({worker, K}) end
               || K <- lists:seq(1, ?CALLERS)],
    Ms = erlang:monotonic_time(millisecond) - T0,
    [{K, ok} = {K, R} || {K, R} <- Results],
    [receive {'DOWN', Ref, process, Pid, normal} -> ok after ?T -> ct:fail(worker) end
     || {Pid, Ref} <- Workers],
    ct:pal("~p callers x ~p calls in ~p ms", [?CALLERS, ?CALLS_EACH, Ms]),
    %% no late or stray reply came to the owner
    {messages, Ms1} = erlang:process_info(self(), messages),
    [] = [M || M <- Ms1, element(1, M) =:= alcove_call],
    0 = pending(Drv),
    {Fds, _} = usage(Port),
    Last = [lists:last(Chain) || Chain <- Chains],
    Last = [alcove:getpid(Drv, Chain) || Chain <- Chains].

%% Large requests and replies (64 MiB reads, 32 MiB echoed) leave no
%% lasting mark: once small calls follow, the resident memory of the port
%% and of a child is back within a few MiB of what it was (the upstream
%% buffers may keep 4 MiB each: alcove.h KEEP_UP). A buffer kept at its
%% peak would hold 64 MiB for the rest of the process's life.
large_replies_given_back(Config) ->
    Drv = ?config(drv, Config),
    {ok, C} = alcove:fork(Drv, []),
    [begin
         Pid = alcove:getpid(Drv, Chain),
         ok = calls(Drv, Chain, 1, 100),
         {_, Rss} = usage(Pid),
         {ok, Fd} = alcove:open(Drv, Chain, "/dev/zero", [o_rdonly], 0),
         [{ok, <<0, _/binary>>} = alcove:read(Drv, Chain, Fd, 64 * 1024 * 1024)
          || _ <- lists:seq(1, 4)],
         Big = binary:copy(<<1>>, 32 * 1024 * 1024),
         [Big = alcove:iolist_to_bin(Drv, Chain, Big) || _ <- lists:seq(1, 4)],
         ok = alcove:close(Drv, Chain, Fd),
         ok = calls(Drv, Chain, 1, 100),
         {_, Rss1} = usage(Pid),
         ct:pal("~p: VmRSS ~p KiB before, ~p KiB after", [Chain, Rss, Rss1]),
         true = Rss1 =< Rss + 10 * 1024 orelse not alcove_test:rss_checked()
     end || Chain <- [[], [C]]],
    0 = pending(Drv).

%%% Helpers

%% Calls whose results depend on their argument and on the worker: a
%% reply given to the wrong caller, or to the wrong call, does not match.
worker(Drv, K, Chain) ->
    Pid = lists:last(Chain),
    try
        lists:foreach(
          fun(I) ->
                  Req = <<K:8, I:32, (binary:copy(<<K>>, I rem 97))/binary>>,
                  Req = alcove:iolist_to_bin(Drv, Chain, Req),
                  case I rem 50 of
                      0 -> Pid = alcove:getpid(Drv, Chain);
                      _ -> ok
                  end
          end, lists:seq(1, ?CALLS_EACH))
    catch
        C:E -> {C, E}
    end.

%% Under a sanitizer the resident size is not checked (the tool's, not
%% the port's), and a fork costs several times more: the descriptors are
%% checked over fewer cycles, so that a slow machine stays within the
%% timetrap (on one whose fork takes 2 ms, 10,000 cycles took 43 s
%% plain and over 150 s under ASan).
cycles() ->
    case alcove_test:rss_checked() of
        true -> ?CYCLES;
        false -> ?CYCLES div 5
    end.

cycles(Drv, 0) ->
    [] = alcove:cpid(Drv, []),
    ok;
cycles(Drv, N) ->
    {ok, C} = alcove:fork(Drv, []),
    C = alcove:getpid(Drv, [C]),
    ok = alcove:exit(Drv, [C], N rem 256),
    Status = N rem 256,
    receive {alcove_event, Drv, [C], {exit_status, Status}} -> ok
    after ?T -> ct:fail({no_exit_status, C})
    end,
    cycles(Drv, N - 1).

calls(_, _, I, Last) when I > Last ->
    ok;
calls(Drv, Chain, I, Last) ->
    Req = <<I:32, (binary:copy(<<I:8>>, I rem 251))/binary>>,
    case alcove:iolist_to_bin(Drv, Chain, Req) of
        Req -> calls(Drv, Chain, I + 1, Last);
        Other -> ct:fail({mismatch, I, Other})
    end.

pending(Drv) ->
    map_size(element(5, sys:get_state(Drv))).

%% The port's descriptors and resident memory (KiB).
usage(Pid) ->
    Fds = alcove_test:fds(Pid),
    {ok, B} = file:read_file("/proc/" ++ integer_to_list(Pid) ++ "/status"),
    [Rss] = [list_to_integer(N) || Line <- string:split(binary_to_list(B), "\n", all),
                                   ["VmRSS:", N, "kB"] <- [string:lexemes(Line, " \t")]],
    {Fds, Rss}.

