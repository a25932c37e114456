/*
 * text.h - validation of text that people type: UTF-8 and display names.
 * Pure functions over the caller's buffer; no allocation.
 */
#ifndef TUTTI_TEXT_H
#define TUTTI_TEXT_H

#include <stddef.h>

#define NAME_MAX_CHARS 32

/* Returns the number of code points in s (n bytes) when it is valid UTF-8
 * (shortest form, no surrogates, at most U+10FFFF), else -1. */
long text_utf8_len(const char *s, size_t n);

/* Validates one piece of typed text: trims ASCII whitespace at both ends,
 * then requires min_chars..max_chars code points of valid UTF-8 without
 * control characters (multiline: newline and tab allowed inside). On success
 * returns 0 and stores the trimmed span in *start and *len; else -1. */
int text_span_check(const char *s, size_t n, long min_chars, long max_chars,
    int multiline, const char **start, size_t *len);

/* Validates a display name: trims ASCII whitespace at both ends, then requires
 * 1..NAME_MAX_CHARS code points of valid UTF-8 with no control characters.
 * On success returns 0 and stores the trimmed span in *start and *len.
 * Returns -1 when invalid. */
int text_name_check(const char *s, size_t n, const char **start, size_t *len);

#endif
