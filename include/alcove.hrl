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
