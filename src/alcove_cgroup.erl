%% SPDX-License-Identifier: ISC
%% @doc Control groups, through the port: every file is opened, read and
%% written by the process at the end of the fork chain, so these work
%% when only the port is privileged.
%%
%% The reference's functions (supported/2, create/3, set/6, get/5,
%% destroy/3) work on the cgroup v1 hierarchies, one per controller. The
%% `v2_' functions work on the unified hierarchy (cgroup v2), wherever it
%% is mounted: /sys/fs/cgroup on a v2-only host, /sys/fs/cgroup/unified on
%% a hybrid one. A cgroup is named by a binary or a string (`<<"alcove">>',
%% `"alcove/web"') or a list of path parts (`[<<"alcove">>, "web"]'),
%% relative to the root of the hierarchy; a part `.' or `..', or a file
%% name (Key) holding a `/', is refused with `einval' before any file is
%% touched. A name or key that is not iodata raises badarg.
%%
%% The reference's helpers are here too: mounts/1,2 (the lines of
%% /proc/mounts), cgroup/1,2 (the cgroup mount points), fold/5,6 and
%% fold_files/6,7 (over a cgroup's directory in each hierarchy, and its
%% files), is_dir/3, is_file/3, and the path functions join/2, relpath/1
%% and expand/1. hierarchies/2 lists the hierarchies, v1 and v2.
%%
%% The `group_' functions make, fill and remove a group with memory,
%% pids, cpu and cpuset limits in whichever version the host offers, v2
%% or v1 (the cgroup of alcove_sandbox): group_backend/4 picks the
%% version, group_create/5, group_join/6 and group_remove/4 act on it,
%% group_stats/4 reads what the kernel counted (peak memory, OOM kills,
%% CPU time, throttling), group_signal/5, group_kill/4 and
%% group_freeze/5 act on all of its processes. Where v1 cannot do what
%% is asked (memory.high, a freeze without the freezer hierarchy) the
%% answer is an error, never a silent no-op.
%%
%% Errors are those of the kernel: `{error, posix()}' from the v1
%% functions, `{error, {posix(), Path}}' from the v2 ones, Path being the
%% file or directory that failed.
-module(alcove_cgroup).

-export([
    supported/2,
    create/2, create/3,
    set/6,
    get/5,
    destroy/2, destroy/3,
    mounts/1, mounts/2,
    hierarchies/2,
    cgroup/1, cgroup/2,
    fold/5, fold/6,
    fold_files/6, fold_files/7,
    is_dir/3,
    is_file/3,
    join/2,
    relpath/1,
    expand/1
]).
-export([
    v2_root/2,
    v2_create/3, v2_create/4,
    v2_controllers/3,
    v2_set/5,
    v2_get/4,
    v2_move/4,
    v2_events/3,
    v2_freeze/4,
    v2_kill/3,
    v2_destroy/3
]).
-export([
    group_backend/4,
    group_dirs/2,
    group_create/5,
    group_join/6,
    group_plan/4,
    group_remove/4,
    group_stats/4,
    group_signal/5,
    group_kill/4,
    group_freeze/5
]).

-export_type([name/0, mount/0, mount_entry/0, limits/0, backend/0, stats/0]).

-type name() :: iodata() | [iodata()].
-type mount() :: {v1, Path :: binary(), Controllers :: [binary()]}
    | {v2, Path :: binary()}.
-type mount_entry() :: {Source :: binary(), Dir :: binary(), Type :: binary(),
                        Options :: binary(), Freq :: binary(),
                        Passno :: binary()}.
-type limits() :: #{memory_max => pos_integer(), memory_high => pos_integer(),
                    pids_max => pos_integer(),
                    cpu_max => {Quota :: pos_integer(), Period :: pos_integer()},
                    cpus => iodata(), mems => iodata()}.
-type stats() :: #{memory_peak => non_neg_integer(),
                   memory_events => #{atom() => non_neg_integer()},
                   cpu => #{atom() => non_neg_integer()},
                   pids_peak => non_neg_integer(),
                   pids_events => #{atom() => non_neg_integer()}}.
-type backend() :: {v2, Root :: binary()}
    | {v1, [{Controller :: binary(), Root :: binary()}]}.
-type drv() :: alcove:drv().
-type chain() :: alcove:fork_chain().
-type error() :: {error, {alcove:posix(), Path :: binary()}}.

%% The limits of a group (group_join/6) and their controllers.
-define(LIMITS, [{memory_max, <<"memory">>}, {memory_high, <<"memory">>},
                 {pids_max, <<"pids">>}, {cpu_max, <<"cpu">>},
                 {cpus, <<"cpuset">>}, {mems, <<"cpuset">>}]).

%% The v1 hierarchies a group joins where they are mounted, whatever its
%% limits: the freezer (group_freeze/5, group_kill/4) and cpuacct (the
%% CPU time of group_stats/4).
-define(V1_EXTRA, [<<"cpuacct">>, <<"freezer">>]).

%% cpuacct.stat counts USER_HZ ticks, 100 a second on Linux whatever HZ
%% the kernel was built with (times(2)).
-define(USEC_PER_TICK, 10000).

%% How long group_freeze/5 and group_kill/4 wait for the kernel: every
%% ?WAIT_MS, ?WAIT_TRIES times (about five seconds).
-define(WAIT_MS, 10).
-define(WAIT_TRIES, 500).

%% The cgroup of create/2 and destroy/2, the reference's default.
-define(NAMESPACE, <<"alcove">>).

%% Options of a v1 cgroup mount that are not controllers. Options with a
%% value (name=systemd, release_agent=...) are not controllers either.
-define(MOUNT_OPTS, [
    <<"rw">>, <<"ro">>, <<"relatime">>, <<"noatime">>, <<"strictatime">>,
    <<"nodiratime">>, <<"nosuid">>, <<"nodev">>, <<"noexec">>, <<"sync">>,
    <<"dirsync">>, <<"lazytime">>, <<"xattr">>, <<"noprefix">>,
    <<"clone_children">>, <<"cpuset_v2_mode">>, <<"favordynmods">>,
    <<"none">>
]).

%%% cgroup v1 (the reference's interface)

%% @doc Whether cgroup v1 hierarchies are mounted, so that create/3,
%% set/6, get/5 and destroy/3 have something to work on (see v2_root/2
%% for the unified hierarchy).
-spec supported(drv(), chain()) -> boolean().
supported(Drv, Pids) ->
    v1(Drv, Pids, <<>>) =/= [].

%% @doc Create the cgroup `alcove' in every v1 hierarchy:
%% `create(Drv, Pids, <<"alcove">>)'.
-spec create(drv(), chain()) -> ok | {error, alcove:posix()}.
create(Drv, Pids) ->
    create(Drv, Pids, ?NAMESPACE).

%% @doc Create the cgroup, and its parents, in every v1 hierarchy. A
%% cgroup that exists already is left as it is.
-spec create(drv(), chain(), name()) -> ok | {error, alcove:posix()}.
create(Drv, Pids, Name) ->
    v1_name(Name, fun(Parts) ->
        case each(fun({v1, Root, _}) -> mkdirs(Drv, Pids, Root, Parts) end,
                  v1(Drv, Pids, <<>>)) of
            ok -> ok;
            {error, {E, _}} -> {error, E}
        end
    end).

%% Each directory from Root down to Parts; one that exists is kept.
mkdirs(Drv, Pids, Root, Parts) ->
    each(fun(Dir) -> mkdir(Drv, Pids, Dir) end, subdirs(Root, Parts)).

subdirs(Root, Parts) ->
    [join([Root | lists:sublist(Parts, N)]) || N <- lists:seq(1, length(Parts))].

%% @doc Write Value to the file Key of the cgroup in the hierarchies of
%% controller Type (`<<>>': every hierarchy). Returns the bytes written.
-spec set(drv(), chain(), iodata(), name(), iodata(), iodata()) ->
    {ok, non_neg_integer()} | {error, alcove:posix()}.
set(Drv, Pids, Type, Name, Key, Value) ->
    v1_file(Name, Key, fun(Parts) ->
        case v1(Drv, Pids, Type) of
            [] ->
                {error, enoent};
            Ms ->
                Results = [write_file(Drv, Pids, file(M, Parts), Value) || M <- Ms],
                case [E || {error, {E, _}} <- Results] of
                    [] -> lists:last(Results);
                    [E | _] -> {error, E}
                end
        end
    end).

%% @doc Read the file Key of the cgroup in the first hierarchy of
%% controller Type.
-spec get(drv(), chain(), iodata(), name(), iodata()) ->
    {ok, binary()} | {error, alcove:posix()}.
get(Drv, Pids, Type, Name, Key) ->
    v1_file(Name, Key, fun(Parts) ->
        case v1(Drv, Pids, Type) of
            [] -> {error, enoent};
            [M | _] -> strip(read_file(Drv, Pids, file(M, Parts)))
        end
    end).

%% @doc Remove the cgroup `alcove' from every v1 hierarchy:
%% `destroy(Drv, Pids, <<"alcove">>)'.
-spec destroy(drv(), chain()) -> ok | {error, alcove:posix()}.
destroy(Drv, Pids) ->
    destroy(Drv, Pids, ?NAMESPACE).

%% @doc Remove the cgroup from every v1 hierarchy. It must hold no
%% process (and, in v2 terms, no child cgroup).
-spec destroy(drv(), chain(), name()) -> ok | {error, alcove:posix()}.
destroy(Drv, Pids, Name) ->
    v1_name(Name, fun(Parts) ->
        each(fun(M) ->
                     case alcove:rmdir(Drv, Pids, file(M, Parts)) of
                         {error, enoent} -> ok;
                         Res -> Res
                     end
             end, v1(Drv, Pids, <<>>))
    end).

%% @doc The file systems mounted, as the port sees them: mounts(Drv, []).
-spec mounts(drv()) -> {ok, [mount_entry()]} | {error, alcove:posix()}.
mounts(Drv) ->
    mounts(Drv, []).

%% @doc The file systems mounted, as the process sees them: the lines of
%% its /proc/mounts, each the tuple of its six fields as the file has
%% them (binaries; a space in a mount point is `\040'), such as
%% `{<<"cgroup">>, <<"/sys/fs/cgroup/memory">>, <<"cgroup">>,
%% <<"rw,relatime,memory">>, <<"0">>, <<"0">>}'.
-spec mounts(drv(), chain()) -> {ok, [mount_entry()]} | {error, alcove:posix()}.
mounts(Drv, Pids) ->
    case read_file(Drv, Pids, <<"/proc/mounts">>) of
        {ok, Data} ->
            {ok, [list_to_tuple(Fields)
                  || Line <- binary:split(Data, <<"\n">>, [global, trim_all]),
                     Fields <- [binary:split(Line, <<" ">>, [global])],
                     length(Fields) =:= 6]};
        {error, {E, _}} ->
            {error, E}
    end.

%% @doc The cgroup hierarchies mounted, as the process sees them: the v1
%% ones with their controllers, and the unified one (v2). `[]' if its
%% /proc/mounts cannot be read.
-spec hierarchies(drv(), chain()) -> [mount()].
hierarchies(Drv, Pids) ->
    case mounts(Drv, Pids) of
        {ok, Entries} -> [H || E <- Entries, H <- hierarchy(E)];
        {error, _} -> []
    end.

hierarchy({_, Path, <<"cgroup">>, Opts, _, _}) ->
    [{v1, unescape(Path), [O || O <- binary:split(Opts, <<",">>, [global]),
                                not lists:member(O, ?MOUNT_OPTS),
                                binary:match(O, <<"=">>) =:= nomatch]}];
hierarchy({_, Path, <<"cgroup2">>, _, _, _}) ->
    [{v2, unescape(Path)}];
hierarchy(_) ->
    [].

%% @doc The cgroup file systems (v1 and v2) the port sees: cgroup(Drv, []).
-spec cgroup(drv()) -> [binary()].
cgroup(Drv) ->
    cgroup(Drv, []).

%% @doc Where the cgroup file systems (v1 and v2) are mounted, as the
%% process sees them, in the order of its /proc/mounts (the paths
%% themselves: `\040' is a space again). `[]' if it cannot read the
%% file.
-spec cgroup(drv(), chain()) -> [binary()].
cgroup(Drv, Pids) ->
    [Dir || {Dir, _} <- cgroup_mounts(Drv, Pids, <<>>)].

%% The cgroup mounts having the mount option Opt (<<>>: all), with their
%% options.
cgroup_mounts(Drv, Pids, Opt) ->
    case mounts(Drv, Pids) of
        {ok, Entries} ->
            [{unescape(Dir), Opts}
             || {_, Dir, Type, Options, _, _} <- Entries,
                Type =:= <<"cgroup">> orelse Type =:= <<"cgroup2">>,
                Opts <- [binary:split(Options, <<",">>, [global])],
                Opt =:= <<>> orelse lists:member(Opt, Opts)];
        {error, _} ->
            []
    end.

%% @doc fold/6 in the port: `fold(Drv, [], MntOpt, Namespace, Fun, AccIn)'.
-spec fold(drv(), iodata(), name(), fun((binary(), Acc) -> Acc), Acc) -> Acc.
fold(Drv, MntOpt, Namespace, Fun, AccIn) ->
    fold(Drv, [], MntOpt, Namespace, Fun, AccIn).

%% @doc Fold Fun over the directory of the cgroup Namespace in each
%% cgroup file system mounted with the option MntOpt (a controller of
%% v1, such as `<<"memory">>', or any other mount option; `<<>>': every
%% one), where that directory exists: `Fun(Dir, Acc)', in the order of
%% /proc/mounts. A name holding `.' or `..' raises badarg.
-spec fold(drv(), chain(), iodata(), name(), fun((binary(), Acc) -> Acc),
           Acc) -> Acc.
fold(Drv, Pids, MntOpt, Namespace, Fun, AccIn) when is_function(Fun, 2) ->
    Parts = case parts(Namespace) of
                {ok, P} -> P;
                {error, _} -> erlang:error(badarg)
            end,
    Opt = iolist_to_binary(MntOpt),
    lists:foldl(fun({Root, _}, Acc) ->
                        Dir = join([Root | Parts]),
                        case is_dir(Drv, Pids, Dir) of
                            true -> Fun(Dir, Acc);
                            false -> Acc
                        end
                end, AccIn, cgroup_mounts(Drv, Pids, Opt));
fold(_, _, _, _, _, _) ->
    erlang:error(badarg).

%% @doc fold_files/7 in the port: `fold_files(Drv, [], MntOpt,
%% Namespace, Regexp, Fun, AccIn)'.
-spec fold_files(drv(), iodata(), name(), iodata(),
                 fun((binary(), Acc) -> Acc), Acc) -> Acc.
fold_files(Drv, MntOpt, Namespace, Regexp, Fun, AccIn) ->
    fold_files(Drv, [], MntOpt, Namespace, Regexp, Fun, AccIn).

%% @doc Fold Fun over the files (not the directories: the child
%% cgroups) whose names match the regular expression Regexp (re(3)), in
%% the directories fold/6 visits: `Fun(Path, Acc)', Path being the
%% file's. `fold_files(Drv, [], <<"pids">>, <<"box">>, "^pids\\.",
%% Fun, [])' visits the pids.* files of the cgroup box.
-spec fold_files(drv(), chain(), iodata(), name(), iodata(),
                 fun((binary(), Acc) -> Acc), Acc) -> Acc.
fold_files(Drv, Pids, MntOpt, Namespace, Regexp, Fun, AccIn)
  when is_function(Fun, 2) ->
    MP = case re:compile(Regexp) of
             {ok, Compiled} -> Compiled;
             {error, _} -> erlang:error(badarg)
         end,
    fold(Drv, Pids, MntOpt, Namespace,
         fun(Dir, Acc) -> fold_dir(Drv, Pids, Dir, MP, Fun, Acc) end,
         AccIn);
fold_files(_, _, _, _, _, _, _) ->
    erlang:error(badarg).

%% Fun over the files of Dir matching MP, in the order of their names.
fold_dir(Drv, Pids, Dir, MP, Fun, AccIn) ->
    Names = case alcove:readdir(Drv, Pids, Dir) of
                {ok, L} -> lists:sort(L);
                {error, _} -> []
            end,
    lists:foldl(fun(Name, Acc) ->
                        Path = join([Dir, Name]),
                        Match = re:run(Name, MP, [{capture, none}]) =:= match,
                        case Match andalso is_file(Drv, Pids, Path) of
                            true -> Fun(Path, Acc);
                            false -> Acc
                        end
                end, AccIn, Names).

%% @doc Whether Path is a directory the process can open.
-spec is_dir(drv(), chain(), iodata()) -> boolean().
is_dir(Drv, Pids, Path) ->
    open_dir(Drv, Pids, Path) =:= ok.

%% @doc Whether Path names something that is not a directory (such as
%% the file of a cgroup), as the process sees it. The path is opened
%% asking for a directory, which the kernel refuses with enotdir before
%% opening anything else: a file is never opened, so this has no effect
%% on it and needs no read permission.
-spec is_file(drv(), chain(), iodata()) -> boolean().
is_file(Drv, Pids, Path) ->
    open_dir(Drv, Pids, Path) =:= {error, enotdir}.

open_dir(Drv, Pids, Path) ->
    alcove_file:probe(Drv, Pids, Path, [o_rdonly, o_directory, o_cloexec], 0).

%%% Paths (the reference's helpers)

%% @doc Path under Dir, Path taken as relative even if it starts with a
%% `/': `join(<<"/sys/fs/cgroup/cpu">>, <<"/alcove">>)' is
%% `<<"/sys/fs/cgroup/cpu/alcove">>'.
-spec join(name(), name()) -> binary().
join(Dir, Path) ->
    case {expand(Dir), relpath(Path)} of
        {D, <<>>} -> D;
        {<<>>, P} -> P;
        {<<"/">>, P} -> <<"/", P/binary>>;
        {D, P} -> <<D/binary, "/", P/binary>>
    end.

%% @doc Path without its leading `/': `relpath(<<"/alcove/web">>)' is
%% `<<"alcove/web">>'.
-spec relpath(name()) -> binary().
relpath(Path) ->
    case expand(Path) of
        <<"/", Rel/binary>> -> Rel;
        Rel -> Rel
    end.

%% @doc A path given as a binary, a string or a list of parts, as one
%% binary: the parts joined with `/', leaving out empty parts and `.';
%% a leading `/' is kept. `expand([<<"/alcove/">>, "web", <<".">>])' is
%% `<<"/alcove/web">>'. A `..' is kept as it is.
-spec expand(name()) -> binary().
expand(Path) ->
    Parts = [P || P <- split(Path), P =/= <<".">>],
    Rel = iolist_to_binary(lists:join(<<"/">>, Parts)),
    case first_byte(Path) of
        $/ -> <<"/", Rel/binary>>;
        _ -> Rel
    end.

first_byte(Path) ->
    case iolist_to_binary(first_part(Path)) of
        <<C, _/binary>> -> C;
        <<>> -> none
    end.

first_part([H | _]) when is_list(H); is_binary(H) -> H;
first_part(Path) -> Path.

%% The kernel writes a space, tab, newline or backslash of a mount point
%% as an octal escape (\040).
unescape(<<$\\, A, B, C, Rest/binary>>) when A >= $0, A =< $3, B >= $0, B =< $7,
                                             C >= $0, C =< $7 ->
    <<((A - $0) * 64 + (B - $0) * 8 + (C - $0)), (unescape(Rest))/binary>>;
unescape(<<H, Rest/binary>>) ->
    <<H, (unescape(Rest))/binary>>;
unescape(<<>>) ->
    <<>>.

v1(Drv, Pids, Type) ->
    T = iolist_to_binary(Type),
    [M || {v1, _, Cs} = M <- hierarchies(Drv, Pids),
          T =:= <<>> orelse lists:member(T, Cs)].

%%% cgroup v2

%% @doc Where the unified hierarchy is mounted.
-spec v2_root(drv(), chain()) -> {ok, binary()} | {error, enoent}.
v2_root(Drv, Pids) ->
    case [P || {v2, P} <- hierarchies(Drv, Pids)] of
        [P | _] -> {ok, P};
        [] -> {error, enoent}
    end.

%% @doc Create a cgroup (and its parents) in the unified hierarchy.
-spec v2_create(drv(), chain(), name()) -> ok | error().
v2_create(Drv, Pids, Name) ->
    v2_create(Drv, Pids, Name, []).

%% @doc Create a cgroup and enable, in each of its parents, those of
%% Controllers (such as `[<<"memory">>, <<"pids">>, <<"cpu">>]') that the
%% parent offers, so that the cgroup has their files (see
%% v2_controllers/3 for those it got).
-spec v2_create(drv(), chain(), name(), [iodata()]) -> ok | error().
v2_create(Drv, Pids, Name, Controllers) ->
    with_path(Drv, Pids, Name, fun(Root, Parts) ->
        Dirs = subdirs(Root, Parts),
        Parents = [Root | lists:droplast(Dirs)],
        each(fun({Parent, Dir}) ->
                     case enable(Drv, Pids, Parent, Controllers) of
                         ok -> mkdir(Drv, Pids, Dir);
                         Error -> Error
                     end
             end, lists:zip(Parents, Dirs))
    end).

mkdir(Drv, Pids, Dir) ->
    case alcove:mkdir(Drv, Pids, Dir, 8#755) of
        {error, eexist} -> ok;
        {error, E} -> {error, {E, Dir}};
        ok -> ok
    end.

%% Enable in Dir's cgroup.subtree_control those of Controllers that Dir
%% offers (its cgroup.controllers) and has not enabled yet. A refusal of
%% the kernel (such as ebusy: Dir holds processes) is returned.
enable(_Drv, _Pids, _Dir, []) ->
    ok;
enable(Drv, Pids, Dir, Controllers) ->
    case {read_list(Drv, Pids, Dir, <<"cgroup.controllers">>),
          read_list(Drv, Pids, Dir, <<"cgroup.subtree_control">>)} of
        {{ok, Offered}, {ok, Enabled}} ->
            Control = join([Dir, <<"cgroup.subtree_control">>]),
            each(fun(C) ->
                         case write_file(Drv, Pids, Control, ["+", C]) of
                             {ok, _} -> ok;
                             Error -> Error
                         end
                 end, [C || C <- lists:usort([iolist_to_binary(C) || C <- Controllers]),
                            lists:member(C, Offered),
                            not lists:member(C, Enabled)]);
        {{error, _} = Error, _} ->
            Error;
        {_, Error} ->
            Error
    end.

read_list(Drv, Pids, Dir, Key) ->
    case read_file(Drv, Pids, join([Dir, Key])) of
        {ok, Data} -> {ok, binary:split(Data, [<<" ">>, <<"\n">>], [global, trim_all])};
        Error -> Error
    end.

%% @doc The controllers a cgroup has (its cgroup.controllers).
-spec v2_controllers(drv(), chain(), name()) -> {ok, [binary()]} | error().
v2_controllers(Drv, Pids, Name) ->
    case v2_get(Drv, Pids, Name, <<"cgroup.controllers">>) of
        {ok, Data} -> {ok, binary:split(Data, <<" ">>, [global, trim_all])};
        Error -> Error
    end.

%% @doc Write a file of a cgroup: `v2_set(Drv, [], <<"box">>,
%% <<"pids.max">>, <<"16">>)'. Returns the bytes written.
-spec v2_set(drv(), chain(), name(), iodata(), iodata()) ->
    {ok, non_neg_integer()} | error().
v2_set(Drv, Pids, Name, Key, Value) ->
    with_file(Drv, Pids, Name, Key, fun(Path) ->
        write_file(Drv, Pids, Path, Value)
    end).

%% @doc Read a file of a cgroup, without its final newline.
-spec v2_get(drv(), chain(), name(), iodata()) -> {ok, binary()} | error().
v2_get(Drv, Pids, Name, Key) ->
    with_file(Drv, Pids, Name, Key, fun(Path) ->
        case read_file(Drv, Pids, Path) of
            {ok, Data} -> {ok, strip_nl(Data)};
            Error -> Error
        end
    end).

%% @doc Move a process into a cgroup.
-spec v2_move(drv(), chain(), name(), alcove:pid_t()) ->
    {ok, non_neg_integer()} | error().
v2_move(Drv, Pids, Name, OSPid) ->
    v2_set(Drv, Pids, Name, <<"cgroup.procs">>, integer_to_binary(OSPid)).

%% @doc The cgroup's cgroup.events, as `[{populated, 0 | 1}, {frozen, 0 | 1}]'.
-spec v2_events(drv(), chain(), name()) -> {ok, [{atom(), integer()}]} | error().
v2_events(Drv, Pids, Name) ->
    case v2_get(Drv, Pids, Name, <<"cgroup.events">>) of
        {ok, Data} ->
            {ok, [{binary_to_atom(K), binary_to_integer(V)}
                  || Line <- binary:split(Data, <<"\n">>, [global, trim_all]),
                     [K, V] <- [binary:split(Line, <<" ">>)]]};
        Error ->
            Error
    end.

%% @doc Freeze (true) or thaw (false) every process of the cgroup.
-spec v2_freeze(drv(), chain(), name(), boolean()) ->
    {ok, non_neg_integer()} | error().
v2_freeze(Drv, Pids, Name, Freeze) ->
    v2_set(Drv, Pids, Name, <<"cgroup.freeze">>,
           case Freeze of true -> <<"1">>; false -> <<"0">> end).

%% @doc Kill every process of the cgroup with SIGKILL (cgroup.kill,
%% Linux 5.14 and later).
-spec v2_kill(drv(), chain(), name()) -> {ok, non_neg_integer()} | error().
v2_kill(Drv, Pids, Name) ->
    v2_set(Drv, Pids, Name, <<"cgroup.kill">>, <<"1">>).

%% @doc Remove a cgroup: it must hold no process and no child cgroup
%% (else `{error, {ebusy, Dir}}', at once: see group_remove/4 for a
%% group whose last process has just exited).
-spec v2_destroy(drv(), chain(), name()) -> ok | error().
v2_destroy(Drv, Pids, Name) ->
    with_path(Drv, Pids, Name, fun(Root, Parts) ->
        Dir = join([Root | Parts]),
        case alcove:rmdir(Drv, Pids, Dir) of
            ok -> ok;
            {error, E} -> {error, {E, Dir}}
        end
    end).

%% Fun(Root, Parts) once the name is checked and the hierarchy found.
with_path(Drv, Pids, Name, Fun) ->
    case parts(Name) of
        {ok, Parts} ->
            case v2_root(Drv, Pids) of
                {ok, Root} -> Fun(Root, Parts);
                {error, E} -> {error, {E, <<"cgroup2">>}}
            end;
        {error, Bad} ->
            {error, {einval, join(Bad)}}
    end.

with_file(Drv, Pids, Name, Key, Fun) ->
    case key(Key) of
        {ok, K} ->
            with_path(Drv, Pids, Name, fun(Root, Parts) ->
                Fun(join([Root | Parts] ++ [K]))
            end);
        {error, K} ->
            {error, {einval, K}}
    end.

%%% Groups with limits (alcove_sandbox's)

%% @doc Where a group with Limits can be made, as the process sees the
%% hierarchies: in the unified one when its root offers every
%% controller the limits need (`{v2, Root}'), else in the v1 hierarchies
%% of those controllers (`{v1, [{Controller, Root}]}', the first mount of
%% each). Version `v2' or `v1' asks for one of them; `auto' takes v2
%% when it can, else v1. `{error, {unsupported, Controllers}}' names the
%% controllers missing; what v1 cannot do at all is `{error, enotsup}',
%% never left out: it has no memory.high (`memory_high').
%%
%% In v1 the group is also made in the freezer and cpuacct hierarchies
%% where they are mounted, whatever the limits: group_freeze/5 and
%% group_kill/4 need the freezer, group_stats/4 takes the CPU time from
%% cpuacct. Neither is required.
-spec group_backend(drv(), chain(), limits(), auto | v1 | v2) ->
    {ok, backend()} | {error, {unsupported, [binary()]} | enotsup}.
group_backend(Drv, Pids, Limits, Version) ->
    Need = controllers(Limits),
    Mounts = hierarchies(Drv, Pids),
    V2 = case [P || {v2, P} <- Mounts] of
             [Root | _] ->
                 case read_list(Drv, Pids, Root, <<"cgroup.controllers">>) of
                     {ok, Have} -> have({v2, Root}, Need -- Have);
                     {error, _} -> {error, {unsupported, Need}}
                 end;
             [] ->
                 {error, {unsupported, Need}}
         end,
    Roots = [{C, R} || C <- Need, [R | _] <- [v1_roots(Mounts, C)]],
    Extra = [{C, R} || C <- ?V1_EXTRA, not lists:member(C, Need),
                       [R | _] <- [v1_roots(Mounts, C)]],
    V1 = case v1_unsupported(Limits) of
             [] -> have({v1, Roots ++ Extra}, Need -- [C || {C, _} <- Roots]);
             _ -> {error, enotsup}
         end,
    case {Version, V2} of
        {v2, _} -> V2;
        {auto, {ok, _}} -> V2;
        _ -> V1
    end.

have(Backend, []) -> {ok, Backend};
have(_, Missing) -> {error, {unsupported, Missing}}.

v1_roots(Mounts, C) ->
    [P || {v1, P, Cs} <- Mounts, lists:member(C, Cs)].

%% The limits v1 has no file for.
v1_unsupported(Limits) ->
    [<<"memory.high">> || maps:is_key(memory_high, Limits)].

%% The controllers of the limits, each once, in the order of ?LIMITS.
controllers(Limits) ->
    lists:reverse(lists:foldl(fun({K, C}, Acc) ->
                                      case maps:is_key(K, Limits)
                                          andalso not lists:member(C, Acc) of
                                          true -> [C | Acc];
                                          false -> Acc
                                      end
                              end, [], ?LIMITS)).

%% @doc The directories of the group Name: one in the unified hierarchy,
%% or one per v1 hierarchy.
-spec group_dirs(backend(), binary()) -> [binary()].
group_dirs({v2, Root}, Name) ->
    [<<Root/binary, "/", Name/binary>>];
group_dirs({v1, _} = Backend, Name) ->
    [<<Root/binary, "/", Name/binary>> || Root <- v1_group_roots(Backend)].

v1_group_roots({v1, Roots}) ->
    lists:usort([R || {_, R} <- Roots]).

%% @doc Make the group Name (a path checked by the caller) and its
%% parents; in v2 the controllers of Limits are enabled down to it, and
%% one it did not get is `{error, {unsupported, Controllers}}';
%% memory_high in v1 is `{error, enotsup}'. A group that exists is used.
-spec group_create(drv(), chain(), backend(), binary(), limits()) ->
    ok | error() | {error, {unsupported, [binary()]} | enotsup}.
group_create(Drv, Pids, {v2, _}, Name, Limits) ->
    Need = controllers(Limits),
    case v2_create(Drv, Pids, Name, Need) of
        ok ->
            case v2_controllers(Drv, Pids, Name) of
                {ok, Have} ->
                    case Need -- Have of
                        [] -> ok;
                        Missing -> {error, {unsupported, Missing}}
                    end;
                Error ->
                    Error
            end;
        Error ->
            Error
    end;
group_create(Drv, Pids, {v1, _} = Backend, Name, Limits) ->
    case v1_unsupported(Limits) of
        [] ->
            Parts = binary:split(Name, <<"/">>, [global]),
            each(fun(Root) -> mkdirs(Drv, Pids, Root, Parts) end,
                 v1_group_roots(Backend));
        _ ->
            {error, enotsup}
    end.

%% @doc Write the limits into the group Name, then move the process Pid
%% in. In v1, memory_max sets memory.memsw.limit_in_bytes too, where
%% swap is accounted (it is left out where it is not), and a cpuset
%% group gets the CPUs or memory nodes of its parent that the limits do
%% not give (see group_plan/4).
-spec group_join(drv(), chain(), backend(), binary(), limits(), alcove:pid_t()) ->
    ok | error() | {error, enotsup}.
group_join(Drv, Pids, {v1, _} = Backend, Name, Limits, Pid) ->
    case v1_unsupported(Limits) of
        [] -> each(fun(Step) -> step(Drv, Pids, Step) end,
                   join_plan(Backend, Name, Limits, Pid));
        _ -> {error, enotsup}
    end;
group_join(Drv, Pids, Backend, Name, Limits, Pid) ->
    each(fun(Step) -> step(Drv, Pids, Step) end, join_plan(Backend, Name, Limits, Pid)).

step(Drv, Pids, {write, Path, Value, Need}) ->
    case {write_file(Drv, Pids, Path, Value), Need} of
        {{ok, _}, _} -> ok;
        {{error, _}, optional} -> ok;
        {Error, required} -> Error
    end;
step(Drv, Pids, {copy, From, To}) ->
    case read_file(Drv, Pids, To) of
        {ok, Have} ->
            case {strip_nl(Have), read_file(Drv, Pids, From)} of
                {<<>>, {ok, Value}} -> step(Drv, Pids, {write, To, Value, required});
                {<<>>, Error} -> Error;
                _ -> ok
            end;
        Error ->
            Error
    end.

%% @doc What group_create/5 then group_join/6 do, as steps for a caller
%% to make in one alcove:sequence/3 of its own: directories to make (one
%% there already is used), files to write whole (an optional one may be
%% refused), in order. In v2 the controllers of Limits are enabled in
%% each parent of the group (`{enable, Controllers}': refused where the
%% parent does not offer them), which is no change where they are.
%%
%% A v1 cpuset group has neither CPUs nor memory nodes when it is made,
%% and takes no process until it has both: each directory of its path
%% gets, where it has none, those of its parent (`{copy, From, To}':
%% To, read empty, is written with what From holds, which needs a read
%% before the write), and the group those of the limits (cpus, mems).
%% memory_high in v1 raises `enotsup' (see group_backend/4).
-spec group_plan(backend(), binary(), limits(), alcove:pid_t()) ->
    [{mkdir, binary()}
     | {write, binary(), iodata(), required | optional | {enable, [binary()]}}
     | {copy, From :: binary(), To :: binary()}].
group_plan({v2, Root} = Backend, Name, Limits, Pid) ->
    Dirs = subdirs(Root, split(Name)),
    Need = controllers(Limits),
    Enable = lists:join(" ", [["+", C] || C <- Need]),
    lists:append([[{write, join([Parent, <<"cgroup.subtree_control">>]), Enable,
                    {enable, Need}} || Need =/= []] ++ [{mkdir, Dir}]
                  || {Parent, Dir} <- lists:zip([Root | lists:droplast(Dirs)], Dirs)])
        ++ join_plan(Backend, Name, Limits, Pid);
group_plan({v1, _} = Backend, Name, Limits, Pid) ->
    [{mkdir, Dir} || Root <- v1_group_roots(Backend), Dir <- subdirs(Root, split(Name))]
        ++ join_plan(Backend, Name, Limits, Pid).

join_plan(Backend, Name, Limits, Pid) ->
    cpuset_plan(Backend, Name, Limits)
        ++ [{write, <<(root(Backend, C))/binary, "/", Name/binary, "/", File/binary>>, Value,
             Need}
            || {K, C} <- ?LIMITS, {ok, L} <- [maps:find(K, Limits)],
               {File, Value, Need} <- limit_files(element(1, Backend), K, L)]
        ++ [{write, <<Dir/binary, "/cgroup.procs">>, integer_to_binary(Pid), required}
            || Dir <- group_dirs(Backend, Name)].

%% The CPUs and memory nodes of each directory of a v1 cpuset group,
%% from the top (group_plan/4).
cpuset_plan({v1, Roots}, Name, Limits) ->
    case lists:keyfind(<<"cpuset">>, 1, Roots) of
        {_, Root} ->
            Dirs = subdirs(Root, split(Name)),
            Leaf = lists:last(Dirs),
            [cpuset_step(Dir =:= Leaf, maps:find(K, Limits), Parent, Dir, File)
             || {Parent, Dir} <- lists:zip([Root | lists:droplast(Dirs)], Dirs),
                {K, File} <- [{cpus, <<"cpuset.cpus">>}, {mems, <<"cpuset.mems">>}]];
        false ->
            []
    end;
cpuset_plan({v2, _}, _, _) ->
    [].

cpuset_step(true, {ok, Value}, _, Dir, File) ->
    {write, join([Dir, File]), Value, required};
cpuset_step(_, _, Parent, Dir, File) ->
    {copy, join([Parent, File]), join([Dir, File])}.

root({v2, Root}, _) ->
    Root;
root({v1, Roots}, C) ->
    {C, Root} = lists:keyfind(C, 1, Roots),
    Root.

%% The files a limit writes, with their values, in the order they are
%% written.
limit_files(v2, memory_max, N) ->
    [{<<"memory.max">>, integer_to_binary(N), required}];
limit_files(v2, memory_high, N) ->
    [{<<"memory.high">>, integer_to_binary(N), required}];
limit_files(v2, pids_max, N) ->
    [{<<"pids.max">>, integer_to_binary(N), required}];
limit_files(v2, cpu_max, {Quota, Period}) ->
    [{<<"cpu.max">>, [integer_to_binary(Quota), " ", integer_to_binary(Period)], required}];
limit_files(v2, cpus, Cpus) ->
    [{<<"cpuset.cpus">>, Cpus, required}];
limit_files(v2, mems, Mems) ->
    [{<<"cpuset.mems">>, Mems, required}];
limit_files(v1, memory_max, N) ->
    [{<<"memory.limit_in_bytes">>, integer_to_binary(N), required},
     {<<"memory.memsw.limit_in_bytes">>, integer_to_binary(N), optional}];
limit_files(v1, memory_high, _) ->
    erlang:error(enotsup);
limit_files(v1, pids_max, N) ->
    [{<<"pids.max">>, integer_to_binary(N), required}];
limit_files(v1, cpu_max, {Quota, Period}) ->
    [{<<"cpu.cfs_period_us">>, integer_to_binary(Period), required},
     {<<"cpu.cfs_quota_us">>, integer_to_binary(Quota), required}];
limit_files(v1, K, _) when K =:= cpus; K =:= mems ->
    %% written by cpuset_plan/3, with those of the parents
    [].

%% @doc Remove the directories of the group Name. A group still holding
%% processes (listed in its cgroup.procs, or in a group below it), or
%% holding a group, is `{error, {ebusy, Dir}}' at once: group_kill/4
%% first. One whose last process has just exited may be busy a moment
%% longer, and is tried again for about two seconds. A directory that
%% is not there is ignored.
-spec group_remove(drv(), chain(), backend(), binary()) -> ok | error().
group_remove(Drv, Pids, Backend, Name) ->
    each(fun(Dir) -> rmdir_busy(Drv, Pids, Dir, 100) end, group_dirs(Backend, Name)).

rmdir_busy(Drv, Pids, Dir, N) ->
    case alcove:rmdir(Drv, Pids, Dir) of
        ok ->
            ok;
        {error, enoent} ->
            ok;
        {error, ebusy} when N > 0 ->
            case held(Drv, Pids, Dir) of
                true -> {error, {ebusy, Dir}};
                false -> timer:sleep(20), rmdir_busy(Drv, Pids, Dir, N - 1)
            end;
        {error, E} ->
            {error, {E, Dir}}
    end.

%% Whether a group holds processes or groups (a read that fails: it
%% does not, as far as can be seen).
held(Drv, Pids, Dir) ->
    case read_file(Drv, Pids, join([Dir, <<"cgroup.procs">>])) of
        {ok, <<>>} -> child_dirs(Drv, Pids, Dir) =/= [];
        {ok, _} -> true;
        {error, _} -> false
    end.

%% @doc What the kernel counted for the group Name, for the controllers
%% it has (a key is left out where its file is not there):
%%
%% `memory_peak' (bytes; v2 memory.peak, Linux 5.19 and later; v1
%% memory.max_usage_in_bytes), `memory_events' (v2 memory.events:
%% `low', `high', `max', `oom', `oom_kill', `oom_group_kill'; v1:
%% `oom_kill' and `under_oom' of memory.oom_control, `max' the
%% memory.failcnt, the times the limit was hit), `cpu' (v2 cpu.stat:
%% `usage_usec', `user_usec', `system_usec', and with the cpu controller
%% `nr_periods', `nr_throttled', `throttled_usec'...; v1 the same names:
%% cpuacct.usage, and cpuacct.stat counted in USER_HZ ticks, 100 a
%% second on Linux whatever the kernel's HZ, so 10000 usec a tick, and
%% cpu.stat, its nanoseconds as usec), `pids_peak' (pids.peak, where
%% the kernel has it) and `pids_events' (pids.events: `max', the forks
%% refused).
-spec group_stats(drv(), chain(), backend(), binary()) -> {ok, stats()} | error().
group_stats(Drv, Pids, {v2, Root}, Name) ->
    Dir = join([Root, Name]),
    case read_file(Drv, Pids, join([Dir, <<"cpu.stat">>])) of
        {ok, Cpu} ->
            Files = [{<<"memory.peak">>, optional, number(memory_peak)},
                     {<<"memory.events">>, optional, merge(memory_events)},
                     {<<"pids.peak">>, optional, number(pids_peak)},
                     {<<"pids.events">>, optional, merge(pids_events)}],
            stats(Drv, Pids, [{Dir, F} || F <- Files], #{cpu => keyed(Cpu)});
        Error ->
            Error
    end;
group_stats(Drv, Pids, {v1, Roots}, Name) ->
    stats(Drv, Pids, [{join([Root, Name]), F} || {C, Root} <- Roots, F <- v1_stats(C)], #{}).

%% Fold the files into the figures: {Dir, {File, Need, Fun(Data, Stats)}}.
stats(_, _, [], Stats) ->
    {ok, Stats};
stats(Drv, Pids, [{Dir, {File, Need, Fun}} | Rest], Stats) ->
    case {read_file(Drv, Pids, join([Dir, File])), Need} of
        {{ok, Data}, _} -> stats(Drv, Pids, Rest, Fun(Data, Stats));
        {{error, {enoent, _}}, optional} -> stats(Drv, Pids, Rest, Stats);
        {Error, _} -> Error
    end.

%% The files of a v1 controller group_stats/4 reads.
v1_stats(<<"memory">>) ->
    [{<<"memory.max_usage_in_bytes">>, required, number(memory_peak)},
     {<<"memory.oom_control">>, required,
      fun(D, S) -> add(memory_events, maps:with([oom_kill, under_oom], keyed(D)), S) end},
     {<<"memory.failcnt">>, required, fun(D, S) -> add(memory_events, #{max => int(D)}, S) end}];
v1_stats(<<"cpuacct">>) ->
    [{<<"cpuacct.usage">>, required,
      fun(D, S) -> add(cpu, #{usage_usec => int(D) div 1000}, S) end},
     {<<"cpuacct.stat">>, required,
      fun(D, S) ->
              Ticks = keyed(D),
              add(cpu, #{user_usec => maps:get(user, Ticks, 0) * ?USEC_PER_TICK,
                         system_usec => maps:get(system, Ticks, 0) * ?USEC_PER_TICK}, S)
      end}];
v1_stats(<<"cpu">>) ->
    [{<<"cpu.stat">>, required,
      fun(D, S) ->
              add(cpu, maps:from_list([usec(K, V) || {K, V} <- maps:to_list(keyed(D))]), S)
      end}];
v1_stats(<<"pids">>) ->
    [{<<"pids.peak">>, optional, number(pids_peak)},
     {<<"pids.events">>, required, merge(pids_events)}];
v1_stats(_) ->
    [].

%% v1 cpu.stat counts time in nanoseconds (throttled_time, burst_time).
usec(throttled_time, Ns) -> {throttled_usec, Ns div 1000};
usec(burst_time, Ns) -> {burst_usec, Ns div 1000};
usec(K, V) -> {K, V}.

%% A file holding one number, and one of lines `key N'.
number(Key) ->
    fun(Data, Stats) -> Stats#{Key => int(Data)} end.

merge(Key) ->
    fun(Data, Stats) -> add(Key, keyed(Data), Stats) end.

add(Key, Map, Stats) ->
    Stats#{Key => maps:merge(maps:get(Key, Stats, #{}), Map)}.

int(Data) ->
    binary_to_integer(strip_nl(Data)).

%% The lines `key N' of a file, the integers only.
keyed(Data) ->
    maps:from_list([{binary_to_atom(K), N}
                    || Line <- binary:split(Data, <<"\n">>, [global, trim_all]),
                       [K, V] <- [binary:split(Line, <<" ">>)],
                       {N, <<>>} <- [string:to_integer(V)]]).

%% @doc Send Signal to every process of the group Name and of the groups
%% below it (their cgroup.procs, in each v1 hierarchy): a process gone
%% meanwhile (esrch) is no error; a process that may not be signalled is
%% `{error, {Posix, ProcsFile}}', the cgroup.procs that listed it.
-spec group_signal(drv(), chain(), backend(), binary(), alcove:constant()) -> ok | error().
group_signal(Drv, Pids, Backend, Name, Signal) ->
    case group_procs(Drv, Pids, Backend, Name) of
        {ok, Procs} -> signal(Drv, Pids, Procs, Signal);
        Error -> Error
    end.

signal(Drv, Pids, Procs, Signal) ->
    each(fun({File, P}) ->
                 case alcove:kill(Drv, Pids, P, Signal) of
                     ok -> ok;
                     {error, esrch} -> ok;
                     {error, E} -> {error, {E, File}}
                 end
         end, Procs).

%% The processes of the group and of the groups below it, each once, with
%% the cgroup.procs listing it: {ok, [{File, OSPid}]}.
group_procs(Drv, Pids, Backend, Name) ->
    Lists = [tree_procs(Drv, Pids, Dir) || Dir <- group_dirs(Backend, Name)],
    case [E || {error, _} = E <- Lists] of
        [] -> {ok, lists:ukeysort(2, lists:append([L || {ok, L} <- Lists]))};
        [Error | _] -> Error
    end.

tree_procs(Drv, Pids, Dir) ->
    File = join([Dir, <<"cgroup.procs">>]),
    case read_file(Drv, Pids, File) of
        {ok, Data} ->
            Own = [{File, binary_to_integer(P)}
                   || P <- binary:split(Data, <<"\n">>, [global, trim_all])],
            %% a group below that went meanwhile holds nothing
            {ok, Own ++ lists:append([L || Child <- child_dirs(Drv, Pids, Dir),
                                           {ok, L} <- [tree_procs(Drv, Pids, Child)]])};
        Error ->
            Error
    end.

%% The groups right below Dir: its entries that are directories.
child_dirs(Drv, Pids, Dir) ->
    case alcove:readdir(Drv, Pids, Dir) of
        {ok, Names} ->
            [Path || N <- Names, N =/= <<".">>, N =/= <<"..">>,
                     Path <- [join([Dir, N])], is_dir(Drv, Pids, Path)];
        {error, _} ->
            []
    end.

%% @doc Kill every process of the group Name and of the groups below
%% it with SIGKILL, and return once they are gone: in v2 by cgroup.kill
%% (Linux 5.14 and later; before, the group is frozen, each process
%% killed, the group thawed); in v1 the group is frozen first where the
%% freezer hierarchy has it, so that nothing forks meanwhile, else the
%% processes are killed again until cgroup.procs lists none. Processes
%% still there after about five seconds are `{error, {etimedout, File}}'.
-spec group_kill(drv(), chain(), backend(), binary()) -> ok | error().
group_kill(Drv, Pids, {v2, Root} = Backend, Name) ->
    Dir = join([Root, Name]),
    case write_file(Drv, Pids, join([Dir, <<"cgroup.kill">>]), <<"1">>) of
        {ok, _} ->
            v2_emptied(Drv, Pids, Dir);
        {error, {enoent, _}} = Error ->
            case is_dir(Drv, Pids, Dir) of
                true -> frozen_kill(Drv, Pids, Backend, Name);
                false -> Error
            end;
        Error ->
            Error
    end;
group_kill(Drv, Pids, {v1, Roots} = Backend, Name) ->
    case lists:keymember(<<"freezer">>, 1, Roots) of
        true -> frozen_kill(Drv, Pids, Backend, Name);
        false -> kill_until_empty(Drv, Pids, Backend, Name, ?WAIT_TRIES)
    end.

%% Freeze, kill each, thaw: a frozen process forks no more, and dies of
%% its SIGKILL once thawed. A freeze that does not complete (a process
%% in uninterruptible sleep) is no reason not to kill.
frozen_kill(Drv, Pids, Backend, Name) ->
    case group_freeze(Drv, Pids, Backend, Name, true) of
        ok -> kill_frozen(Drv, Pids, Backend, Name);
        {error, {etimedout, _}} -> kill_frozen(Drv, Pids, Backend, Name);
        Error -> Error
    end.

kill_frozen(Drv, Pids, Backend, Name) ->
    Killed = case group_procs(Drv, Pids, Backend, Name) of
                 {ok, Procs} -> signal(Drv, Pids, Procs, sigkill);
                 NotListed -> NotListed
             end,
    case {Killed, group_freeze(Drv, Pids, Backend, Name, false)} of
        {ok, ok} -> kill_until_empty(Drv, Pids, Backend, Name, ?WAIT_TRIES);
        {ok, Error} -> Error;
        {Error, _} -> Error
    end.

kill_until_empty(Drv, Pids, {v2, Root}, Name, _) ->
    v2_emptied(Drv, Pids, join([Root, Name]));
kill_until_empty(Drv, Pids, Backend, Name, N) ->
    case group_procs(Drv, Pids, Backend, Name) of
        {ok, []} ->
            ok;
        {ok, [{File, _} | _]} when N =:= 0 ->
            {error, {etimedout, File}};
        {ok, Procs} ->
            case signal(Drv, Pids, Procs, sigkill) of
                ok -> timer:sleep(?WAIT_MS), kill_until_empty(Drv, Pids, Backend, Name, N - 1);
                Error -> Error
            end;
        Error ->
            Error
    end.

%% A v2 group is empty once cgroup.events says it is no longer populated.
v2_emptied(Drv, Pids, Dir) ->
    wait(Drv, Pids, join([Dir, <<"cgroup.events">>]), fun(Data) ->
        lists:member(<<"populated 0">>, binary:split(Data, <<"\n">>, [global]))
    end).

%% @doc Freeze (true) or thaw (false) every process of the group Name,
%% and return once it is done: v2 cgroup.freeze, until cgroup.events
%% says `frozen'; v1 freezer.state, until it reads FROZEN or THAWED.
%% `{error, enotsup}' where the group is in no freezer hierarchy (v1
%% without one mounted); `{error, {etimedout, File}}' after about five
%% seconds (a process in uninterruptible sleep holds a freeze up).
-spec group_freeze(drv(), chain(), backend(), binary(), boolean()) ->
    ok | error() | {error, enotsup}.
group_freeze(Drv, Pids, {v2, Root}, Name, Freeze) ->
    Dir = join([Root, Name]),
    {Value, Frozen} = case Freeze of
                          true -> {<<"1">>, <<"frozen 1">>};
                          false -> {<<"0">>, <<"frozen 0">>}
                      end,
    case write_file(Drv, Pids, join([Dir, <<"cgroup.freeze">>]), Value) of
        {ok, _} ->
            wait(Drv, Pids, join([Dir, <<"cgroup.events">>]), fun(Data) ->
                lists:member(Frozen, binary:split(Data, <<"\n">>, [global]))
            end);
        Error ->
            Error
    end;
group_freeze(Drv, Pids, {v1, Roots}, Name, Freeze) ->
    case lists:keyfind(<<"freezer">>, 1, Roots) of
        {_, Root} ->
            State = join([Root, Name, <<"freezer.state">>]),
            Value = case Freeze of
                        true -> <<"FROZEN">>;
                        false -> <<"THAWED">>
                    end,
            case write_file(Drv, Pids, State, Value) of
                {ok, _} -> wait(Drv, Pids, State, fun(Data) -> strip_nl(Data) =:= Value end);
                Error -> Error
            end;
        false ->
            {error, enotsup}
    end.

%% Read File until Done(Data), every ?WAIT_MS for ?WAIT_TRIES times.
wait(Drv, Pids, File, Done) ->
    wait(Drv, Pids, File, Done, ?WAIT_TRIES).

wait(Drv, Pids, File, Done, N) ->
    case read_file(Drv, Pids, File) of
        {ok, Data} ->
            case Done(Data) of
                true -> ok;
                false when N =:= 0 -> {error, {etimedout, File}};
                false -> timer:sleep(?WAIT_MS), wait(Drv, Pids, File, Done, N - 1)
            end;
        Error ->
            Error
    end.

%%% Files through the port, errors with the path

read_file(Drv, Pids, Path) ->
    at(Path, alcove_file:read(Drv, Pids, Path)).

write_file(Drv, Pids, Path, Data) ->
    at(Path, alcove_file:write(Drv, Pids, Path, Data)).

at(_, {ok, _} = Ok) -> Ok;
at(Path, {error, E}) -> {error, {E, iolist_to_binary(Path)}}.

%%% Paths

file({v1, Root, _}, Parts) -> join([Root | Parts]).

v1_name(Name, Fun) ->
    case parts(Name) of
        {ok, Parts} -> Fun(Parts);
        {error, _} -> {error, einval}
    end.

v1_file(Name, Key, Fun) ->
    case {parts(Name), key(Key)} of
        {{ok, Parts}, {ok, K}} -> Fun(Parts ++ [K]);
        _ -> {error, einval}
    end.

%% The parts of a cgroup name: a binary or string split at `/', or a list
%% of such. `.' and `..' (which would leave the hierarchy) and NUL bytes
%% are refused.
-spec parts(name()) -> {ok | error, [binary()]}.
parts(Name) ->
    Parts = split(Name),
    case lists:any(fun bad_part/1, Parts) of
        true -> {error, Parts};
        false -> {ok, Parts}
    end.

split(Name) when is_binary(Name) ->
    binary:split(Name, <<"/">>, [global, trim_all]);
split([H | _] = Name) when is_list(H); is_binary(H) ->
    lists:append([split(iolist_to_binary(P)) || P <- Name]);
split(Name) ->
    split(iolist_to_binary(Name)).

bad_part(P) ->
    P =:= <<".">> orelse P =:= <<"..">> orelse binary:match(P, <<0>>) =/= nomatch.

%% A file of a cgroup: one name, no directory.
key(Key) ->
    K = iolist_to_binary(Key),
    case K =:= <<>> orelse bad_part(K) orelse binary:match(K, <<"/">>) =/= nomatch of
        true -> {error, K};
        false -> {ok, K}
    end.

join(Parts) ->
    iolist_to_binary(lists:join(<<"/">>, [string:trim(iolist_to_binary(P), trailing, "/")
                                          || P <- Parts])).

each(_, []) -> ok;
each(Fun, [H | T]) ->
    case Fun(H) of
        ok -> each(Fun, T);
        Error -> Error
    end.

strip({ok, Data}) -> {ok, strip_nl(Data)};
strip({error, {E, _}}) -> {error, E}.

strip_nl(Data) -> string:trim(Data, trailing, "\n").
