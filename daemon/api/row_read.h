/* row_read.h - a GET of one row by its key through this thread's row
 * cache (core/rowcache.h): answered from it when it holds the row fresh,
 * else read from the primary and kept. GET /v1/events/{id} (event_read.c)
 * and GET /v1/orgs/{slug} (orgs.c). */
#ifndef LIAISON_ROW_READ_H
#define LIAISON_ROW_READ_H

#include "core/rowcache.h"
#include "dbpool.h"
#include "macros.h"

#include <stdint.h>

struct req;

/* What a read's callback gets as its arg. */
struct rowwait {
	struct req *r;
	unsigned generation; /* read before the query was sent */
	int64_t sent_ms;
	char key[96];
};

/* Answers r with hit() when the row under key is kept fresh; else sends
 * sql (a quick statement, on the primary) with cb, its arg a struct
 * rowwait that cb hands to row_read_done. Answers 500 or 503 itself when
 * it cannot send. A key too long is never kept. */
void row_read(struct req *r, const char *key, void (*hit)(struct req *r, const struct row *row),
              const char *sql, int n, const char *const *params, db_result_cb cb);

/* In cb: keeps row (when it may be: rowcache_put) and frees w. */
void row_read_done(struct rowwait *w, const struct row *row);

#endif
