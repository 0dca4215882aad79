%% SPDX-License-Identifier: ISC
%% alcove_file: whole files read and written by a process of the port,
%% in one round trip when they are small.
-module(alcove_file_SUITE).

-include_lib("common_test/include/ct.hrl").
-include("alcove_test.hrl").

-export([all/0, suite/0]).
-export([read_small/1, read_large/1, read_errors/1, write_whole/1, write_errors/1,
         probe/1]).

suite() ->
    [{timetrap, {seconds, 60}}, {ct_hooks, [{alcove_test, [port, dir]}]}].

all() ->
    [read_small, read_large, read_errors, write_whole, write_errors, probe].

%% Requests the driver has sent so far.
requests(Drv) ->
    element(4, sys:get_state(Drv)).

%% A small file, and an empty one: one round trip each.
read_small(Config) ->
    Drv = ?config(drv, Config),
    F = filename:join(?config(dir, Config), "small"),
    ok = file:write_file(F, "hello\n"),
    N0 = requests(Drv),
    {ok, <<"hello\n">>} = alcove_file:read(Drv, [], F),
    1 = requests(Drv) - N0,
    ok = file:write_file(F, ""),
    {ok, <<>>} = alcove_file:read(Drv, [], F),
    {ok, C} = alcove:fork(Drv, []),
    {ok, Status} = alcove_file:read(Drv, [C], "/proc/self/status"),
    {match, _} = re:run(Status, ["\nPid:\t", integer_to_list(C), "\n"]),
    [] = leaked(Drv, []),
    ok.

%% Past two reads of 64 KiB, the file is read again to its end.
read_large(Config) ->
    Drv = ?config(drv, Config),
    F = filename:join(?config(dir, Config), "large"),
    [begin
         Data = crypto:strong_rand_bytes(Size),
         ok = file:write_file(F, Data),
         {ok, Data} = alcove_file:read(Drv, [], F)
     end || Size <- [65535, 65536, 65537, 131072, 131073, 1000000]],
    [] = leaked(Drv, []),
    ok.

%% Errors of open and of read; no descriptor is left open.
read_errors(Config) ->
    Drv = ?config(drv, Config),
    Dir = ?config(dir, Config),
    {error, enoent} = alcove_file:read(Drv, [], filename:join(Dir, "missing")),
    {error, eisdir} = alcove_file:read(Drv, [], Dir),
    [] = leaked(Drv, []),
    ok.

write_whole(Config) ->
    Drv = ?config(drv, Config),
    F = filename:join(?config(dir, Config), "w"),
    ok = file:write_file(F, "0123456789"),
    {ok, 3} = alcove_file:write(Drv, [], F, ["a", <<"b">>, "c"]),
    %% not truncated
    {ok, <<"abc3456789">>} = file:read_file(F),
    Big = crypto:strong_rand_bytes(300000),
    {ok, 300000} = alcove_file:write(Drv, [], F, Big),
    {ok, Big} = file:read_file(F),
    {ok, 0} = alcove_file:write(Drv, [], F, <<>>),
    [] = leaked(Drv, []),
    ok.

%% A file that is not there is not made; a value the kernel refuses is
%% its error; no descriptor is left open.
write_errors(Config) ->
    Drv = ?config(drv, Config),
    Dir = ?config(dir, Config),
    Missing = filename:join(Dir, "missing"),
    {error, enoent} = alcove_file:write(Drv, [], Missing, "x"),
    {error, enoent} = file:read_file_info(Missing),
    {ok, C} = alcove:fork(Drv, []),
    {error, einval} = alcove_file:write(Drv, [], "/proc/" ++ integer_to_list(C) ++ "/oom_score_adj",
                                        "not a number"),
    [] = leaked(Drv, []),
    ok.

probe(Config) ->
    Drv = ?config(drv, Config),
    Dir = ?config(dir, Config),
    ok = alcove_file:probe(Drv, [], Dir, [o_rdonly, o_directory], 0),
    {error, enoent} = alcove_file:probe(Drv, [], filename:join(Dir, "x"), [o_rdonly], 0),
    New = filename:join(Dir, "new"),
    ok = alcove_file:probe(Drv, [], New, [o_wronly, o_creat, o_excl], 8#600),
    {error, eexist} = alcove_file:probe(Drv, [], New, [o_wronly, o_creat, o_excl], 8#600),
    [] = leaked(Drv, []),
    ok.

%% Descriptors of the process at Chain past its stdio that point into
%% the file system (the loop's own are pipes, sockets and devices).
leaked(Drv, Chain) ->
    Pid = alcove:getpid(Drv, Chain),
    Fds = "/proc/" ++ integer_to_list(Pid) ++ "/fd",
    {ok, Names} = file:list_dir(Fds),
    [T || N <- Names, list_to_integer(N) > 2,
          {ok, T} <- [file:read_link(filename:join(Fds, N))],
          lists:prefix("/", T), not lists:prefix("/dev/", T)].
