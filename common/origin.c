/*
 * origin.c - browser origins, shared by tutti-relay and tutti-api. Both
 * take an allow-list with -O (checked at start by origin_check, so a
 * value no browser could ever send is refused, not silently useless). The
 * relay's WebSocket upgrade lets a page in when its origin's host[:port] is
 * the Host it connected to or is on the list (origin_allowed, relay/conn.c);
 * the API answers CORS only for listed origins (origin_listed, fcgi/cors.c).
 * Pure functions over the caller's buffers.
 */
#include "origin.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Writes msg into why (whylen bytes; why may be NULL) and returns -1. */
static int
origin_why(char *why, size_t whylen, const char *msg)
{
	if (why != NULL && whylen > 0)
		snprintf(why, whylen, "%s", msg);
	return -1;
}

static int
origin_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int
origin_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Returns the length of the RFC 3986 scheme that s (n bytes) starts with,
 * when "://" follows it, else 0. */
static size_t
origin_scheme(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || !origin_alpha(s[0]))
		return 0;
	for (i = 1; i < n && (origin_alpha(s[i]) || origin_digit(s[i]) ||
	    s[i] == '+' || s[i] == '-' || s[i] == '.'); i++)
		;
	return n - i >= 3 && memcmp(s + i, "://", 3) == 0 ? i : 0;
}

/* Checks a host name (n bytes): [A-Za-z0-9_-] labels joined by single
 * dots. Returns 0 or -1. */
static int
origin_name(const char *h, size_t n)
{
	size_t i;

	if (n == 0 || h[0] == '.' || h[n - 1] == '.')
		return -1;
	for (i = 0; i < n; i++) {
		if (h[i] == '.' && i + 1 < n && h[i + 1] == '.')
			return -1;
		if (!origin_alpha(h[i]) && !origin_digit(h[i]) && h[i] != '.' &&
		    h[i] != '-' && h[i] != '_')
			return -1;
	}
	return 0;
}

/* Checks "[IPv6]" at h (n bytes, from the '['). Returns the bytes it
 * takes, brackets included, or 0 when it is not a bracketed IPv6 address. */
static size_t
origin_ipv6(const char *h, size_t n)
{
	const char *end = memchr(h, ']', n);
	char text[INET6_ADDRSTRLEN];
	unsigned char addr[16];
	size_t len;

	if (end == NULL || (len = (size_t)(end - h) - 1) == 0 || len >= sizeof(text))
		return 0;
	memcpy(text, h + 1, len);
	text[len] = '\0';
	return inet_pton(AF_INET6, text, addr) == 1 ? len + 2 : 0;
}

/* Parses a port (n bytes, after the ':'): 1 to 65535, no leading zeros.
 * Returns it, or -1. */
static long
origin_port(const char *p, size_t n)
{
	long v = 0;
	size_t i;

	if (n == 0 || n > 5 || p[0] == '0')
		return -1;
	for (i = 0; i < n; i++) {
		if (!origin_digit(p[i]))
			return -1;
		v = v * 10 + (p[i] - '0');
	}
	return v <= 65535 ? v : -1;
}

/* Checks the host[:port] part hp (n bytes) of an origin whose scheme is
 * scheme (sn bytes). Returns 0, or -1 with the reason in why. */
static int
origin_check_hostport(const char *scheme, size_t sn, const char *hp, size_t n,
    char *why, size_t whylen)
{
	const char *colon;
	size_t hn;
	long port;

	if (n > 0 && hp[0] == '[') {
		if ((hn = origin_ipv6(hp, n)) == 0)
			return origin_why(why, whylen, "an IPv6 host is a valid address in "
			    "brackets, e.g. http://[::1]:8080");
	} else {
		colon = memchr(hp, ':', n);
		hn = colon != NULL ? (size_t)(colon - hp) : n;
		if (origin_name(hp, hn) != 0)
			return origin_why(why, whylen, "the host is a name of letters, digits, "
			    "'-', '_' and single dots (an international name in its xn-- "
			    "form), or an IP address");
	}
	if (hn == n)
		return 0;
	if (hp[hn] != ':' || (port = origin_port(hp + hn + 1, n - hn - 1)) < 0)
		return origin_why(why, whylen, "the port after ':' is a number from 1 to "
		    "65535 without leading zeros");
	if ((sn == 4 && strncasecmp(scheme, "http", 4) == 0 && port == 80) ||
	    (sn == 5 && strncasecmp(scheme, "https", 5) == 0 && port == 443))
		return origin_why(why, whylen, "browsers leave out the scheme's default "
		    "port (:80 for http, :443 for https): leave it out too");
	return 0;
}

int
origin_check(const char *s, size_t n, char *why, size_t whylen)
{
	size_t i, sn;

	if (n == 0 || n > ORIGIN_MAX)
		return origin_why(why, whylen, "an origin is 1 to 300 bytes");
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 0x7f)
			return origin_why(why, whylen, "an origin is printable ASCII without "
			    "spaces (an international name in its xn-- form)");
	if (n == 4 && strncasecmp(s, "null", 4) == 0)
		return origin_why(why, whylen, "\"null\" is the origin of sandboxed pages and "
		    "local files, which any page can claim; it cannot be allowed");
	if (memchr(s, '*', n) != NULL)
		return origin_why(why, whylen, "no wildcards: give each origin its own -O");
	if ((sn = origin_scheme(s, n)) == 0)
		return origin_why(why, whylen, "expected scheme://host[:port], e.g. "
		    "https://music.example.org");
	for (i = sn + 3; i < n; i++) {
		if (s[i] == '/' || s[i] == '?' || s[i] == '#')
			return origin_why(why, whylen, "an origin has no path, query or "
			    "fragment, not even a trailing '/': scheme://host[:port]");
		if (s[i] == '@')
			return origin_why(why, whylen, "an origin has no user name: "
			    "scheme://host[:port]");
	}
	return origin_check_hostport(s, sn, s + sn + 3, n - sn - 3, why, whylen);
}

int
origin_listed(const char *origin, size_t n, const char *const *allow, size_t nallow)
{
	size_t i;

	if (origin == NULL)
		return 0;
	for (i = 0; i < nallow; i++)
		if (strlen(allow[i]) == n && strncasecmp(allow[i], origin, n) == 0)
			return 1;
	return 0;
}

/* Returns the host[:port] part of an origin "scheme://host[:port]" (n
 * bytes) in *hp, *hn, or -1 when it is not of that form. */
static int
origin_hostport(const char *o, size_t n, const char **hp, size_t *hn)
{
	const char *sep = n >= 3 ? memchr(o, ':', n) : NULL;
	size_t i;

	if (sep == NULL || (size_t)(sep - o) + 3 > n || sep[1] != '/' || sep[2] != '/')
		return -1;
	*hp = sep + 3;
	*hn = n - (size_t)(*hp - o);
	for (i = 0; i < *hn; i++)
		if ((*hp)[i] == '/' || (*hp)[i] == '?' || (*hp)[i] == '#' || (*hp)[i] == '@')
			return -1;
	return *hn > 0 ? 0 : -1;
}

int
origin_allowed(const char *origin, size_t n, const char *host, size_t hn,
    const char *const *allow, size_t nallow)
{
	const char *hp;
	size_t hpn;

	if (origin == NULL)
		return 1;
	if (origin_listed(origin, n, allow, nallow))
		return 1;
	if (origin_hostport(origin, n, &hp, &hpn) != 0 || host == NULL)
		return 0;
	return hpn == hn && strncasecmp(hp, host, hn) == 0;
}
