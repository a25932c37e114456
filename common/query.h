/*
 * query.h - URL query strings: percent-decoding and finding one parameter
 * (common/query.c). Pure functions, no allocation.
 */
#ifndef TUTTI_QUERY_H
#define TUTTI_QUERY_H

#include <stddef.h>

/* Percent-decodes s (n bytes; '+' is a space, as in a form-encoded query)
 * into out (cap bytes, NUL-terminated). Returns the decoded length, or -1 for
 * a malformed escape, a NUL (escaped or raw), or a result that does not fit. */
int query_decode(const char *s, size_t n, char *out, size_t cap);

/* Finds the parameter key in the query string q (n bytes, without the '?')
 * and percent-decodes its value into out (cap bytes, NUL-terminated).
 * Returns the value's length; -1 when key is absent; -2 when the value (or a
 * parameter name) is malformed or too long; -3 when key appears twice. */
int query_get(const char *q, size_t n, const char *key, char *out, size_t cap);

#endif
