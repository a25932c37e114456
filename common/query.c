/*
 * query.c - URL query strings (application/x-www-form-urlencoded form, as
 * in ?room=K7Q2M&token=...): percent-decoding and finding one parameter.
 * Pure functions over the caller's buffer; used by the relay's upgrade
 * request and by tutti-api's query parameters.
 */
#include "query.h"

#include <string.h>

#define QUERY_NAME_MAX 192	/* raw bytes of a parameter name that can be a key */

static int
query_hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
query_decode(const char *s, size_t n, char *out, size_t cap)
{
	size_t i, o = 0;
	int hi, lo;
	char c;

	for (i = 0; i < n; i++) {
		c = s[i];
		if (c == '+')
			c = ' ';
		else if (c == '%') {
			if (n - i < 3 || (hi = query_hex(s[i + 1])) < 0 || (lo = query_hex(s[i + 2])) < 0)
				return -1;
			c = (char)(hi << 4 | lo);
			i += 2;
		}
		if (c == '\0')		/* escaped or raw: out is a C string */
			return -1;
		if (o + 1 >= cap)
			return -1;
		out[o++] = c;
	}
	if (cap == 0)
		return -1;
	out[o] = '\0';
	return (int)o;
}

int
query_get(const char *q, size_t n, const char *key, char *out, size_t cap)
{
	/* Room for any name of up to QUERY_NAME_MAX bytes before decoding, so
	 * decoding fails only on a malformed escape; longer names are no key's. */
	char name[QUERY_NAME_MAX + 1];
	size_t i = 0, start, eq;
	int found = -1, r;

	while (i < n) {
		for (start = i; i < n && q[i] != '&'; i++)
			;
		if (i > start) {
			const char *e = memchr(q + start, '=', i - start);

			eq = e != NULL ? (size_t)(e - q) : i;
			if (eq - start > QUERY_NAME_MAX) {	/* longer than any key */
				i++;
				continue;
			}
			if (query_decode(q + start, eq - start, name, sizeof(name)) < 0)
				return -2;
			if (strcmp(name, key) == 0) {
				if (found >= 0)
					return -3;
				r = eq < i ? query_decode(q + eq + 1, i - eq - 1, out, cap) :
				    query_decode("", 0, out, cap);
				if (r < 0)
					return -2;
				found = r;
			}
		}
		i++;		/* the '&' */
	}
	return found;
}
