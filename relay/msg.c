/*
 * msg.c - decoding client messages and encoding the pong, with jansson.
 * A ping is answered at once (relay/conn.c), so this stays small: one
 * parse, four lookups, one pack.
 */
#include "msg.h"

#include <stdlib.h>
#include <string.h>

int
msg_parse(const char *s, size_t n, struct msg_ping *ping)
{
	json_t *doc, *type, *id, *t0, *rtt;
	int rc = 0;

	ping->t0 = NULL;
	ping->rtt_us = -1;
	doc = json_loadb(s, n, JSON_REJECT_DUPLICATES, NULL);
	if (doc == NULL || !json_is_object(doc)) {
		json_decref(doc);
		return -1;
	}
	type = json_object_get(doc, "type");
	id = json_object_get(doc, "id");
	t0 = json_object_get(doc, "t0");
	if (json_is_string(type) && strcmp(json_string_value(type), "ping") == 0 &&
	    json_is_integer(id) && json_is_number(t0)) {
		ping->id = json_integer_value(id);
		ping->t0 = json_incref(t0);
		rtt = json_object_get(doc, "rtt_us");
		if (json_is_integer(rtt) && json_integer_value(rtt) >= 0 &&
		    json_integer_value(rtt) <= MSG_RTT_MAX)
			ping->rtt_us = json_integer_value(rtt);
		rc = 1;
	}
	json_decref(doc);
	return rc;
}

void
msg_ping_clear(struct msg_ping *ping)
{
	json_decref(ping->t0);
	ping->t0 = NULL;
}

char *
msg_pong(const struct msg_ping *ping, int64_t t1_us, int64_t t2_us, size_t *len)
{
	json_t *pong;
	char *text;

	pong = json_pack("{s:s, s:I, s:O, s:I, s:I}", "type", "pong", "id", ping->id,
	    "t0", ping->t0, "t1_us", (json_int_t)t1_us, "t2_us", (json_int_t)t2_us);
	if (pong == NULL)
		return NULL;
	text = json_dumps(pong, JSON_COMPACT);
	json_decref(pong);
	if (text != NULL)
		*len = strlen(text);
	return text;
}
