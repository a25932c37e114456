/*
 * fuzz_mp3.c - libFuzzer harness for the MP3 check of finished uploads:
 * library_add_upload() (fcgi/library.c) on a file holding the input, which
 * scans it with libmpg123 (frames, Xing/LAME headers, gapless length),
 * decodes its first frames, reads its ID3v2 and ID3v1 tags, links it into
 * media/ and inserts the track row. Built and run by `make fuzz`
 * (scripts/fuzz.sh); seeds in tests/fuzz/corpus/mp3 (short MP3s made with
 * sox and lame, cut and corrupted).
 *
 * Checked: a refusal says why, flags the file as not audio and adds no
 * row; an accepted file is one track whose row is sane (8..48 kHz, mono or
 * stereo, a positive length, the duration its samples give, the input's
 * SHA-256 and size) and whose title, artist and album are valid UTF-8
 * without control characters; the stored file is the input. With
 * FAKE_API_TRACE set, each verdict is printed on stderr.
 */
#include <assert.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "db.h"
#include "fake_api.h"
#include "log.h"
#include "text.h"
#include "../../fcgi/library.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[256];
static sqlite3 *db;

static int
rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	remove(path);
	return 0;
}

static void
cleanup(void)
{
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void
setup(void)
{
	char sqldir[4096];
	const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";

	log_init("fuzz", (enum log_level)(LOG_ERR + 1));
	snprintf(dir, sizeof(dir), "%s/tutti-fuzz-mp3-XXXXXX", base);
	assert(mkdtemp(dir) != NULL);
	atexit(cleanup);
	fake_api_sqldir(sqldir, sizeof(sqldir));
	assert(sqlite3_open(":memory:", &db) == SQLITE_OK);
	assert(db_migrate(db, sqldir) > 0);
}

static void
sha256_hex(const uint8_t *p, size_t n, char *hex)
{
	unsigned char md[32];
	unsigned int len = 0, i;

	assert(EVP_Digest(p, n, md, &len, EVP_sha256(), NULL) == 1 && len == 32);
	for (i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

/* A tag as stored: valid UTF-8, no control character, under 256 bytes. */
static void
check_text(const unsigned char *s, int may_be_empty)
{
	size_t n = strlen((const char *)s), i;

	assert(n < 256 && (may_be_empty || n > 0));
	assert(text_utf8_len((const char *)s, n) >= 0);
	for (i = 0; i < n; i++)
		assert(s[i] >= 0x20 && s[i] != 0x7f);
}

static void
check_track(int64_t id, const uint8_t *data, size_t size)
{
	sqlite3_stmt *st;
	char hex[65], path[512];
	struct stat sb;
	int64_t samples, rate, dur;

	sha256_hex(data, size, hex);
	assert(sqlite3_prepare_v2(db, "SELECT sha256, title, artist, album, samples, "
	    "sample_rate, channels, duration_us, size, (SELECT count(*) FROM tracks) "
	    "FROM tracks WHERE id = ?", -1, &st, NULL) == SQLITE_OK);
	sqlite3_bind_int64(st, 1, id);
	assert(sqlite3_step(st) == SQLITE_ROW);
	assert(strcmp((const char *)sqlite3_column_text(st, 0), hex) == 0);
	check_text(sqlite3_column_text(st, 1), 0);
	check_text(sqlite3_column_text(st, 2), 1);
	check_text(sqlite3_column_text(st, 3), 1);
	samples = sqlite3_column_int64(st, 4);
	rate = sqlite3_column_int64(st, 5);
	dur = sqlite3_column_int64(st, 7);
	assert(samples > 0 && rate >= 8000 && rate <= 48000);
	assert(sqlite3_column_int64(st, 6) == 1 || sqlite3_column_int64(st, 6) == 2);
	assert(dur == samples * 1000000 / rate);
	assert(sqlite3_column_int64(st, 8) == (int64_t)size);
	assert(sqlite3_column_int64(st, 9) == 1);
	sqlite3_finalize(st);
	snprintf(path, sizeof(path), "%s/media/%.2s/%s.mp3", dir, hex, hex);
	assert(stat(path, &sb) == 0 && sb.st_size == (off_t)size);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	char path[512], err[256] = "", media[512];
	enum library_why why = LIBRARY_SYSTEM;
	int fd;
	int64_t id;

	if (!ready) {
		setup();
		ready = 1;
	}
	snprintf(path, sizeof(path), "%s/upload.part", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert(fd >= 0 && (size == 0 || write(fd, data, size) == (ssize_t)size));
	close(fd);
	id = library_add_upload(db, dir, path, "fallback title.mp3", NULL, &why, err,
	    sizeof(err));
	if (getenv("FAKE_API_TRACE") != NULL)
		fprintf(stderr, "%zu bytes -> track %lld %s\n", size, (long long)id, err);
	if (id < 0) {
		if (why != LIBRARY_NOT_AUDIO || err[0] == '\0') {
			fprintf(stderr, "refused, but not as not audio (%d): %s\n", (int)why, err);
			abort();
		}
	} else {
		assert(id > 0 && why == LIBRARY_OK);
		check_track(id, data, size);
	}
	/* back to an empty library; a refusal left no row */
	assert(db_exec(db, "DELETE FROM tracks") == 0);
	assert(sqlite3_changes(db) == (id > 0));
	unlink(path);
	snprintf(media, sizeof(media), "%s/media", dir);
	nftw(media, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}
