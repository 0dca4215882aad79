# SPDX-License-Identifier: ISC
REBAR ?= rebar3
# How long make fuzz runs the fuzzer; make test runs it FUZZ_TEST_SECONDS.
FUZZ_SECONDS ?= 600
FUZZ_TEST_SECONDS ?= 60

all: deps
	$(REBAR) compile

deps:
	@./scripts/deps

# Everything: the linters, C unit tests, the port built warning-free by
# gcc and clang, xref and dialyzer, the Common Test suites (as root, for
# namespaces), the cgroup, sandbox and core suites again in a pure cgroup
# v2 VM, the suites against the sanitized port, and a minute of fuzzing.
test: all lint
	$(MAKE) -C c_src test
	$(MAKE) -C c_src clean-obj && $(MAKE) -C c_src CC=clang all test
	$(MAKE) -C c_src clean-obj && $(MAKE) -C c_src all
	$(REBAR) xref
	$(REBAR) dialyzer
	$(REBAR) ct
	@./scripts/deps qemu-system-x86 kmod || true
	./scripts/test-vm
	./scripts/test-asan
	$(MAKE) -C fuzz run FUZZ_SECONDS=$(FUZZ_TEST_SECONDS)

# The cgroup and sandbox suites (a sandbox's life and exit reports too)
# and alcove_call_SUITE inside Debian's kernel under qemu, whose
# hierarchy is pure cgroup v2, against the port built here
# (scripts/test-vm); TEST_VM_CT replaces the suites, e.g.
# TEST_VM_CT="--suite test/alcove_fs_SUITE". Skipped, with the reason,
# where qemu or the kernel cannot be had.
test-vm: all
	@./scripts/deps qemu-system-x86 kmod || true
	./scripts/test-vm $(TEST_VM_CT)

# The C unit tests and the Common Test suites against the port built with
# AddressSanitizer and UndefinedBehaviorSanitizer: any report fails.
test-asan: all
	./scripts/test-asan

# The Common Test suites with the port under valgrind memcheck: any
# invalid access or definitely lost block fails. Not part of make test:
# a few minutes, and cases valgrind breaks are skipped (fuzz/valgrind.spec).
test-valgrind: all
	@./scripts/deps valgrind
	./scripts/test-valgrind

# The libFuzzer harness over the port's input path, for FUZZ_SECONDS:
# see fuzz/Makefile. A crash is written to fuzz/crashes/ and fails.
fuzz: all
	$(MAKE) -C fuzz run FUZZ_SECONDS=$(FUZZ_SECONDS)

# The C sources against .clang-format, .clang-tidy and cppcheck, and the
# Erlang layout of CONTRIBUTING.md: see scripts/lint.
lint: all
	./scripts/lint

# Dialyzer alone (make test runs it too).
dialyzer: all
	$(REBAR) dialyzer

# HTML documentation with edoc, a page per module, into doc/.
doc: all
	$(REBAR) edoc

# The port linked statically against musl, priv/alcove.static: it needs
# no library, so it runs in an empty chroot (c_src/Makefile.static).
static: all
	@./scripts/deps musl-tools
	$(MAKE) -C c_src -f Makefile.static

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
	$(MAKE) -C c_src -f Makefile.static clean
	$(MAKE) -C fuzz clean
	rm -rf examples/ebin doc

.PHONY: all deps test test-vm test-asan test-valgrind fuzz lint dialyzer doc \
	static demo examples bench clean
