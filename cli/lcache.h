/*
 * lcache.h - the tracks of `tutti listen`: fetched over HTTP with libcurl
 * into a cache directory (one file per track content, resumed with Range
 * after an interruption, checked against its SHA-256 name, shared safely by
 * several listeners through flock), then decoded whole with libmpg123 into
 * 16-bit PCM at the output's rate and channel count. Called from libuv's
 * worker threads (listen.c); everything here is thread-safe.
 */
#ifndef TUTTI_LCACHE_H
#define TUTTI_LCACHE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* A decoded track, shared by the loop and the audio thread (refcounted). */
struct ltrack {
	int64_t track_id;
	long rate;		/* frames a second (the output's) */
	int channels;		/* the output's */
	int16_t *pcm;		/* frames * channels samples, interleaved */
	int64_t frames;
	atomic_int refs;
};

/* Takes a reference (t may be NULL); returns t. */
struct ltrack *ltrack_ref(struct ltrack *t);

/* Drops a reference (t may be NULL); the last one frees the track. */
void ltrack_unref(struct ltrack *t);

/*
 * The cache file name of a track URL: "<sha256>.mp3" when the URL's last
 * segment is a SHA-256 (64 lowercase hex digits) and ".mp3" (the server's
 * content-addressed media, docs/api.md section 9), else "u-<SHA-256 of the
 * URL>.mp3". Writes it into out (n bytes, at least 72). Returns 1 when the
 * name is the content's hash (checked after download), 0 when not, -1 when
 * out is too small or hashing fails.
 */
int lcache_name(const char *url, char *out, size_t n);

/* The default cache directory: $XDG_CACHE_HOME/tutti (when absolute), else
 * $HOME/.cache/tutti. A malloc'd path (caller frees), or NULL without a home. */
char *lcache_default_dir(void);

/*
 * Makes sure the file of url (a path on server, the base URL) is complete
 * in dir (created, mode 0700, when missing) and returns its path, malloc'd
 * (caller frees). A partial download (NAME.part) is resumed with a Range
 * request. Returns NULL on failure with the reason in why (n bytes): the
 * server's status, a network error, a hash mismatch (the file is dropped),
 * or *stop becoming non-zero (checked while downloading).
 */
char *lcache_fetch(const char *server, const char *url, const char *dir, const atomic_int *stop,
    char *why, size_t n);

/*
 * Decodes the MP3 at path whole into a new track (refs 1) of track_id at
 * rate frames a second and channels (1 or 2) channels, resampling with
 * libmpg123 when the file's rate differs. Gapless: encoder delay and
 * padding are cut. Returns NULL with the reason in why on failure, for a
 * track longer than 4 hours, or when *stop becomes non-zero.
 */
struct ltrack *lcache_decode(const char *path, int64_t track_id, long rate, int channels,
    const atomic_int *stop, char *why, size_t n);

#endif
