/*
 * chat.c - placeholder until chat lands (issue 3).
 */
#include "api.h"

void api_chat_list(struct api_req *r) { api_problem(r, 501, "Not implemented", NULL); }
void api_chat_post(struct api_req *r) { api_problem(r, 501, "Not implemented", NULL); }
json_t *api_chat_recent(sqlite3 *db, int64_t room_id, int n) { (void)db; (void)room_id; (void)n; return json_array(); }
