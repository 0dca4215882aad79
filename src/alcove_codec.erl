%% SPDX-License-Identifier: ISC
%% @doc Requests encoded by their sender, for owners that talk to the
%% driver themselves as the reference's users do:
%%
%% ```
%% Data = alcove_codec:call(getpid, [Child], []),
%% ok = gen_server:call(Drv, {send, Data}, infinity),
%% receive {alcove_call, Drv, [Child], Pid} -> Pid end.
%% '''
%%
%% The bytes are this project's protocol (c_src/wire/frame.h), not the
%% reference's: only this function and the messages are the same.
-module(alcove_codec).

-export([call/3]).

%% @doc The request for call Call with arguments Argv, run in the process
%% at the end of Chain. Arguments are checked as `alcove' checks them:
%% badarg for an unknown call, a wrong count or a wrong type.
-spec call(alcove_proto:call(), alcove:fork_chain(), [term()]) -> binary().
call(Call, Chain, Argv) when is_atom(Call), is_list(Chain), is_list(Argv) ->
    Nr = alcove_proto:call(Call),
    Types = alcove_proto:argtypes(Nr),
    length(Types) =:= length(Argv) orelse erlang:error(badarg),
    length(Chain) < 16#10000 orelse erlang:error(badarg),
    Args = list_to_tuple([alcove_proto:arg(T, A) || {T, A} <- lists:zip(Types, Argv)]),
    iolist_to_binary([<<(length(Chain)):16>>,
                      [<<(pid(P)):32>> || P <- Chain],
                      <<Nr:16>>, term_to_binary(Args)]);
call(_, _, _) ->
    erlang:error(badarg).

pid(P) when is_integer(P), P >= 0, P =< 16#7fffffff -> P;
pid(_) -> erlang:error(badarg).
