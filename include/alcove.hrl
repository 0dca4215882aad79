%% SPDX-License-Identifier: ISC
-record(alcove_pid, {
    pid = 0 :: alcove:pid_t(),
    flowcontrol = -1 :: alcove:int32_t(),
    signaloneof = 15 :: alcove:int32_t(),
    fdctl = -1 :: alcove:fd(),
    stdin = -1 :: alcove:fd(),
    stdout = -1 :: alcove:fd(),
    stderr = -1 :: alcove:fd()
}).

-record(alcove_rlimit, {
    cur = 0 :: alcove:uint64_t(),
    max = 0 :: alcove:uint64_t()
}).

-record(alcove_timeval, {
    sec = 0 :: alcove:int64_t(),
    usec = 0 :: alcove:int64_t()
}).

%% A FreeBSD struct jail, for alcove_cstruct:jail/1: the paths and names
%% without their NUL, the addresses as inet's tuples.
-record(alcove_jail, {
    version = 2 :: alcove:uint32_t(),
    path = <<>> :: iodata(),
    hostname = <<>> :: iodata(),
    jailname = <<>> :: iodata(),
    ip4 = [] :: [inet:ip4_address()],
    ip6 = [] :: [inet:ip6_address()]
}).

%% Fields of a binary in the host's byte order, as C's uint16_t and
%% uint32_t: <<?UINT16(Len), 0:16, ?UINT32(K)>>.
-define(UINT16(N), (N):2/native-unsigned-integer-unit:8).
-define(UINT32(N), (N):4/native-unsigned-integer-unit:8).
