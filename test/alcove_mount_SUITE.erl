%% SPDX-License-Identifier: ISC
%% Mounts and namespaces: mount, umount, umount2, pivot_root, setns and
%% unshare. Everything that mounts runs in a child cloned into a new
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
