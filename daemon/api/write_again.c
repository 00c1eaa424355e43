/* write_again.c - see write_again.h. */
#include "api/write_again.h"

#include "clock.h"
#include "http/http.h"

#include <stdint.h>

int write_again(struct req *r)
{
	/* Not for a client that has gone: its next write may be on its way,
	 * which this one, late, would undo. */
	if (req_if_match_names_version(r) || r->reruns >= WRITE_TRIES || !r->conn)
		return 0;
	/* Up to 2, 4, ... 64 ms: with eight writers on one event, one in
	 * twenty lost twenty times in a row when all tried again at once. */
	int64_t span_us = (int64_t)1000 << (r->reruns < 5 ? r->reruns + 1 : 6);
	return req_rerun(r, now_monotonic_us() % span_us) == 0;
}

int write_lost_status(const struct req *r)
{
	return req_if_match_names_version(r) ? 412 : 409;
}

const char *write_lost_detail(const struct req *r)
{
	return req_if_match_names_version(r)
	           ? "it has changed since the version given in If-Match; read it again"
	           : "it kept changing while this write was made; try again";
}
