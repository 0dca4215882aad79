%% SPDX-License-Identifier: ISC
%% @doc Whole files read and written by a process of the port, for the
%% small files of /proc and the cgroup file systems: opened, read or
%% written, closed, each call made in the process at the end of the
%% fork chain (so they work where only the port is privileged), in one
%% round trip (alcove:sequence/3) for a file read in two read(2) calls
%% or written in one. The port's open, read, write and close already
%% retry a call a signal interrupts; a write the kernel takes in part
%% goes on with the rest.
-module(alcove_file).

-export([read/3, write/4, probe/5]).

%% Bytes asked for by each read(2).
-define(READ_CHUNK, 65536).

%% @doc The contents of a file, read to its end.
-spec read(alcove:drv(), alcove:fork_chain(), iodata()) ->
    {ok, binary()} | {error, alcove:posix()}.
read(Drv, Chain, Path) ->
    Open = {open, [Path, [o_rdonly, o_cloexec], 0]},
    Read = {read, [{result, 1}, ?READ_CHUNK]},
    case alcove:sequence(Drv, Chain, [Open, Read, Read, {close, [{result, 1}]}]) of
        {ok, [_, {ok, Data}, {ok, <<>>}, ok]} ->
            {ok, Data};
        {ok, _} ->
            %% more than two reads: read it all again, a read at a time
            with_fd(Drv, Chain, Path, [o_rdonly, o_cloexec], fun(Fd) ->
                read_all(Drv, Chain, Fd, [])
            end);
        {error, {_, Call, E}, Done} ->
            failed(Drv, Chain, Call, E, Done)
    end.

%% @doc Write Data to a file that exists (opened write-only, not
%% truncated): `{ok, Bytes}', the bytes written, all of Data unless a
%% write(2) took none. A file of /proc or of a cgroup takes its value in
%% the first write(2): a value the kernel took in part fails on the
%% rest with the kernel's error.
-spec write(alcove:drv(), alcove:fork_chain(), iodata(), iodata()) ->
    {ok, non_neg_integer()} | {error, alcove:posix()}.
write(Drv, Chain, Path, Data) ->
    Bin = iolist_to_binary(Data),
    Size = byte_size(Bin),
    Calls = [{open, [Path, [o_wronly, o_cloexec], 0]}, {write, [{result, 1}, Bin]},
             {close, [{result, 1}]}],
    case alcove:sequence(Drv, Chain, Calls) of
        {ok, [_, {ok, W}, ok]} when W =:= Size; W =:= 0 ->
            {ok, W};
        {ok, _} ->
            %% taken in part: written again, the rest after each part
            with_fd(Drv, Chain, Path, [o_wronly, o_cloexec], fun(Fd) ->
                write_all(Drv, Chain, Fd, Bin, 0)
            end);
        {error, {_, Call, E}, Done} ->
            failed(Drv, Chain, Call, E, Done)
    end.

%% A sequence stopped: the descriptor it opened is closed (a close that
%% failed has let go of it already).
failed(Drv, Chain, Call, E, [{ok, Fd} | _]) when Call =/= close ->
    _ = alcove:close(Drv, Chain, Fd),
    {error, E};
failed(_, _, _, E, _) ->
    {error, E}.

%% @doc Open Path with Flags (and Mode, for `o_creat') and close it at
%% once: ok when it opens so, such as a directory with `o_directory', or
%% a new file made with `[o_wronly, o_creat, o_excl]'.
-spec probe(alcove:drv(), alcove:fork_chain(), iodata(), [alcove:constant()],
            non_neg_integer()) -> ok | {error, alcove:posix()}.
probe(Drv, Chain, Path, Flags, Mode) ->
    case alcove:open(Drv, Chain, Path, Flags, Mode) of
        {ok, Fd} -> alcove:close(Drv, Chain, Fd);
        {error, _} = Error -> Error
    end.

with_fd(Drv, Chain, Path, Flags, Fun) ->
    case alcove:open(Drv, Chain, Path, Flags, 0) of
        {ok, Fd} ->
            Res = Fun(Fd),
            case {Res, alcove:close(Drv, Chain, Fd)} of
                {{ok, _}, {error, _} = Error} -> Error;
                _ -> Res
            end;
        {error, _} = Error ->
            Error
    end.


read_all(Drv, Chain, Fd, Acc) ->
    case alcove:read(Drv, Chain, Fd, ?READ_CHUNK) of
        {ok, <<>>} -> {ok, iolist_to_binary(lists:reverse(Acc))};
        {ok, Data} -> read_all(Drv, Chain, Fd, [Data | Acc]);
        {error, _} = Error -> Error
    end.

%% The first write(2) is made even for no data, as one write of it would.
write_all(Drv, Chain, Fd, Data, N) ->
    case alcove:write(Drv, Chain, Fd, Data) of
        {ok, W} when W =:= byte_size(Data); W =:= 0 ->
            {ok, N + W};
        {ok, W} ->
            <<_:W/binary, Rest/binary>> = Data,
            write_all(Drv, Chain, Fd, Rest, N + W);
        {error, _} = Error ->
            Error
    end.
