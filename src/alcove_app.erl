%% SPDX-License-Identifier: ISC
%% @doc The alcove application: it runs `alcove_sup', the supervisor of
%% the drivers other nodes start here (`alcove_drv:start_on/2,3').
%% Nothing else needs it: `alcove_drv:start/0,1,2' works without it.
-module(alcove_app).
-behaviour(application).

-export([start/2, stop/1]).

%% @private
start(_Type, _Args) ->
    alcove_sup:start_link().

%% @private
stop(_State) ->
    ok.
