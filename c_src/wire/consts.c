/* SPDX-License-Identifier: ISC */
#include <stdlib.h>

#include "wire/consts.h"

/* atom names are at most 255 characters */
#define ALCOVE_CONST_NAME_MAX 255

static int lower(int c) { return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c; }

/* compare a key in any case with a table name, which is lowercase */
static int keycmp(const char *key, const char *name)
{
    const unsigned char *k = (const unsigned char *)key;
    const unsigned char *n = (const unsigned char *)name;

    for (; lower(*k) == *n; k++, n++)
        if (*n == '\0')
            return 0;
    return lower(*k) - *n;
}

int alcove_const_lookup(const alcove_const_table_t *t, const char *name,
                        int64_t *value)
{
    size_t len = 0;
    size_t lo = 0;
    size_t hi = t->n;

    while (name[len] != '\0')
        if (++len > ALCOVE_CONST_NAME_MAX)
            return -1;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int cmp = keycmp(name, t->entry[mid].name);

        if (cmp == 0) {
            *value = t->entry[mid].value;
            return 0;
        }
        if (cmp < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return -1;
}

/* A table's entries sorted by value, built on first use: values are only
 * known once compiled. The port is single threaded, so no locking. */
typedef struct rindex {
    const alcove_const_table_t *t;
    const alcove_const_t **byvalue;
    struct rindex *next;
} rindex_t;

static rindex_t *rindexes;

/* Ties are broken by address: entries are in name order, so the first
 * name in alphabetical order comes first. */
static int byvalue(const void *a, const void *b)
{
    const alcove_const_t *x = *(const alcove_const_t *const *)a;
    const alcove_const_t *y = *(const alcove_const_t *const *)b;

    if (x->value != y->value)
        return x->value < y->value ? -1 : 1;
    return (x > y) - (x < y);
}

static const rindex_t *rindex_get(const alcove_const_table_t *t)
{
    rindex_t *r;
    size_t i;

    for (r = rindexes; r != NULL; r = r->next)
        if (r->t == t)
            return r;

    /* an array of pointers after the header: sizeof a pointer is meant */
    /* NOLINTNEXTLINE(bugprone-sizeof-expression) */
    r = malloc(sizeof(*r) + t->n * sizeof(r->byvalue[0]));
    if (r == NULL)
        return NULL;
    r->t = t;
    r->byvalue = (const alcove_const_t **)(r + 1);
    for (i = 0; i < t->n; i++)
        r->byvalue[i] = &t->entry[i];
    /* NOLINTNEXTLINE(bugprone-sizeof-expression) */
    qsort(r->byvalue, t->n, sizeof(r->byvalue[0]), byvalue);
    r->next = rindexes;
    rindexes = r;
    return r;
}

const char *alcove_const_name(const alcove_const_table_t *t, int64_t value)
{
    const rindex_t *r = rindex_get(t);
    size_t lo = 0;
    size_t hi = t->n;

    /* out of memory: a scan in name order gives the same answer */
    if (r == NULL) {
        for (size_t i = 0; i < t->n; i++)
            if (t->entry[i].value == value)
                return t->entry[i].name;
        return NULL;
    }

    /* the first entry not below value */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (r->byvalue[mid]->value < value)
            lo = mid + 1;
        else
            hi = mid;
    }
    return (lo < t->n && r->byvalue[lo]->value == value) ? r->byvalue[lo]->name
                                                         : NULL;
}
