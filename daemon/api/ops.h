/* ops.h - operational endpoints: liveness, readiness, metrics, the API's
 * description, and what crawlers may fetch. */
#ifndef LIAISON_OPS_H
#define LIAISON_OPS_H

struct req;

void ops_healthz(struct req *r);
void ops_readyz(struct req *r);
void ops_metrics(struct req *r);
void ops_openapi(struct req *r);
void ops_robots(struct req *r);

#endif
