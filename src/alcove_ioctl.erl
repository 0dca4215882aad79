%% SPDX-License-Identifier: ISC
%% @doc Linux ioctl(2) request numbers, as the _IO, _IOR, _IOW and _IOWR
%% macros of asm-generic/ioctl.h make them: the direction in bits 30-31
%% (1: write, 2: read), the size of the argument in bits 16-29, the type
%% in bits 8-15 and the number in bits 0-7.
%%
%% This is the layout of x86, arm, aarch64, riscv and s390; alpha, mips,
%% powerpc and sparc have their own.
%%
%% ```
%% TUNSETIFF = alcove_ioctl:iow($T, 202, 4)
%% '''
-module(alcove_ioctl).

-export([
    ioc/4,
    io/2,
    ior/3,
    iow/3,
    iowr/3
]).

-export_type([dir/0, type/0, nr/0, size/0]).

-type dir() :: none | read | write | read_write.
-type type() :: 0..16#ff.
-type nr() :: 0..16#ff.
-type size() :: 0..16#3fff.

-define(IOC_NONE, 0).
-define(IOC_WRITE, 1).
-define(IOC_READ, 2).

%% @doc _IOC(Dir, Type, Nr, Size): a request number from its fields.
-spec ioc(dir(), type(), nr(), size()) -> non_neg_integer().
ioc(Dir, Type, Nr, Size)
  when is_integer(Type), Type >= 0, Type =< 16#ff,
       is_integer(Nr), Nr >= 0, Nr =< 16#ff,
       is_integer(Size), Size >= 0, Size =< 16#3fff ->
    (dir(Dir) bsl 30) bor (Size bsl 16) bor (Type bsl 8) bor Nr;
ioc(_, _, _, _) ->
    erlang:error(badarg).

dir(none) -> ?IOC_NONE;
dir(write) -> ?IOC_WRITE;
dir(read) -> ?IOC_READ;
dir(read_write) -> ?IOC_READ bor ?IOC_WRITE;
dir(_) -> erlang:error(badarg).

%% @doc _IO(Type, Nr): a request without an argument.
-spec io(type(), nr()) -> non_neg_integer().
io(Type, Nr) ->
    ioc(none, Type, Nr, 0).

%% @doc _IOR(Type, Nr, Size): the kernel writes Size bytes at the
%% argument (the caller reads them).
-spec ior(type(), nr(), size()) -> non_neg_integer().
ior(Type, Nr, Size) ->
    ioc(read, Type, Nr, Size).

%% @doc _IOW(Type, Nr, Size): the kernel reads Size bytes at the argument.
-spec iow(type(), nr(), size()) -> non_neg_integer().
iow(Type, Nr, Size) ->
    ioc(write, Type, Nr, Size).

%% @doc _IOWR(Type, Nr, Size): the kernel reads and writes Size bytes at
%% the argument.
-spec iowr(type(), nr(), size()) -> non_neg_integer().
iowr(Type, Nr, Size) ->
    ioc(read_write, Type, Nr, Size).
