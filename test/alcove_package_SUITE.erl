%% SPDX-License-Identifier: ISC
%% alcove as its users get it: the `files' of src/alcove.app.src, copied
%% alone into an empty directory, build the port and the library and run
%% a call; a throwaway rebar3 project that has alcove in _checkouts (a
%% local dependency, rebar3's documented way) and a throwaway mix project
%% with alcove as a path dependency do the same; and the static port
%% (c_src/Makefile.static, musl) runs in a chroot that holds nothing but
%% it.
%%
%% Each build runs in a fresh directory under priv_dir, with its own
%% HOME and no ERL_LIBS, so nothing of this tree's _build leaks in; none
%% needs the network.
-module(alcove_package_SUITE).

-include_lib("common_test/include/ct.hrl").
-include_lib("kernel/include/file.hrl").

-export([all/0, suite/0, init_per_suite/1, end_per_suite/1]).
-export([
    files_list/1,
    package_builds_and_runs/1,
    rebar3_checkouts_dependency/1,
    mix_path_dependency/1,
    static_port_in_empty_chroot/1
]).

suite() ->
    [{timetrap, {minutes, 5}}].

all() ->
    [files_list, package_builds_and_runs, rebar3_checkouts_dependency,
     mix_path_dependency, static_port_in_empty_chroot].

init_per_suite(Config) ->
    [{top, top()} | Config].

end_per_suite(_Config) ->
    ok.

top() ->
    Src = proplists:get_value(source, alcove:module_info(compile)),
    filename:dirname(filename:dirname(Src)).

%%% Cases

%% The list names what a build needs, and nothing a build leaves behind
%% or only a developer of alcove uses.
files_list(Config) ->
    Files = package_files(?config(top, Config)),
    Needed = ["LICENSE", "README.md", "rebar.config", "c_src/Makefile",
              "c_src/Makefile.static", "c_src/core/loop.c", "c_src/core/alcove.h",
              "gen/calls.eterm", "gen/gen_calls.escript", "gen/gen_consts.sh",
              "gen/facts.eterm", "gen/gen_facts.escript",
              "gen/alcove.erl.src", "gen/alcove_proto.erl.src",
              "include/alcove.hrl", "src/alcove.app.src", "src/alcove_drv.erl"],
    [] = Needed -- Files,
    Unwanted = [F || F <- Files,
                     lists:member(hd(filename:split(F)),
                                  ["test", "priv", "_build", "bench", "fuzz",
                                   "examples", "doc", ".ci", "scripts"])
                     orelse lists:member(filename:extension(F), [".o", ".beam"])
                     orelse lists:prefix("c_src/gen/", F)
                     orelse lists:prefix("c_src/test/", F)
                     orelse lists:prefix("c_src/static/", F)],
    [] = Unwanted,
    {ok, License} = file:read_file(filename:join(?config(top, Config), "LICENSE")),
    {match, _} = re:run(License, "^ISC License"),
    {ok, [{application, alcove, App}]} =
        file:consult(filename:join([?config(top, Config), "src", "alcove.app.src"])),
    ["ISC"] = proplists:get_value(licenses, App),
    [_ | _] = proplists:get_value(links, App),
    [_ | _] = proplists:get_value(description, App),
    ok.

%% Only the listed files, the generated modules removed so that the
%% generator has to be there: rebar3 builds the port and the library,
%% and a fresh node runs a fork and a call.
package_builds_and_runs(Config) ->
    Dir = package(Config, "pkg"),
    {0, _} = sh(Config, Dir, "rebar3 compile"),
    true = filelib:is_regular(filename:join([Dir, "priv", "alcove"])),
    Out = run_erl(Config, Dir, ["_build/default/lib/alcove/ebin"],
                  "{ok, Drv} = alcove_drv:start(),"
                  "{ok, Child} = alcove:fork(Drv, []),"
                  "Child = alcove:getpid(Drv, [Child]),"
                  "io:format(\"~s~n\", [alcove:version(Drv, [Child])])"),
    {ok, [{application, alcove, App}]} =
        file:consult(filename:join([Dir, "src", "alcove.app.src"])),
    Vsn = proplists:get_value(vsn, App),
    Vsn = string:trim(Out),
    ok.

%% rebar3 3.19 has no path dependencies: a dependency in _checkouts is
%% built from there and never fetched.
rebar3_checkouts_dependency(Config) ->
    Proj = filename:join(?config(priv_dir, Config), "rebar3_demo"),
    ok = write(Proj, "rebar.config", "{deps, [alcove]}.\n"),
    ok = write(Proj, "src/demo.app.src",
               "{application, demo, [{description, \"uses alcove\"}, "
               "{vsn, \"0.1.0\"}, {applications, [kernel, stdlib, alcove]}]}.\n"),
    ok = write(Proj, "src/demo.erl", demo_erl()),
    _ = package(Config, "rebar3_demo/_checkouts/alcove"),
    {0, _} = sh(Config, Proj, "rebar3 compile"),
    Out = run_erl(Config, Proj,
                  ["_build/default/lib/demo/ebin",
                   "_build/default/checkouts/alcove/ebin"],
                  "io:format(\"~p~n\", [demo:run()])"),
    "{ok,child}" = string:trim(Out),
    ok.

demo_erl() ->
    "-module(demo).\n"
    "-export([run/0]).\n"
    "run() ->\n"
    "    {ok, Drv} = alcove_drv:start(),\n"
    "    {ok, Child} = alcove:fork(Drv, []),\n"
    "    Child = alcove:getpid(Drv, [Child]),\n"
    "    {ok, child}.\n".

%% mix builds a rebar3 dependency with the rebar3 it is given
%% (MIX_REBAR3), without Hex and offline.
mix_path_dependency(Config) ->
    case os:find_executable("mix") of
        false ->
            {skip, "elixir is not installed (apt-get install elixir): "
                   "the mix path dependency is not tried"};
        _ ->
            mix_path_dependency_(Config)
    end.

mix_path_dependency_(Config) ->
    Dep = package(Config, "mix_dep/alcove"),
    Proj = filename:join(?config(priv_dir, Config), "mix_demo"),
    ok = write(Proj, "mix.exs",
               ["defmodule Demo.MixProject do\n"
                "  use Mix.Project\n"
                "  def project do\n"
                "    [app: :demo, version: \"0.1.0\",\n"
                "     deps: [{:alcove, path: \"", Dep, "\"}]]\n"
                "  end\n"
                "  def application, do: [extra_applications: []]\n"
                "end\n"]),
    ok = write(Proj, "lib/demo.ex",
               "defmodule Demo do\n"
               "  def run do\n"
               "    {:ok, drv} = :alcove_drv.start()\n"
               "    {:ok, child} = :alcove.fork(drv, [])\n"
               "    ^child = :alcove.getpid(drv, [child])\n"
               "    {:ok, :child}\n"
               "  end\n"
               "end\n"),
    Rebar3 = os:find_executable("rebar3"),
    MixHome = filename:join(?config(priv_dir, Config), "mix_home"),
    {0, Out} = sh(Config, Proj,
                  "HEX_OFFLINE=1 MIX_HOME=" ++ MixHome ++ " MIX_REBAR3=" ++ Rebar3
                  ++ " mix run -e 'IO.inspect(Demo.run())'"),
    %% the last line is what the call printed
    "{:ok, :child}" = lists:last(string:lexemes(Out, "\n")),
    ok.

%% make -f Makefile.static (musl) in the package; the binary alone in
%% an empty directory, started through chroot(8): it forks, and the
%% child sees a root that holds the port and nothing else.
static_port_in_empty_chroot(Config) ->
    case {os:find_executable("musl-gcc"), os:cmd("id -u")} of
        {false, _} ->
            {skip, "musl-gcc is not installed (apt-get install musl-tools)"};
        {_, "0\n"} ->
            static_port_in_empty_chroot_(Config);
        _ ->
            {skip, "chroot needs root"}
    end.

static_port_in_empty_chroot_(Config) ->
    Dir = package(Config, "static"),
    {0, _} = sh(Config, Dir, "make -C c_src -f Makefile.static"),
    Static = filename:join([Dir, "priv", "alcove.static"]),
    {0, File} = sh(Config, Dir, "file -b " ++ Static ++ " || true"),
    ct:pal("~s", [File]),
    Root = filename:join(?config(priv_dir, Config), "root"),
    ok = file:make_dir(Root),
    {ok, _} = file:copy(Static, filename:join(Root, "alcove")),
    ok = file:change_mode(filename:join(Root, "alcove"), 8#755),
    {ok, ["alcove"]} = file:list_dir(Root),
    {ok, Drv} = alcove_drv:start([{progname, "/alcove"},
                                  {exec, "chroot " ++ Root}]),
    {ok, Child} = alcove:fork(Drv, []),
    Child = alcove:getpid(Drv, [Child]),
    {ok, Names} = alcove:readdir(Drv, [Child], "/"),
    [<<".">>, <<"..">>, <<"alcove">>] = lists:sort(Names),
    {error, enoent} = alcove:open(Drv, [Child], "/lib", [o_rdonly], 0),
    %% the same tables as the glibc build: a constant and a system call
    15 = alcove:signal_constant(Drv, [Child], sigterm),
    _ = application:load(alcove),
    {ok, Vsn} = application:get_key(alcove, vsn),
    Vsn = binary_to_list(alcove:version(Drv, [Child])),
    ok = alcove_drv:stop(Drv),
    ok.

%%% Helpers

%% The files of the app.src `files' list, relative to Top: a directory
%% stands for all the files under it, anything else is a wildcard.
package_files(Top) ->
    {ok, [{application, alcove, App}]} =
        file:consult(filename:join([Top, "src", "alcove.app.src"])),
    lists:usort(
      lists:append(
        [case filelib:is_dir(filename:join(Top, Entry)) of
             true ->
                 [filename:join(Entry, F)
                  || F <- filelib:wildcard("**", filename:join(Top, Entry)),
                     filelib:is_regular(filename:join([Top, Entry, F]))];
             false ->
                 [_ | _] = filelib:wildcard(Entry, Top)
         end || Entry <- proplists:get_value(files, App)])).

%% A copy of the listed files in priv_dir/Sub, without the generated
%% modules (the build makes them from gen/); its absolute path.
package(Config, Sub) ->
    Top = ?config(top, Config),
    Dir = filename:join(?config(priv_dir, Config), Sub),
    [begin
         To = filename:join(Dir, F),
         ok = filelib:ensure_dir(To),
         {ok, _} = file:copy(filename:join(Top, F), To),
         {ok, #file_info{mode = Mode}} = file:read_file_info(filename:join(Top, F)),
         ok = file:change_mode(To, Mode)
     end || F <- package_files(Top),
            not lists:member(F, generated())],
    Dir.

%% What the build makes from gen/: absent from a package.
generated() ->
    ["src/alcove.erl", "src/alcove_proto.erl", "src/alcove_facts.erl",
     "src/alcove_facts.hrl"].

write(Dir, Name, Content) ->
    Path = filename:join(Dir, Name),
    ok = filelib:ensure_dir(Path),
    file:write_file(Path, Content).

%% A fresh node in Dir with only Paths added to the code path; what it
%% printed.
run_erl(Config, Dir, Paths, Expr) ->
    Pa = lists:append([" -pa " ++ P || P <- Paths]),
    {0, Out} = sh(Config, Dir, "erl -noshell" ++ Pa ++ " -eval '" ++ Expr
                  ++ ", halt().'"),
    Out.

%% Run a shell command in Dir with a HOME of its own and no ERL_LIBS;
%% {ExitStatus, Output}. Builds use both cores.
sh(Config, Dir, Cmd) ->
    Home = filename:join(?config(priv_dir, Config), "home"),
    ok = filelib:ensure_dir(filename:join(Home, "x")),
    Full = "cd " ++ Dir ++ " && env -u ERL_LIBS -u ERL_FLAGS -u REBAR_CONFIG"
        " HOME=" ++ Home ++ " MAKEFLAGS=-j2 " ++ Cmd,
    ct:log("$ ~s", [Full]),
    Port = open_port({spawn_executable, "/bin/sh"},
                     [{args, ["-c", Full]}, exit_status, stderr_to_stdout,
                      binary, hide]),
    {Status, Out} = collect(Port, []),
    ct:log("exit ~B~n~s", [Status, Out]),
    {Status, unicode:characters_to_list(Out)}.

collect(Port, Acc) ->
    receive
        {Port, {data, Data}} -> collect(Port, [Acc, Data]);
        {Port, {exit_status, Status}} -> {Status, iolist_to_binary(Acc)}
    end.
