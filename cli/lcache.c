/*
 * lcache.c - fetch (libcurl, Range resume, flock against a second listener
 * on the same cache, SHA-256 check) and decode (libmpg123, gapless, whole
 * track to 16-bit PCM) of the tracks `tutti listen` plays (lcache.h).
 */
#include "lcache.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <mpg123.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define LCACHE_MAX_S (4 * 3600)	/* a longer track is refused (decoded whole into memory) */

struct ltrack *
ltrack_ref(struct ltrack *t)
{
	if (t != NULL)
		atomic_fetch_add(&t->refs, 1);
	return t;
}

void
ltrack_unref(struct ltrack *t)
{
	if (t == NULL || atomic_fetch_sub(&t->refs, 1) != 1)
		return;
	free(t->pcm);
	free(t);
}

static void
lcache_hex(const unsigned char *md, size_t len, char *out)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < len; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[2 * len] = '\0';
}

int
lcache_name(const char *url, char *out, size_t n)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	const char *last = strrchr(url, '/');
	char hex[65];
	size_t i;

	if (n < 72)
		return -1;
	last = last != NULL ? last + 1 : url;
	if (strlen(last) == 68 && strcmp(last + 64, ".mp3") == 0) {
		for (i = 0; i < 64; i++)
			if (!((last[i] >= '0' && last[i] <= '9') || (last[i] >= 'a' && last[i] <= 'f')))
				break;
		if (i == 64) {
			memcpy(out, last, 68);
			out[68] = '\0';
			return 1;
		}
	}
	if (EVP_Digest(url, strlen(url), md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32)
		return -1;
	lcache_hex(md, 32, hex);
	snprintf(out, n, "u-%s.mp3", hex);
	return 0;
}

char *
lcache_default_dir(void)
{
	const char *x = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
	char *p = NULL;

	if (x != NULL && x[0] == '/') {
		if (asprintf(&p, "%s/tutti", x) < 0)
			return NULL;
	} else if (home != NULL && home[0] == '/') {
		if (asprintf(&p, "%s/.cache/tutti", home) < 0)
			return NULL;
	}
	return p;
}

/* mkdir -p for the cache directory (mode 0700). */
static int
lcache_mkdirs(const char *dir)
{
	char *p = strdup(dir), *s;
	int rc = 0;

	if (p == NULL)
		return -1;
	for (s = p + 1; *s; s++)
		if (*s == '/') {
			*s = '\0';
			if (mkdir(p, 0700) != 0 && errno != EEXIST)
				rc = -1;
			*s = '/';
		}
	if (mkdir(p, 0700) != 0 && errno != EEXIST)
		rc = -1;
	free(p);
	return rc;
}

/* Whether path is a non-empty regular file. */
static int
lcache_have(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0;
}

/* The download into the part file. */
struct lcache_dl {
	CURL *curl;
	int fd;
	int started;		/* the first body byte arrived: the status is known */
	int bad;		/* an answer to write nothing of */
	int werr;		/* errno of a failed write */
	const atomic_int *stop;
};

static size_t
lcache_write(char *p, size_t size, size_t nmemb, void *arg)
{
	struct lcache_dl *d = arg;
	size_t n = size * nmemb, off = 0;
	long status = 0;
	ssize_t w;

	if (!d->started) {
		d->started = 1;
		curl_easy_getinfo(d->curl, CURLINFO_RESPONSE_CODE, &status);
		if (status == 200) {	/* the whole file after all: start over */
			if (ftruncate(d->fd, 0) != 0 || lseek(d->fd, 0, SEEK_SET) != 0) {
				d->werr = errno;
				return 0;
			}
		} else if (status != 206) {
			d->bad = 1;
		}
	}
	if (d->bad)
		return n;	/* an error page: read and drop it */
	while (off < n) {
		w = write(d->fd, p + off, n - off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			d->werr = errno;
			return 0;
		}
		off += (size_t)w;
	}
	return n;
}

static int
lcache_progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	struct lcache_dl *d = arg;

	(void)dt;
	(void)dn;
	(void)ut;
	(void)un;
	return d->stop != NULL && atomic_load(d->stop) ? 1 : 0;
}

/* SHA-256 of the file at fd as hex into out (65 bytes). Returns 0 or -1. */
static int
lcache_sha256_fd(int fd, char *out)
{
	unsigned char buf[65536], md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	ssize_t r;
	int rc = -1;

	if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1 ||
	    lseek(fd, 0, SEEK_SET) != 0)
		goto done;
	while ((r = read(fd, buf, sizeof(buf))) > 0)
		if (EVP_DigestUpdate(ctx, buf, (size_t)r) != 1)
			goto done;
	if (r < 0 || EVP_DigestFinal_ex(ctx, md, &mdlen) != 1 || mdlen != 32)
		goto done;
	lcache_hex(md, 32, out);
	rc = 0;
done:
	EVP_MD_CTX_free(ctx);
	return rc;
}

/* One GET of full (resuming at the part file's size). Returns the HTTP
 * status (0: no answer, -1: a local error), the reason in why. */
static long
lcache_get(const char *full, int fd, const atomic_int *stop, char *why, size_t n)
{
	char range[32], errbuf[CURL_ERROR_SIZE] = "";
	struct lcache_dl d = { .fd = fd, .stop = stop };
	struct stat st;
	long status = 0;
	CURLcode rc;

	if (fstat(fd, &st) != 0 || lseek(fd, 0, SEEK_END) < 0) {
		snprintf(why, n, "cache: %s", strerror(errno));
		return -1;
	}
	if ((d.curl = curl_easy_init()) == NULL) {
		snprintf(why, n, "libcurl: out of memory");
		return -1;
	}
	curl_easy_setopt(d.curl, CURLOPT_URL, full);
	curl_easy_setopt(d.curl, CURLOPT_USERAGENT, "tutti-listen");
	curl_easy_setopt(d.curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(d.curl, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(d.curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(d.curl, CURLOPT_LOW_SPEED_TIME, 30L);
	curl_easy_setopt(d.curl, CURLOPT_WRITEFUNCTION, lcache_write);
	curl_easy_setopt(d.curl, CURLOPT_WRITEDATA, &d);
	curl_easy_setopt(d.curl, CURLOPT_XFERINFOFUNCTION, lcache_progress);
	curl_easy_setopt(d.curl, CURLOPT_XFERINFODATA, &d);
	curl_easy_setopt(d.curl, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(d.curl, CURLOPT_ERRORBUFFER, errbuf);
	if (st.st_size > 0) {
		snprintf(range, sizeof(range), "%lld-", (long long)st.st_size);
		curl_easy_setopt(d.curl, CURLOPT_RANGE, range);
	}
	rc = curl_easy_perform(d.curl);
	curl_easy_getinfo(d.curl, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(d.curl);
	if (d.werr != 0) {
		snprintf(why, n, "cache: %s", strerror(d.werr));
		return -1;
	}
	if (rc != CURLE_OK) {
		snprintf(why, n, "%s", rc == CURLE_ABORTED_BY_CALLBACK ? "stopped" :
		    errbuf[0] ? errbuf : curl_easy_strerror(rc));
		return status != 0 && status != 200 && status != 206 ? status : 0;
	}
	if (status != 200 && status != 206)
		snprintf(why, n, "HTTP %ld", status);
	return status;
}

char *
lcache_fetch(const char *server, const char *url, const char *dir, const atomic_int *stop,
    char *why, size_t n)
{
	char name[80], hex[65], *final = NULL, *part = NULL, *full = NULL;
	int fd = -1, hashed, tries;
	long status;

	if ((hashed = lcache_name(url, name, sizeof(name))) < 0) {
		snprintf(why, n, "cannot name the cache file");
		return NULL;
	}
	if (asprintf(&final, "%s/%s", dir, name) < 0) {
		final = NULL;
		goto oom;
	}
	if (lcache_have(final))
		return final;
	if (lcache_mkdirs(dir) != 0) {
		snprintf(why, n, "cannot create %s: %s", dir, strerror(errno));
		goto fail;
	}
	if (asprintf(&part, "%s.part", final) < 0) {
		part = NULL;
		goto oom;
	}
	if (asprintf(&full, "%s%s", server, url) < 0) {
		full = NULL;
		goto oom;
	}
	if ((fd = open(part, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0 || flock(fd, LOCK_EX) != 0) {
		snprintf(why, n, "%s: %s", part, strerror(errno));
		goto fail;
	}
	if (lcache_have(final))		/* another listener finished it meanwhile */
		goto done;
	for (tries = 0; ; tries++) {
		status = lcache_get(full, fd, stop, why, n);
		if (status == 200 || status == 206)
			break;
		if (status == 416 && tries == 0) {	/* a stale part: from the start */
			if (ftruncate(fd, 0) != 0)
				goto fail;
			continue;
		}
		goto fail;
	}
	if (hashed && (lcache_sha256_fd(fd, hex) != 0 || strncmp(hex, name, 64) != 0)) {
		snprintf(why, n, "%s: the content does not match its hash", url);
		unlink(part);
		goto fail;
	}
	if (rename(part, final) != 0) {
		snprintf(why, n, "%s: %s", final, strerror(errno));
		goto fail;
	}
done:
	close(fd);
	free(part);
	free(full);
	return final;
oom:
	snprintf(why, n, "out of memory");
fail:
	if (fd >= 0)
		close(fd);
	free(final);
	free(part);
	free(full);
	return NULL;
}

/* A handle on path decoding to 16-bit PCM at rate and channels; force_rate
 * resamples (anything else is refused); any: the file's own format. */
static mpg123_handle *
lcache_handle(const char *path, long rate, int channels, int force_rate, int any, char *why,
    size_t n)
{
	mpg123_handle *mh;
	int err;

	if ((mh = mpg123_new(NULL, &err)) == NULL) {
		snprintf(why, n, "libmpg123: %s", mpg123_plain_strerror(err));
		return NULL;
	}
	mpg123_param(mh, MPG123_FLAGS, MPG123_GAPLESS | MPG123_QUIET |
	    (channels == 2 ? MPG123_FORCE_STEREO : MPG123_FORCE_MONO), 0);
	if (force_rate)
		mpg123_param(mh, MPG123_FORCE_RATE, rate, 0);
	mpg123_format_none(mh);
	if (any ? mpg123_format_all(mh) != MPG123_OK :
	    mpg123_format(mh, rate, channels == 2 ? MPG123_STEREO : MPG123_MONO,
	    MPG123_ENC_SIGNED_16) != MPG123_OK) {
		snprintf(why, n, "libmpg123: cannot decode to %ld Hz", rate);
		goto fail;
	}
	if (mpg123_open(mh, path) != MPG123_OK) {
		snprintf(why, n, "%s: %s", path, mpg123_strerror(mh));
		goto fail;
	}
	return mh;
fail:
	mpg123_delete(mh);
	return NULL;
}

/* Opens path for decoding at rate and channels, resampling only when the
 * file's own rate differs (the native rate keeps the exact gapless length). */
static mpg123_handle *
lcache_open(const char *path, long rate, int channels, char *why, size_t n)
{
	mpg123_handle *mh;
	long native = 0;
	int ch = 0, enc = 0;

	if ((mh = lcache_handle(path, rate, channels, 0, 1, why, n)) == NULL)
		return NULL;
	if (mpg123_getformat(mh, &native, &ch, &enc) != MPG123_OK) {
		snprintf(why, n, "%s: not MPEG audio", path);
		mpg123_close(mh);
		mpg123_delete(mh);
		return NULL;
	}
	mpg123_close(mh);
	mpg123_delete(mh);
	return lcache_handle(path, rate, channels, native != rate, 0, why, n);
}

struct ltrack *
lcache_decode(const char *path, int64_t track_id, long rate, int channels,
    const atomic_int *stop, char *why, size_t n)
{
	struct ltrack *t = NULL;
	mpg123_handle *mh;
	size_t cap, len = 0, done, fsz = (size_t)channels * 2;
	off_t est;
	int16_t *nb;
	int rc;

	if ((mh = lcache_open(path, rate, channels, why, n)) == NULL)
		return NULL;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		goto oom;
	est = mpg123_length(mh);
	cap = est > 0 && est < (off_t)rate * LCACHE_MAX_S ? (size_t)est + 4096 : (size_t)rate * 60;
	if ((t->pcm = malloc(cap * fsz)) == NULL)
		goto oom;
	for (;;) {
		if (stop != NULL && atomic_load(stop)) {
			snprintf(why, n, "stopped");
			goto fail;
		}
		if (len > (size_t)rate * LCACHE_MAX_S) {
			snprintf(why, n, "%s: longer than %d hours", path, LCACHE_MAX_S / 3600);
			goto fail;
		}
		if (cap - len < 4096) {
			cap *= 2;
			if ((nb = realloc(t->pcm, cap * fsz)) == NULL)
				goto oom;
			t->pcm = nb;
		}
		rc = mpg123_read(mh, (unsigned char *)(t->pcm + len * (size_t)channels),
		    (cap - len) * fsz, &done);
		len += done / fsz;
		if (rc == MPG123_DONE)
			break;
		if (rc == MPG123_NEW_FORMAT)
			continue;
		if (rc != MPG123_OK) {
			snprintf(why, n, "%s: %s", path, mpg123_strerror(mh));
			goto fail;
		}
	}
	mpg123_close(mh);
	mpg123_delete(mh);
	t->track_id = track_id;
	t->rate = rate;
	t->channels = channels;
	t->frames = (int64_t)len;
	atomic_init(&t->refs, 1);
	return t;
oom:
	snprintf(why, n, "out of memory");
fail:
	mpg123_close(mh);
	mpg123_delete(mh);
	if (t != NULL)
		free(t->pcm);
	free(t);
	return NULL;
}
