/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>

#include "wire/consts.h"

static int passed;
static int failed;

static void check(int ok, const char *what)
{
    if (ok) {
        passed++;
        return;
    }
    failed++;
    printf("FAIL: %s\n", what);
}

static int has(const alcove_const_table_t *t, const char *name, int64_t want)
{
    int64_t v;

    return alcove_const_lookup(t, name, &v) == 0 && v == want;
}

static int known(const alcove_const_table_t *t, const char *name)
{
    int64_t v;

    return alcove_const_lookup(t, name, &v) == 0;
}

static int named(const alcove_const_table_t *t, int64_t value,
                 const char *want)
{
    const char *name = alcove_const_name(t, value);

    return name != NULL && strcmp(name, want) == 0;
}

/* strictly sorted and every entry found by its name, in both cases */
static int table_ok(const alcove_const_table_t *t)
{
    char upper[256];
    size_t i;
    size_t j;

    for (i = 0; i < t->n; i++) {
        const char *name = t->entry[i].name;

        if (i > 0 && strcmp(t->entry[i - 1].name, name) >= 0)
            return 0;
        if (strlen(name) >= sizeof(upper))
            return 0;
        for (j = 0; name[j] != '\0'; j++)
            upper[j] = (name[j] >= 'a' && name[j] <= 'z') ? name[j] - 'a' + 'A'
                                                          : name[j];
        upper[j] = '\0';
        if (!has(t, name, t->entry[i].value) ||
            !has(t, upper, t->entry[i].value))
            return 0;
    }
    return 1;
}

int main(void)
{
    char longname[301];
    size_t i;

    check(has(&alcove_const_signal, "sigterm", SIGTERM), "sigterm");
    check(has(&alcove_const_signal, "SIGTERM", SIGTERM), "SIGTERM");
    check(has(&alcove_const_signal, "SigTerm", 15), "SigTerm");
    check(named(&alcove_const_signal, 15, "sigterm"), "15 -> sigterm");
    check(named(&alcove_const_signal, SIGABRT, "sigabrt"), "sigabrt");
    check(named(&alcove_const_signal, SIGCHLD, "sigchld"), "sigchld");
    check(named(&alcove_const_signal, SIGIO, "sigio"), "sigio");
    check(named(&alcove_const_signal, SIGSYS, "sigsys"), "sigsys");
    check(!known(&alcove_const_signal, "sig_dfl"), "sig_dfl excluded");

    check(has(&alcove_const_errno, "eperm", 1), "eperm -> 1");
    check(named(&alcove_const_errno, 11, "eagain"), "11 -> eagain");
    check(named(&alcove_const_errno, ENOTSUP, "enotsup"), "enotsup");
    check(named(&alcove_const_errno, EDEADLK, "edeadlk"), "edeadlk");
    check(alcove_const_name(&alcove_const_errno, -12345) == NULL,
          "unknown value -> NULL");

#ifdef __linux__
    check(has(&alcove_const_clone, "clone_newpid", CLONE_NEWPID),
          "clone_newpid");
    check(known(&alcove_const_mount, "ms_rdonly"), "ms_rdonly");
    check(has(&alcove_const_syscall, "sys_read", __NR_read), "sys_read");
    check(known(&alcove_const_syscall, "sys_exit"), "sys_exit");
    check(has(&alcove_const_at, "at_fdcwd", AT_FDCWD), "at_fdcwd");
    check(known(&alcove_const_mount_attr, "mount_attr_rdonly"),
          "mount_attr_rdonly");
    check(known(&alcove_const_open_tree, "open_tree_clone") &&
              has(&alcove_const_open_tree, "at_recursive", AT_RECURSIVE),
          "open_tree");
    check(known(&alcove_const_move_mount, "move_mount_f_empty_path"),
          "move_mount_f_empty_path");
    /* Landlock's names of later ABIs than the headers' (Debian 12) */
    check(
        has(&alcove_const_landlock, "landlock_access_fs_ioctl_dev", 1 << 15) &&
            has(&alcove_const_landlock, "landlock_access_net_connect_tcp",
                2) &&
            has(&alcove_const_landlock, "landlock_rule_net_port", 2),
        "landlock");
#endif
    check(known(&alcove_const_mount, "rdonly"), "rdonly");

    check(!known(&alcove_const_signal, "sigfoo"), "unknown name");
    check(!known(&alcove_const_signal, ""), "empty name");

    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    check(!known(&alcove_const_signal, longname), "300 byte name");

    for (i = 0; alcove_const_tables[i] != NULL; i++)
        check(table_ok(alcove_const_tables[i]), alcove_const_tables[i]->name);
    check(i == 22, "22 tables");

    printf("%d passed, %d failed\n", passed, failed);
    return failed != 0;
}
