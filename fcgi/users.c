/* users.c - placeholder */
#include "api.h"
void api_users_leave(struct api_req *r) { api_problem(r, 501, "Not implemented", NULL); }
void api_users_admin(struct api_req *r) { api_problem(r, 501, "Not implemented", NULL); }
void api_users_list(struct api_req *r) { api_problem(r, 501, "Not implemented", NULL); }
void api_users_remove(struct api_req *r) { api_problem(r, 501, "Not implemented", NULL); }
