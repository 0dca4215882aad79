%% SPDX-License-Identifier: ISC
%% @doc Cstructs: C structures as lists for prctl/7, ioctl/5, seccomp/5,
%% jail/3 and alloc/3. The elements are laid out one after the other,
%% with no padding but what the list holds:
%%
%% <ul>
%% <li>`binary()': copied as it is</li>
%% <li>`{ptr, N}': a pointer to N zeroed bytes</li>
%% <li>`{ptr, binary()}': a pointer to a copy of the binary</li>
%% </ul>
%%
%% A pointer takes a word: `erlang:system_info({wordsize, external})',
%% the port being built for the machine of the VM.
-module(alcove_cstruct).

-include("alcove.hrl").
-include("alcove_facts.hrl").

-export([
    sizeof/1,
    offsetof/2,
    align/1,
    align/2,
    jail/1,
    struct_jail2/5
]).

-type ipv4() :: {byte(), byte(), byte(), byte()}.
-type ipv6() :: {char16(), char16(), char16(), char16(),
                 char16(), char16(), char16(), char16()}.
-type char16() :: 0..16#ffff.

-export_type([ipv4/0, ipv6/0]).

%% @doc The bytes of the buffer a Cstruct (or binary) lays out.
-spec sizeof(binary() | alcove:cstruct()) -> non_neg_integer().
sizeof(Bin) when is_binary(Bin) ->
    byte_size(Bin);
sizeof(Cstruct) when is_list(Cstruct) ->
    lists:sum([el_size(E) || E <- Cstruct]);
sizeof(_) ->
    erlang:error(badarg).

%% @doc Where the N-th element (from 1) of a Cstruct starts in its buffer.
-spec offsetof(alcove:cstruct(), pos_integer()) -> non_neg_integer().
offsetof(Cstruct, N)
  when is_list(Cstruct), is_integer(N), N >= 1, N =< length(Cstruct) ->
    sizeof(lists:sublist(Cstruct, N - 1));
offsetof(_, _) ->
    erlang:error(badarg).

%% @doc The Cstruct with zeroes appended up to a multiple of the word.
-spec align(alcove:cstruct()) -> alcove:cstruct().
align(Cstruct) ->
    align(Cstruct, erlang:system_info({wordsize, external})).

%% @doc The Cstruct with zeroes appended up to a multiple of Align bytes.
-spec align(alcove:cstruct(), pos_integer()) -> alcove:cstruct().
align(Cstruct, Align)
  when is_list(Cstruct), is_integer(Align), Align >= 1 ->
    case alcove:wordalign(sizeof(Cstruct), Align) of
        0 -> Cstruct;
        Pad -> Cstruct ++ [<<0:(Pad * 8)>>]
    end;
align(_, _) ->
    erlang:error(badarg).

%% @doc A FreeBSD struct jail, for jail/3 (the reference's record
%% API): a version (2, the one FreeBSD takes), pointers to the path,
%% host name and jail name (NUL-terminated), the counts of IPv4 and IPv6
%% addresses and pointers to them, in network byte order.
%%
%% ```
%% Jail = alcove_cstruct:jail(#alcove_jail{path = "/rescue",
%%                                         hostname = "jail0",
%%                                         ip4 = [{127, 0, 0, 2}]}),
%% {ok, JID} = alcove:jail(Drv, [], Jail)
%% '''
-spec jail(#alcove_jail{}) -> alcove:cstruct().
jail(#alcove_jail{version = Version, path = Path, hostname = Hostname,
                  jailname = Jailname, ip4 = IPv4, ip6 = IPv6})
  when is_integer(Version), Version >= 0, Version =< 16#ffffffff,
       is_list(IPv4), is_list(IPv6) ->
    [<<?UINT32(Version)>>,
     <<0:(alcove:wordalign(4) * 8)>>,
     {ptr, cstring(Path)},
     {ptr, cstring(Hostname)},
     {ptr, cstring(Jailname)},
     <<?UINT32(length(IPv4)), ?UINT32(length(IPv6))>>,
     {ptr, << <<(ipv4(IP))/binary>> || IP <- IPv4 >>},
     {ptr, << <<(ipv6(IP))/binary>> || IP <- IPv6 >>}];
jail(_) ->
    erlang:error(badarg).

%% @doc A struct jail of version 2: `jail(#alcove_jail{path = Path,
%% hostname = Hostname, jailname = Jailname, ip4 = IPv4, ip6 = IPv6})'.
-spec struct_jail2(iodata(), iodata(), iodata(), [ipv4()], [ipv6()]) ->
    alcove:cstruct().
struct_jail2(Path, Hostname, Jailname, IPv4, IPv6) ->
    jail(#alcove_jail{path = Path, hostname = Hostname, jailname = Jailname,
                      ip4 = IPv4, ip6 = IPv6}).

%%% Internal

%% The bytes an element takes in the buffer; the bounds of alcove_proto.
el_size(Bin) when is_binary(Bin) ->
    byte_size(Bin);
el_size({ptr, N}) when is_integer(N), N >= 0, N =< ?CSTRUCT_PTR_MAX ->
    erlang:system_info({wordsize, external});
el_size({ptr, Bin}) when is_binary(Bin), byte_size(Bin) =< ?CSTRUCT_PTR_MAX ->
    erlang:system_info({wordsize, external});
el_size(_) ->
    erlang:error(badarg).

%% A C string: no NUL inside, one at the end.
cstring(Data) ->
    Bin = iolist_to_binary(Data),
    case binary:match(Bin, <<0>>) of
        nomatch -> <<Bin/binary, 0>>;
        _ -> erlang:error(badarg)
    end.

-define(IS_BYTE(X), (is_integer(X) andalso X >= 0 andalso X =< 16#ff)).
-define(IS_U16(X), (is_integer(X) andalso X >= 0 andalso X =< 16#ffff)).

ipv4({A, B, C, D})
  when ?IS_BYTE(A), ?IS_BYTE(B), ?IS_BYTE(C), ?IS_BYTE(D) ->
    <<A, B, C, D>>;
ipv4(_) ->
    erlang:error(badarg).

ipv6({A, B, C, D, E, F, G, H})
  when ?IS_U16(A), ?IS_U16(B), ?IS_U16(C), ?IS_U16(D),
       ?IS_U16(E), ?IS_U16(F), ?IS_U16(G), ?IS_U16(H) ->
    <<A:16, B:16, C:16, D:16, E:16, F:16, G:16, H:16>>;
ipv6(_) ->
    erlang:error(badarg).
