# SPDX-License-Identifier: ISC
REBAR ?= rebar3

all: deps
	$(REBAR) compile

deps:
	@./scripts/deps

# Everything: C unit tests, the port built warning-free by gcc and
# clang, xref and dialyzer, and the Common Test suites (as root, for
# namespaces).
test: all
	$(MAKE) -C c_src test
	$(MAKE) -C c_src clean-obj && $(MAKE) -C c_src CC=clang all test
	$(MAKE) -C c_src clean-obj && $(MAKE) -C c_src all
	$(REBAR) xref
	$(REBAR) dialyzer
	$(REBAR) ct

# A tour of what alcove does: see examples/demo.escript.
demo: all
	escript examples/demo.escript

# Benchmark against baselines measured in the same run (CI does not run
# it): prints a table and writes bench/results.json.
bench: all
	@./scripts/deps bubblewrap
	$(MAKE) -C bench

# The reference's examples, compiled into examples/ebin.
examples: all
	@mkdir -p examples/ebin
	ERL_LIBS=_build/default/lib erlc +debug_info -o examples/ebin examples/*.erl

clean:
	$(REBAR) clean
	rm -rf examples/ebin

.PHONY: all deps test demo examples bench clean
