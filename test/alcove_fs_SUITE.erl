%% SPDX-License-Identifier: ISC
%% Files, descriptors, directories, select and sockets: lseek, fcntl,
%% dup, select, chdir, chmod, chown, chroot, getcwd, link, symlink, unlink,
%% mkdir, mkfifo, rmdir, readdir, socket and connect. Each call is checked
%% for a success with its value and for failures with their errno. Calls
%% that change the process (chdir) run in a forked child; permission
%% failures are provoked in a child cloned into a new user namespace,
%% where the (root) port has no capability over files of unmapped owners.
-module(alcove_fs_SUITE).

-include_lib("common_test/include/ct.hrl").
-include_lib("kernel/include/file.hrl").
-include_lib("alcove/include/alcove.hrl").

-export([
    all/0,
    suite/0
]).

-export([
    read_write_roundtrip/1,
    lseek_then_read/1,
    lseek_errors/1,
    fcntl_cloexec/1,
    fcntl_errors/1,
    dup_shares_offset/1,
    dup_above_base/1,
    dup_errors/1,
    chdir_getcwd/1,
    chdir_errors/1,
    getcwd_removed/1,
    mkdir_rmdir/1,
    mkdir_rmdir_errors/1,
    link_unlink/1,
    link_unlink_errors/1,
    symlink_readlink/1,
    symlink_errors/1,
    chmod_mode/1,
    chmod_errors/1,
    chown_owner/1,
    chown_errors/1,
    chroot_readdir/1,
    chroot_errors/1,
    readdir_names/1,
    readdir_many/1,
    readdir_errors/1,
    mkfifo_nonblock/1,
    mkfifo_errors/1,
    select_timeout/1,
    select_ready/1,
    select_errors/1,
    select_after_signal/1,
    socket_errors/1,
    connect_inet_write_select/1,
    connect_unix_write_select/1,
    connect_errors/1,
    permission_errors/1,
    nul_in_path/1
]).

-define(DEADLINE, 5000).
%% Linux values (asm-generic/fcntl.h and unistd.h)
-define(FD_CLOEXEC, 1).
-define(SEEK_SET, 0).
-define(SEEK_CUR, 1).
-define(SEEK_END, 2).
-define(FD_SETSIZE, 1024).
-define(AF_UNIX, 1).
-define(AF_INET, 2).
%% A user no test maps into a user namespace.
-define(OTHER, 4321).

suite() ->
    [{timetrap, {seconds, 60}}, {ct_hooks, [{alcove_test, [port, dir]}]}].

all() ->
    [
        read_write_roundtrip,
        lseek_then_read,
        lseek_errors,
        fcntl_cloexec,
        fcntl_errors,
        dup_shares_offset,
        dup_above_base,
        dup_errors,
        chdir_getcwd,
        chdir_errors,
        getcwd_removed,
        mkdir_rmdir,
        mkdir_rmdir_errors,
        link_unlink,
        link_unlink_errors,
        symlink_readlink,
        symlink_errors,
        chmod_mode,
        chmod_errors,
        chown_owner,
        chown_errors,
        chroot_readdir,
        chroot_errors,
        readdir_names,
        readdir_many,
        readdir_errors,
        mkfifo_nonblock,
        mkfifo_errors,
        select_timeout,
        select_ready,
        select_errors,
        select_after_signal,
        socket_errors,
        connect_inet_write_select,
        connect_unix_write_select,
        connect_errors,
        permission_errors,
        nul_in_path
    ].

%%%
%%% Files and descriptors
%%%

%% What write puts in a file, read gives back, byte for byte.
read_write_roundtrip(Config) ->
    Drv = ?config(drv, Config),
    File = path(Config, "data"),
    Data = <<"line one\n", 0, 255, "line two\n">>,
    {ok, W} = alcove:open(Drv, [], File, [o_wronly, o_creat, o_trunc], 8#600),
    {ok, 20} = alcove:write(Drv, [], W, Data),
    ok = alcove:close(Drv, [], W),
    {ok, Data} = file:read_file(File),
    {ok, R} = alcove:open(Drv, [], File, [o_rdonly], 0),
    {ok, Data} = alcove:read(Drv, [], R, 100),
    {ok, <<>>} = alcove:read(Drv, [], R, 100),
    ok = alcove:close(Drv, [], R).

%% lseek moves the offset the next read starts from, for each whence.
lseek_then_read(Config) ->
    Drv = ?config(drv, Config),
    File = path(Config, "digits"),
    ok = file:write_file(File, <<"0123456789">>),
    {ok, FD} = alcove:open(Drv, [], File, [o_rdonly], 0),
    ok = alcove:lseek(Drv, [], FD, 4, ?SEEK_SET),
    {ok, <<"456">>} = alcove:read(Drv, [], FD, 3),
    ok = alcove:lseek(Drv, [], FD, -5, ?SEEK_CUR),
    {ok, <<"23">>} = alcove:read(Drv, [], FD, 2),
    ok = alcove:lseek(Drv, [], FD, -2, ?SEEK_END),
    {ok, <<"89">>} = alcove:read(Drv, [], FD, 10),
    %% past the end: allowed, and reads nothing
    ok = alcove:lseek(Drv, [], FD, 100, ?SEEK_SET),
    {ok, <<>>} = alcove:read(Drv, [], FD, 10),
    ok = alcove:close(Drv, [], FD).

%% lseek on a closed descriptor, with a bad whence, before the start of
%% the file and on a pipe.
lseek_errors(Config) ->
    Drv = ?config(drv, Config),
    File = path(Config, "f"),
    ok = file:write_file(File, <<"abc">>),
    {ok, FD} = alcove:open(Drv, [], File, [o_rdonly], 0),
    {error, einval} = alcove:lseek(Drv, [], FD, 0, 99),
    {error, einval} = alcove:lseek(Drv, [], FD, -1, ?SEEK_SET),
    ok = alcove:close(Drv, [], FD),
    {error, ebadf} = alcove:lseek(Drv, [], FD, 0, ?SEEK_SET),
    Fifo = path(Config, "fifo"),
    ok = alcove:mkfifo(Drv, [], Fifo, 8#600),
    {ok, P} = alcove:open(Drv, [], Fifo, [o_rdonly, o_nonblock], 0),
    {error, espipe} = alcove:lseek(Drv, [], P, 0, ?SEEK_SET).

%% f_setfd sets close-on-exec and f_getfd reads it back; o_cloexec at
%% open sets it too.
fcntl_cloexec(Config) ->
    Drv = ?config(drv, Config),
    File = path(Config, "f"),
    ok = file:write_file(File, <<>>),
    {ok, FD} = alcove:open(Drv, [], File, [o_rdonly], 0),
    {ok, 0} = alcove:fcntl(Drv, [], FD, f_getfd, 0),
    {ok, 0} = alcove:fcntl(Drv, [], FD, f_setfd, ?FD_CLOEXEC),
    {ok, ?FD_CLOEXEC} = alcove:fcntl(Drv, [], FD, f_getfd, 0),
    {ok, 0} = alcove:fcntl(Drv, [], FD, f_setfd, 0),
    {ok, 0} = alcove:fcntl(Drv, [], FD, f_getfd, 0),
    {ok, FD2} = alcove:open(Drv, [], File, [o_rdonly, o_cloexec], 0),
    {ok, ?FD_CLOEXEC} = alcove:fcntl(Drv, [], FD2, f_getfd, 0),
    %% f_dupfd gives the lowest free descriptor at or above Arg
    {ok, 100} = alcove:fcntl(Drv, [], FD, f_dupfd, 100),
    ok = alcove:close(Drv, [], 100).

%% fcntl on a closed descriptor is ebadf; a command whose argument is a
%% pointer is refused (einval) rather than given an address; an unknown
%% command name is enotsup.
fcntl_errors(Config) ->
    Drv = ?config(drv, Config),
    File = path(Config, "f"),
    ok = file:write_file(File, <<>>),
    {ok, FD} = alcove:open(Drv, [], File, [o_rdwr], 0),
    {error, einval} = alcove:fcntl(Drv, [], FD, f_getlk, 0),
    {error, einval} = alcove:fcntl(Drv, [], FD, f_setlkw, 16#1000),
    {error, einval} = alcove:fcntl(Drv, [], FD, 16#7fff, 0),
    {error, enotsup} = alcove:fcntl(Drv, [], FD, f_no_such_command, 0),
    ok = alcove:close(Drv, [], FD),
    {error, ebadf} = alcove:fcntl(Drv, [], FD, f_getfd, 0).

%% dup gives the lowest free descriptor for the same open file: the two
%% share the offset, and the copy is not close-on-exec even when the
%% original is; it outlives the original.
dup_shares_offset(Config) ->
    Drv = ?config(drv, Config),
    File = path(Config, "digits"),
    ok = file:write_file(File, <<"0123456789">>),
    {ok, FD} = alcove:open(Drv, [], File, [o_rdonly, o_cloexec], 0),
    {ok, Copy} = alcove:dup(Drv, [], FD),
    true = Copy =/= FD,
    {ok, 0} = alcove:fcntl(Drv, [], Copy, f_getfd, 0),
    {ok, <<"012">>} = alcove:read(Drv, [], FD, 3),
    {ok, <<"345">>} = alcove:read(Drv, [], Copy, 3),
    ok = alcove:close(Drv, [], FD),
    {ok, <<"6789">>} = alcove:read(Drv, [], Copy, 10),
    %% the lowest free: FD's number again, now that it is closed
    {ok, FD} = alcove:dup(Drv, [], Copy),
    ok = alcove:close(Drv, [], FD),
    ok = alcove:close(Drv, [], Copy).

%% A copy made at or above the loop's base (256), once the low
%% descriptors are all taken, is noted (the table's newfd): a child
%% forked afterwards holds it too.
dup_above_base(Config) ->
    Drv = ?config(drv, Config),
    File = path(Config, "f"),
    ok = file:write_file(File, <<"x">>),
    {ok, FD} = alcove:open(Drv, [], File, [o_rdonly], 0),
    Low = alcove_test:fill_below(Drv, 256),
    {ok, Copy} = alcove:dup(Drv, [], FD),
    true = Copy >= 256,
    {Freed, _} = lists:split(16, Low),
    [ok = alcove:close(Drv, [], L) || L <- Freed],
    {ok, C} = alcove:fork(Drv, []),
    {ok, <<"x">>} = alcove:read(Drv, [C], Copy, 1),
    {ok, Link} = file:read_link("/proc/" ++ integer_to_list(C) ++ "/fd/"
                                ++ integer_to_list(Copy)),
    File = Link.

%% dup of a closed, a negative and a never opened descriptor; of one
%% of the loop's own (upstream, on 0 and 1 in the port).
dup_errors(Config) ->
    Drv = ?config(drv, Config),
    File = path(Config, "f"),
    ok = file:write_file(File, <<>>),
    {ok, FD} = alcove:open(Drv, [], File, [o_rdonly], 0),
    ok = alcove:close(Drv, [], FD),
    {error, ebadf} = alcove:dup(Drv, [], FD),
    {error, ebadf} = alcove:dup(Drv, [], -1),
    {error, ebadf} = alcove:dup(Drv, [], 1000),
    {error, ebadf} = alcove:dup(Drv, [], 0),
    {error, ebadf} = alcove:dup(Drv, [], 1),
    ok = try alcove:dup(Drv, [], not_a_descriptor) of
             _ -> unexpected
         catch
             error:badarg -> ok
         end.

%%%
%%% Directories
%%%

%% chdir changes the directory getcwd reports and relative paths start
%% from, in the child only.
chdir_getcwd(Config) ->
    Drv = ?config(drv, Config),
    Dir = ?config(dir, Config),
    {ok, Cwd0} = alcove:getcwd(Drv, []),
    {ok, Child} = alcove:fork(Drv, []),
    {ok, Cwd0} = alcove:getcwd(Drv, [Child]),
    ok = alcove:chdir(Drv, [Child], Dir),
    {ok, Bin} = alcove:getcwd(Drv, [Child]),
    Bin = iolist_to_binary(Dir),
    ok = alcove:mkdir(Drv, [Child], "sub", 8#755),
    ok = alcove:chdir(Drv, [Child], "sub"),
    {ok, Sub} = alcove:getcwd(Drv, [Child]),
    Sub = iolist_to_binary(filename:join(Dir, "sub")),
    ok = alcove:chdir(Drv, [Child], ".."),
    {ok, Bin} = alcove:getcwd(Drv, [Child]),
    %% the port did not move
    {ok, Cwd0} = alcove:getcwd(Drv, []).

%% chdir to nothing, to a file, through a file.
chdir_errors(Config) ->
    Drv = ?config(drv, Config),
    File = path(Config, "f"),
    ok = file:write_file(File, <<>>),
    {error, enoent} = alcove:chdir(Drv, [], path(Config, "none")),
    {error, enotdir} = alcove:chdir(Drv, [], File),
    {error, enotdir} = alcove:chdir(Drv, [], [File, "/x"]),
    {error, enoent} = alcove:chdir(Drv, [], "").

%% getcwd fails with enoent once the current directory is removed.
getcwd_removed(Config) ->
    Drv = ?config(drv, Config),
    Gone = path(Config, "gone"),
    {ok, Child} = alcove:fork(Drv, []),
    ok = alcove:mkdir(Drv, [Child], Gone, 8#700),
    ok = alcove:chdir(Drv, [Child], Gone),
    ok = alcove:rmdir(Drv, [Child], Gone),
    {error, enoent} = alcove:getcwd(Drv, [Child]).

%% mkdir makes a directory with the mode asked for (under the umask of
%% 022 at most), rmdir removes it.
mkdir_rmdir(Config) ->
    Drv = ?config(drv, Config),
    D = path(Config, "d"),
    ok = alcove:mkdir(Drv, [], D, 8#700),
    {ok, #file_info{type = directory, mode = Mode}} = file:read_file_info(D),
    8#700 = Mode band 8#7777,
    ok = alcove:rmdir(Drv, [], D),
    {error, enoent} = file:read_file_info(D).

%% mkdir of an existing name or in a missing parent; rmdir of a missing,
%% non-empty or non-directory entry.
mkdir_rmdir_errors(Config) ->
    Drv = ?config(drv, Config),
    D = path(Config, "d"),
    File = path(Config, "f"),
    ok = file:write_file(File, <<>>),
    ok = alcove:mkdir(Drv, [], D, 8#755),
    {error, eexist} = alcove:mkdir(Drv, [], D, 8#755),
    {error, eexist} = alcove:mkdir(Drv, [], File, 8#755),
    {error, enoent} = alcove:mkdir(Drv, [], path(Config, "none/d"), 8#755),
    {error, enotdir} = alcove:mkdir(Drv, [], [File, "/d"], 8#755),
    ok = file:write_file(filename:join(D, "in"), <<>>),
    {error, enotempty} = alcove:rmdir(Drv, [], D),
    {error, enotdir} = alcove:rmdir(Drv, [], File),
    {error, enoent} = alcove:rmdir(Drv, [], path(Config, "none")).

%% link gives a file a second name holding the same data; unlink removes
%% one name at a time.
link_unlink(Config) ->
    Drv = ?config(drv, Config),
    A = path(Config, "a"),
    B = path(Config, "b"),
    ok = file:write_file(A, <<"shared">>),
    ok = alcove:link(Drv, [], A, B),
    {ok, #file_info{links = 2, inode = Ino}} = file:read_file_info(A),
    {ok, #file_info{links = 2, inode = Ino}} = file:read_file_info(B),
    ok = alcove:unlink(Drv, [], A),
    {error, enoent} = file:read_file_info(A),
    {ok, <<"shared">>} = file:read_file(B),
    ok = alcove:unlink(Drv, [], B),
    {error, enoent} = file:read_file_info(B).

%% link to an existing name or from a missing one; unlink of a missing
%% name or of a directory.
link_unlink_errors(Config) ->
    Drv = ?config(drv, Config),
    A = path(Config, "a"),
    B = path(Config, "b"),
    ok = file:write_file(A, <<>>),
    ok = file:write_file(B, <<>>),
    {error, eexist} = alcove:link(Drv, [], A, B),
    {error, enoent} = alcove:link(Drv, [], path(Config, "none"), path(Config, "c")),
    {error, enoent} = alcove:unlink(Drv, [], path(Config, "none")),
    {error, eisdir} = alcove:unlink(Drv, [], ?config(dir, Config)),
    {error, eperm} = alcove:link(Drv, [], ?config(dir, Config), path(Config, "d")).

%% symlink makes a link whose target is the string given, resolved or
%% not.
symlink_readlink(Config) ->
    Drv = ?config(drv, Config),
    L = path(Config, "l"),
    Dangling = path(Config, "dangling"),
    ok = file:write_file(path(Config, "target"), <<"via link">>),
    ok = alcove:symlink(Drv, [], "target", L),
    {ok, "target"} = file:read_link(L),
    {ok, <<"via link">>} = file:read_file(L),
    ok = alcove:symlink(Drv, [], "/nonexistent/x", Dangling),
    {ok, "/nonexistent/x"} = file:read_link(Dangling),
    %% unlink removes the link, not its target
    ok = alcove:unlink(Drv, [], L),
    {ok, <<"via link">>} = file:read_file(path(Config, "target")).

%% symlink to an existing name or in a missing directory.
symlink_errors(Config) ->
    Drv = ?config(drv, Config),
    A = path(Config, "a"),
    ok = file:write_file(A, <<>>),
    {error, eexist} = alcove:symlink(Drv, [], "x", A),
    {error, enoent} = alcove:symlink(Drv, [], "x", path(Config, "none/l")),
    {error, enoent} = alcove:symlink(Drv, [], "", path(Config, "l")).

%% chmod sets the permission bits, setuid included.
chmod_mode(Config) ->
    Drv = ?config(drv, Config),
    F = path(Config, "f"),
    ok = file:write_file(F, <<>>),
    ok = alcove:chmod(Drv, [], F, 8#640),
    {ok, #file_info{mode = M1}} = file:read_file_info(F),
    8#640 = M1 band 8#7777,
    ok = alcove:chmod(Drv, [], F, 8#4711),
    {ok, #file_info{mode = M2}} = file:read_file_info(F),
    8#4711 = M2 band 8#7777.

%% chmod of a missing file, through a file, and (eperm) of a file whose
%% owner is not mapped in the caller's user namespace.
chmod_errors(Config) ->
    Drv = ?config(drv, Config),
    F = path(Config, "f"),
    ok = file:write_file(F, <<>>),
    {error, enoent} = alcove:chmod(Drv, [], path(Config, "none"), 8#600),
    {error, enotdir} = alcove:chmod(Drv, [], [F, "/x"], 8#600),
    ok = file:change_owner(F, ?OTHER, ?OTHER),
    {ok, U} = alcove:clone(Drv, [], [clone_newuser]),
    {error, eperm} = alcove:chmod(Drv, [U], F, 8#666),
    {ok, #file_info{mode = M}} = file:read_file_info(F),
    true = M band 8#777 =/= 8#666.

%% chown sets owner and group; -1 (16#ffffffff) leaves one unchanged.
chown_owner(Config) ->
    Drv = ?config(drv, Config),
    F = path(Config, "f"),
    ok = file:write_file(F, <<>>),
    ok = alcove:chown(Drv, [], F, 1234, 5678),
    {ok, #file_info{uid = 1234, gid = 5678}} = file:read_file_info(F),
    ok = alcove:chown(Drv, [], F, 16#ffffffff, 42),
    {ok, #file_info{uid = 1234, gid = 42}} = file:read_file_info(F),
    ok = alcove:chown(Drv, [], F, 0, 16#ffffffff),
    {ok, #file_info{uid = 0, gid = 42}} = file:read_file_info(F).

%% chown of a missing file; of a file to an owner with no mapping in the
%% user namespace (einval); of a file the namespace has no power over
%% (eperm).
chown_errors(Config) ->
    Drv = ?config(drv, Config),
    F = path(Config, "f"),
    ok = file:write_file(F, <<>>),
    {error, enoent} = alcove:chown(Drv, [], path(Config, "none"), 0, 0),
    {ok, U} = alcove:clone(Drv, [], [clone_newuser]),
    {error, einval} = alcove:chown(Drv, [U], F, 1, 1),
    %% map uid 0 of the namespace to ?OTHER: F, owned by root, stays
    %% out of its reach
    ok = write_proc(Drv, U, "uid_map", ["0 ", integer_to_list(?OTHER), " 1\n"]),
    {error, eperm} = alcove:chown(Drv, [U], F, 0, 16#ffffffff),
    {ok, #file_info{uid = 0}} = file:read_file_info(F).

%% chroot changes what "/" means: in a directory holding only "empty",
%% readdir("/") lists it and getcwd after chdir("/") is "/", in the
%% forked child only.
chroot_readdir(Config) ->
    Drv = ?config(drv, Config),
    Root = path(Config, "root"),
    ok = file:make_dir(Root),
    ok = file:make_dir(filename:join(Root, "empty")),
    {ok, Child} = alcove:fork(Drv, []),
    ok = alcove:chroot(Drv, [Child], Root),
    ok = alcove:chdir(Drv, [Child], "/"),
    {ok, <<"/">>} = alcove:getcwd(Drv, [Child]),
    {ok, Names} = alcove:readdir(Drv, [Child], "/"),
    [<<".">>, <<"..">>, <<"empty">>] = lists:sort(Names),
    %% ".." of the root is the root
    ok = alcove:chdir(Drv, [Child], "/empty/../.."),
    {ok, <<"/">>} = alcove:getcwd(Drv, [Child]),
    {error, enoent} = alcove:readdir(Drv, [Child], ?config(dir, Config)).

%% chroot to a missing directory, to a file, to the empty path.
chroot_errors(Config) ->
    Drv = ?config(drv, Config),
    F = path(Config, "f"),
    ok = file:write_file(F, <<>>),
    {error, enoent} = alcove:chroot(Drv, [], path(Config, "none")),
    {error, enotdir} = alcove:chroot(Drv, [], F),
    {error, enoent} = alcove:chroot(Drv, [], "").

%% readdir lists every name, "." and ".." included, as binaries.
readdir_names(Config) ->
    Drv = ?config(drv, Config),
    D = path(Config, "d"),
    ok = file:make_dir(D),
    {ok, E} = alcove:readdir(Drv, [], D),
    [<<".">>, <<"..">>] = lists:sort(E),
    Names = [<<"a">>, <<"b b">>, <<"\xff\xfe">>, <<".hidden">>],
    [ok = file:write_file(filename:join(D, N), <<>>) || N <- Names],
    ok = file:make_dir(filename:join(D, "sub")),
    {ok, All} = alcove:readdir(Drv, [], D),
    Expect = lists:sort([<<".">>, <<"..">>, <<"sub">> | Names]),
    Expect = lists:sort(All).

%% A directory of 5000 entries comes back whole, each name once.
readdir_many(Config) ->
    Drv = ?config(drv, Config),
    D = path(Config, "many"),
    ok = file:make_dir(D),
    Names = [iolist_to_binary(io_lib:format("entry-~5..0B", [I])) || I <- lists:seq(1, 5000)],
    [ok = file:write_file(filename:join(D, N), <<>>) || N <- Names],
    {ok, All} = alcove:readdir(Drv, [], D),
    5002 = length(All),
    Expect = lists:sort([<<".">>, <<"..">> | Names]),
    Expect = lists:sort(All).

%% readdir of a missing path, of a file, through a file.
readdir_errors(Config) ->
    Drv = ?config(drv, Config),
    F = path(Config, "f"),
    ok = file:write_file(F, <<>>),
    {error, enoent} = alcove:readdir(Drv, [], path(Config, "none")),
    {error, enotdir} = alcove:readdir(Drv, [], F),
    {error, enotdir} = alcove:readdir(Drv, [], [F, "/x"]),
    {error, enoent} = alcove:readdir(Drv, [], "").

%%%
%%% Named pipes and select
%%%

%% A fifo opens for reading without blocking (o_nonblock) while no one
%% writes; once a writer writes, select reports the reader readable and
%% read gets the bytes.
mkfifo_nonblock(Config) ->
    Drv = ?config(drv, Config),
    Fifo = path(Config, "fifo"),
    ok = alcove:mkfifo(Drv, [], Fifo, 8#600),
    {ok, #file_info{type = other, mode = Mode}} = file:read_file_info(Fifo),
    8#010600 = Mode,
    {ok, R} = alcove:open(Drv, [], Fifo, [o_rdonly, o_nonblock], 0),
    %% no writer yet: end of file
    {ok, <<>>} = alcove:read(Drv, [], R, 10),
    {ok, W} = alcove:open(Drv, [], Fifo, [o_wronly, o_nonblock], 0),
    %% a writer, nothing written: would block
    {error, eagain} = alcove:read(Drv, [], R, 10),
    {ok, 5} = alcove:write(Drv, [], W, <<"hello">>),
    {ok, [R], [], []} = alcove:select(Drv, [], [R], [], [], []),
    {ok, <<"hello">>} = alcove:read(Drv, [], R, 10).

%% mkfifo of an existing name or in a missing directory; a fifo with no
%% reader refuses a non-blocking writer (enxio).
mkfifo_errors(Config) ->
    Drv = ?config(drv, Config),
    Fifo = path(Config, "fifo"),
    ok = alcove:mkfifo(Drv, [], Fifo, 8#600),
    {error, eexist} = alcove:mkfifo(Drv, [], Fifo, 8#600),
    {error, enoent} = alcove:mkfifo(Drv, [], path(Config, "none/fifo"), 8#600),
    {error, enxio} = alcove:open(Drv, [], Fifo, [o_wronly, o_nonblock], 0).

%% With nothing ready, select returns empty lists once the timeout is
%% over; a zero timeout polls.
select_timeout(Config) ->
    Drv = ?config(drv, Config),
    Fifo = path(Config, "fifo"),
    ok = alcove:mkfifo(Drv, [], Fifo, 8#600),
    {ok, R} = alcove:open(Drv, [], Fifo, [o_rdonly, o_nonblock], 0),
    {ok, [], [], []} = alcove:select(Drv, [], [R], [], [R],
                                     #alcove_timeval{sec = 0, usec = 50000}),
    {ok, [], [], []} = alcove:select(Drv, [], [R], [], [],
                                     #alcove_timeval{sec = 0, usec = 0}),
    %% no descriptors at all: a sleep
    {ok, [], [], []} = alcove:select(Drv, [], [], [], [],
                                     #alcove_timeval{sec = 0, usec = 1000}).

%% select reports exactly the ready descriptors of each set, in order
%% and once each, with a [] timeout (wait for ever) returning as soon as
%% one is ready.
select_ready(Config) ->
    Drv = ?config(drv, Config),
    Fifo = path(Config, "fifo"),
    ok = alcove:mkfifo(Drv, [], Fifo, 8#600),
    {ok, R} = alcove:open(Drv, [], Fifo, [o_rdonly, o_nonblock], 0),
    {ok, W} = alcove:open(Drv, [], Fifo, [o_wronly, o_nonblock], 0),
    {ok, [], [W], []} = alcove:select(Drv, [], [R], [W, W], [], []),
    {ok, 1} = alcove:write(Drv, [], W, <<"x">>),
    {ok, [R], [W], []} = alcove:select(Drv, [], [R], [W], [R, W], []),
    %% the lists come back sorted by descriptor
    {ok, [R], [W], []} = alcove:select(Drv, [], [W, R], [W, R], [], []).

%% select refuses descriptors outside 0..FD_SETSIZE-1 and bad timeouts
%% (einval), and closed descriptors (ebadf).
select_errors(Config) ->
    Drv = ?config(drv, Config),
    T = #alcove_timeval{sec = 0, usec = 0},
    {error, einval} = alcove:select(Drv, [], [?FD_SETSIZE], [], [], T),
    {error, einval} = alcove:select(Drv, [], [], [-1], [], T),
    {error, einval} = alcove:select(Drv, [], [], [], [100000], []),
    {error, einval} = alcove:select(Drv, [], [], [], [], #alcove_timeval{sec = -1, usec = 0}),
    {error, einval} = alcove:select(Drv, [], [], [], [], #alcove_timeval{sec = 0, usec = 1000000}),
    {error, einval} = alcove:select(Drv, [], [], [], [], #alcove_timeval{sec = 0, usec = -1}),
    {error, ebadf} = alcove:select(Drv, [], [?FD_SETSIZE - 1], [], [], T),
    F = path(Config, "f"),
    ok = file:write_file(F, <<>>),
    {ok, FD} = alcove:open(Drv, [], F, [o_rdonly], 0),
    ok = alcove:close(Drv, [], FD),
    {error, ebadf} = alcove:select(Drv, [], [FD], [], [], []).

%% A caught signal does not end a select: it goes on waiting (EINTR is
%% retried) and returns the descriptor that became ready. The signal is
%% sent while the child is (most likely) blocked in select; if it came
%% first, the case still passes, proving less.
select_after_signal(Config) ->
    Drv = ?config(drv, Config),
    Fifo = path(Config, "fifo"),
    {ok, C} = alcove:fork(Drv, []),
    {ok, sig_info} = alcove:sigaction(Drv, [C], sigusr1, sig_info),
    ok = alcove:mkfifo(Drv, [C], Fifo, 8#600),
    {ok, R} = alcove:open(Drv, [C], Fifo, [o_rdonly, o_nonblock], 0),
    {ok, W} = alcove:open(Drv, [], Fifo, [o_wronly, o_nonblock], 0),
    Self = self(),
    spawn_link(fun() -> Self ! {select, alcove:select(Drv, [C], [R], [], [], [])} end),
    timer:sleep(200),
    ok = alcove:kill(Drv, [], C, sigusr1),
    timer:sleep(200),
    {ok, 1} = alcove:write(Drv, [], W, <<"x">>),
    receive
        {select, Result} -> {ok, [R], [], []} = Result
    after ?DEADLINE -> ct:fail(select_not_returned)
    end,
    {signal, sigusr1, _} = alcove:event(Drv, [C], ?DEADLINE).

%%%
%%% Sockets
%%%

%% socket gives a descriptor of the kind asked for; bad families,
%% protocols and names fail.
socket_errors(Config) ->
    Drv = ?config(drv, Config),
    %% Type is a constant, as in the reference: flags are ORed by hand
    %% (SOCK_CLOEXEC is O_CLOEXEC on Linux)
    SockStream = 1,
    Cloexec = alcove:file_constant(Drv, [], o_cloexec),
    {ok, S} = alcove:socket(Drv, [], af_inet, SockStream bor Cloexec, 0),
    {ok, ?FD_CLOEXEC} = alcove:fcntl(Drv, [], S, f_getfd, 0),
    {ok, U} = alcove:socket(Drv, [], ?AF_UNIX, sock_dgram, 0),
    true = U =/= S,
    {error, eafnosupport} = alcove:socket(Drv, [], 12345, sock_stream, 0),
    {error, eprotonosupport} = alcove:socket(Drv, [], af_inet, sock_stream, 99),
    {error, einval} = alcove:socket(Drv, [], af_inet, 16#ff, 0),
    {error, enotsup} = alcove:socket(Drv, [], af_no_such_family, sock_stream, 0),
    {error, enotsup} = alcove:socket(Drv, [], af_inet, sock_no_such_type, 0),
    ok.

%% A TCP connect to an Erlang listener on 127.0.0.1: the connected
%% socket is writable, what is written arrives, what is sent back makes
%% it readable.
connect_inet_write_select(Config) ->
    Drv = ?config(drv, Config),
    {ok, L} = gen_tcp:listen(0, [binary, {ip, {127, 0, 0, 1}}, {active, false}]),
    {ok, Port} = inet:port(L),
    {ok, S} = alcove:socket(Drv, [], af_inet, sock_stream, 0),
    ok = alcove:connect(Drv, [], S, sockaddr_in(Port)),
    {ok, A} = gen_tcp:accept(L, ?DEADLINE),
    {ok, [], [S], []} = alcove:select(Drv, [], [S], [S], [], []),
    {ok, 5} = alcove:write(Drv, [], S, <<"hello">>),
    {ok, <<"hello">>} = gen_tcp:recv(A, 5, ?DEADLINE),
    ok = gen_tcp:send(A, <<"back">>),
    {ok, [S], [], []} = alcove:select(Drv, [], [S], [], [], #alcove_timeval{sec = 5, usec = 0}),
    {ok, <<"back">>} = alcove:read(Drv, [], S, 100),
    %% the same, with the address as a Cstruct of two pieces
    {ok, S2} = alcove:socket(Drv, [], af_inet, sock_stream, 0),
    <<Family:2/binary, Rest/binary>> = sockaddr_in(Port),
    ok = alcove:connect(Drv, [], S2, [Family, Rest]),
    {ok, _} = gen_tcp:accept(L, ?DEADLINE),
    ok.

%% The same over a unix socket: Erlang listens on a path, the port
%% connects to a struct sockaddr_un.
connect_unix_write_select(Config) ->
    Drv = ?config(drv, Config),
    %% sun_path holds 108 bytes: priv_dir may be longer
    Path = iolist_to_binary(["/tmp/alcove-fs-", os:getpid(), "-",
                             integer_to_list(erlang:unique_integer([positive])), ".sock"]),
    {ok, L} = gen_tcp:listen(0, [binary, {ifaddr, {local, Path}}, {active, false}]),
    try
        {ok, S} = alcove:socket(Drv, [], af_unix, sock_stream, 0),
        ok = alcove:connect(Drv, [], S, <<?AF_UNIX:16/native, Path/binary, 0>>),
        {ok, A} = gen_tcp:accept(L, ?DEADLINE),
        {ok, [], [S], []} = alcove:select(Drv, [], [S], [S], [], []),
        {ok, 4} = alcove:write(Drv, [], S, <<"ping">>),
        {ok, <<"ping">>} = gen_tcp:recv(A, 4, ?DEADLINE),
        ok = gen_tcp:send(A, <<"pong">>),
        {ok, [S], [S], []} = alcove:select(Drv, [], [S], [S], [], []),
        {ok, <<"pong">>} = alcove:read(Drv, [], S, 100),
        %% the peer closing: readable, at end of file
        ok = gen_tcp:close(A),
        {ok, [S], [], []} = alcove:select(Drv, [], [S], [], [], #alcove_timeval{sec = 5, usec = 0}),
        {ok, <<>>} = alcove:read(Drv, [], S, 100)
    after
        gen_tcp:close(L),
        file:delete(Path)
    end,
    ok.

%% connect to a closed port (econnrefused), to a missing unix path
%% (enoent), on a non-socket (enotsock), on a closed descriptor (ebadf),
%% with no address ([] or <<>>), a short or an oversized one (einval).
connect_errors(Config) ->
    Drv = ?config(drv, Config),
    {ok, L} = gen_tcp:listen(0, [{ip, {127, 0, 0, 1}}]),
    {ok, Port} = inet:port(L),
    ok = gen_tcp:close(L),
    {ok, S} = alcove:socket(Drv, [], af_inet, sock_stream, 0),
    {error, einval} = alcove:connect(Drv, [], S, []),
    {error, einval} = alcove:connect(Drv, [], S, <<>>),
    {error, einval} = alcove:connect(Drv, [], S, <<?AF_INET:16/native, 0:16>>),
    %% longer than any struct sockaddr
    {error, einval} = alcove:connect(Drv, [], S, <<?AF_INET:16/native, 0:(127 * 8)>>),
    {error, econnrefused} = alcove:connect(Drv, [], S, sockaddr_in(Port)),
    {ok, U} = alcove:socket(Drv, [], af_unix, sock_stream, 0),
    {error, enoent} = alcove:connect(Drv, [], U, <<?AF_UNIX:16/native, "/nonexistent/sock", 0>>),
    F = path(Config, "f"),
    ok = file:write_file(F, <<>>),
    {ok, FD} = alcove:open(Drv, [], F, [o_rdonly], 0),
    {error, enotsock} = alcove:connect(Drv, [], FD, sockaddr_in(Port)),
    ok = alcove:close(Drv, [], FD),
    {error, ebadf} = alcove:connect(Drv, [], FD, sockaddr_in(Port)).

%%%
%%% Errors common to the path calls
%%%

%% In a new user namespace the port has no capability over a directory
%% of an unmapped owner with mode 000: reading, creating in it, removing
%% from it and entering it are eacces.
permission_errors(Config) ->
    Drv = ?config(drv, Config),
    D = path(Config, "closed"),
    ok = file:make_dir(D),
    ok = file:make_dir(filename:join(D, "sub")),
    ok = file:write_file(filename:join(D, "f"), <<>>),
    ok = file:change_owner(D, ?OTHER, ?OTHER),
    ok = file:change_mode(D, 8#000),
    {ok, U} = alcove:clone(Drv, [], [clone_newuser]),
    Sub = filename:join(D, "sub"),
    {error, eacces} = alcove:readdir(Drv, [U], D),
    {error, eacces} = alcove:chdir(Drv, [U], D),
    {error, eacces} = alcove:chdir(Drv, [U], Sub),
    {error, eacces} = alcove:mkdir(Drv, [U], filename:join(D, "new"), 8#700),
    {error, eacces} = alcove:mkfifo(Drv, [U], filename:join(D, "fifo"), 8#600),
    {error, eacces} = alcove:rmdir(Drv, [U], Sub),
    {error, eacces} = alcove:unlink(Drv, [U], filename:join(D, "f")),
    {error, eacces} = alcove:symlink(Drv, [U], "x", filename:join(D, "l")),
    {error, eacces} = alcove:chroot(Drv, [U], Sub),
    %% the port itself, root outside any user namespace, may
    {ok, Names} = alcove:readdir(Drv, [], D),
    [<<".">>, <<"..">>, <<"f">>, <<"sub">>] = lists:sort(Names).

%% A path holding a NUL byte cannot be passed to the system: every path
%% call refuses it with einval, and nothing is created.
nul_in_path(Config) ->
    Drv = ?config(drv, Config),
    F = path(Config, "f"),
    ok = file:write_file(F, <<>>),
    Bad = [path(Config, "x"), <<0, "y">>],
    {error, einval} = alcove:chdir(Drv, [], Bad),
    {error, einval} = alcove:chmod(Drv, [], Bad, 8#600),
    {error, einval} = alcove:chown(Drv, [], Bad, 0, 0),
    {error, einval} = alcove:chroot(Drv, [], Bad),
    {error, einval} = alcove:link(Drv, [], F, Bad),
    {error, einval} = alcove:link(Drv, [], Bad, F),
    {error, einval} = alcove:symlink(Drv, [], Bad, path(Config, "l")),
    {error, einval} = alcove:symlink(Drv, [], "t", Bad),
    {error, einval} = alcove:unlink(Drv, [], Bad),
    {error, einval} = alcove:mkdir(Drv, [], Bad, 8#700),
    {error, einval} = alcove:mkfifo(Drv, [], Bad, 8#600),
    {error, einval} = alcove:rmdir(Drv, [], Bad),
    {error, einval} = alcove:readdir(Drv, [], Bad),
    {ok, ["f"]} = file:list_dir(?config(dir, Config)).

%%%
%%% Helpers
%%%

path(Config, Name) ->
    filename:join(?config(dir, Config), Name).

%% struct sockaddr_in for 127.0.0.1:Port
sockaddr_in(Port) ->
    <<?AF_INET:16/native, Port:16/big, 127, 0, 0, 1, 0:64>>.

%% Write a /proc/PID file (uid_map) through the port: root outside.
write_proc(Drv, Pid, Name, Data) ->
    {ok, FD} = alcove:open(Drv, [], ["/proc/", integer_to_list(Pid), "/", Name], [o_wronly], 0),
    Bin = iolist_to_binary(Data),
    Len = byte_size(Bin),
    {ok, Len} = alcove:write(Drv, [], FD, Bin),
    alcove:close(Drv, [], FD).
