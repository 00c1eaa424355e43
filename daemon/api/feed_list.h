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
	/* Each row's VEVENT (a reference), or NULL until its rendering finds
	 * it: a row a splice keeps keeps its text, and only the rows read
	 * again are looked up (looking up every row was a third of the
	 * daemon's CPU under a mixed load). The rendering that made the list
	 * fills them in before anyone else sees it. The texts are the kept
	 * body's bytes again, and most are the VEVENT cache's too: at worst a
	 * list holds as much again as its rendering's body. */
	struct vtext **texts;
	/* Made by a splice: the row of the base each row was copied from
	 * (with its text), or -1 for a row read again; NULL for a full read,
	 * and once the list's rendering has assembled its body. */
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
