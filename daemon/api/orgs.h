/* orgs.h - /v1/orgs and /v1/keys: organisations and their API keys. */
#ifndef LIAISON_ORGS_H
#define LIAISON_ORGS_H

struct req;

extern const char orgs_get_sql[];

void orgs_list(struct req *r);
void orgs_get(struct req *r);
void orgs_create(struct req *r);
void orgs_create_first_key(struct req *r);
void keys_list(struct req *r);
void keys_create(struct req *r);
void keys_delete(struct req *r);

#endif
