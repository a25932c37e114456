/*
 * fuzz_wsclient.c - libFuzzer harness for the client side of WebSocket in
 * the CLI (cli/lwsp.c, the pure half of cli/wsclient.c): the server's answer
 * to the upgrade (wsp_response) and the reader of server frames (wsp_rx_*),
 * with common/ws.c beneath. Built and run by `make fuzz` (scripts/fuzz.sh);
 * seeds in tests/fuzz/corpus/wsclient. The relay's side of the same
 * framing is fuzz_ws.
 *
 * The input is what a server sends: when it starts with "HTTP/", an upgrade
 * answer checked against the key dGhlIHNhbXBsZSBub25jZQ== (RFC 6455's
 * example), then frames; otherwise frames only. The reader accepts messages
 * of at most 1024 bytes here (the CLI: WSC_MSG_MAX), so the limit is reached.
 *
 * Checked: the answer's length is 0 (more), -1 or the head's length; a
 * head accepted is a 101 and ends with an empty line, and its prefixes are
 * all "more" (with the status once the status line is in); the events are the same whether the bytes come at
 * once, one by one or in uneven pieces; a text is valid UTF-8 within the
 * limit; an error is 1002, 1003, 1007 or 1009 and then sticks; a close code
 * is 1005 or one a peer may send.
 */
#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"
#include "ws.h"
#include "../../cli/lwsp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define KEY "dGhlIHNhbXBsZSBub25jZQ=="
#define MAX_MSG 1024
#define MAX_EVENTS 4096

/* One event, with a hash of its data, for comparing two readings. */
struct ev {
	int type, code;
	size_t len;
	uint64_t hash;
};

static uint64_t
hash(const char *p, size_t n)
{
	uint64_t h = 14695981039346656037ULL;

	while (n-- > 0)
		h = (h ^ (unsigned char)*p++) * 1099511628211ULL;
	return h;
}

static void
check_event(const struct wsp_event *e)
{
	switch (e->type) {
	case WSP_TEXT:
		assert(e->len <= MAX_MSG && e->data[e->len] == '\0');
		assert(text_utf8_len(e->data, e->len) >= 0);
		break;
	case WSP_PING:
	case WSP_PONG:
		assert(e->len <= WS_MAX_CONTROL);
		break;
	case WSP_CLOSE:
		assert(e->code == 1005 || ws_close_code_valid((unsigned)e->code));
		assert(e->len <= WS_MAX_CONTROL - 2);
		assert(text_utf8_len(e->data, e->len) >= 0);
		break;
	case WSP_ERROR:
		assert(e->code == 1002 || e->code == 1003 || e->code == 1007 || e->code == 1009);
		break;
	default:
		abort();
	}
}

/* Reads p (n bytes) in pieces of the sizes step() gives; fills evs. Returns
 * how many events came. */
static size_t
read_all(const uint8_t *p, size_t n, size_t (*step)(size_t at), struct ev *evs)
{
	struct wsp_rx rx;
	struct wsp_event e;
	size_t at = 0, k, count = 0;
	int failed = 0;

	wsp_rx_init(&rx, MAX_MSG);
	while (at < n && count < MAX_EVENTS) {
		k = step(at);
		if (k > n - at)
			k = n - at;
		assert(wsp_rx_push(&rx, p + at, k) == 0);
		at += k;
		while (count < MAX_EVENTS && wsp_rx_next(&rx, &e) != WSP_NONE) {
			check_event(&e);
			if (failed) {
				/* an error sticks */
				assert(e.type == WSP_ERROR && e.code == evs[count - 1].code);
				break;
			}
			evs[count].type = e.type;
			evs[count].code = e.code;
			evs[count].len = e.len;
			evs[count].hash = hash(e.data, e.len);
			count++;
			failed = e.type == WSP_ERROR;
		}
		if (failed)
			break;
	}
	wsp_rx_free(&rx);
	return count;
}

static size_t
step_all(size_t at)
{
	(void)at;
	return SIZE_MAX;
}

static size_t
step_one(size_t at)
{
	(void)at;
	return 1;
}

static size_t
step_uneven(size_t at)
{
	return 1 + (at * 7 + 3) % 13;
}

static void
check_frames(const uint8_t *p, size_t n)
{
	static struct ev a[MAX_EVENTS], b[MAX_EVENTS], c[MAX_EVENTS];
	size_t na = read_all(p, n, step_all, a);
	size_t nb = read_all(p, n, step_one, b);
	size_t nc = read_all(p, n, step_uneven, c);

	assert(na == nb && na == nc);
	assert(memcmp(a, b, na * sizeof(a[0])) == 0 && memcmp(a, c, na * sizeof(a[0])) == 0);
}

/* The upgrade answer, then what follows it. */
static void
check_response(const uint8_t *p, size_t n)
{
	int status, st2;
	long len = wsp_response((const char *)p, n, KEY, &status), l2;
	size_t k;

	assert(len == -1 || len == 0 || (len > 0 && (size_t)len <= n));
	assert(status == 0 || (status >= 100 && status <= 599));
	if (len > 0) {
		assert(status == 101);
		assert(memcmp(p + len - 4, "\r\n\r\n", 4) == 0);
		/* no prefix shorter than the head is complete */
		for (k = 0; k < (size_t)len; k += 1 + k / 8) {
			char *cut = malloc(k ? k : 1);

			memcpy(cut, p, k);
			l2 = wsp_response(cut, k, KEY, &st2);
			assert(l2 == 0 && (k < 12 || st2 == 101));
			free(cut);
		}
		check_frames(p + len, n - (size_t)len);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *p = malloc(size ? size : 1);

	assert(p != NULL);
	if (size > 0)
		memcpy(p, data, size);
	if (size >= 5 && memcmp(p, "HTTP/", 5) == 0)
		check_response(p, size);
	else
		check_frames(p, size);
	free(p);
	return 0;
}
