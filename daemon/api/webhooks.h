/* webhooks.h - /v1/webhooks (endpoints, secrets, tests, delivery log,
 * recovery) and /v1/deliveries/{id}/retry. */
#ifndef LIAISON_WEBHOOKS_H
#define LIAISON_WEBHOOKS_H

struct req;

void webhooks_list(struct req *r);
void webhooks_create(struct req *r);
void webhooks_get(struct req *r);
void webhooks_patch(struct req *r);
void webhooks_delete(struct req *r);
void webhooks_rotate(struct req *r);
void webhooks_test(struct req *r);
void webhooks_recover(struct req *r);
void webhooks_deliveries(struct req *r);
void deliveries_retry(struct req *r);

#endif
