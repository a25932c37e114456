/*
 * origin.c - the Origin check of the WebSocket upgrade (RFC 6455 section
 * 10.2). A browser names the page's origin; the relay lets it in when that
 * origin's host[:port] is the Host it connected to (nginx passes the
 * client's Host), or when the origin is on the -O allow-list. A client
 * without Origin (the native one, scripts) is let in: the token decides.
 * Pure functions over the caller's buffers.
 */
#include "origin.h"

#include <string.h>
#include <strings.h>

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
	size_t i, hpn;

	if (origin == NULL)
		return 1;
	for (i = 0; i < nallow; i++)
		if (strlen(allow[i]) == n && strncasecmp(allow[i], origin, n) == 0)
			return 1;
	if (origin_hostport(origin, n, &hp, &hpn) != 0 || host == NULL)
		return 0;
	return hpn == hn && strncasecmp(hp, host, hn) == 0;
}
