#!/bin/sh
# SPDX-License-Identifier: ISC
# build_prx.sh ROOT PRX_SRC DEST: build prx (its source at PRX_SRC, left
# unchanged) against the alcove project at ROOT, offline, in DEST/prx.
#
# prx names alcove "0.36.0" from hex, which is not reachable: rebar3 takes
# a checkout under _checkouts/alcove instead of fetching it. The checkout
# is a copy of the project's Erlang sources, headers and port (built by
# make first), with a rebar.config of its own: the project's would run its
# make hook inside the project. prx's post-hook (bin/procname) finds
# alcove_drv through ERL_LIBS to copy the port to priv/prx.
set -eu
ROOT=$1
SRC=$2
DEST=$3

[ -f "$SRC/src/prx.erl" ] || { echo "no prx source at $SRC" >&2; exit 2; }
for f in src/alcove.erl include/alcove.hrl priv/alcove; do
    [ -f "$ROOT/$f" ] || { echo "no $ROOT/$f: build the project first" >&2; exit 2; }
done

rm -rf "$DEST"
mkdir -p "$DEST"
cp -R "$SRC" "$DEST/prx"
# the source may be read-only: the build writes into its copy
chmod -R u+w "$DEST/prx"
CHECKOUT=$DEST/prx/_checkouts/alcove
mkdir -p "$CHECKOUT/src" "$CHECKOUT/include" "$CHECKOUT/priv"
cp "$ROOT"/src/* "$CHECKOUT/src/"
cp "$ROOT"/include/* "$CHECKOUT/include/"
cp "$ROOT/priv/alcove" "$CHECKOUT/priv/"
printf '{erl_opts, [debug_info]}.\n' >"$CHECKOUT/rebar.config"

cd "$DEST/prx"
# a HOME of its own: no global rebar3 configuration or plugin to fetch
mkdir -p "$DEST/home"
HOME=$DEST/home
ERL_LIBS=$DEST/prx/_build/default/checkouts
export HOME ERL_LIBS
unset ERL_FLAGS REBAR_CONFIG
exec rebar3 compile
