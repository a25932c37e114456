/*
 * token.h - bearer tokens and room codes.
 * A token is 24 random bytes (192 bits) in base64url, 32 characters; only its
 * SHA-256 (hex) is ever stored, in SQLite and as the Redis session key.
 * A room code is 5 characters from an alphabet without look-alikes.
 */
#ifndef TUTTI_TOKEN_H
#define TUTTI_TOKEN_H

#include <stddef.h>

#define TOKEN_LEN      32	/* characters, without the NUL */
#define TOKEN_HASH_LEN 64	/* hex characters, without the NUL */
#define CODE_LEN       5
#define CODE_ALPHABET  "23456789ABCDEFGHJKMNPQRSTUVWXYZ"

/* Fills out (TOKEN_LEN + 1 bytes) with a fresh token. Returns 0, or -1 when
 * the system's random source fails. */
int token_new(char *out);

/* Writes the lowercase hex SHA-256 of the n bytes at s into out
 * (TOKEN_HASH_LEN + 1 bytes). Returns 0 or -1. */
int token_hash(const char *s, size_t n, char *out);

/* Returns 1 when s (n bytes) has the shape of a token, else 0. */
int token_valid(const char *s, size_t n);

/* Fills out (CODE_LEN + 1 bytes) with a random room code. Returns 0 or -1. */
int code_new(char *out);

/* Returns 1 when s is exactly CODE_LEN characters of CODE_ALPHABET. */
int code_valid(const char *s);

#endif
