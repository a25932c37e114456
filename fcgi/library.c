/*
 * library.c - the track library: adding an MP3 file, by copy (import) or,
 * for a finished upload, by a hard link (no copy). A file is stored under
 * the data directory by its SHA-256 (content addressing: one file, one
 * track), validated and measured exactly with libmpg123 (gapless: encoder
 * delay and padding excluded) and described by its ID3v2 or ID3v1 tags.
 * nginx serves media/.
 */
#include "api.h"
#include "clock.h"
#include "library.h"
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

#define LIBRARY_BUF (64 * 1024)

struct library_meta {
	char title[256], artist[256], album[256];
	long rate;
	int channels;
	int64_t samples;
};

/* Reads src to its end while hashing it (SHA-256) and, when out >= 0,
 * copying it to the descriptor out; writes the hex digest to hex (65 bytes)
 * and the byte count to *size. Returns 0 or -1 (errno set). */
static int
library_copy_hash(FILE *src, int out, char *hex, int64_t *size)
{
	static const char digits[] = "0123456789abcdef";
	unsigned char *buf = malloc(LIBRARY_BUF), md[32];
	EVP_MD_CTX *md_ctx = EVP_MD_CTX_new();
	unsigned int mdlen = 0, i;
	size_t n;
	int rc = -1;

	*size = 0;
	if (buf == NULL || md_ctx == NULL ||
	    EVP_DigestInit_ex(md_ctx, EVP_sha256(), NULL) != 1)
		goto out;
	while ((n = fread(buf, 1, LIBRARY_BUF, src)) > 0) {
		if ((out >= 0 && write(out, buf, n) != (ssize_t)n) ||
		    EVP_DigestUpdate(md_ctx, buf, n) != 1)
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
	free(buf);
	return rc;
}

/* Copies an ID3 text into dst when dst is still empty and the text is valid
 * UTF-8 and not blank. */
static void
library_tag(char *dst, size_t dstlen, const mpg123_string *s)
{
	const char *start;
	size_t len;

	if (dst[0] != '\0' || s == NULL || s->p == NULL || s->fill < 2)
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
	for (; *dst != '\0'; dst++)
		if ((unsigned char)*dst < 0x20 || *dst == 0x7f)
			*dst = ' ';
}

/* The ID3v1 fallback: a fixed field of n bytes, NUL- or space-padded, in
 * no declared encoding (read as ISO-8859-1, the only one-byte encoding
 * this libmpg123 converts). */
static void
library_tag_v1(char *dst, size_t dstlen, const char *field, size_t n)
{
	mpg123_string s;

	if (dst[0] != '\0')
		return;
	n = strnlen(field, n);
	while (n > 0 && field[n - 1] == ' ')
		n--;
	if (n == 0)
		return;
	mpg123_init_string(&s);
	if (mpg123_store_utf8(&s, mpg123_text_latin1, (const unsigned char *)field, n))
		library_tag(dst, dstlen, &s);
	mpg123_free_string(&s);
}

/* Decodes the first few frames: a file whose frame headers scan but whose
 * frames do not decode is refused. Returns 0 when audio came out, else -1. */
static int
library_decodes(mpg123_handle *mh)
{
	unsigned char *buf = malloc(LIBRARY_BUF);
	size_t done, total = 0;
	int i, rc = MPG123_OK;

	if (buf == NULL || mpg123_seek(mh, 0, SEEK_SET) < 0) {
		free(buf);
		return -1;
	}
	for (i = 0; i < 8 && total < LIBRARY_BUF; i++) {
		done = 0;
		rc = mpg123_read(mh, buf, LIBRARY_BUF, &done);
		total += done;
		if (rc != MPG123_OK && rc != MPG123_NEW_FORMAT)
			break;
	}
	free(buf);
	return total > 0 && rc != MPG123_ERR ? 0 : -1;
}

/* libmpg123 reads through a FILE with a large buffer: its own reader makes
 * two read(2) calls per frame, which dominate the scan of a large file. */
static mpg123_ssize_t
library_io_read(void *h, void *buf, size_t n)
{
	size_t got = fread(buf, 1, n, h);

	return got == 0 && ferror((FILE *)h) ? -1 : (mpg123_ssize_t)got;
}

static off_t
library_io_seek(void *h, off_t off, int whence)
{
	return fseeko(h, off, whence) == 0 ? ftello(h) : -1;
}

/* Validates and measures the MP3 at path. Returns 0, or -1 with err filled
 * when libmpg123 finds no decodable MPEG audio frame in it. */
static int
library_scan(const char *path, struct library_meta *m, char *err, size_t errlen)
{
	mpg123_handle *mh = mpg123_new(NULL, NULL);
	FILE *f = fopen(path, "rb");
	mpg123_id3v2 *v2 = NULL;
	mpg123_id3v1 *v1 = NULL;
	off_t len, frames;
	int enc, rc = -1;

	if (mh == NULL || f == NULL) {
		snprintf(err, errlen, "%s", f == NULL ? strerror(errno) :
		    "libmpg123 could not start");
		goto out;
	}
	setvbuf(f, NULL, _IOFBF, LIBRARY_BUF * 4);
	mpg123_param(mh, MPG123_ADD_FLAGS, MPG123_QUIET | MPG123_GAPLESS, 0);
	if (mpg123_replace_reader_handle(mh, library_io_read, library_io_seek, NULL) !=
	    MPG123_OK || mpg123_open_handle(mh, f) != MPG123_OK ||
	    mpg123_scan(mh) != MPG123_OK) {
		snprintf(err, errlen, "not MPEG audio (libmpg123: %s)", mpg123_strerror(mh));
		goto out;
	}
	if (mpg123_getformat(mh, &m->rate, &m->channels, &enc) != MPG123_OK ||
	    (len = mpg123_length(mh)) <= 0 || (frames = mpg123_framelength(mh)) < 1 ||
	    m->rate < 8000 || m->rate > 48000 || m->channels < 1 || m->channels > 2) {
		snprintf(err, errlen, "not MPEG audio: no audio frame found");
		goto out;
	}
	if (library_decodes(mh) != 0) {
		snprintf(err, errlen, "not MPEG audio: the frames do not decode");
		goto out;
	}
	m->samples = len;
	if (mpg123_id3(mh, &v1, &v2) == MPG123_OK) {
		if (v2 != NULL) {
			library_tag(m->title, sizeof(m->title), v2->title);
			library_tag(m->artist, sizeof(m->artist), v2->artist);
			library_tag(m->album, sizeof(m->album), v2->album);
		}
		if (v1 != NULL) {
			library_tag_v1(m->title, sizeof(m->title), v1->title, sizeof(v1->title));
			library_tag_v1(m->artist, sizeof(m->artist), v1->artist,
			    sizeof(v1->artist));
			library_tag_v1(m->album, sizeof(m->album), v1->album, sizeof(v1->album));
		}
	}
	rc = 0;
out:
	if (mh != NULL) {
		mpg123_close(mh);
		mpg123_delete(mh);
	}
	if (f != NULL)
		fclose(f);
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
	base = tmp[0] != '\0' ? basename(tmp) : tmp;
	if ((dot = strrchr(base, '.')) != NULL && dot != base)
		*dot = '\0';
	if (base[0] == '\0' || text_utf8_len(base, strlen(base)) < 0)
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

/* Creates media/ and media/<h[0:2]>/ and writes the stored file's path to
 * dst. Returns 0 or -1 (errno set). */
static int
library_media_path(const char *datadir, const char *hex, char *dst, size_t n)
{
	snprintf(dst, n, "%s/media", datadir);
	if (mkdir(dst, 0755) != 0 && errno != EEXIST)
		return -1;
	snprintf(dst, n, "%s/media/%.2s", datadir, hex);
	if (mkdir(dst, 0755) != 0 && errno != EEXIST)
		return -1;
	snprintf(dst, n, "%s/media/%.2s/%s.mp3", datadir, hex, hex);
	return 0;
}

/* Returns the id of the track with this content, 0 when there is none or
 * its file is missing, -1 on a database error. */
static int64_t
library_find(sqlite3 *db, const char *datadir, const char *hex)
{
	char dst[4096];
	int64_t id = 0;
	int rc;

	rc = api_sql_run(db, &id, "SELECT id FROM tracks WHERE sha256 = ?", "t", hex);
	if (rc == SQLITE_DONE)
		return 0;
	if (rc != SQLITE_ROW)
		return -1;
	snprintf(dst, sizeof(dst), "%s/media/%.2s/%s.mp3", datadir, hex, hex);
	return access(dst, R_OK) == 0 ? id : 0;
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

	tmp[0] = '\0';
	if (library_scan(path, &m, err, errlen) != 0)
		return -1;
	library_default_title(&m, path);
	snprintf(tmp, sizeof(tmp), "%s/media", datadir);
	if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
		goto fail_errno;
	snprintf(tmp, sizeof(tmp), "%s/media/.import-XXXXXX", datadir);
	if ((src = fopen(path, "rb")) == NULL || (fd = mkstemp(tmp)) < 0)
		goto fail_errno;
	if (library_copy_hash(src, fd, hex, &size) != 0 || fsync(fd) != 0)
		goto fail_errno;
	if (library_media_path(datadir, hex, dst, sizeof(dst)) != 0)
		goto fail_errno;
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

/* Hashes the file at path into hex (65 bytes) and its size. Returns 0 or -1
 * (errno set). */
static int
library_hash_file(const char *path, char *hex, int64_t *size)
{
	FILE *f = fopen(path, "rb");
	int rc;

	if (f == NULL)
		return -1;
	rc = library_copy_hash(f, -1, hex, size);
	fclose(f);
	return rc;
}

/* Gives the stored file the name dst: a hard link to path, or a copy when
 * they are on different file systems. An existing dst has the same content
 * (same hash) and is kept. Returns 0 or -1 (errno set). */
static int
library_link(const char *path, const char *dst)
{
	char tmp[4096 + 8], hex[65];
	int64_t size;
	FILE *src;
	int fd, rc, e;

	if (link(path, dst) == 0 || errno == EEXIST) {
		chmod(dst, 0644);
		return 0;
	}
	if (errno != EXDEV)
		return -1;
	snprintf(tmp, sizeof(tmp), "%s.XXXXXX", dst);
	if ((src = fopen(path, "rb")) == NULL)
		return -1;
	if ((fd = mkstemp(tmp)) < 0) {
		fclose(src);
		return -1;
	}
	rc = library_copy_hash(src, fd, hex, &size) == 0 && fsync(fd) == 0 &&
	    fchmod(fd, 0644) == 0 && rename(tmp, dst) == 0 ? 0 : -1;
	e = errno;	/* the cleanup must not hide why (ENOSPC: 507) */
	if (rc != 0)
		unlink(tmp);
	close(fd);
	fclose(src);
	errno = e;
	return rc;
}

int64_t
library_add_upload(sqlite3 *db, const char *datadir, const char *path, const char *name,
    const char *sha256, enum library_why *why, char *err, size_t errlen)
{
	struct library_meta m = { .rate = 0 };
	char hex[65], dst[4096];
	struct stat sb;
	int64_t id, size;
	int e;

	*why = LIBRARY_OK;
	if (stat(path, &sb) != 0)
		goto fail_errno;
	size = sb.st_size;
	if (sha256 != NULL)
		snprintf(hex, sizeof(hex), "%s", sha256);
	else if (library_hash_file(path, hex, &size) != 0)
		goto fail_errno;
	if ((id = library_find(db, datadir, hex)) != 0) {
		if (id < 0) {
			*why = LIBRARY_SYSTEM;
			snprintf(err, errlen, "database error: %s", sqlite3_errmsg(db));
		}
		return id;
	}
	if (library_scan(path, &m, err, errlen) != 0) {
		*why = LIBRARY_NOT_AUDIO;
		return -1;
	}
	library_default_title(&m, name);
	if (library_media_path(datadir, hex, dst, sizeof(dst)) != 0 ||
	    library_link(path, dst) != 0)
		goto fail_errno;
	if ((id = library_insert(db, hex, &m, size)) < 0) {
		*why = LIBRARY_SYSTEM;
		snprintf(err, errlen, "database error: %s", sqlite3_errmsg(db));
	}
	return id;
fail_errno:
	e = errno;
	*why = e == ENOSPC || e == EDQUOT ? LIBRARY_NO_SPACE : LIBRARY_SYSTEM;
	snprintf(err, errlen, "%s: %s", path, strerror(e));
	return -1;
}
