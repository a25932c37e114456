/* metrics.c - placeholder */
#include "api.h"
#include <stdlib.h>
struct api_metrics { int x; };
struct api_metrics *api_metrics_new(void) { return calloc(1, sizeof(struct api_metrics)); }
void api_metrics_free(struct api_metrics *m) { free(m); }
void api_metrics_count(struct api_metrics *m, enum api_route_id route, int status, int64_t d) { (void)m; (void)route; (void)status; (void)d; }
void api_metrics_upload_bytes(struct api_metrics *m, int64_t n) { (void)m; (void)n; }
void api_metrics(struct api_req *r) { api_problem(r, 501, "Not implemented", NULL); }
