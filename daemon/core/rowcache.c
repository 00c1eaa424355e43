/* rowcache.c - see rowcache.h. A set-associative table: a key's hash
 * picks a set of ROWCACHE_WAYS entries, and a new row takes an empty way
 * or the one read longest ago. Each entry is one allocation: the key, the
 * strings and the body after the header. Past the bytes, the rows out of
 * date anywhere go first (a sweep of the table, only then), then whole
 * sets from a hand that goes round the table, as a clock does. Used by
 * one thread only. */
#include "core/rowcache.h"

#include "clock.h"
#include "core/changes.h"
#include "core/metrics.h"
#include "strhash.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct entry {
	struct row row;
	unsigned generation;
	int64_t read_ms;
	size_t size;
	char key[]; /* then the row's strings and body */
};

struct rowcache {
	struct entry *ways[ROWCACHE_SETS][ROWCACHE_WAYS];
	size_t bytes;
	int64_t ttl_ms;
	size_t hand; /* the next set to empty when the bytes run out */
};

struct rowcache *rowcache_new(int64_t ttl_ms)
{
	struct rowcache *c = calloc(1, sizeof(struct rowcache));
	if (c)
		c->ttl_ms = ttl_ms;
	return c;
}

static void drop(struct rowcache *c, struct entry **slot)
{
	c->bytes -= (*slot)->size;
	free(*slot);
	*slot = NULL;
}

void rowcache_free(struct rowcache *c)
{
	if (!c)
		return;
	for (size_t s = 0; s < ROWCACHE_SETS; s++)
		for (size_t w = 0; w < ROWCACHE_WAYS; w++)
			if (c->ways[s][w])
				drop(c, &c->ways[s][w]);
	free(c);
}

static struct entry **set_of(struct rowcache *c, const char *key)
{
	return c->ways[str_hash(key) & (ROWCACHE_SETS - 1)];
}

/* Whether a row read under generation `from` may still be served at `to`. */
static int fresh(const struct row *row, unsigned from, unsigned to)
{
	return from == to || !changes_reach(from, to, row->org, row->slug);
}

const struct row *rowcache_get(struct rowcache *c, const char *key, unsigned generation)
{
	struct entry **set = set_of(c, key);
	for (size_t w = 0; w < ROWCACHE_WAYS; w++) {
		struct entry *e = set[w];
		if (!e || strcmp(e->key, key) != 0)
			continue;
		if (now_monotonic_ms() - e->read_ms < c->ttl_ms &&
		    fresh(&e->row, e->generation, generation)) {
			e->generation = generation; /* the steps checked need no second look */
			metrics_inc(M_ROW_CACHE_HIT);
			return &e->row;
		}
		drop(c, &set[w]);
		break;
	}
	metrics_inc(M_ROW_CACHE_MISS);
	return NULL;
}

/* Copies s after *at; returns the copy. */
static const char *put_str(char **at, const char *s, size_t n)
{
	char *copy = *at;
	memcpy(copy, s, n);
	copy[n] = '\0';
	*at += n + 1;
	return copy;
}

/* Drops every row past its time. */
static void sweep(struct rowcache *c)
{
	int64_t now = now_monotonic_ms();
	for (size_t s = 0; s < ROWCACHE_SETS; s++)
		for (size_t w = 0; w < ROWCACHE_WAYS; w++)
			if (c->ways[s][w] && now - c->ways[s][w]->read_ms >= c->ttl_ms)
				drop(c, &c->ways[s][w]);
}

void rowcache_put(struct rowcache *c, const char *key, unsigned generation, unsigned now,
                  int64_t sent_ms, const struct row *row)
{
	if (c->ttl_ms <= 0 || row->len > ROWCACHE_ROW_MAX || !fresh(row, generation, now))
		return;
	size_t nkey = strlen(key), ntag = strlen(row->tag), norg = strlen(row->org),
	       nslug = strlen(row->slug), npart = strlen(row->partners);
	size_t size = sizeof(struct entry) + nkey + ntag + norg + nslug + npart + row->len + 6;
	if (size > ROWCACHE_BYTES)
		return;
	struct entry **set = set_of(c, key);
	struct entry **slot = &set[0];
	for (size_t w = 0; w < ROWCACHE_WAYS; w++) {
		if (set[w] && !strcmp(set[w]->key, key)) {
			slot = &set[w];
			break;
		}
		if (!set[w] || (*slot && set[w]->read_ms < (*slot)->read_ms))
			slot = &set[w];
	}
	if (*slot)
		drop(c, slot);
	if (c->bytes + size > ROWCACHE_BYTES)
		sweep(c);
	/* Ends: an empty table has room for it. */
	while (c->bytes + size > ROWCACHE_BYTES) {
		struct entry **victims = c->ways[c->hand++ & (ROWCACHE_SETS - 1)];
		for (size_t w = 0; w < ROWCACHE_WAYS; w++)
			if (victims[w])
				drop(c, &victims[w]);
	}
	struct entry *e = malloc(size);
	if (!e)
		return;
	char *at = e->key;
	put_str(&at, key, nkey);
	e->row.tag = put_str(&at, row->tag, ntag);
	e->row.org = put_str(&at, row->org, norg);
	e->row.slug = put_str(&at, row->slug, nslug);
	e->row.partners = put_str(&at, row->partners, npart);
	e->row.body = put_str(&at, row->body, row->len);
	e->row.len = row->len;
	e->row.network = row->network;
	e->generation = now;
	e->read_ms = sent_ms;
	e->size = size;
	c->bytes += size;
	*slot = e;
}

int row_visible(const struct row *row, const char *org, const char *slug)
{
	return row->network || (row->org[0] && !strcmp(row->org, org)) ||
	       changes_names(row->partners, slug);
}
