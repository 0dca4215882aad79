%% SPDX-License-Identifier: ISC
%% @doc The supervisor of the drivers started for another node.
%%
%% `alcove_drv:start_on/2,3' asks a node, through `erpc', to start a
%% driver here: the process that runs the request ends as soon as it has
%% answered, so the driver cannot be linked to it, and an unlinked
%% driver would be no part of any supervision tree. This supervisor,
%% started with the alcove application (and the application started on
%% demand by start_driver/2), is the driver's parent on its node: the
%% driver is `temporary' (a port is not restarted: its processes and its
%% owner's state went with it) and is shut down, its port and the
%% port's processes stopped, when the application stops. Drivers
%% started with `alcove_drv:start/0,1,2' and `start_link/0,1,2' are not
%% its children: they live as before, where their caller put them.
-module(alcove_sup).
-behaviour(supervisor).

-export([
    start_link/0,
    start_driver/2
]).
-export([init/1]).

%% What a driver's terminate/2 may take: alcove_drv waits up to 15 s
%% for its port to stop its processes and exit.
-define(SHUTDOWN, 20000).

%% @doc Start the supervisor, registered as `alcove_sup' (the alcove
%% application does).
-spec start_link() -> supervisor:startlink_ret().
start_link() ->
    supervisor:start_link({local, ?MODULE}, ?MODULE, []).

%% @doc Start a driver under this node's supervisor, owned by Owner (a
%% pid of any node): `alcove_drv:start_link(Owner, Opts)' as a child.
%% The alcove application is started first if it is not running.
-spec start_driver(pid(), [alcove_drv:option()]) -> {ok, alcove_drv:ref()} | {error, term()}.
start_driver(Owner, Opts) when is_pid(Owner), is_list(Opts) ->
    case application:ensure_all_started(alcove) of
        {ok, _} ->
            case supervisor:start_child(?MODULE, [Owner, Opts]) of
                {ok, Drv} -> {ok, Drv};
                {error, _} = Error -> Error
            end;
        {error, _} = Error ->
            Error
    end.

%% @private
init([]) ->
    Driver = #{id => alcove_drv,
               start => {alcove_drv, start_link, []},
               restart => temporary,
               shutdown => ?SHUTDOWN,
               type => worker,
               modules => [alcove_drv]},
    {ok, {#{strategy => simple_one_for_one, intensity => 1, period => 5}, [Driver]}}.
