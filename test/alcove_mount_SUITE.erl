%% SPDX-License-Identifier: ISC
%% Mounts and namespaces: mount, umount, umount2, pivot_root, setns and
%% unshare; of the new mount API, mount_setattr, open_tree and
%% move_mount. Everything that mounts runs in a child cloned into a new
%% mount namespace whose mounts are first made private, so nothing
%% reaches the host; the host's view is checked from Erlang, outside.
-module(alcove_mount_SUITE).

-include_lib("common_test/include/ct.hrl").
-include_lib("alcove/include/alcove.hrl").

-export([
    all/0,
    suite/0
]).

-export([
    tmpfs_in_mount_ns/1,
    ro_bind_mount/1,
    mount_errors/1,
    umount_errors/1,
    umount2_detach/1,
    unprivileged_mount_errors/1,
    chroot_busybox/1,
    pivot_root_tmpfs/1,
    pivot_root_errors/1,
    mount_setattr_rdonly/1,
    mount_setattr_recursive/1,
    mount_setattr_dirfd/1,
    mount_setattr_propagation/1,
    mount_setattr_errors/1,
    open_tree_move_mount/1,
    open_tree_top_only/1,
    move_mount_attached/1,
    open_tree_move_mount_errors/1,
    mount_api_user_ns/1,
    unshare_uts/1,
    unshare_errors/1,
    setns_uts/1,
    setns_errors/1
]).

-define(DEADLINE, 5000).

suite() ->
    [{timetrap, {seconds, 60}}, {ct_hooks, [{alcove_test, [port, dir]}]}].

all() ->
    [
        tmpfs_in_mount_ns,
        ro_bind_mount,
        mount_errors,
        umount_errors,
        umount2_detach,
        unprivileged_mount_errors,
        chroot_busybox,
        pivot_root_tmpfs,
        pivot_root_errors,
        mount_setattr_rdonly,
        mount_setattr_recursive,
        mount_setattr_dirfd,
        mount_setattr_propagation,
        mount_setattr_errors,
        open_tree_move_mount,
        open_tree_top_only,
        move_mount_attached,
        open_tree_move_mount_errors,
        mount_api_user_ns,
        unshare_uts,
        unshare_errors,
        setns_uts,
        setns_errors
    ].

%%%
%%% Mounts
%%%

%% A tmpfs mounted in a new mount namespace holds what the child writes
%% there; the host sees neither the mount nor the file. Options is
%% ignored on Linux. After umount the directory below shows again.
tmpfs_in_mount_ns(Config) ->
    Drv = ?config(drv, Config),
    {C, [Dir]} = private_ns(Drv, Config, ["mnt"]),
    ok = alcove:mount(Drv, [C], "tmpfs", Dir, "tmpfs", [ms_nosuid, ms_nodev],
                      "size=1m,mode=0750", "ignored"),
    File = filename:join(Dir, "inside"),
    {ok, FD} = alcove:open(Drv, [C], File, [o_wronly, o_creat], 8#600),
    {ok, 6} = alcove:write(Drv, [C], FD, <<"tmpfs!">>),
    ok = alcove:close(Drv, [C], FD),
    {ok, Names} = alcove:readdir(Drv, [C], Dir),
    [<<".">>, <<"..">>, <<"inside">>] = lists:sort(Names),
    %% the mount, with its options, is in the child's table only
    [Mount] = mounts(C, Dir),
    [<<"tmpfs">>, _, <<"tmpfs">>, Opts | _] = binary:split(Mount, <<" ">>, [global]),
    Flags = binary:split(Opts, <<",">>, [global]),
    true = lists:member(<<"nosuid">>, Flags),
    true = lists:member(<<"nodev">>, Flags),
    true = lists:member(<<"mode=750">>, Flags),
    [] = mounts(self, Dir),
    {ok, []} = file:list_dir(Dir),
    ok = alcove:umount(Drv, [C], Dir),
    [] = mounts(C, Dir),
    {ok, Empty} = alcove:readdir(Drv, [C], Dir),
    [<<".">>, <<"..">>] = lists:sort(Empty).

%% A read-only bind mount shows the files of its source but refuses
%% every write with erofs, while the source stays writable.
ro_bind_mount(Config) ->
    Drv = ?config(drv, Config),
    {C, [Src, Dst]} = private_ns(Drv, Config, ["src", "dst"]),
    ok = file:write_file(filename:join(Src, "f"), <<"read only">>),
    ok = alcove:mount(Drv, [C], Src, Dst, "", [ms_bind], "", ""),
    %% a bind mount takes the read-only flag only when remounted
    ok = alcove:mount(Drv, [C], "", Dst, "", [ms_bind, ms_remount, ms_rdonly], "", ""),
    F = filename:join(Dst, "f"),
    {ok, R} = alcove:open(Drv, [C], F, [o_rdonly], 0),
    {ok, <<"read only">>} = alcove:read(Drv, [C], R, 100),
    {error, erofs} = alcove:open(Drv, [C], F, [o_wronly], 0),
    {error, erofs} = alcove:open(Drv, [C], filename:join(Dst, "new"), [o_wronly, o_creat], 8#600),
    {error, erofs} = alcove:mkdir(Drv, [C], filename:join(Dst, "d"), 8#700),
    {error, erofs} = alcove:mkfifo(Drv, [C], filename:join(Dst, "p"), 8#600),
    {error, erofs} = alcove:symlink(Drv, [C], "f", filename:join(Dst, "l")),
    {error, erofs} = alcove:unlink(Drv, [C], F),
    {error, erofs} = alcove:chmod(Drv, [C], F, 8#777),
    {error, erofs} = alcove:chown(Drv, [C], F, 1, 1),
    %% the same directory through its source
    {ok, W} = alcove:open(Drv, [C], filename:join(Src, "new"), [o_wronly, o_creat], 8#600),
    ok = alcove:close(Drv, [C], W),
    {ok, Names} = alcove:readdir(Drv, [C], Dst),
    [<<".">>, <<"..">>, <<"f">>, <<"new">>] = lists:sort(Names),
    %% outside, Dst is still the empty directory
    {ok, []} = file:list_dir(Dst).

%% mount on a missing target, of an unknown file system type, of a
%% missing bind source; a NUL in Source, Target or FSType is einval (Data
%% is bytes, passed as they are: tmpfs refuses the option "a").
mount_errors(Config) ->
    Drv = ?config(drv, Config),
    {C, [Dir]} = private_ns(Drv, Config, ["mnt"]),
    {error, enoent} = alcove:mount(Drv, [C], "tmpfs", path(Config, "none"), "tmpfs", [], "", ""),
    {error, enodev} = alcove:mount(Drv, [C], "x", Dir, "no_such_fs", [], "", ""),
    {error, enoent} = alcove:mount(Drv, [C], path(Config, "none"), Dir, "", [ms_bind], "", ""),
    %% tmpfs refuses options it does not know
    {error, einval} = alcove:mount(Drv, [C], "tmpfs", Dir, "tmpfs", [], "no_such_option=1", ""),
    Nul = <<"a", 0, "b">>,
    {error, einval} = alcove:mount(Drv, [C], Nul, Dir, "tmpfs", [], "", ""),
    {error, einval} = alcove:mount(Drv, [C], "tmpfs", [Dir, Nul], "tmpfs", [], "", ""),
    {error, einval} = alcove:mount(Drv, [C], "tmpfs", Dir, Nul, [], "", ""),
    {error, einval} = alcove:mount(Drv, [C], "tmpfs", Dir, "tmpfs", [], Nul, ""),
    {error, enotsup} = alcove:mount(Drv, [C], "tmpfs", Dir, "tmpfs", [ms_no_such_flag], "", ""),
    [] = mounts(C, Dir).

%% umount of a directory that is not a mount point (einval), of a
%% missing path (enoent); umount2 the same, and with unknown flags.
umount_errors(Config) ->
    Drv = ?config(drv, Config),
    {C, [Dir]} = private_ns(Drv, Config, ["mnt"]),
    {error, einval} = alcove:umount(Drv, [C], Dir),
    {error, enoent} = alcove:umount(Drv, [C], path(Config, "none")),
    {error, einval} = alcove:umount(Drv, [C], <<"/a", 0>>),
    {error, einval} = alcove:umount2(Drv, [C], Dir, [mnt_detach]),
    {error, enoent} = alcove:umount2(Drv, [C], path(Config, "none"), [mnt_detach]),
    {error, einval} = alcove:umount2(Drv, [C], <<"/a", 0>>, 0),
    ok = alcove:mount(Drv, [C], "tmpfs", Dir, "tmpfs", [], "", ""),
    {error, einval} = alcove:umount2(Drv, [C], Dir, 16#40000000),
    %% mnt_expire with mnt_detach is refused
    {error, einval} = alcove:umount2(Drv, [C], Dir, [mnt_expire, mnt_detach]),
    ok = alcove:umount2(Drv, [C], Dir, 0),
    {error, einval} = alcove:umount(Drv, [C], Dir).

%% A mount with a file open on it is busy for umount; umount2 with
%% mnt_detach takes it out of the tree at once, the open file still
%% reading.
umount2_detach(Config) ->
    Drv = ?config(drv, Config),
    {C, [Dir]} = private_ns(Drv, Config, ["mnt"]),
    ok = alcove:mount(Drv, [C], "tmpfs", Dir, "tmpfs", [], "", ""),
    F = filename:join(Dir, "f"),
    {ok, W} = alcove:open(Drv, [C], F, [o_wronly, o_creat], 8#600),
    {ok, 4} = alcove:write(Drv, [C], W, <<"kept">>),
    ok = alcove:close(Drv, [C], W),
    {ok, R} = alcove:open(Drv, [C], F, [o_rdonly], 0),
    {error, ebusy} = alcove:umount(Drv, [C], Dir),
    ok = alcove:umount2(Drv, [C], Dir, [mnt_detach]),
    [] = mounts(C, Dir),
    {ok, Empty} = alcove:readdir(Drv, [C], Dir),
    [<<".">>, <<"..">>] = lists:sort(Empty),
    {ok, <<"kept">>} = alcove:read(Drv, [C], R, 100).

%% In a new user namespace the process has every capability, but over
%% its namespace only: the mounts, owned by the host, are out of reach
%% (eperm) for mount, umount, umount2 and pivot_root.
unprivileged_mount_errors(Config) ->
    Drv = ?config(drv, Config),
    Dir = path(Config, "mnt"),
    ok = file:make_dir(Dir),
    {ok, U} = alcove:clone(Drv, [], [clone_newuser]),
    {error, eperm} = alcove:mount(Drv, [U], "tmpfs", Dir, "tmpfs", [], "", ""),
    {error, eperm} = alcove:umount(Drv, [U], "/proc"),
    {error, eperm} = alcove:umount2(Drv, [U], "/proc", [mnt_detach]),
    {error, eperm} = alcove:pivot_root(Drv, [U], Dir, Dir),
    [] = mounts(U, Dir).

%% chroot into a tmpfs holding a static busybox, in a new mount
%% namespace: getcwd and readdir("/") see the new root and the program
%% runs from it. Without /bin/busybox the chroot is checked empty.
chroot_busybox(Config) ->
    Drv = ?config(drv, Config),
    {C, [Root]} = private_ns(Drv, Config, ["root"]),
    ok = alcove:mount(Drv, [C], "tmpfs", Root, "tmpfs", [], "mode=0755", ""),
    Busybox = filelib:is_regular("/bin/busybox"),
    case Busybox of
        true -> copy_busybox(Drv, C, Root);
        false -> ok
    end,
    ok = alcove:chroot(Drv, [C], Root),
    ok = alcove:chdir(Drv, [C], "/"),
    {ok, <<"/">>} = alcove:getcwd(Drv, [C]),
    {ok, Names} = alcove:readdir(Drv, [C], "/"),
    case Busybox of
        true ->
            [<<".">>, <<"..">>, <<"bin">>] = lists:sort(Names),
            {ok, Bin} = alcove:readdir(Drv, [C], "/bin"),
            [<<".">>, <<"..">>, <<"busybox">>] = lists:sort(Bin),
            ok = alcove:execve(Drv, [C], "/bin/busybox",
                               ["busybox", "sh", "-c", "echo $PWD; ls -a /"], ["PWD=/"]),
            Out = <<"/\n.\n..\nbin\n">>,
            Out = read_stdout(Drv, [C], byte_size(Out)),
            {exit_status, 0} = alcove:event(Drv, [C], ?DEADLINE);
        false ->
            [<<".">>, <<"..">>] = lists:sort(Names),
            {comment, "no /bin/busybox: chroot checked without a program"}
    end.

%% pivot_root moves the root of the mount namespace to a tmpfs, the old
%% root to a directory in it; once detached, the old root is gone.
pivot_root_tmpfs(Config) ->
    Drv = ?config(drv, Config),
    {C, [New]} = private_ns(Drv, Config, ["newroot"]),
    ok = alcove:mount(Drv, [C], "tmpfs", New, "tmpfs", [], "", ""),
    ok = alcove:mkdir(Drv, [C], filename:join(New, "old"), 8#700),
    ok = alcove:pivot_root(Drv, [C], New, filename:join(New, "old")),
    ok = alcove:chdir(Drv, [C], "/"),
    {ok, Root} = alcove:readdir(Drv, [C], "/"),
    [<<".">>, <<"..">>, <<"old">>] = lists:sort(Root),
    %% the old root, whole, under /old
    {ok, Host} = file:list_dir("/"),
    {ok, Old} = alcove:readdir(Drv, [C], "/old"),
    Expect = lists:sort([<<".">>, <<"..">> | [list_to_binary(N) || N <- Host]]),
    Expect = lists:sort(Old),
    ok = alcove:umount2(Drv, [C], "/old", [mnt_detach]),
    {ok, Gone} = alcove:readdir(Drv, [C], "/old"),
    [<<".">>, <<"..">>] = lists:sort(Gone),
    {error, enoent} = alcove:readdir(Drv, [C], ?config(dir, Config)),
    %% the host's root did not move
    {ok, Host} = file:list_dir("/").

%% pivot_root to the current root (ebusy), to a directory that is not a
%% mount point, with put_old outside the new root (einval), to missing
%% paths (enoent), with a NUL (einval). Every path is on a tmpfs of the
%% test, so the errors do not depend on how the host mounts priv_dir.
pivot_root_errors(Config) ->
    Drv = ?config(drv, Config),
    {C, [New, Other]} = private_ns(Drv, Config, ["newroot", "other"]),
    ok = alcove:mount(Drv, [C], "tmpfs", New, "tmpfs", [], "", ""),
    ok = alcove:mount(Drv, [C], "tmpfs", Other, "tmpfs", [], "", ""),
    [ok = alcove:mkdir(Drv, [C], D, 8#700)
     || D <- [filename:join(New, "old"), filename:join(New, "sub"),
              filename:join([New, "sub", "old"]), filename:join(Other, "old")]],
    {error, ebusy} = alcove:pivot_root(Drv, [C], "/", "/"),
    {error, einval} = alcove:pivot_root(Drv, [C], filename:join(New, "sub"),
                                        filename:join([New, "sub", "old"])),
    {error, einval} = alcove:pivot_root(Drv, [C], New, filename:join(Other, "old")),
    {error, enoent} = alcove:pivot_root(Drv, [C], path(Config, "none"), path(Config, "none")),
    {error, enoent} = alcove:pivot_root(Drv, [C], New, filename:join(New, "none")),
    {error, einval} = alcove:pivot_root(Drv, [C], [New, <<0>>], filename:join(New, "old")),
    {error, einval} = alcove:pivot_root(Drv, [C], New, [New, <<"/old", 0>>]),
    %% nothing moved: "/" is still the host's
    {ok, Host} = file:list_dir("/"),
    {ok, Root} = alcove:readdir(Drv, [C], "/"),
    Expect = lists:sort([<<".">>, <<"..">> | [list_to_binary(N) || N <- Host]]),
    Expect = lists:sort(Root).

%%%
%%% The new mount API
%%%

%% mount_setattr makes a tmpfs read-only, and nosuid: every write is
%% erofs; cleared, the mount takes writes again and keeps nosuid.
mount_setattr_rdonly(Config) ->
    Drv = ?config(drv, Config),
    {C, [Dir]} = private_ns(Drv, Config, ["mnt"]),
    ok = alcove:mount(Drv, [C], "tmpfs", Dir, "tmpfs", [], "", ""),
    Before = filename:join(Dir, "before"),
    ok = alcove:mkdir(Drv, [C], Before, 8#700),
    ok = alcove:mount_setattr(Drv, [C], at_fdcwd, Dir, [],
                              [mount_attr_rdonly, mount_attr_nosuid], [], 0),
    [<<"ro">>, <<"nosuid">> | _] = mount_opts(C, Dir),
    {error, erofs} = alcove:mkdir(Drv, [C], filename:join(Dir, "d"), 8#700),
    {error, erofs} = alcove:open(Drv, [C], filename:join(Dir, "f"),
                                 [o_wronly, o_creat], 8#600),
    {error, erofs} = alcove:rmdir(Drv, [C], Before),
    ok = alcove:mount_setattr(Drv, [C], at_fdcwd, Dir, [], [],
                              [mount_attr_rdonly], 0),
    [<<"rw">>, <<"nosuid">> | _] = mount_opts(C, Dir),
    ok = alcove:mkdir(Drv, [C], filename:join(Dir, "d"), 8#700),
    ok = alcove:rmdir(Drv, [C], Before),
    %% the host's view of the directory did not change
    [] = mounts(self, Dir).

%% Without at_recursive, mount_setattr changes the mount at Path only: a
%% mount below it stays writable; with it, both turn read-only, and both
%% are cleared again.
mount_setattr_recursive(Config) ->
    Drv = ?config(drv, Config),
    {C, [Dir]} = private_ns(Drv, Config, ["mnt"]),
    Sub = filename:join(Dir, "sub"),
    ok = alcove:mount(Drv, [C], "tmpfs", Dir, "tmpfs", [], "", ""),
    ok = alcove:mkdir(Drv, [C], Sub, 8#755),
    ok = alcove:mount(Drv, [C], "tmpfs", Sub, "tmpfs", [], "", ""),
    ok = alcove:mount_setattr(Drv, [C], at_fdcwd, Dir, [],
                              [mount_attr_rdonly], [], 0),
    {error, erofs} = alcove:mkdir(Drv, [C], filename:join(Dir, "a"), 8#700),
    ok = alcove:mkdir(Drv, [C], filename:join(Sub, "a"), 8#700),
    ok = alcove:mount_setattr(Drv, [C], at_fdcwd, Dir, [at_recursive],
                              [mount_attr_rdonly], [], 0),
    [<<"ro">> | _] = mount_opts(C, Sub),
    {error, erofs} = alcove:mkdir(Drv, [C], filename:join(Sub, "b"), 8#700),
    ok = alcove:mount_setattr(Drv, [C], at_fdcwd, Dir, [at_recursive], [],
                              [mount_attr_rdonly], 0),
    ok = alcove:mkdir(Drv, [C], filename:join(Dir, "b"), 8#700),
    ok = alcove:mkdir(Drv, [C], filename:join(Sub, "b"), 8#700).

%% The mount is named by a descriptor: with at_empty_path, the one
%% open_tree gives (no clone: the mount itself, close-on-exec with
%% open_tree_cloexec); Path relative to an open directory.
mount_setattr_dirfd(Config) ->
    Drv = ?config(drv, Config),
    {C, [Dir]} = private_ns(Drv, Config, ["mnt"]),
    ok = alcove:mount(Drv, [C], "tmpfs", Dir, "tmpfs", [], "", ""),
    {ok, Tree} = alcove:open_tree(Drv, [C], at_fdcwd, Dir, [open_tree_cloexec]),
    {ok, 1} = alcove:fcntl(Drv, [C], Tree, f_getfd, 0),
    ok = alcove:mount_setattr(Drv, [C], Tree, "", [at_empty_path],
                              [mount_attr_rdonly], [], 0),
    {error, erofs} = alcove:mkdir(Drv, [C], filename:join(Dir, "d"), 8#700),
    {ok, Parent} = alcove:open(Drv, [C], ?config(dir, Config),
                               [o_rdonly, o_directory], 0),
    ok = alcove:mount_setattr(Drv, [C], Parent, "mnt", [], 0,
                              [mount_attr_rdonly], 0),
    ok = alcove:mkdir(Drv, [C], filename:join(Dir, "d"), 8#700),
    %% at_fdcwd by its number, -100
    ok = alcove:mount_setattr(Drv, [C], -100, Dir, [], [mount_attr_rdonly], 0, 0),
    {error, erofs} = alcove:mkdir(Drv, [C], filename:join(Dir, "e"), 8#700).

%% Propagation: ms_shared puts the mount in a peer group of its own
%% (shared:N in mountinfo), ms_private takes it out; 0 leaves it.
mount_setattr_propagation(Config) ->
    Drv = ?config(drv, Config),
    {C, [Dir]} = private_ns(Drv, Config, ["mnt"]),
    ok = alcove:mount(Drv, [C], "tmpfs", Dir, "tmpfs", [], "", ""),
    [] = peer_groups(C, Dir),
    ok = alcove:mount_setattr(Drv, [C], at_fdcwd, Dir, [], [], [], ms_shared),
    [<<"shared:", _/binary>>] = peer_groups(C, Dir),
    ok = alcove:mount_setattr(Drv, [C], at_fdcwd, Dir, [],
                              [mount_attr_nodev], [], 0),
    [<<"shared:", _/binary>>] = peer_groups(C, Dir),
    ok = alcove:mount_setattr(Drv, [C], at_fdcwd, Dir, [], [], [], ms_private),
    [] = peer_groups(C, Dir).

%% mount_setattr of a directory that is not a mount's root, of unknown
%% attributes, flags or propagation, of an idmapped mount (its user
%% namespace is not passed), with a NUL (einval); of a missing path
%% (enoent); with a dirfd that is not open or not an int (ebadf); with a
%% name unknown to a table (enotsup).
mount_setattr_errors(Config) ->
    Drv = ?config(drv, Config),
    {C, [Dir]} = private_ns(Drv, Config, ["mnt"]),
    Sub = filename:join(Dir, "sub"),
    ok = alcove:mount(Drv, [C], "tmpfs", Dir, "tmpfs", [], "", ""),
    ok = alcove:mkdir(Drv, [C], Sub, 8#755),
    Set = fun(DirFD, Path, Flags, AttrSet, AttrClr, Propagation) ->
                  alcove:mount_setattr(Drv, [C], DirFD, Path, Flags, AttrSet,
                                       AttrClr, Propagation)
          end,
    RO = [mount_attr_rdonly],
    {error, einval} = Set(at_fdcwd, Sub, [], RO, [], 0),
    {error, einval} = Set(at_fdcwd, Dir, [], 1 bsl 40, [], 0),
    {error, einval} = Set(at_fdcwd, Dir, [], [], 1 bsl 40, 0),
    {error, einval} = Set(at_fdcwd, Dir, [at_removedir], RO, [], 0),
    {error, einval} = Set(at_fdcwd, Dir, -1, RO, [], 0),
    {error, einval} = Set(at_fdcwd, Dir, [], [], [], ms_bind),
    {error, einval} = Set(at_fdcwd, Dir, [], [mount_attr_idmap], [], 0),
    {error, einval} = Set(at_fdcwd, [Dir, <<0>>], [], RO, [], 0),
    {error, enoent} = Set(at_fdcwd, path(Config, "none"), [], RO, [], 0),
    {error, ebadf} = Set(1000, "mnt", [], RO, [], 0),
    {error, ebadf} = Set(1000, "", [at_empty_path], RO, [], 0),
    {error, ebadf} = Set(1 bsl 32, "mnt", [], RO, [], 0),
    {error, enotsup} = Set(at_no_such, Dir, [], RO, [], 0),
    {error, enotsup} = Set(at_fdcwd, Dir, [], [mount_attr_no_such], [], 0),
    %% nothing was changed
    [<<"rw">> | _] = mount_opts(C, Dir).

%% open_tree(open_tree_clone, at_recursive) copies a mount and the mount
%% below it, attached nowhere; move_mount puts the copy at another
%% place, where the file of the mount below shows, the source unmounted
%% or not. The host sees none of it.
open_tree_move_mount(Config) ->
    Drv = ?config(drv, Config),
    {C, [Src, Dst]} = private_ns(Drv, Config, ["src", "dst"]),
    SrcSub = nested_tmpfs(Drv, C, Src),
    {ok, W} = alcove:open(Drv, [C], filename:join(SrcSub, "f"),
                          [o_wronly, o_creat], 8#644),
    {ok, 5} = alcove:write(Drv, [C], W, <<"moved">>),
    ok = alcove:close(Drv, [C], W),
    {ok, Tree} = alcove:open_tree(Drv, [C], at_fdcwd, Src,
                                  [open_tree_clone, at_recursive]),
    {ok, 0} = alcove:fcntl(Drv, [C], Tree, f_getfd, 0),
    [] = mounts(C, Dst),
    ok = alcove:move_mount(Drv, [C], Tree, "", at_fdcwd, Dst,
                           [move_mount_f_empty_path]),
    DstSub = filename:join(Dst, "sub"),
    [_] = mounts(C, Dst),
    [_] = mounts(C, DstSub),
    ok = alcove:umount2(Drv, [C], SrcSub, [mnt_detach]),
    ok = alcove:umount2(Drv, [C], Src, [mnt_detach]),
    {ok, R} = alcove:open(Drv, [C], filename:join(DstSub, "f"), [o_rdonly], 0),
    {ok, <<"moved">>} = alcove:read(Drv, [C], R, 100),
    [] = mounts(self, Dst),
    {ok, []} = file:list_dir(Dst).

%% Without at_recursive the copy is of the top mount only: the directory
%% of the mount below is there, empty.
open_tree_top_only(Config) ->
    Drv = ?config(drv, Config),
    {C, [Src, Dst]} = private_ns(Drv, Config, ["src", "dst"]),
    SrcSub = nested_tmpfs(Drv, C, Src),
    ok = alcove:mkdir(Drv, [C], filename:join(SrcSub, "below"), 8#755),
    ok = alcove:mkdir(Drv, [C], filename:join(Src, "top"), 8#755),
    {ok, Tree} = alcove:open_tree(Drv, [C], at_fdcwd, Src,
                                  [open_tree_clone, open_tree_cloexec]),
    ok = alcove:move_mount(Drv, [C], Tree, "", at_fdcwd, Dst,
                           [move_mount_f_empty_path]),
    {ok, Top} = alcove:readdir(Drv, [C], Dst),
    [<<".">>, <<"..">>, <<"sub">>, <<"top">>] = lists:sort(Top),
    {ok, Sub} = alcove:readdir(Drv, [C], filename:join(Dst, "sub")),
    [<<".">>, <<"..">>] = lists:sort(Sub),
    [] = mounts(C, filename:join(Dst, "sub")).

%% move_mount of a mount in the tree moves it: gone from its old place,
%% at the new one; with move_mount_t_empty_path the place is a
%% descriptor of the directory.
move_mount_attached(Config) ->
    Drv = ?config(drv, Config),
    {C, [A, B, D]} = private_ns(Drv, Config, ["a", "b", "d"]),
    ok = alcove:mount(Drv, [C], "tmpfs", A, "tmpfs", [], "", ""),
    ok = alcove:mkdir(Drv, [C], filename:join(A, "mark"), 8#755),
    ok = alcove:move_mount(Drv, [C], at_fdcwd, A, at_fdcwd, B, []),
    [] = mounts(C, A),
    [_] = mounts(C, B),
    {ok, Names} = alcove:readdir(Drv, [C], B),
    true = lists:member(<<"mark">>, Names),
    {ok, To} = alcove:open(Drv, [C], D, [o_rdonly, o_directory], 0),
    ok = alcove:move_mount(Drv, [C], at_fdcwd, B, To, "",
                           [move_mount_t_empty_path]),
    [] = mounts(C, B),
    [_] = mounts(C, D).

%% open_tree and move_mount of missing paths (enoent), with dirfds not
%% open or not an int (ebadf), unknown flags or a NUL (einval), names
%% unknown to their tables (enotsup); move_mount of a directory that is
%% not a mount's root (einval).
open_tree_move_mount_errors(Config) ->
    Drv = ?config(drv, Config),
    {C, [Src, Dst]} = private_ns(Drv, Config, ["src", "dst"]),
    None = path(Config, "none"),
    ok = alcove:mount(Drv, [C], "tmpfs", Src, "tmpfs", [], "", ""),
    Clone = [open_tree_clone],
    {error, enoent} = alcove:open_tree(Drv, [C], at_fdcwd, None, Clone),
    {error, ebadf} = alcove:open_tree(Drv, [C], 1000, "src", Clone),
    {error, ebadf} = alcove:open_tree(Drv, [C], 1 bsl 32, "src", Clone),
    {error, einval} = alcove:open_tree(Drv, [C], at_fdcwd, Src, 16#200),
    {error, einval} = alcove:open_tree(Drv, [C], at_fdcwd, Src, -1),
    {error, einval} = alcove:open_tree(Drv, [C], at_fdcwd, [Src, <<0>>], Clone),
    {error, enotsup} = alcove:open_tree(Drv, [C], at_fdcwd, Src, [open_tree_no_such]),
    {error, enoent} = alcove:move_mount(Drv, [C], at_fdcwd, Src, at_fdcwd, None, []),
    {error, enoent} = alcove:move_mount(Drv, [C], at_fdcwd, None, at_fdcwd, Dst, []),
    {error, einval} = alcove:move_mount(Drv, [C], at_fdcwd, Dst, at_fdcwd, Src, []),
    {error, ebadf} = alcove:move_mount(Drv, [C], 1000, "", at_fdcwd, Dst,
                                       [move_mount_f_empty_path]),
    {error, ebadf} = alcove:move_mount(Drv, [C], at_fdcwd, Src, 1000, "dst", []),
    {error, ebadf} = alcove:move_mount(Drv, [C], at_fdcwd, Src, 1 bsl 32, "dst", []),
    {error, einval} = alcove:move_mount(Drv, [C], at_fdcwd, Src, at_fdcwd, Dst,
                                        16#40000000),
    {error, einval} = alcove:move_mount(Drv, [C], at_fdcwd, Src, at_fdcwd,
                                        [Dst, <<0>>], []),
    {error, enotsup} = alcove:move_mount(Drv, [C], at_fdcwd, Src, at_fdcwd, Dst,
                                         [move_mount_no_such]),
    [_] = mounts(C, Src),
    [] = mounts(C, Dst).

%% In a user namespace the calls reach only what it owns: without a
%% mount namespace of its own, the host's mounts (eperm); with one, the
%% tmpfs it mounts, made read-only and cloned and moved, but not the
%% flags locked on the mounts it was given (a nosuid made by its parent
%% stays). Uid and gid 0 of the namespace are 65534 outside.
mount_api_user_ns(Config) ->
    Drv = ?config(drv, Config),
    {C, [Dir, Dst]} = private_ns(Drv, Config, ["mnt", "dst"]),
    ok = alcove:mount(Drv, [C], "tmpfs", Dir, "tmpfs", [ms_nosuid], "mode=0777", ""),
    ok = alcove:mount(Drv, [C], "tmpfs", Dst, "tmpfs", [ms_nosuid], "mode=0777", ""),
    {ok, U} = alcove:clone(Drv, [C], [clone_newuser]),
    {error, eperm} = alcove:mount_setattr(Drv, [C, U], at_fdcwd, Dir, [],
                                          [mount_attr_rdonly], [], 0),
    {error, eperm} = alcove:open_tree(Drv, [C, U], at_fdcwd, Dir, [open_tree_clone]),
    {error, eperm} = alcove:move_mount(Drv, [C, U], at_fdcwd, Dir, at_fdcwd, Dst, []),
    {ok, N} = alcove:clone(Drv, [C], [clone_newuser, clone_newns]),
    ok = write_proc(Drv, N, "uid_map", "0 65534 1\n"),
    ok = write_proc(Drv, N, "gid_map", "0 65534 1\n"),
    ok = alcove:setgid(Drv, [C, N], 0),
    ok = alcove:setuid(Drv, [C, N], 0),
    {ok, Status} = file:read_file(["/proc/", integer_to_list(N), "/status"]),
    {match, _} = re:run(Status, "\nUid:\t65534\t65534\t65534\t65534\n"),
    {error, eperm} = alcove:mount_setattr(Drv, [C, N], at_fdcwd, Dir, [], [],
                                          [mount_attr_nosuid], 0),
    Mnt = filename:join(Dir, "own"),
    ok = alcove:mkdir(Drv, [C, N], Mnt, 8#755),
    ok = alcove:mount(Drv, [C, N], "tmpfs", Mnt, "tmpfs", [], "", ""),
    ok = alcove:mount_setattr(Drv, [C, N], at_fdcwd, Mnt, [],
                              [mount_attr_rdonly], [], 0),
    {error, erofs} = alcove:mkdir(Drv, [C, N], filename:join(Mnt, "d"), 8#755),
    ok = alcove:mount_setattr(Drv, [C, N], at_fdcwd, Mnt, [], [],
                              [mount_attr_rdonly], 0),
    ok = alcove:mkdir(Drv, [C, N], filename:join(Mnt, "d"), 8#755),
    {ok, Tree} = alcove:open_tree(Drv, [C, N], at_fdcwd, Mnt, [open_tree_clone]),
    ok = alcove:move_mount(Drv, [C, N], Tree, "", at_fdcwd, Dst,
                           [move_mount_f_empty_path]),
    {ok, Names} = alcove:readdir(Drv, [C, N], Dst),
    true = lists:member(<<"d">>, Names),
    %% the parent's namespace did not change
    [] = mounts(C, Mnt),
    [_] = mounts(C, Dst).

%%%
%%% Namespaces
%%%

%% unshare(clone_newuts) moves the child, and the child only, into a new
%% UTS namespace: its /proc/PID/ns/uts link changes.
unshare_uts(Config) ->
    Drv = ?config(drv, Config),
    {ok, Host} = file:read_link("/proc/self/ns/uts"),
    {ok, C} = alcove:fork(Drv, []),
    {ok, Host} = ns_link(C, "uts"),
    {ok, HostNet} = ns_link(C, "net"),
    ok = alcove:unshare(Drv, [C], [clone_newuts]),
    {ok, New} = ns_link(C, "uts"),
    true = New =/= Host,
    "uts:[" ++ _ = New,
    %% other namespaces stay
    {ok, HostNet} = ns_link(C, "net"),
    {ok, Host} = ns_link(alcove:getpid(Drv, []), "uts"),
    %% several at once, as an integer
    Flags = alcove:clone_constant(Drv, [], clone_newipc) bor
        alcove:clone_constant(Drv, [], clone_newnet),
    {ok, HostIpc} = ns_link(C, "ipc"),
    ok = alcove:unshare(Drv, [C], Flags),
    {ok, Ipc} = ns_link(C, "ipc"),
    {ok, Net} = ns_link(C, "net"),
    true = Ipc =/= HostIpc,
    true = Net =/= HostNet.

%% unshare with flags it does not know (einval), with a name unknown to
%% the table (enotsup), of a user namespace from a chroot (eperm).
unshare_errors(Config) ->
    Drv = ?config(drv, Config),
    {ok, C} = alcove:fork(Drv, []),
    {ok, Host} = ns_link(C, "uts"),
    {error, einval} = alcove:unshare(Drv, [C], 1),
    {error, enotsup} = alcove:unshare(Drv, [C], [clone_newuts, clone_no_such_ns]),
    {ok, Host} = ns_link(C, "uts"),
    ok = alcove:chroot(Drv, [C], ?config(dir, Config)),
    {error, eperm} = alcove:unshare(Drv, [C], [clone_newuser]).

%% setns into another child's UTS namespace, through a descriptor of its
%% /proc/PID/ns/uts: the two links are then the same.
setns_uts(Config) ->
    Drv = ?config(drv, Config),
    {ok, Host} = file:read_link("/proc/self/ns/uts"),
    {ok, C1} = alcove:clone(Drv, [], [clone_newuts]),
    {ok, C2} = alcove:fork(Drv, []),
    {ok, Target} = ns_link(C1, "uts"),
    true = Target =/= Host,
    {ok, Host} = ns_link(C2, "uts"),
    {ok, HostFD} = alcove:open(Drv, [C2], "/proc/self/ns/uts", [o_rdonly], 0),
    {ok, FD} = alcove:open(Drv, [C2], ["/proc/", integer_to_list(C1), "/ns/uts"], [o_rdonly], 0),
    ok = alcove:setns(Drv, [C2], FD, clone_newuts),
    {ok, Target} = ns_link(C2, "uts"),
    {ok, Target} = ns_link(C1, "uts"),
    %% and back to the host's, with nstype 0 (any type)
    ok = alcove:setns(Drv, [C2], HostFD, 0),
    {ok, Host} = ns_link(C2, "uts").

%% setns with a descriptor that is not a namespace or of another type
%% than nstype (einval), a closed one (ebadf), from a user namespace
%% without power over the target (eperm).
setns_errors(Config) ->
    Drv = ?config(drv, Config),
    {ok, C1} = alcove:clone(Drv, [], [clone_newuts]),
    {ok, C2} = alcove:fork(Drv, []),
    {ok, Host} = ns_link(C2, "uts"),
    {ok, FD} = alcove:open(Drv, [C2], ["/proc/", integer_to_list(C1), "/ns/uts"], [o_rdonly], 0),
    {error, einval} = alcove:setns(Drv, [C2], FD, clone_newnet),
    {ok, File} = alcove:open(Drv, [C2], "/proc/self/status", [o_rdonly], 0),
    {error, einval} = alcove:setns(Drv, [C2], File, 0),
    ok = alcove:close(Drv, [C2], File),
    {error, ebadf} = alcove:setns(Drv, [C2], File, 0),
    {error, enotsup} = alcove:setns(Drv, [C2], FD, clone_no_such_ns),
    {ok, Host} = ns_link(C2, "uts"),
    {ok, U} = alcove:clone(Drv, [], [clone_newuser]),
    {ok, Own} = alcove:open(Drv, [U], "/proc/self/ns/uts", [o_rdonly], 0),
    {error, eperm} = alcove:setns(Drv, [U], Own, clone_newuts).

%%%
%%% Helpers
%%%

path(Config, Name) ->
    filename:join(?config(dir, Config), Name).

%% A child in a new mount namespace, its mounts made private first so
%% that none of its mounts propagates to the host.
private_ns(Drv) ->
    {ok, C} = alcove:clone(Drv, [], [clone_newns]),
    ok = alcove:mount(Drv, [C], "none", "/", [], [ms_rec, ms_private], [], []),
    C.

%% Fresh directories Names in the case's directory, then a child in a
%% private mount namespace (private_ns/1): {Child, Dirs}.
private_ns(Drv, Config, Names) ->
    Dirs = [begin
                Dir = path(Config, Name),
                ok = file:make_dir(Dir),
                Dir
            end || Name <- Names],
    {private_ns(Drv), Dirs}.

%% The lines of /proc/PID/mounts whose mount point is Dir.
mounts(Pid, Dir) ->
    Proc = case Pid of
        self -> "/proc/self/mounts";
        _ -> "/proc/" ++ integer_to_list(Pid) ++ "/mounts"
    end,
    %% files of /proc have a size of 0: read_file reads to the end
    {ok, Bin} = file:read_file(Proc),
    Point = iolist_to_binary(Dir),
    [L || L <- binary:split(Bin, <<"\n">>, [global]),
          case binary:split(L, <<" ">>, [global]) of
              [_, Point | _] -> true;
              _ -> false
          end].

%% The options of the last mount at Dir in Pid's table, in their order.
mount_opts(Pid, Dir) ->
    [_, _, _, Opts | _] = binary:split(lists:last(mounts(Pid, Dir)), <<" ">>,
                                       [global]),
    binary:split(Opts, <<",">>, [global]).

%% The optional fields (shared:N, master:N) of the mount at Dir in Pid's
%% /proc/PID/mountinfo.
peer_groups(Pid, Dir) ->
    {ok, Bin} = file:read_file(["/proc/", integer_to_list(Pid), "/mountinfo"]),
    Point = iolist_to_binary(Dir),
    [Fields] = [F || L <- binary:split(Bin, <<"\n">>, [global]),
                     F <- [binary:split(L, <<" ">>, [global])],
                     length(F) > 6, lists:nth(5, F) =:= Point],
    lists:takewhile(fun(F) -> F =/= <<"-">> end, lists:nthtail(6, Fields)).

%% Write a /proc/PID file (uid_map) through the port: root outside.
write_proc(Drv, Pid, Name, Data) ->
    {ok, FD} = alcove:open(Drv, [], ["/proc/", integer_to_list(Pid), "/", Name],
                           [o_wronly], 0),
    Bin = iolist_to_binary(Data),
    Len = byte_size(Bin),
    {ok, Len} = alcove:write(Drv, [], FD, Bin),
    alcove:close(Drv, [], FD).

ns_link(Pid, NS) ->
    file:read_link("/proc/" ++ integer_to_list(Pid) ++ "/ns/" ++ NS).

%% Copy /bin/busybox into Root/bin through the child (only it sees the
%% tmpfs), by read and write calls.
copy_busybox(Drv, C, Root) ->
    Bin = filename:join(Root, "bin"),
    ok = alcove:mkdir(Drv, [C], Bin, 8#755),
    {ok, In} = alcove:open(Drv, [C], "/bin/busybox", [o_rdonly], 0),
    {ok, Out} = alcove:open(Drv, [C], filename:join(Bin, "busybox"),
                            [o_wronly, o_creat, o_trunc], 8#755),
    ok = copy(Drv, C, In, Out),
    ok = alcove:close(Drv, [C], In),
    ok = alcove:close(Drv, [C], Out),
    %% the copy, seen from outside through the child's root
    {ok, Orig} = file:read_file("/bin/busybox"),
    {ok, Orig} = file:read_file(["/proc/", integer_to_list(C), "/root", Bin, "/busybox"]),
    ok.

copy(Drv, C, In, Out) ->
    case alcove:read(Drv, [C], In, 1024 * 1024) of
        {ok, <<>>} ->
            ok;
        {ok, Data} ->
            Len = byte_size(Data),
            {ok, Len} = alcove:write(Drv, [C], Out, Data),
            copy(Drv, C, In, Out)
    end.

read_stdout(Drv, Chain, N) ->
    read_stdout(Drv, Chain, N, [], erlang:monotonic_time(millisecond) + ?DEADLINE).

read_stdout(Drv, Chain, N, Acc, Deadline) ->
    Got = iolist_to_binary(lists:reverse(Acc)),
    case byte_size(Got) >= N of
        true ->
            Got;
        false ->
            Left = max(0, Deadline - erlang:monotonic_time(millisecond)),
            case alcove:stdout(Drv, Chain, Left) of
                [] when Left =:= 0 -> ct:fail({stdout_short, Got});
                Out -> read_stdout(Drv, Chain, N, [Out | Acc], Deadline)
            end
    end.

%% A tmpfs on Src with another on Src/sub, in the child C: Src/sub.
nested_tmpfs(Drv, C, Src) ->
    Sub = filename:join(Src, "sub"),
    ok = alcove:mount(Drv, [C], "tmpfs", Src, "tmpfs", [], "", ""),
    ok = alcove:mkdir(Drv, [C], Sub, 8#755),
    ok = alcove:mount(Drv, [C], "tmpfs", Sub, "tmpfs", [], "", ""),
    Sub.
