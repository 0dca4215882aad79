%% SPDX-License-Identifier: ISC
%% The documentation: edoc builds a page per module from the sources,
%% every exported function has a doc (read back from edoc's EEP-48
%% chunks), every call's doc has the sections that gen/gen_calls.escript
%% writes from gen/calls.eterm, and the example of every call that runs
%% on this system is compiled and run against a real port.
-module(alcove_doc_SUITE).

-include_lib("common_test/include/ct.hrl").

-export([all/0, suite/0, init_per_suite/1, end_per_suite/1]).
-export([
    html_page_per_module/1,
    every_export_documented/1,
    call_docs_have_sections/1,
    call_examples_run/1
]).

suite() ->
    [{timetrap, {minutes, 2}}].

all() ->
    [html_page_per_module, every_export_documented, call_docs_have_sections,
     call_examples_run].

init_per_suite(Config) ->
    {ok, _} = application:ensure_all_started(alcove),
    [{top, top()} | Config].

end_per_suite(_Config) ->
    ok.

%% The source tree: src/alcove.erl was compiled from Top/src.
top() ->
    Src = proplists:get_value(source, alcove:module_info(compile)),
    filename:dirname(filename:dirname(Src)).

modules() ->
    {ok, Mods} = application:get_key(alcove, modules),
    lists:sort(Mods).

edoc(Top, Dir, Opts) ->
    %% edoc:application/3 reads Top/src and writes Dir
    ok = edoc:application(alcove, Top,
                          [{dir, Dir}, {preprocess, true},
                           {includes, [filename:join(Top, "include")]}
                           | Opts]).

%%% Cases

%% What `make doc' does: a page per module, each with an anchor per
%% exported function (behaviour callbacks aside: see below).
html_page_per_module(Config) ->
    Dir = filename:join(?config(priv_dir, Config), "html"),
    edoc(?config(top, Config), Dir, []),
    {ok, Index} = file:read_file(filename:join(Dir, "modules-frame.html")),
    Missing =
        lists:flatmap(
          fun(M) ->
                  Page = filename:join(Dir, atom_to_list(M) ++ ".html"),
                  case file:read_file(Page) of
                      {ok, Html} ->
                          [{M, F, A} || {F, A} <- exports(M) -- callbacks(M),
                                        nomatch =:= binary:match(Html, anchor(F, A))];
                      {error, enoent} ->
                          [{M, no_page}]
                  end
                  ++ [{M, not_in_index}
                      || nomatch =:= binary:match(Index, atom_to_binary(M))]
          end, modules()),
    [] = Missing,
    true = lists:member(alcove, modules()),
    ok.

anchor(F, A) ->
    iolist_to_binary(["name=\"", atom_to_list(F), "-", integer_to_list(A), "\""]).

%% Every exported function has a doc of its own. The only exception is a
%% callback of a behaviour the module declares, which may be @private:
%% init/1 of a gen_server is no part of the API.
every_export_documented(Config) ->
    Chunks = chunks(Config),
    Undocumented =
        lists:flatmap(
          fun(M) ->
                  {docs_v1, _, erlang, _, MDoc, _, Docs} = maps:get(M, Chunks),
                  Callbacks = callbacks(M),
                  [{M, moduledoc} || not has_doc(MDoc)]
                  ++ [{M, F, A, Doc}
                      || {F, A} <- exports(M),
                         Doc <- [doc_of(F, A, Docs)],
                         not has_doc(Doc),
                         not (Doc =:= hidden andalso lists:member({F, A}, Callbacks))]
          end, modules()),
    [] = Undocumented,
    %% the count is the API: two arities for each call of the table, and
    %% the hand-written functions of the template
    NCalls = length(alcove_proto:calls()),
    true = length(exports(alcove)) >= 2 * NCalls,
    ok.

chunks(Config) ->
    Dir = filename:join(?config(priv_dir, Config), "chunks"),
    edoc(?config(top, Config), Dir,
         [{doclet, edoc_doclet_chunks}, {layout, edoc_layout_chunks}]),
    maps:from_list(
      [begin
           {ok, Bin} = file:read_file(filename:join([Dir, "chunks",
                                                     atom_to_list(M) ++ ".chunk"])),
           {M, binary_to_term(Bin)}
       end || M <- modules()]).

exports(M) ->
    lists:sort(M:module_info(exports) -- [{module_info, 0}, {module_info, 1}]).

callbacks(M) ->
    Behaviours = lists:append([B || {behaviour, B} <- M:module_info(attributes)]),
    lists:append([B:behaviour_info(callbacks) || B <- Behaviours]).

doc_of(F, A, Docs) ->
    case [D || {{function, F1, A1}, _, _, D, _} <- Docs, F1 =:= F, A1 =:= A] of
        [D] -> D;
        [] -> none
    end.

has_doc(#{<<"en">> := Doc}) -> text(Doc) =/= <<>>;
has_doc(_) -> false.

%% The text of an EEP-48 doc in the application/erlang+html format.
text(B) when is_binary(B) -> string:trim(B);
text({_, _, Content}) -> text(Content);
text(L) when is_list(L) -> iolist_to_binary([text(E) || E <- L]).

%% Each call's doc says which system call it wraps (or none), its
%% arguments, what it returns and its errors; the example is there
%% where the table has one. The timeout arity points to the other.
call_docs_have_sections(Config) ->
    {docs_v1, _, _, _, _, _, Docs} = maps:get(alcove, chunks(Config)),
    Table = table(Config),
    Bad =
        lists:flatmap(
          fun({Name, Args, _Result, _Os, _Flags, _Doc, Example}) ->
                  A = length(Args) + 2,
                  Text = text(maps:get(<<"en">>, doc_of(Name, A, Docs))),
                  Timeout = text(maps:get(<<"en">>, doc_of(Name, A + 1, Docs))),
                  Want = [<<"System call">>, <<"Arguments">>, <<"Returns">>,
                          <<"Errors">>, <<"Drv">>, <<"Pids">>]
                      ++ [list_to_binary(camel(N)) || {N, _} <- Args]
                      ++ [<<"Example">> || Example =/= none],
                  [{Name, A, W} || W <- Want, nomatch =:= binary:match(Text, W)]
                  ++ [{Name, A + 1, timeout}
                      || nomatch =:= binary:match(Timeout, <<"with a timeout">>)]
          end, Table),
    [] = Bad,
    %% the table and the module agree
    Names = [N || {N, _, _, _, _, _, _} <- Table],
    Names = alcove_proto:calls(),
    ok.

%% gen/calls.eterm, each entry with its example or none.
table(Config) ->
    {ok, Terms} = file:consult(filename:join([?config(top, Config), "gen",
                                              "calls.eterm"])),
    [case T of
         {N, A, R, O, F, D} -> {N, A, R, O, F, D, none};
         {_, _, _, _, _, _, _} -> T
     end || T <- Terms].

camel(Atom) ->
    [H | T] = atom_to_list(Atom),
    [string:to_upper(H) | camel_(T)].

camel_([$_, C | T]) -> [string:to_upper(C) | camel_(T)];
camel_([C | T]) -> [C | camel_(T)];
camel_([]) -> [].

%% Each example, as a user would paste it after `{ok, Drv} =
%% alcove_drv:start()', is compiled (records of include/alcove.hrl
%% known) and run with a fresh port as root. Examples of calls that
%% exist only on other systems are compiled, not run.
call_examples_run(Config) ->
    Os = case os:type() of {unix, linux} -> linux; {unix, O} -> O end,
    Dir = ?config(priv_dir, Config),
    Results =
        [begin
             Mod = list_to_atom("alcove_doc_example_" ++ atom_to_list(Name)),
             ok = compile_example(Dir, Mod, Example),
             Run = CallOs =:= all orelse lists:member(Os, CallOs),
             {Name, Run andalso run_example(Mod)}
         end || {Name, _, _, CallOs, _, _, Example} <- table(Config),
                Example =/= none],
    ct:pal("examples run: ~p", [[N || {N, ok} <- Results]]),
    ct:pal("examples compiled only: ~p", [[N || {N, false} <- Results]]),
    [] = [R || {_, Res} = R <- Results, Res =/= ok, Res =/= false],
    ok.

compile_example(Dir, Mod, Example) ->
    Src = filename:join(Dir, atom_to_list(Mod) ++ ".erl"),
    ok = file:write_file(Src, ["-module(", atom_to_list(Mod), ").\n"
                               "-include_lib(\"alcove/include/alcove.hrl\").\n"
                               "-export([run/1]).\n"
                               "run(Drv) ->\n", Example, "\n"]),
    case compile:file(Src, [binary, return_errors, nowarn_unused_vars]) of
        {ok, Mod, Bin} ->
            {module, Mod} = code:load_binary(Mod, Src, Bin),
            ok;
        Error ->
            {compile, Mod, Error}
    end.

%% An example passes when it runs to the end: its own matches are its
%% assertions.
run_example(Mod) ->
    {ok, Drv} = alcove_drv:start(),
    try Mod:run(Drv) of
        _ -> ok
    catch
        Class:Reason:Stack -> {Mod, Class, Reason, Stack}
    after
        alcove_drv:stop(Drv)
    end.
