/*
 * wsclient.h - a WebSocket client on a libuv loop (RFC 6455, ws:// only):
 * TCP through getaddrinfo, the HTTP/1.1 upgrade with a random key checked
 * against Sec-WebSocket-Accept, masked frames out, server frames in
 * (fragmented messages reassembled, pings answered, close handshake).
 * Used by `tutti listen` (listen.c) and `tutti tail` (tail.c).
 */
#ifndef TUTTI_WSCLIENT_H
#define TUTTI_WSCLIENT_H

#include <stddef.h>
#include <uv.h>

/* The largest text message accepted from the server; a longer one closes
 * the connection with 1009. */
#define WSC_MSG_MAX (1024 * 1024)

struct wsc;

struct wsc_hooks {
	/* The handshake succeeded; wsc_send_text may be called from now on. */
	void (*on_open)(struct wsc *w, void *arg);
	/* One whole text message; msg (NUL-terminated after len bytes) is
	 * valid during the call only. */
	void (*on_text)(struct wsc *w, const char *msg, size_t len, void *arg);
	/* The connection ended: the server's close code (1005 when it sent
	 * none), or 1006 when the connection was lost or never opened. Called
	 * exactly once per wsc_open that returned non-NULL; w is freed after
	 * this returns. reason is never NULL. */
	void (*on_close)(struct wsc *w, int code, const char *reason, void *arg);
};

/*
 * Starts connecting to base_url ("http://host[:port]", no path; "ws://" is
 * accepted too) and asks for path_and_query ("/ws?room=..&token=..").
 * Returns the connection, or NULL on a bad URL or no memory (no hook is
 * called then). Every later failure (DNS, refused, bad handshake) is
 * reported through on_close with 1006. h is copied; arg is passed back.
 */
struct wsc *wsc_open(uv_loop_t *loop, const char *base_url, const char *path_and_query,
    const struct wsc_hooks *h, void *arg);

/* Queues one text message (n bytes) as a masked frame. Returns 0, or -1
 * when the connection is not open (before on_open, or closing). */
int wsc_send_text(struct wsc *w, const char *s, size_t n);

/* Starts the close handshake with code (1000 normally) and ends the
 * connection after the server's answer or a 2 s timeout; on_close follows
 * (with 1006 when the connection was not open yet). Safe to call twice,
 * and from inside a hook. */
void wsc_close(struct wsc *w, int code);

#endif
