/* row_read.c - see row_read.h. */
#include "api/row_read.h"

#include "clock.h"
#include "http/context.h"
#include "http/http.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

void row_read(struct req *r, const char *key, void (*hit)(struct req *r, const struct row *row),
              const char *sql, int n, const char *const *params, db_result_cb cb)
{
	unsigned generation = atomic_load(r->cx->data_generation);
	const struct row *row = rowcache_get(r->cx->rows, key, generation);
	if (row) {
		hit(r, row);
		return;
	}
	struct rowwait *w = malloc(sizeof(*w));
	if (!w) {
		reply_problem(r, 500, "out of memory");
		return;
	}
	w->r = r;
	w->generation = generation;
	w->sent_ms = now_monotonic_ms();
	if (snprintf(w->key, sizeof(w->key), "%s", key) >= (int)sizeof(w->key))
		w->key[0] = '\0'; /* not kept */
	if (dbpool_query(r->cx->db, sql, n, params, cb, w) != 0) {
		free(w);
		reply_unavailable(r);
	}
}

void row_read_done(struct rowwait *w, const struct row *row)
{
	if (row && w->key[0])
		rowcache_put(w->r->cx->rows, w->key, w->generation,
		             atomic_load(w->r->cx->data_generation), w->sent_ms, row);
	free(w);
}
