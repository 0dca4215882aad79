/* SPDX-License-Identifier: ISC */
/*
 * C structures given from Erlang, for prctl, ioctl, seccomp and alloc: a
 * list whose elements are laid out one after the other in a buffer:
 *   binary()        copied in as it is
 *   {ptr, N}        N zeroed bytes, their address placed in the buffer
 *   {ptr, binary()} a copy of the binary, its address placed in the buffer
 * {ptr, 0} and {ptr, <<>>} are a NULL pointer.
 * After the call the same shape goes back, holding what the memory holds
 * then: binaries for the plain parts, {ptr, binary()} for the pointers,
 * and for a NULL pointer the word of the buffer, a binary.
 *
 * The buffer and each pointer's memory are followed by CSTRUCT_SLACK
 * zeroed bytes: a binary is a C string without a NUL of its own, and a
 * structure given a little short (the reference's TUNSETIFF example
 * passes 32 bytes of a 40-byte struct ifreq) reads as zeroes and is
 * written back without overflowing.
 */
#ifndef ALCOVE_CSTRUCT_H
#define ALCOVE_CSTRUCT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wire/build.h"
#include "wire/codec.h"
#include "wire/consts.h"

/* Bounds: a pointer's memory (CSTRUCT_PTR_MAX), and the elements of one
 * structure (CSTRUCT_EL_MAX); the zeroes after each buffer
 * (CSTRUCT_SLACK). alcove_proto and alcove_cstruct check the same. */
#include "gen/alcove_facts.h"

typedef enum { CS_INT, CS_BIN, CS_LIST } cs_kind_t;

typedef struct {
    bool ptr;   /* a {ptr, _} element */
    size_t off; /* where it starts in the buffer */
    size_t len; /* plain: bytes in the buffer; ptr: bytes at mem */
    char *mem;
} cs_el_t;

typedef struct cstruct {
    cs_kind_t kind;
    int64_t i; /* CS_INT */
    char *buf; /* CS_BIN, CS_LIST */
    size_t len;
    cs_el_t *el; /* CS_LIST */
    size_t nel;
} cstruct_t;

/* Allocation for the decoder: memory that lives until the next call,
 * aligned for any type. */
typedef void *(*cs_alloc_t)(size_t n);

/* Decode an integer (when table is not NULL: or an atom of it), a binary
 * or a Cstruct list. Returns ARGS_OK, ARGS_BADARG or ARGS_ENOTSUP. */
int cstruct_decode(dec_t *d, const alcove_const_table_t *table, bool ints,
                   cs_alloc_t alloc, cstruct_t *cs);

/* The value to pass to the system call: the integer, or the buffer. */
unsigned long cstruct_value(const cstruct_t *cs);

/* Put what the argument holds now, in the shape it came in. */
void cstruct_encode(build_t *b, const cstruct_t *cs);

/* Put the buffer itself as one binary; an integer gives <<>>. */
void cstruct_encode_buf(build_t *b, const cstruct_t *cs);

#endif
