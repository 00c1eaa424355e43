/* sender.h - outgoing webhook POSTs with libcurl's multi-socket API on a
 * libevent loop. One attempt per call: the caller decides about retries. */
#ifndef LIAISON_SENDER_H
#define LIAISON_SENDER_H

#include "macros.h"

#include <event2/event.h>
#include <stddef.h>
#include <stdint.h>

#define SENDER_KEEP_BYTES (64 * 1024) /* of an answer, for the delivery log */

struct sender;

struct sender_options {
	int64_t timeout_ms;
	int allow_private;
	const char *ca_file; /* NULL or "": the system's CAs */
};

struct send_request {
	const char *url;
	const char *body;
	size_t body_len;
	const char *msg_id;
	int64_t timestamp;
	const char *signature; /* "v1,... v1,..." */
};

struct send_result {
	long status; /* 0: no HTTP answer */
	int64_t duration_ms;
	int64_t retry_after_ms; /* from Retry-After on 429/503, or -1 */
	char error[256];        /* "" when an HTTP answer came */
	char *response;         /* the answer's first SENDER_KEEP_BYTES, NUL-terminated */
	size_t response_len;
};

/* Called once per submitted request, on the loop; res is valid during
 * the call only. */
typedef void (*send_done_cb)(const struct send_result *res, void *arg);

struct sender *sender_new(struct event_base *base, const struct sender_options *opt) WUR;
/* Everything in flight is cancelled without callbacks. */
void sender_free(struct sender *s);
/* Starts one POST; the request's strings are copied. */
int sender_post(struct sender *s, const struct send_request *rq, send_done_cb cb, void *arg) WUR;
/* A Retry-After value (seconds or an HTTP date) in ms from now, capped at
 * a day; -1 when it is neither. */
int64_t sender_retry_after_ms(const char *value);

#endif
