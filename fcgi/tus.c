/*
 * tus.c - parsing the tus 1.0.0 request headers of resumable uploads
 * (Upload-Length, Upload-Offset, Upload-Metadata with its base64 values and
 * file name, Upload-Checksum, Tus-Resumable). Pure functions over the
 * header strings; uploads.c answers the requests, tests/fuzz/fuzz_tus.c
 * fuzzes these. See tus.h.
 */
#include "text.h"
#include "tus.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

int
tus_version_ok(const char *v)
{
	return v != NULL && strcmp(v, TUS_VERSION) == 0;
}

int
tus_uint(const char *s, int64_t *v)
{
	int64_t x = 0;
	size_t i, n;

	if (s == NULL || (n = strlen(s)) == 0 || n > 18)
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		x = x * 10 + (s[i] - '0');
	}
	*v = x;
	return 0;
}

long
tus_b64(const char *s, size_t n, unsigned char *out, size_t cap)
{
	unsigned char in[TUS_META_MAX + 4], tmp[TUS_META_MAX];
	size_t i, pad = 0;
	int len;

	while (pad < 2 && n > 0 && s[n - 1] == '=') {
		n--;
		pad++;
	}
	if (n % 4 == 1 || n + 4 > sizeof(in))
		return -1;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '+' || s[i] == '/'))
			return -1;
	memcpy(in, s, n);
	for (pad = 0; (n + pad) % 4 != 0; pad++)
		in[n + pad] = '=';
	if (n + pad == 0)
		len = 0;
	else if ((len = EVP_DecodeBlock(tmp, in, (int)(n + pad))) < 0)
		return -1;
	len -= (int)pad;
	if (len < 0 || (size_t)len >= cap)
		return -1;
	memcpy(out, tmp, (size_t)len);
	out[len] = '\0';
	return len;
}

/* Returns how many bytes at the end of s (o bytes) are a C1 control (2)
 * or a bidi embedding, override or isolate (3), else 0. */
static size_t
tus_bad_tail(const unsigned char *s, size_t o)
{
	if (o >= 2 && s[o - 2] == 0xc2 && s[o - 1] >= 0x80 && s[o - 1] <= 0x9f)
		return 2;
	if (o >= 3 && s[o - 3] == 0xe2 && ((s[o - 2] == 0x80 && s[o - 1] >= 0xaa &&
	    s[o - 1] <= 0xae) || (s[o - 2] == 0x81 && s[o - 1] >= 0xa6 && s[o - 1] <= 0xa9)))
		return 3;
	return 0;
}

void
tus_filename(const unsigned char *in, size_t n, char *out)
{
	const unsigned char *p, *end = in + n, *base = in;
	size_t o = 0, i, j;

	for (p = in; p < end; p++)
		if (*p == '/' || *p == '\\')
			base = p + 1;
	/* The output is checked, not the input: dropping a control byte may
	 * join the bytes around it into a C1 or bidi control, which goes too.
	 * out holds none before each byte, so only its end needs a look. */
	for (p = base; p < end && o < TUS_NAME_MAX; p++) {
		if (*p < 0x20 || *p == 0x7f)
			continue;
		out[o++] = (char)*p;
		o -= tus_bad_tail((const unsigned char *)out, o);
	}
	for (i = 0; i < 3 && o > 0 && text_utf8_len(out, o) < 0; i++)
		o--;	/* a character cut at the size limit */
	if (text_utf8_len(out, o) < 0) {
		for (i = j = 0; i < o; i++)
			if ((unsigned char)out[i] < 0x80)
				out[j++] = out[i];
		o = j;
	}
	for (i = 0; i < o && out[i] == ' '; i++)
		;
	memmove(out, out + i, o - i);
	o -= i;
	while (o > 0 && out[o - 1] == ' ')
		o--;
	out[o] = '\0';
	if (strcmp(out, ".") == 0 || strcmp(out, "..") == 0)
		out[0] = '\0';
}

int
tus_meta_parse(const char *h, struct tus_meta *m, char *why, size_t whylen)
{
	unsigned char name[TUS_NAME_IN_MAX + 1];
	const char *p, *end, *sp, *val;
	size_t kn;
	long n;

	memset(m, 0, sizeof(*m));
	for (p = h; *p != '\0'; p++)
		if (*p < 0x20 || *p > 0x7e) {
			snprintf(why, whylen, "Upload-Metadata must be printable ASCII");
			return -1;
		}
	for (p = h; *p != '\0'; p = *end ? end + 1 : end) {
		p += strspn(p, " ");
		end = p + strcspn(p, ",");
		sp = memchr(p, ' ', (size_t)(end - p));
		kn = (size_t)((sp ? sp : end) - p);
		val = sp ? sp + strspn(sp, " ") : end;
		if (kn == 0) {
			snprintf(why, whylen, "Upload-Metadata has an empty key");
			return -1;
		}
		n = (long)(end - val);
		while (n > 0 && val[n - 1] == ' ')
			n--;
		if (kn == 4 && strncmp(p, "room", 4) == 0) {
			if (m->has_room++ || tus_b64(val, (size_t)n, (unsigned char *)m->room,
			    sizeof(m->room)) < 0) {
				snprintf(why, whylen, "Upload-Metadata room: one base64 room code");
				return -1;
			}
		} else if (kn == 8 && strncmp(p, "filename", 8) == 0) {
			if (m->has_filename++ || (n = tus_b64(val, (size_t)n, name,
			    sizeof(name))) < 0) {
				snprintf(why, whylen, "Upload-Metadata filename: one base64 "
				    "value of at most %d bytes", TUS_NAME_IN_MAX);
				return -1;
			}
			tus_filename(name, (size_t)n, m->filename);
		}
	}
	return 0;
}

int
tus_checksum_parse(const char *h, unsigned char sum[TUS_SHA1_LEN])
{
	unsigned char buf[32];

	if (strncasecmp(h, "sha1 ", 5) != 0)
		return -1;
	h += 5;
	if (tus_b64(h, strlen(h), buf, sizeof(buf)) != TUS_SHA1_LEN)
		return -2;
	memcpy(sum, buf, TUS_SHA1_LEN);
	return 0;
}
