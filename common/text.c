/*
 * text.c - UTF-8 validation (RFC 3629) and display-name rules, shared by the
 * API (names) and the relay (text frames must be valid UTF-8, RFC 6455 8.1).
 */
#include "text.h"

#include <stdint.h>

/* Decodes one code point at s (n > 0 bytes). Returns its length in bytes and
 * stores it in *cp, or returns -1 for an invalid or truncated sequence. */
static int
text_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
	uint32_t c = s[0];
	int len, i;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		c &= 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		c &= 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		c &= 0x07;
	} else
		return -1;
	if ((size_t)len > n)
		return -1;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return -1;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && c < 0x800) || (len == 4 && c < 0x10000) ||
	    c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return -1;
	*cp = c;
	return len;
}

long
text_utf8_len(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;
	long count = 0;
	uint32_t cp;
	int k;

	while (i < n) {
		if ((k = text_decode(p + i, n - i, &cp)) < 0)
			return -1;
		i += k;
		count++;
	}
	return count;
}

static int
text_is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

int
text_span_check(const char *s, size_t n, long min_chars, long max_chars,
    int multiline, const char **start, size_t *len)
{
	const unsigned char *p;
	size_t i;
	uint32_t cp;
	long count = 0;
	int k;

	while (n > 0 && text_is_space(*s)) {
		s++;
		n--;
	}
	while (n > 0 && text_is_space(s[n - 1]))
		n--;
	p = (const unsigned char *)s;
	for (i = 0; i < n; i += k, count++) {
		if ((k = text_decode(p + i, n - i, &cp)) < 0)
			return -1;
		if (multiline && (cp == '\n' || cp == '\t'))
			continue;
		if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0) || cp == 0x2028 || cp == 0x2029)
			return -1;
	}
	if (count < min_chars || count > max_chars)
		return -1;
	*start = s;
	*len = n;
	return 0;
}

int
text_name_check(const char *s, size_t n, const char **start, size_t *len)
{
	return text_span_check(s, n, 1, NAME_MAX_CHARS, 0, start, len);
}
