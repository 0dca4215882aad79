#!/usr/bin/env escript
%% SPDX-License-Identifier: ISC
%% A tour of alcove: a fork chain, a program run under it with its
%% standard I/O, and (as root) a process in new namespaces.
-mode(compile).

main(_) ->
    Top = filename:dirname(filename:dirname(filename:absname(escript:script_name()))),
    true = code:add_patha(filename:join(Top, "_build/default/lib/alcove/ebin")),

    {ok, Drv} = alcove_drv:start(),
    io:format("port ~p, pid ~B, version ~s~n",
              [Drv, alcove:getpid(Drv, []), alcove:version(Drv, [])]),

    {ok, Child1} = alcove:fork(Drv, []),
    {ok, Child2} = alcove:fork(Drv, [Child1]),
    Child2 = alcove:getpid(Drv, [Child1, Child2]),
    io:format("fork chain [~B, ~B]~n", [Child1, Child2]),

    ok = alcove:execvp(Drv, [Child1, Child2], "/bin/cat", ["/bin/cat"]),
    ok = alcove:stdin(Drv, [Child1, Child2], "hello process\n"),
    io:format("cat echoed ~p~n", [alcove:stdout(Drv, [Child1, Child2], 5000)]),
    ok = alcove:eof(Drv, [Child1, Child2]),
    io:format("cat ended with ~p~n", [alcove:event(Drv, [Child1, Child2], 5000)]),

    case alcove:clone(Drv, [], [clone_newpid, clone_newuts, clone_newns]) of
        {ok, Ns} ->
            io:format("in new namespaces: pid ~B inside, ~B outside~n",
                      [alcove:getpid(Drv, [Ns]), Ns]),
            ok = alcove:execvp(Drv, [Ns], "/bin/sh",
                               ["/bin/sh", "-c", "hostname sandbox; hostname; echo $$"]),
            io:format("sh in the namespace says ~p~n",
                      [collect(Drv, [Ns], <<>>)]);
        {error, Errno} ->
            io:format("clone: ~p (namespaces need root or a user namespace)~n",
                      [Errno])
    end,
    ok = alcove_drv:stop(Drv).

collect(Drv, Chain, Acc) ->
    receive
        {alcove_stdout, Drv, Chain, Data} -> collect(Drv, Chain, <<Acc/binary, Data/binary>>);
        {alcove_event, Drv, Chain, {exit_status, _}} -> Acc
    after 5000 -> Acc
    end.
