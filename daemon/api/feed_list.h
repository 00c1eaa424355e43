/* feed_list.h - a feed's list (which events it shows, in order, with their
 * stamps) as its last rendering read it, kept with the rendering
 * (feed_cache.h), and the next rendering's list made from it and what
 * changed since (a splice), where reading the whole list again was most
 * of what a mixed load cost PostgreSQL.
 *
 * A list keeps the snapshot it was read under. A splice reads again only
 * the families (a series with its overrides, or a single event) that
 * transactions unseen by that snapshot wrote (sql/023), those whose
 * threshold comes (the time from which they may leave the window), and,
 * for a window that reaches ahead, those it reached since; it puts them in
 * place of what the list held of those families. A list is read in full
 * again when anything else may have changed it: the feed's settings, an
 * org's name, a removed event, too many families at once, or after
 * FEED_TTL_MS (feed_cache.h). Immutable once its rendering has kept it;
 * counted, shared by the threads. */
#ifndef LIAISON_FEED_LIST_H
#define LIAISON_FEED_LIST_H

#include "core/vevents.h"
#include "macros.h"

#include <libpq-fe.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct feed_list {
	int n;
	char (*ids)[37];
	char (*stamps)[VEVENT_STAMP_LEN];
	/* Each row's VEVENT (a reference) when its rendering looked it up,
	 * else NULL. Only the rows a splice read again are looked up (looking
	 * up every row was a third of the daemon's CPU under a mixed load):
	 * a row it copied takes its bytes from the base's body (at) or, in a
	 * list read back, which has no body, from the base's text. The
	 * rendering that made the list fills them in before anyone else sees
	 * it; most are the VEVENT cache's too. */
	struct vtext **texts;
	/* What assembling needs of each row besides its bytes, kept apart so
	 * that a splice copies them without touching the texts (a reference
	 * taken and dropped per row was a tenth of the daemon's CPU under a
	 * mixed load): its text's digest, and its zone (an index in zones,
	 * FEED_ZONE_NONE for a text without one, FEED_NO_TEXT for a row
	 * without a text). Set for the rows a splice copied, and for the
	 * others by the rendering that made the list. zones holds the names
	 * of the zones the rows use, sorted, once the list is assembled. */
	unsigned char (*digests)[DIGEST_BYTES];
	int *zone;
	char (*zones)[VTEXT_ZONE_LEN];
	int nzones, capzones;
	/* Made by a splice: the row of the base each row was copied from
	 * (its text's bytes with it), or -1 for a row read again; NULL for a
	 * full read, and once the list's rendering has assembled its body. */
	int *from;
	/* Set by the rendering that made the list, before anyone else sees
	 * it: where each row's text begins in the body it assembled (n + 1 of
	 * them: the last is where the texts end), so that the next rendering
	 * copies the runs of rows a splice kept from that body in one go
	 * rather than text by text from all over the heap; and the calendar's
	 * head with what it was made for (the feed's name and its zones,
	 * head_for), rather than have libical make the same VTIMEZONEs again.
	 * NULL when not set. */
	size_t *at;
	char *head, *head_for;
	/* private to feed_list.c */
	char (*roots)[37];
	uint32_t *hid, *hroot; /* id_hash of ids and roots: a splice asks them of every row */
	int64_t *starts;       /* Unix microseconds: the rows are in (start, id) order */
	int64_t *thr;          /* Unix seconds, or INT64_MAX: never */
	char *snapshot;        /* pg_snapshot text */
	char *revs;            /* what no change_xid tells of (SQL_FEED_ROWS) */
	char *ahead;           /* how far the window reached ahead, or NULL */
	char *key;             /* the feed's settings it was read for */
	int64_t full_ms;       /* when the whole list was last read (monotonic) */
	int past;              /* the window's days back */
	atomic_int refs;
};

#define FEED_ZONE_NONE (-1)
#define FEED_NO_TEXT   (-2)

/* The index in l->zones of zone (added when it is not among the first
 * FEED_ZONES_SEEN: a feed uses a handful of zones over many events, and
 * repeats past them are removed by feed_list_zones_settle); FEED_ZONE_NONE
 * for ""; -3 when out of memory. */
#define FEED_ZONES_SEEN 32
int feed_list_zone(struct feed_list *l, const char *zone) WUR;
/* Keeps in l->zones only the names its rows use, sorted and each once
 * (the rows' indexes follow); 0, or -1 when out of memory. */
int feed_list_zones_settle(struct feed_list *l) WUR;

/* The list of a full read (SQL_FEED_ROWS's rows, in any order) for
 * settings key, of a window past_days back; NULL when out of memory or
 * the rows are not such a list. */
struct feed_list *feed_list_read(const PGresult *res, const char *key, int past_days) WUR;

/* Whether base may be spliced for a feed of settings key now: read whole
 * less than ttl_ms ago, and too short for m's limit to have cut it. */
int feed_list_fresh(const struct feed_list *base, const char *key, int64_t ttl_ms);
/* The roots whose thresholds come within two hours of now, as a uuid
 * array literal (malloc'd), for struct feed_splice's near; NULL when out
 * of memory. */
char *feed_list_near(const struct feed_list *base) WUR;

/* base with a splice's rows (SQL_FEED_ROWS's, from
 * feed_select_list_sql with a splice) in place of the families it read
 * again. NULL when the feed must be read in full instead (see above; also
 * when out of memory). */
struct feed_list *feed_list_splice(const struct feed_list *base, const PGresult *res) WUR;

/* A list kept across a restart (api/feed_state.c): written to f with
 * its rows' zones; its texts are the body it was assembled into, which the
 * caller saves beside it. feed_list_save returns -1 for a list not yet
 * assembled, or when f fails. feed_list_load reads one back from len
 * bytes of data (the bytes it took in *used), its texts cut from body
 * (with their digests, saved beside them); NULL when the bytes are not such a list, it was read
 * whole ttl_ms ago or more (or the clock went back), or memory runs out.
 * Its head is made anew by its first rendering (the zones' data may have
 * changed). */
int feed_list_save(const struct feed_list *l, FILE *f) WUR;
/* A body for l's texts where l->at puts them (*len bytes; what comes
 * before the first, the head, is zeros), for a list read back and saved
 * again; NULL when l has no at or memory runs out. */
char *feed_list_body(const struct feed_list *l, size_t *len) WUR;
struct feed_list *feed_list_load(const void *data, size_t len, size_t *used, const char *body,
                                 size_t body_len, int64_t ttl_ms) WUR;

/* What a list holds, in bytes, for the cache's limit. */
size_t feed_list_bytes(const struct feed_list *l);
struct feed_list *feed_list_ref(struct feed_list *l);
void feed_list_unref(struct feed_list *l);

#endif
