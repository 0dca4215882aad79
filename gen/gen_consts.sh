#!/bin/sh
# SPDX-License-Identifier: ISC
# Generate the C tables behind the *_constant functions from the headers of
# the system being built on: only macro names are taken from the headers
# (CC -E -dM), the compiler computes every value, so nothing is hard-coded.
# A probe compile drops the names that are not integer constants (SIG_DFL,
# SIGRTMIN on glibc, ...), so the output compiles with -Wall -Wextra -Werror.
#
# usage: sh gen_consts.sh CC OUTFILE   (CC may hold flags: "gcc -m32")
set -eu

[ $# -eq 2 ] || { echo "usage: $0 CC OUTFILE" >&2; exit 2; }
cc=$1
out=$2

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM

# table, headers (L: Linux only, N: not Linux, F: FreeBSD only), names (ERE), excluded names
# (ERE; "-" excludes nothing as no name has a dash). glibc's <sys/ptrace.h>
# declares PTRACE_* as enums, invisible to -dM: <linux/ptrace.h> has macros
# (and the two conflict). F_OK is an access(2) mode; CLONE_ARGS_* are sizes.
tables='
signal  signal.h                                          ^SIG[A-Z0-9]+$                    ^SIGSTKSZ$
errno   errno.h                                           ^E[A-Z0-9]+$                   -
clone   sched.h,L:linux/sched.h                           ^CLONE_                        ^CLONE_ARGS_
wait    sys/wait.h                                        ^(WNOHANG|WUNTRACED|WCONTINUED|WEXITED|WSTOPPED|WNOWAIT|__WALL|__WCLONE|__WNOTHREAD)$ -
file    fcntl.h,sys/stat.h                                ^(O_|S_I)                      -
fcntl   fcntl.h                                           ^(F_|FD_CLOEXEC$)              ^F_OK$
mount   sys/mount.h                                       ^(MS_|MNT_|UMOUNT_)            -
prctl   L:sys/prctl.h,L:linux/seccomp.h                   ^(PR_|SECCOMP_MODE_)           -
ptrace  L:linux/ptrace.h,N:sys/ptrace.h                   ^PTRACE_                       -
rlimit  sys/resource.h                                    ^(RLIMIT_|RLIM_INFINITY$)      ^RLIMIT_NLIMITS$
seccomp L:linux/seccomp.h,L:linux/audit.h,L:linux/filter.h ^(SECCOMP_|AUDIT_ARCH_|BPF_)  -
ioctl   sys/ioctl.h,L:linux/sockios.h,L:linux/if_tun.h    ^(SIOC|TUN|IFF_|TIOC)          -
syscall sys/syscall.h                                     ^__NR_                         -
socket  sys/socket.h                                      ^(AF_|PF_|SOCK_)               -
prio    sys/resource.h                                    ^PRIO_(PROCESS|PGRP|USER)$     -
procctl F:sys/procctl.h                                   ^(P_|PROC_)                    -
cap     F:sys/capsicum.h                                  ^CAP_                          -
'

# header specs, one a line on stdin -> #include lines
includes() {
	while read -r h; do
		case $h in
		L:*) printf '#ifdef __linux__\n#include <%s>\n#endif\n' "${h#L:}" ;;
		N:*) printf '#ifndef __linux__\n#include <%s>\n#endif\n' "${h#N:}" ;;
		F:*) printf '#ifdef __FreeBSD__\n#include <%s>\n#endif\n' "${h#F:}" ;;
		*) printf '#include <%s>\n' "$h" ;;
		esac
	done
}

# $1: comma separated header specs
prologue() {
	printf '#ifndef _GNU_SOURCE\n#define _GNU_SOURCE\n#endif\n'
	printf '#include <stdint.h>\n#include <sys/types.h>\n'
	echo "$1" | tr , '\n' | awk '!seen[$0]++' | includes
}

# The probe and the output include the headers of all tables, so each name
# is checked in the context where it is compiled.
all=$(echo "$tables" | awk 'NF { printf "%s%s", sep, $2; sep = "," }')

# "table NAME" for each object-like macro of a table's headers
while read -r name hdrs inc exc; do
	[ -n "$name" ] || continue
	prologue "$hdrs" > "$tmp/hdr.h"
	$cc -E -dM -x c "$tmp/hdr.h" > "$tmp/macros"
	awk -v t="$name" -v inc="$inc" -v exc="$exc" '
		$1 == "#define" && $2 !~ /\(/ && $2 ~ inc && $2 !~ exc { print t, $2 }
	' "$tmp/macros"
done > "$tmp/cand" <<EOF
$tables
EOF

# Keep the names for which "(int64_t)(NAME)" is a constant integer expression
# (% rejects pointers, strings and floats). One compile checks all names:
# each is on its own line, the lines named in the diagnostics are dropped and
# the probe is run again until it compiles.
awk '{ print $2 }' "$tmp/cand" | LC_ALL=C sort -u > "$tmp/ok"
while :; do
	{
		prologue "$all"
		echo '#line 1 "alcove-probe"'
		awk '{ printf "const int64_t p%d[] = { (int64_t)(%s), (int64_t)((%s) %% 1) };\n", NR, $1, $1 }' "$tmp/ok"
	} > "$tmp/probe.c"
	$cc -std=gnu11 -Wall -Wextra -Werror -fsyntax-only "$tmp/probe.c" 2> "$tmp/err" && break
	sed -n 's/^alcove-probe:\([0-9]*\):.*/\1/p' "$tmp/err" > "$tmp/bad"
	awk 'NR == FNR { bad[$1]; next } !(FNR in bad)' "$tmp/bad" "$tmp/ok" > "$tmp/ok.new"
	if [ "$(wc -l < "$tmp/ok.new")" -eq "$(wc -l < "$tmp/ok")" ]; then
		cat "$tmp/err" >&2
		echo "$0: probe failed outside of the probed names" >&2
		exit 1
	fi
	mv "$tmp/ok.new" "$tmp/ok"
done
awk 'NR == FNR { ok[$1]; next } $2 in ok' "$tmp/ok" "$tmp/cand" > "$tmp/good"

# $1: table -> entries sorted by name (lookups are binary searches)
entries() {
	awk -v t="$1" '$1 == t {
		n = tolower($2)
		if (t == "syscall")
			sub(/^__nr_/, "sys_", n)
		print n, 0, $2
		# "rdonly" is the portable name of MS_RDONLY (Linux) and
		# MNT_RDONLY (BSD): MS_ wins when both exist
		if (t == "mount" && sub(/^(ms|mnt|umount)_/, "", n))
			print n, ($2 ~ /^MS_/ ? 1 : 2), $2
	}' "$tmp/good" |
	LC_ALL=C sort -k1,1 -k2,2n |
	awk '$1 != last {
		last = $1
		printf "#ifdef %s\n\t{ \"%s\", (int64_t)(%s) },\n#endif\n", $3, $1, $3
	}'
}

names=$(echo "$tables" | awk 'NF { print $1 }')
mkdir -p "$(dirname "$out")"
{
	echo '/* SPDX-License-Identifier: ISC */'
	echo '/* Generated by gen/gen_consts.sh from the system headers: do not edit. */'
	prologue "$all"
	echo '#include "wire/consts.h"'
	for t in $names; do
		echo
		echo "static const alcove_const_t alcove_const_${t}_entry[] = {"
		entries "$t"
		printf '\t{ NULL, 0 } /* keeps the array non-empty, not counted */\n};\n'
		echo "const alcove_const_table_t alcove_const_$t = {"
		echo "	\"$t\", alcove_const_${t}_entry,"
		echo "	sizeof(alcove_const_${t}_entry) / sizeof(alcove_const_${t}_entry[0]) - 1"
		echo '};'
	done
	echo
	echo 'const alcove_const_table_t *const alcove_const_tables[] = {'
	for t in $names; do
		echo "	&alcove_const_$t,"
	done
	echo '	NULL'
	echo '};'
} > "$out.tmp"
mv "$out.tmp" "$out"
