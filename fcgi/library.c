/*
 * library.c - the track library: adding an MP3 file. The file is copied
 * under the data directory by its SHA-256 (content addressing: one file,
 * one track), measured exactly with libmpg123 (gapless: encoder delay and
 * padding excluded) and described by its ID3 tags. nginx serves media/.
 */
#include "api.h"
#include "clock.h"
#include "log.h"
#include "text.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <mpg123.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct library_meta {
	char title[256], artist[256], album[256];
	long rate;
	int channels;
	int64_t samples;
};

/* Copies src to the open descriptor out while hashing it; writes the hex
 * digest to hex and the byte count to *size. Returns 0 or -1 (errno set). */
static int
library_copy_hash(FILE *src, int out, char *hex, int64_t *size)
{
	static const char digits[] = "0123456789abcdef";
	unsigned char buf[65536], md[32];
	EVP_MD_CTX *md_ctx = EVP_MD_CTX_new();
	unsigned int mdlen = 0, i;
	size_t n;
	int rc = -1;

	*size = 0;
	if (md_ctx == NULL || EVP_DigestInit_ex(md_ctx, EVP_sha256(), NULL) != 1)
		goto out;
	while ((n = fread(buf, 1, sizeof(buf), src)) > 0) {
		if (write(out, buf, n) != (ssize_t)n || EVP_DigestUpdate(md_ctx, buf, n) != 1)
			goto out;
		*size += n;
	}
	if (ferror(src) || EVP_DigestFinal_ex(md_ctx, md, &mdlen) != 1)
		goto out;
	for (i = 0; i < mdlen; i++) {
		hex[2 * i] = digits[md[i] >> 4];
		hex[2 * i + 1] = digits[md[i] & 15];
	}
	hex[2 * mdlen] = '\0';
	rc = 0;
out:
	EVP_MD_CTX_free(md_ctx);
	return rc;
}

/* Copies an ID3 text into dst when it is valid UTF-8 and not blank. */
static void
library_tag(char *dst, size_t dstlen, const mpg123_string *s)
{
	const char *start;
	size_t len;

	if (s == NULL || s->p == NULL || s->fill < 2)
		return;
	len = strnlen(s->p, s->fill);
	if (text_utf8_len(s->p, len) < 0)
		return;
	start = s->p;
	while (len > 0 && (*start == ' ' || *start == '\t')) {
		start++;
		len--;
	}
	while (len > 0 && (start[len - 1] == ' ' || start[len - 1] == '\t'))
		len--;
	if (len == 0 || len >= dstlen)
		return;
	memcpy(dst, start, len);
	dst[len] = '\0';
}

/* Measures the MP3 at path. Returns 0, or -1 with err filled. */
static int
library_scan(const char *path, struct library_meta *m, char *err, size_t errlen)
{
	mpg123_handle *mh = mpg123_new(NULL, NULL);
	mpg123_id3v2 *v2 = NULL;
	mpg123_id3v1 *v1 = NULL;
	off_t len;
	int enc, rc = -1;

	if (mh == NULL) {
		snprintf(err, errlen, "libmpg123 could not start");
		return -1;
	}
	mpg123_param(mh, MPG123_ADD_FLAGS, MPG123_QUIET | MPG123_GAPLESS, 0);
	if (mpg123_open(mh, path) != MPG123_OK || mpg123_scan(mh) != MPG123_OK ||
	    mpg123_getformat(mh, &m->rate, &m->channels, &enc) != MPG123_OK) {
		snprintf(err, errlen, "not an MPEG audio file (%s)", mpg123_strerror(mh));
		goto out;
	}
	if ((len = mpg123_length(mh)) <= 0 || m->rate <= 0) {
		snprintf(err, errlen, "no audio frames found");
		goto out;
	}
	m->samples = len;
	if (mpg123_id3(mh, &v1, &v2) == MPG123_OK && v2 != NULL) {
		library_tag(m->title, sizeof(m->title), v2->title);
		library_tag(m->artist, sizeof(m->artist), v2->artist);
		library_tag(m->album, sizeof(m->album), v2->album);
	}
	rc = 0;
out:
	mpg123_close(mh);
	mpg123_delete(mh);
	return rc;
}

/* Falls back to the file name, without directory and extension, as title. */
static void
library_default_title(struct library_meta *m, const char *path)
{
	char tmp[4096], *base, *dot;

	if (m->title[0] != '\0')
		return;
	snprintf(tmp, sizeof(tmp), "%s", path);
	base = basename(tmp);
	if ((dot = strrchr(base, '.')) != NULL && dot != base)
		*dot = '\0';
	if (text_utf8_len(base, strlen(base)) < 0)
		base = "Untitled";
	snprintf(m->title, sizeof(m->title), "%s", base);
}

static int64_t
library_insert(sqlite3 *db, const char *hex, const struct library_meta *m, int64_t size)
{
	int64_t id = -1, dur = m->samples * 1000000 / m->rate;
	int64_t kbps = dur > 0 ? size * 8 * 1000 / dur : 0;

	if (api_sql_run(db, &id, "INSERT INTO tracks (sha256, title, artist, album, "
	    "samples, sample_rate, channels, bitrate, duration_us, size, added_us) "
	    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (sha256) DO UPDATE "
	    "SET sha256 = excluded.sha256 RETURNING id", "ttttiiiiiii", hex, m->title,
	    m->artist, m->album, m->samples, (int64_t)m->rate, (int64_t)m->channels,
	    kbps, dur, size, clock_now_us()) != SQLITE_ROW)
		return -1;
	return id;
}

int64_t
library_add_file(sqlite3 *db, const char *datadir, const char *path, char *err,
    size_t errlen)
{
	char tmp[4096], dst[4096], hex[65];
	struct library_meta m = { .rate = 0 };
	int64_t size, id = -1;
	FILE *src = NULL;
	int fd = -1;

	snprintf(tmp, sizeof(tmp), "%s/media", datadir);
	if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
		goto fail_errno;
	snprintf(tmp, sizeof(tmp), "%s/media/.import-XXXXXX", datadir);
	if ((src = fopen(path, "rb")) == NULL || (fd = mkstemp(tmp)) < 0)
		goto fail_errno;
	if (library_copy_hash(src, fd, hex, &size) != 0 || fsync(fd) != 0)
		goto fail_errno;
	if (library_scan(tmp, &m, err, errlen) != 0)
		goto out;
	library_default_title(&m, path);
	snprintf(dst, sizeof(dst), "%s/media/%.2s", datadir, hex);
	if (mkdir(dst, 0755) != 0 && errno != EEXIST)
		goto fail_errno;
	snprintf(dst, sizeof(dst), "%s/media/%.2s/%s.mp3", datadir, hex, hex);
	fchmod(fd, 0644);
	if (rename(tmp, dst) != 0)
		goto fail_errno;
	tmp[0] = '\0';
	if ((id = library_insert(db, hex, &m, size)) < 0)
		snprintf(err, errlen, "database error: %s", sqlite3_errmsg(db));
	goto out;
fail_errno:
	snprintf(err, errlen, "%s", strerror(errno));
out:
	if (fd >= 0)
		close(fd);
	if (src != NULL)
		fclose(src);
	if (tmp[0] != '\0' && fd >= 0)
		unlink(tmp);
	return id;
}
