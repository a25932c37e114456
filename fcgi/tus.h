/*
 * tus.h - the pure parsers of tus 1.0.0 request headers (Tus-Resumable,
 * Upload-Length, Upload-Offset, Upload-Metadata, Upload-Checksum) used by
 * uploads.c. No I/O and no request state, so tests/fuzz/fuzz_tus.c feeds
 * them arbitrary bytes. Implemented in tus.c.
 */
#ifndef TUTTI_TUS_H
#define TUTTI_TUS_H

#include <stddef.h>
#include <stdint.h>

#include "route.h"

#define TUS_VERSION "1.0.0"
#define TUS_META_MAX 4096	/* bytes of Upload-Metadata */
#define TUS_NAME_MAX 255	/* bytes of a stored file name */
#define TUS_NAME_IN_MAX 3072	/* bytes of a file name as sent (decoded) */
#define TUS_SHA1_LEN 20

/* What Upload-Metadata says that tutti uses. */
struct tus_meta {
	char room[ROUTE_CODE_MAX];		/* decoded, NUL-terminated */
	char filename[TUS_NAME_MAX + 1];	/* made harmless by tus_filename() */
	int has_room, has_filename;
};

/* Returns 1 when the Tus-Resumable value v (NULL: absent) is exactly
 * TUS_VERSION, else 0. */
int tus_version_ok(const char *v);

/* Parses a header value of decimal digits only (1 to 18 of them, leading
 * zeros allowed, so any result fits in int64_t). Returns 0 with *v set, or
 * -1 (and *v untouched) when s is NULL or malformed. */
int tus_uint(const char *s, int64_t *v);

/* Decodes n bytes of standard base64 (padding optional, at most two '=',
 * no whitespace) into out (cap bytes, NUL-terminated). Inputs longer than
 * TUS_META_MAX are refused. Returns the decoded length (< cap), or -1 when
 * malformed or the result needs cap bytes or more; out is then untouched. */
long tus_b64(const char *s, size_t n, unsigned char *out, size_t cap);

/* Writes into out (TUS_NAME_MAX + 1 bytes) what is harmless of the file
 * name in (n bytes, as a client sent it): the part after the last '/' or
 * '\', without control characters (C0, DEL, C1) and bidi overrides, valid
 * UTF-8 (else only its ASCII), trimmed of spaces, at most TUS_NAME_MAX bytes
 * cut on a character boundary; "." and ".." become "". Never fails. */
void tus_filename(const unsigned char *in, size_t n, char *out);

/* Parses Upload-Metadata h ("key base64,key base64,key"): room and
 * filename are used (each at most once, valid base64), other keys are
 * ignored; the value must be printable ASCII. Returns 0 with *m filled
 * (zeroed first), or -1 with a sentence for the client in why (whylen
 * bytes). h is NUL-terminated; its length is the caller's to limit
 * (TUS_META_MAX). */
int tus_meta_parse(const char *h, struct tus_meta *m, char *why, size_t whylen);

/* Parses Upload-Checksum h ("sha1 <base64 of 20 bytes>", the algorithm
 * name case-insensitive) into sum. Returns 0, -1 when the algorithm is not
 * sha1, or -2 when the digest is not the base64 of 20 bytes. */
int tus_checksum_parse(const char *h, unsigned char sum[TUS_SHA1_LEN]);

#endif
