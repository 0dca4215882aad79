/* SPDX-License-Identifier: ISC */
/*
 * Linked into the port built by scripts/test-asan, nowhere else.
 *
 * LeakSanitizer checks at exit() by stopping the process with ptrace.
 * Only the port itself is checked: its forked children (control
 * processes) exit() too, but they may run under a seccomp filter, in
 * another user namespace or after setuid, where that ptrace fails or is
 * killed and would turn a correct exit status into a sanitizer error.
 * Their memory errors are still reported (that needs no ptrace); their
 * leaks are left to the valgrind run (scripts/test-valgrind).
 *
 * prctl is called directly, not through ASan's interceptor: for
 * PR_SET_NAME the interceptor copies the name before the call, so the
 * bad pointer of alcove_cstruct_SUITE:prctl_name_efault (which expects
 * {error, efault}) crashes the interceptor instead of failing in the
 * kernel.
 */
#include <stdarg.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

static pid_t port_pid;

__attribute__((constructor)) static void port_pid_init(void)
{
    port_pid = getpid();
}

int __lsan_is_turned_off(void);
int __lsan_is_turned_off(void) { return getpid() != port_pid; }

int prctl(int option, ...);
int prctl(int option, ...)
{
    va_list ap;
    unsigned long a[4];
    /* glibc's prctl passes all four too: the unused ones are ignored */
    va_start(ap, option);
    for (int i = 0; i < 4; i++)
        a[i] = va_arg(ap, unsigned long);
    va_end(ap);
    return (int)syscall(SYS_prctl, option, a[0], a[1], a[2], a[3]);
}
