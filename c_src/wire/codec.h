/* SPDX-License-Identifier: ISC */
/*
 * Bounded decoding of the external term format. ei's decoders trust
 * their input, so each function here first checks, against the length
 * of the buffer, that the whole term it is about to hand to ei is there.
 */
#ifndef ALCOVE_CODEC_H
#define ALCOVE_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include <ei.h>

typedef struct {
    const char *buf;
    int len;
    int idx;
} dec_t;

/* Each returns 0 on success, -1 on a term of another type or one that
 * does not fit in the buffer; on -1 the position is unchanged. */
int dec_init(dec_t *d, const char *buf, size_t len);
/* The same for a term without the version byte. */
int dec_init_raw(dec_t *d, const char *buf, size_t len);
int dec_tuple(dec_t *d, int *arity);
int dec_int64(dec_t *d, int64_t *v);
int dec_uint64(dec_t *d, uint64_t *v);
int dec_atom(dec_t *d, char atom[MAXATOMLEN_UTF8]);
int dec_nil(dec_t *d);
/* A binary, without a copy: *p points into the buffer. */
int dec_binary(dec_t *d, const char **p, size_t *n);

/* A list is either a list of terms or, for a list of small integers, a
 * string of bytes: both are read through dec_list_t. */
typedef struct {
    int n;
    const char *bytes; /* non-NULL for a string: element i is bytes[i] */
} dec_list_t;

int dec_list(dec_t *d, dec_list_t *l);
/* Element i of a list: an int64 (for strings, a byte). */
int dec_list_int64(dec_t *d, const dec_list_t *l, int i, int64_t *v);
/* Past the tail of a proper list, once its elements are read. */
int dec_list_end(dec_t *d, const dec_list_t *l);

/* The name of an errno value, as {error, Name} gives it; "unknown" for
 * a value this system does not name. Terms are built by build.h. */
const char *errno_name(int errnum);

#endif
