/*
 * requests.c - placeholder until song requests land (issue 3).
 */
#include "api.h"

void api_requests_list(struct api_req *r) { api_problem(r, 501, "Not implemented", NULL); }
void api_requests_create(struct api_req *r) { api_problem(r, 501, "Not implemented", NULL); }
void api_requests_resolve(struct api_req *r) { api_problem(r, 501, "Not implemented", NULL); }
