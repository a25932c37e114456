/*
 * library.h - the track library beyond library_add_file() (api.h): adding
 * a finished upload without copying it. Used by uploads.c; the import
 * command uses library_add_file(). Implemented in library.c.
 */
#ifndef TUTTI_LIBRARY_H
#define TUTTI_LIBRARY_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

/* Adds the finished upload at path (under datadir, so on the media's file
 * system) to the library without copying it: when its content (sha256, the
 * lowercase hex digest of the file or NULL to compute it) is already a
 * track, returns that track; else validates and measures it with libmpg123,
 * gives media/<h[0:2]>/<h>.mp3 a hard link to it (a copy only across file
 * systems) and inserts the track row. name is the title when the file has
 * no ID3 title (its extension dropped; "" for "Untitled").
 * Returns the track id (> 0). Returns -1 with err filled (errlen bytes) and
 * *why set to LIBRARY_NOT_AUDIO when the file is not MPEG audio,
 * LIBRARY_NO_SPACE when the media's file system is full (or over quota),
 * else LIBRARY_SYSTEM (any other system or database error); *why is
 * LIBRARY_OK after a success. The file at path is left in place either way: the caller
 * unlinks it once it no longer needs it (after success it is a second name
 * of the stored file, so unlinking costs no copy). */
enum library_why { LIBRARY_OK, LIBRARY_SYSTEM, LIBRARY_NOT_AUDIO, LIBRARY_NO_SPACE };

int64_t library_add_upload(sqlite3 *db, const char *datadir, const char *path,
    const char *name, const char *sha256, enum library_why *why, char *err, size_t errlen);

#endif
