%% SPDX-License-Identifier: ISC
%% @doc The reference's GPIO example: blink an LED wired to a GPIO pin
%% of a BeagleBone Black or a Raspberry Pi, through the sysfs GPIO
%% interface (/sys/class/gpio). Two system processes do the work:
%%
%% <ul>
%% <li>the port (root) asks for the pin to be exported to user space and
%% set as an output, clones a child into new namespaces, then drops its
%% privileges;</li>
%% <li>the child opens the pin's value file, then drops its privileges
%% too: from then on it holds one descriptor, to the LED, and nothing
%% else it could do as root.</li>
%% </ul>
%%
%% ```
%% 1> {ok, Led} = gpioled:start(24).
%% 2> gpioled:blink(Led, 10, 500).
%% 3> gpioled:stop(Led).
%% '''
%%
%% The base directory is a parameter (start/2), so the logic runs against
%% a directory that looks like /sys/class/gpio (as the test suite does).
%% A sysfs attribute ignores the file offset, so each state is written
%% with a plain write(2) and no seek; on a regular file the states pile
%% up, recording the blinks.
-module(gpioled).

-export([start/1, start/2, start/3, on/1, off/1, blink/3, stop/1]).

-export_type([led/0]).

-type led() :: #{drv := alcove:drv(), child := alcove:pid_t(),
                 fd := alcove:fd(), pin := non_neg_integer(), id := alcove:uint32_t()}.

%% How long to wait for the pin's directory to appear after the export:
%% tries of 100 ms.
-define(EXPORT_TRIES, 50).

%% @doc Blink pin Pin of the board's /sys/class/gpio.
-spec start(non_neg_integer()) -> {ok, led()} | {error, term()}.
start(Pin) ->
    start(Pin, "/sys/class/gpio").

%% @doc Like start/1 with another sysfs GPIO directory.
-spec start(non_neg_integer(), file:filename()) -> {ok, led()} | {error, term()}.
start(Pin, Base) ->
    start(Pin, Base, []).

%% @doc Like start/2, with options: `{drv, [alcove_drv:option()]}' (by
%% default `sudo -n' unless the VM runs as root) and `{id, UID}', the
%% unprivileged user and group both processes become (by default a
%% random, high one, unlikely to belong to anyone).
-spec start(non_neg_integer(), file:filename(),
            [{drv, [alcove_drv:option()]} | {id, alcove:uint32_t()}]) ->
    {ok, led()} | {error, term()}.
start(Pin, Base, Opts) when is_integer(Pin), Pin >= 0 ->
    DrvOpts = proplists:get_value(drv, Opts, default_drv()),
    Id = proplists:get_value(id, Opts, 16#f0000000 + rand:uniform(16#ffff)),
    {ok, Drv} = alcove_drv:start(DrvOpts),
    case setup(Drv, Pin, Base, Id) of
        {ok, Child, FD} ->
            {ok, #{drv => Drv, child => Child, fd => FD, pin => Pin, id => Id}};
        {error, _} = Error ->
            alcove_drv:stop(Drv),
            Error
    end.

default_drv() ->
    case os:cmd("id -u") of
        "0\n" -> [];
        _ -> [{exec, "sudo -n"}]
    end.

%% The port: export the pin and make it an output, start the child, drop
%% privileges. A failure names its step.
setup(Drv, Pin, Base, Id) ->
    Dir = filename:join(Base, "gpio" ++ integer_to_list(Pin)),
    Steps = [{export, fun() -> export(Drv, Base, Pin, Dir) end},
             {direction, fun() ->
                                 write_file(Drv, [], filename:join(Dir, "direction"), "out")
                         end}],
    case run(Steps) of
        ok ->
            case child(Drv, filename:join(Dir, "value"), Id) of
                {ok, Child, FD} ->
                    case drop_privs(Drv, [], Id) of
                        ok -> {ok, Child, FD};
                        {error, E} -> {error, {port_privileges, E}}
                    end;
                {error, E} ->
                    {error, {child, E}}
            end;
        Error ->
            Error
    end.

run([]) ->
    ok;
run([{Step, Fun} | Rest]) ->
    case Fun() of
        ok -> run(Rest);
        {error, E} -> {error, {Step, E}}
    end.

%% Writing the pin's number to export makes the kernel create gpioN; a pin
%% exported already is busy, which is fine.
export(Drv, Base, Pin, Dir) ->
    case write_file(Drv, [], filename:join(Base, "export"), integer_to_list(Pin)) of
        ok -> wait_for(Drv, Dir, ?EXPORT_TRIES);
        {error, ebusy} -> ok;
        Error -> Error
    end.

wait_for(Drv, Dir, Tries) ->
    case alcove:open(Drv, [], Dir, [o_rdonly, o_directory, o_cloexec], 0) of
        {ok, FD} ->
            alcove:close(Drv, [], FD);
        {error, enoent} when Tries > 1 ->
            timer:sleep(100),
            wait_for(Drv, Dir, Tries - 1);
        Error ->
            Error
    end.

%% The child: new namespaces (no network, its own mounts, PID 1 of its
%% own), a descriptor for the LED, then an unprivileged user.
child(Drv, Value, Id) ->
    case alcove:clone(Drv, [], [clone_newipc, clone_newnet, clone_newns,
                                clone_newpid, clone_newuts]) of
        {ok, Child} ->
            case alcove:open(Drv, [Child], Value, [o_wronly, o_cloexec], 0) of
                {ok, FD} ->
                    case drop_privs(Drv, [Child], Id) of
                        ok -> {ok, Child, FD};
                        Error -> Error
                    end;
                Error ->
                    Error
            end;
        Error ->
            Error
    end.

drop_privs(Drv, Chain, Id) ->
    case alcove:setgroups(Drv, Chain, []) of
        ok ->
            case alcove:setresgid(Drv, Chain, Id, Id, Id) of
                ok -> alcove:setresuid(Drv, Chain, Id, Id, Id);
                Error -> Error
            end;
        Error ->
            Error
    end.

write_file(Drv, Chain, Path, Data) ->
    case alcove:open(Drv, Chain, Path, [o_wronly, o_cloexec], 0) of
        {ok, FD} ->
            Res = alcove:write(Drv, Chain, FD, Data),
            _ = alcove:close(Drv, Chain, FD),
            case Res of
                {ok, _} -> ok;
                Error -> Error
            end;
        Error ->
            Error
    end.

%% @doc Turn the LED on.
-spec on(led()) -> ok | {error, alcove:posix()}.
on(Led) ->
    set(Led, <<"1">>).

%% @doc Turn the LED off.
-spec off(led()) -> ok | {error, alcove:posix()}.
off(Led) ->
    set(Led, <<"0">>).

set(#{drv := Drv, child := Child, fd := FD}, State) ->
    case alcove:write(Drv, [Child], FD, State) of
        {ok, 1} -> ok;
        {ok, _} -> {error, eio};
        Error -> Error
    end.

%% @doc Blink Count times: on for Interval milliseconds, then off for as
%% long.
-spec blink(led(), non_neg_integer(), non_neg_integer()) -> ok | {error, alcove:posix()}.
blink(_Led, 0, _Interval) ->
    ok;
blink(Led, Count, Interval) when is_integer(Count), Count > 0 ->
    case on(Led) of
        ok ->
            timer:sleep(Interval),
            case off(Led) of
                ok ->
                    timer:sleep(Interval),
                    blink(Led, Count - 1, Interval);
                Error ->
                    Error
            end;
        Error ->
            Error
    end.

%% @doc Stop the child and the port. The pin stays exported: unexporting
%% needs the privileges the port gave up.
-spec stop(led()) -> ok.
stop(#{drv := Drv}) ->
    alcove_drv:stop(Drv).
