/*
 * tracks.c - placeholder until the library endpoints land (issue 3).
 */
#include "api.h"

void
api_tracks_list(struct api_req *r)
{
	api_problem(r, 501, "Not implemented", NULL);
}

void
api_tracks_get(struct api_req *r)
{
	api_problem(r, 501, "Not implemented", NULL);
}
