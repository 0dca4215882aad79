/* SPDX-License-Identifier: ISC */
/* The options of getopt/3 and setopt/4, by name and by the port's
 * command line flag: their list is gen/facts.eterm's. */
#include "core/alcove.h"

#include <stddef.h>
#include <string.h>

static const struct {
    const char *name;
    int flag;
    size_t off;
} opts[OPT_COUNT] = {
#define OPT_ENTRY(name, flag) {#name, flag, offsetof(alcove_t, opt.name)},
    ALCOVE_OPTIONS(OPT_ENTRY)
#undef OPT_ENTRY
};

int opt_by_name(const char *name)
{
    for (int i = 0; i < OPT_COUNT; i++)
        if (strcmp(opts[i].name, name) == 0)
            return i;
    return -1;
}

int opt_by_flag(int flag)
{
    for (int i = 0; i < OPT_COUNT; i++)
        if (opts[i].flag == flag)
            return i;
    return -1;
}

int32_t *opt_field(alcove_t *ap, opt_t o)
{
    return (int32_t *)((char *)ap + opts[o].off);
}

bool opt_valid(opt_t o, int64_t v)
{
    switch (o) {
    case OPT_exit_status:
    case OPT_termsig:
    case OPT_exit_report:
        return v == 0 || v == 1;
    case OPT_flowcontrol:
        return v >= -1;
    case OPT_signaloneof:
        return v >= 0 && v < NSIG;
    case OPT_maxforkdepth:
        return v >= 0 && v < UINT16_MAX;
    default:
        return v >= 0;
    }
}
