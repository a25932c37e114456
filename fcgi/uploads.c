/*
 * uploads.c - placeholder until tus uploads land (issue 3).
 */
#include "api.h"

void api_uploads_options(struct api_req *r) { api_problem(r, 501, "Not implemented", NULL); }
void api_uploads_create(struct api_req *r) { api_problem(r, 501, "Not implemented", NULL); }
void api_uploads_head(struct api_req *r) { api_problem(r, 501, "Not implemented", NULL); }
void api_uploads_patch(struct api_req *r) { api_problem(r, 501, "Not implemented", NULL); }
void api_uploads_delete(struct api_req *r) { api_problem(r, 501, "Not implemented", NULL); }
