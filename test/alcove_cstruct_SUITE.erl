%% SPDX-License-Identifier: ISC
%% The calls taking C structures: prctl, ptrace, ioctl and alloc, with
%% binaries, integers and Cstructs; the argument checks; and the pure
%% helpers alcove_ioctl (request numbers) and alcove_cstruct (sizes,
%% padding, the FreeBSD jail struct). seccomp is in alcove_seccomp_SUITE.
-module(alcove_cstruct_SUITE).

-include_lib("common_test/include/ct.hrl").
-include_lib("alcove/include/alcove.hrl").
-include("alcove_test.hrl").

-export([all/0, suite/0]).
-export([
    prctl_name/1,
    prctl_name_cstruct/1,
    prctl_name_efault/1,
    prctl_no_new_privs/1,
    prctl_enotsup/1,
    prctl_einval/1,
    ptrace_attach_peek_detach/1,
    ptrace_tracee_lives_on/1,
    ptrace_esrch/1,
    ptrace_enotsup/1,
    ioctl_tap_device/1,
    ioctl_cstruct_and_integer/1,
    ioctl_ebadf/1,
    ioctl_enotty/1,
    alloc_pointers/1,
    alloc_binary/1,
    alloc_empty/1,
    cstruct_badarg/1,
    cstruct_badarg_in_port/1,
    ioctl_numbers/1,
    ioctl_numbers_badarg/1,
    sizeof_offsetof_align/1,
    struct_jail2/1,
    struct_jail2_alloc/1
]).

suite() ->
    [{timetrap, {seconds, 60}}, {ct_hooks, [{alcove_test, [port]}]}].

all() ->
    [
        prctl_name,
        prctl_name_cstruct,
        prctl_name_efault,
        prctl_no_new_privs,
        prctl_enotsup,
        prctl_einval,
        ptrace_attach_peek_detach,
        ptrace_tracee_lives_on,
        ptrace_esrch,
        ptrace_enotsup,
        ioctl_tap_device,
        ioctl_cstruct_and_integer,
        ioctl_ebadf,
        ioctl_enotty,
        alloc_pointers,
        alloc_binary,
        alloc_empty,
        cstruct_badarg,
        cstruct_badarg_in_port,
        ioctl_numbers,
        ioctl_numbers_badarg,
        sizeof_offsetof_align,
        struct_jail2,
        struct_jail2_alloc
    ].

%%% prctl

%% The reference's example: pr_set_name with a binary (no NUL of its
%% own) names the process; pr_get_name fills a 16-byte binary with it.
prctl_name(Config) ->
    Drv = ?config(drv, Config),
    {ok, C} = alcove:fork(Drv, []),
    {ok, 0, <<"pseudonym">>, 0, 0, 0} =
        alcove:prctl(Drv, [C], pr_set_name, <<"pseudonym">>, 0, 0, 0),
    {ok, 0, <<"pseudonym", 0:(7 * 8)>>, 0, 0, 0} =
        alcove:prctl(Drv, [C], pr_get_name, <<0:(16 * 8)>>, 0, 0, 0),
    {ok, <<"pseudonym\n">>} = file:read_file(proc(C, "comm")).

%% A Cstruct of plain binaries is one buffer: the name is written across
%% its elements and comes back split the same way.
prctl_name_cstruct(Config) ->
    Drv = ?config(drv, Config),
    {ok, C} = alcove:fork(Drv, []),
    {ok, 0, [<<"abc">>], 0, 0, 0} =
        alcove:prctl(Drv, [C], pr_set_name, [<<"abc">>], 0, 0, 0),
    {ok, 0, _, _, _, _} =
        alcove:prctl(Drv, [C], pr_set_name,
                     [<<"0123456789">>, <<"abcdefghij">>], 0, 0, 0),
    %% the kernel keeps 15 bytes
    {ok, 0, [<<"01234567">>, <<"89abcde", 0>>], 0, 0, 0} =
        alcove:prctl(Drv, [C], pr_get_name, [<<0:64>>, <<0:64>>], 0, 0, 0),
    {ok, <<"0123456789abcde\n">>} = file:read_file(proc(C, "comm")).

%% An integer is passed as it is: 0 as a name is a NULL pointer.
prctl_name_efault(Config) ->
    Drv = ?config(drv, Config),
    {ok, C} = alcove:fork(Drv, []),
    {error, efault} = alcove:prctl(Drv, [C], pr_set_name, 0, 0, 0, 0).

%% pr_set_no_new_privs, then pr_get_no_new_privs returns 1 (0 before);
%% the flag is inherited by children and cannot be unset.
prctl_no_new_privs(Config) ->
    Drv = ?config(drv, Config),
    {ok, C} = alcove:fork(Drv, []),
    {ok, 0, 0, 0, 0, 0} =
        alcove:prctl(Drv, [C], pr_get_no_new_privs, 0, 0, 0, 0),
    {ok, 0, 1, 0, 0, 0} =
        alcove:prctl(Drv, [C], pr_set_no_new_privs, 1, 0, 0, 0),
    {ok, 1, 0, 0, 0, 0} =
        alcove:prctl(Drv, [C], pr_get_no_new_privs, 0, 0, 0, 0),
    {ok, G} = alcove:fork(Drv, [C]),
    {ok, 1, 0, 0, 0, 0} =
        alcove:prctl(Drv, [C, G], pr_get_no_new_privs, 0, 0, 0, 0),
    {error, einval} =
        alcove:prctl(Drv, [C], pr_set_no_new_privs, 0, 0, 0, 0),
    %% the port itself is untouched
    {ok, 0, 0, 0, 0, 0} =
        alcove:prctl(Drv, [], pr_get_no_new_privs, 0, 0, 0, 0).

%% An option or argument atom this system does not know: enotsup.
prctl_enotsup(Config) ->
    Drv = ?config(drv, Config),
    {error, enotsup} = alcove:prctl(Drv, [], pr_no_such_option, 0, 0, 0, 0),
    {error, enotsup} =
        alcove:prctl(Drv, [], pr_set_seccomp, no_such_mode, 0, 0, 0).

%% Values the kernel refuses, and options out of the range of an int.
prctl_einval(Config) ->
    Drv = ?config(drv, Config),
    {error, einval} = alcove:prctl(Drv, [], 999999, 0, 0, 0, 0),
    {error, einval} = alcove:prctl(Drv, [], 16#100000000 + 15, 0, 0, 0, 0),
    {error, einval} =
        alcove:prctl(Drv, [], pr_set_no_new_privs, 1, 1, 0, 0).

%%% ptrace

%% C attaches to its child G; G stops (waitpid in C sees SIGSTOP);
%% PTRACE_PEEKDATA reads the word at an address alloc/3 returned in G;
%% a bad address is eio; C detaches.
ptrace_attach_peek_detach(Config) ->
    Drv = ?config(drv, Config),
    {ok, C} = alcove:fork(Drv, []),
    {ok, G} = alcove:fork(Drv, [C]),
    %% memory in G that lives until G's next call
    {ok, Buf, [{ptr, <<"ABCDEFGH">>}]} =
        alcove:alloc(Drv, [C, G], [{ptr, <<"ABCDEFGH">>}]),
    W = wordsize() * 8,
    <<Addr:W/native-unsigned>> = Buf,
    {ok, 0, <<>>, <<>>} = alcove:ptrace(Drv, [C], ptrace_attach, G, 0, 0),
    Stop = alcove:signal_constant(Drv, [], sigstop),
    {ok, G, Status, [{stopsig, sigstop}]} = alcove:waitpid(Drv, [C], G, 0),
    {16#7f, Stop} = {Status band 16#ff, (Status bsr 8) band 16#ff},
    <<Word:W/native-signed>> = binary:part(<<"ABCDEFGH">>, 0, W div 8),
    {ok, Word, <<>>, <<>>} =
        alcove:ptrace(Drv, [C], ptrace_peekdata, G, Addr, 0),
    {error, eio} = alcove:ptrace(Drv, [C], ptrace_peekdata, G, 0, 0),
    {ok, 0, <<>>, <<>>} = alcove:ptrace(Drv, [C], ptrace_detach, G, 0, 0),
    %% no longer traced: a peek is refused
    {error, esrch} = alcove:ptrace(Drv, [C], ptrace_peekdata, G, Addr, 0).

%% The tracee stopped by ptrace is not dead: once detached, its event
%% loop answers and its parent still lists it.
ptrace_tracee_lives_on(Config) ->
    Drv = ?config(drv, Config),
    {C, G} = alcove_test:ptrace_detached(Drv, ?WAIT),
    [#alcove_pid{pid = G}] = alcove:cpid(Drv, [C]),
    false = alcove:event(Drv, [C, G], 0).

%% Attaching to a process that does not exist: esrch.
ptrace_esrch(Config) ->
    Drv = ?config(drv, Config),
    {ok, C} = alcove:fork(Drv, []),
    {error, esrch} =
        alcove:ptrace(Drv, [C], ptrace_attach, ?NO_SUCH_PID, 0, 0),
    {error, esrch} =
        alcove:ptrace(Drv, [C], ptrace_seize, ?NO_SUCH_PID, 0, 0).

%% A request atom unknown here: enotsup.
ptrace_enotsup(Config) ->
    Drv = ?config(drv, Config),
    {error, enotsup} = alcove:ptrace(Drv, [], ptrace_no_such, 1, 0, 0).

%%% ioctl

%% The reference's example: a tap device created in a new network
%% namespace through TUNSETIFF; the kernel writes the name it chose in
%% the struct ifreq, and the device is in that namespace only while the
%% descriptor is open.
ioctl_tap_device(Config) ->
    Drv = ?config(drv, Config),
    {ok, Child} = alcove:clone(Drv, [], [clone_newnet]),
    {ok, FD} = alcove:open(Drv, [Child], "/dev/net/tun", [o_rdwr], 0),
    TUNSETIFF = alcove_ioctl:iow($T, 202, 4),
    TUNSETIFF = alcove:ioctl_constant(Drv, [], tunsetiff),
    {ok, 0, <<"tap", N, _/binary>>} = alcove:ioctl(Drv, [Child], FD,
        TUNSETIFF, <<
        0:(16*8), % generate a tuntap device name
        (16#0002 bor 16#1000):2/native-unsigned-integer-unit:8, % IFF_TAP, IFF_NO_PI
        0:(14*8)
        >>),
    Name = <<"tap", N>>,
    {ok, Dev} = file:read_file(proc(Child, "net/dev")),
    true = lists:member(Name, devices(Dev)),
    ok = alcove:close(Drv, [Child], FD),
    {ok, Dev2} = file:read_file(proc(Child, "net/dev")),
    false = lists:member(Name, devices(Dev2)).

%% A Cstruct argument comes back as its buffer (TUNGETIFF fills an
%% ifreq); an integer argument comes back as <<>>.
ioctl_cstruct_and_integer(Config) ->
    Drv = ?config(drv, Config),
    {ok, Child} = alcove:clone(Drv, [], [clone_newnet]),
    {ok, FD} = alcove:open(Drv, [Child], "/dev/net/tun", [o_rdwr], 0),
    Flags = 16#0002 bor 16#1000,
    %% a struct ifreq: the name, then a union of 24 bytes
    {ok, 0, _} = alcove:ioctl(Drv, [Child], FD, tunsetiff,
                              <<"alcove0", 0:(9 * 8), Flags:16/native,
                                0:(22 * 8)>>),
    TUNGETIFF = alcove_ioctl:ior($T, 210, 4),
    TUNGETIFF = alcove:ioctl_constant(Drv, [], tungetiff),
    {ok, 0, <<"alcove0", 0:(9 * 8), Flags:16/native, _:(22 * 8)>>} =
        alcove:ioctl(Drv, [Child], FD, TUNGETIFF,
                     [<<0:(16 * 8)>>, <<0:(24 * 8)>>]),
    {ok, 0, <<>>} = alcove:ioctl(Drv, [Child], FD, tunsetpersist, 0).

%% A descriptor that is not open: ebadf.
ioctl_ebadf(Config) ->
    Drv = ?config(drv, Config),
    {error, ebadf} = alcove:ioctl(Drv, [], 1000, tunsetiff, <<0:(40 * 8)>>),
    {error, ebadf} = alcove:ioctl(Drv, [], -1, 0, 0).

%% A request the device does not have: enotty; an unknown name: enotsup.
ioctl_enotty(Config) ->
    Drv = ?config(drv, Config),
    {ok, FD} = alcove:open(Drv, [], "/dev/null", [o_rdonly], 0),
    {error, enotty} = alcove:ioctl(Drv, [], FD, tunsetiff, <<0:(40 * 8)>>),
    {error, enotsup} = alcove:ioctl(Drv, [], FD, no_such_request, 0).

%%% alloc

%% The buffer holds the pointers (a word each, distinct, not NULL) and
%% the Cstruct the memory they point to: {ptr, N} zeroed, {ptr, Bin} a
%% copy of Bin.
alloc_pointers(Config) ->
    Drv = ?config(drv, Config),
    W = wordsize() * 8,
    {ok, <<1, 2, P1:W/native, P2:W/native, 3>>,
     [<<1, 2>>, {ptr, <<0:64>>}, {ptr, <<"abc">>}, <<3>>]} =
        alcove:alloc(Drv, [], [<<1, 2>>, {ptr, 8}, {ptr, <<"abc">>}, <<3>>]),
    true = P1 =/= 0 andalso P2 =/= 0 andalso P1 =/= P2,
    %% {ptr, 0} and {ptr, <<>>}: NULL, given back as the word it is
    {ok, <<0:W>>, [<<0:W>>]} = alcove:alloc(Drv, [], [{ptr, 0}]),
    {ok, <<0:W>>, [<<0:W>>]} = alcove:alloc(Drv, [], [{ptr, <<>>}]).

%% A binary is its own buffer.
alloc_binary(Config) ->
    Drv = ?config(drv, Config),
    {ok, <<"abc">>, <<"abc">>} = alcove:alloc(Drv, [], <<"abc">>),
    {ok, <<>>, <<>>} = alcove:alloc(Drv, [], <<>>).

%% The empty Cstruct is none (the reference's type is a non-empty
%% list): badarg; an empty binary is one.
alloc_empty(Config) ->
    Drv = ?config(drv, Config),
    {'EXIT', {badarg, _}} = (catch alcove:alloc(Drv, [], [])),
    {ok, <<>>, [<<>>]} = alcove:alloc(Drv, [], [<<>>]).

%% Bad Cstructs raise badarg in the caller: a negative or too large
%% {ptr, N}, {ptr, atom}, other tuples, a non-list, over 256 elements;
%% for alloc and seccomp an integer is no Cstruct.
cstruct_badarg(Config) ->
    Drv = ?config(drv, Config),
    Bad = [[{ptr, -1}], [{ptr, atom}], [{ptr, 16#1000001}],
           [{ptr, <<0:(16#1000001 * 8)>>}], [{foo, 1}], [{ptr, 1, 2}],
           [1], [[<<>>]], [<<>> | <<>>], atom, {ptr, 1}, 1.5,
           lists:duplicate(257, <<>>)],
    [{'EXIT', {badarg, _}} = (catch alcove:alloc(Drv, [], B)) || B <- Bad],
    [{'EXIT', {badarg, _}} = (catch alcove:prctl(Drv, [], pr_get_name, B,
                                                 0, 0, 0))
     || B <- Bad, not is_atom(B)],
    [{'EXIT', {badarg, _}} = (catch alcove:ioctl(Drv, [], 0, 0, B))
     || B <- Bad, not is_atom(B)],
    {'EXIT', {badarg, _}} = (catch alcove:alloc(Drv, [], 1)),
    {'EXIT', {badarg, _}} =
        (catch alcove:seccomp(Drv, [], seccomp_set_mode_filter, 0, 1)),
    %% 256 elements are fine
    {ok, <<0:256/unit:8>>, _} =
        alcove:alloc(Drv, [], lists:duplicate(256, <<0>>)).

%% The port checks too: bad Cstructs sent past alcove_proto are refused
%% with badarg, and the process goes on.
cstruct_badarg_in_port(Config) ->
    Drv = ?config(drv, Config),
    Alloc = alcove_proto:call(alloc),
    Bad = [[{ptr, -1}], [{ptr, atom}], [{ptr, 16#1000001}], [{foo, 1}],
           lists:duplicate(257, <<>>), "abc", atom, 1],
    [{'EXIT', {badarg, _}} =
         (catch alcove_drv:call(Drv, [], Alloc, {B}, ?WAIT)) || B <- Bad],
    {ok, <<"x">>, [<<"x">>]} = alcove_drv:call(Drv, [], Alloc, {[<<"x">>]},
                                               ?WAIT).

%%% alcove_ioctl

%% Request numbers: the layout of _IOC, and the values of the system's
%% headers for requests of each direction.
ioctl_numbers(Config) ->
    Drv = ?config(drv, Config),
    16#400454ca = alcove_ioctl:iow($T, 202, 4),
    16#800454d2 = alcove_ioctl:ior($T, 210, 4),
    16#c0085401 = alcove_ioctl:iowr($T, 1, 8),
    16#5441 = alcove_ioctl:io($T, 16#41),
    16#c0085401 = alcove_ioctl:ioc(read_write, $T, 1, 8),
    16#7fff0000 = alcove_ioctl:ioc(write, 0, 0, 16#3fff),
    16#ffff = alcove_ioctl:ioc(none, 16#ff, 16#ff, 0),
    Headers = [{tunsetiff, alcove_ioctl:iow($T, 202, 4)},
               {tunsetpersist, alcove_ioctl:iow($T, 203, 4)},
               {tungetiff, alcove_ioctl:ior($T, 210, 4)},
               {tiocgptn, alcove_ioctl:ior($T, 16#30, 4)},
               {tiocsptlck, alcove_ioctl:iow($T, 16#31, 4)},
               {tiocgptpeer, alcove_ioctl:io($T, 16#41)}],
    [{Name, N} = {Name, alcove:ioctl_constant(Drv, [], Name)}
     || {Name, N} <- Headers].

%% Fields out of range, or an unknown direction: badarg.
ioctl_numbers_badarg(_Config) ->
    Bad = [fun() -> alcove_ioctl:iow(256, 0, 0) end,
           fun() -> alcove_ioctl:iow(-1, 0, 0) end,
           fun() -> alcove_ioctl:ior(0, 256, 0) end,
           fun() -> alcove_ioctl:iowr(0, 0, 16#4000) end,
           fun() -> alcove_ioctl:io($T, x) end,
           fun() -> alcove_ioctl:ioc(sideways, 0, 0, 0) end],
    [{'EXIT', {badarg, _}} = (catch F()) || F <- Bad].

%%% alcove_cstruct

%% Sizes, offsets and padding as the port lays the buffer out.
sizeof_offsetof_align(Config) ->
    Drv = ?config(drv, Config),
    W = wordsize(),
    S = [<<1, 2>>, {ptr, 100}, {ptr, <<"abc">>}, <<3>>],
    Size = 2 + W + W + 1,
    Size = alcove_cstruct:sizeof(S),
    3 = alcove_cstruct:sizeof(<<"abc">>),
    0 = alcove_cstruct:sizeof([]),
    {ok, Buf, _} = alcove:alloc(Drv, [], S),
    Size = byte_size(Buf),
    Offsets = [0, 2, 2 + W, 2 + 2 * W],
    Offsets = [alcove_cstruct:offsetof(S, N) || N <- [1, 2, 3, 4]],
    Aligned = alcove_cstruct:align(S),
    Aligned = S ++ [<<0:((W - 3) * 8)>>],
    0 = alcove_cstruct:sizeof(Aligned) rem W,
    Aligned = alcove_cstruct:align(Aligned),
    [<<1, 2, 3>>, <<0>>] = alcove_cstruct:align([<<1, 2, 3>>], 4),
    {'EXIT', {badarg, _}} = (catch alcove_cstruct:sizeof([{ptr, -1}])),
    {'EXIT', {badarg, _}} = (catch alcove_cstruct:sizeof(atom)),
    {'EXIT', {badarg, _}} = (catch alcove_cstruct:offsetof(S, 5)),
    {'EXIT', {badarg, _}} = (catch alcove_cstruct:align(S, 0)),
    ok.

%% struct_jail2/5 is the reference's function: version 2, padding, three
%% NUL-terminated strings, the address counts, then the addresses in
%% network byte order.
struct_jail2(_Config) ->
    W = wordsize(),
    Pad = (W - 4 rem W) rem W,
    [<<2:32/native>>, <<0:(Pad * 8)>>,
     {ptr, <<"/rescue", 0>>}, {ptr, <<"test", 0>>}, {ptr, <<"jail0", 0>>},
     <<2:32/native, 1:32/native>>,
     {ptr, <<127, 0, 0, 1, 10, 1, 2, 3>>},
     {ptr, <<16#fe80:16, 0:16, 0:16, 0:16, 0:16, 0:16, 0:16, 1:16>>}] = J =
        alcove_cstruct:struct_jail2(<<"/rescue">>, "test", [<<"jail">>, "0"],
                                    [{127, 0, 0, 1}, {10, 1, 2, 3}],
                                    [{16#fe80, 0, 0, 0, 0, 0, 0, 1}]),
    %% struct jail: u32, then 3 pointers, 2 u32 and 2 pointers, aligned
    Size = 4 + Pad + 3 * W + 8 + 2 * W,
    Size = alcove_cstruct:sizeof(J),
    [_, _, {ptr, <<"/", 0>>}, _, _, <<0:64>>, {ptr, <<>>}, {ptr, <<>>}] =
        alcove_cstruct:struct_jail2("/", "h", "j", [], []),
    Bad = [{<<"a", 0, "b">>, "h", "j", [], []},
           {"/", "h", "j", [{256, 0, 0, 0}], []},
           {"/", "h", "j", [{1, 2, 3}], []},
           {"/", "h", "j", [], [{16#10000, 0, 0, 0, 0, 0, 0, 0}]},
           {"/", "h", "j", x, []}],
    [{'EXIT', {badarg, _}} =
         (catch alcove_cstruct:struct_jail2(P, H, N, I4, I6))
     || {P, H, N, I4, I6} <- Bad],
    ok.

%% The jail struct laid out by the port (alloc: no FreeBSD needed): the
%% strings and addresses are copied, the buffer holds their pointers.
struct_jail2_alloc(Config) ->
    Drv = ?config(drv, Config),
    W = wordsize() * 8,
    J = alcove_cstruct:struct_jail2("/rescue", "test", "jail0",
                                    [{10, 0, 0, 1}], []),
    %% no IPv6 address: a NULL pointer, given back as its word
    {ok, Buf, J1} = alcove:alloc(Drv, [], J),
    J1 = lists:droplast(J) ++ [<<0:W>>],
    Pad = alcove:wordalign(4) * 8,
    <<2:32/native, 0:Pad, Path:W/native, Host:W/native, Name:W/native,
      1:32/native, 0:32/native, IP4:W/native, 0:W>> = Buf,
    4 = length(lists:usort([Path, Host, Name, IP4])),
    false = lists:member(0, [Path, Host, Name, IP4]).

%%% Helpers

wordsize() ->
    erlang:system_info({wordsize, external}).

proc(Pid, File) ->
    filename:join(["/proc", integer_to_list(Pid), File]).

%% The interface names of a /proc/net/dev.
devices(Dev) ->
    [_, _ | Lines] = binary:split(Dev, <<"\n">>, [global, trim]),
    [string:trim(hd(binary:split(L, <<":">>))) || L <- Lines].
