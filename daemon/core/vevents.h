/* vevents.h - rendered VEVENTs kept across feeds and threads, and in the
 * database (vevent_texts, 008) across restarts and instances. A feed is
 * assembled from the texts of its events; an event is rendered (through
 * libical) only when neither keeps its text for its current stamp, so a
 * change to one event costs one render, not one per event of every feed. */
#ifndef LIAISON_VEVENTS_H
#define LIAISON_VEVENTS_H

#include "macros.h"

#include "dbpool.h"
#include "core/event_sql.h"

#include <stdatomic.h>
#include <stddef.h>

/* A rendered VEVENT and the zone it uses (or ""), shared by the cache and
 * the feeds being assembled: never changed once made, freed with its last
 * reference. */
struct vtext {
	atomic_int refs;
	size_t len;
	char zone[65];
	char text[];
};
/* A text with one reference (zone may be NULL); NULL when out of memory. */
struct vtext *vtext_new(const char *text, size_t len, const char *zone) WUR;
void vtext_unref(struct vtext *v);

/* id's text for stamp and alarms, with a reference for the caller; NULL
 * when it is not kept. Safe from any thread. */
struct vtext *vevents_get(const char *id, const char *stamp, int alarms) WUR;
/* Keeps v (with a reference of its own). Safe from any thread. */
void vevents_put(const char *id, const char *stamp, int alarms, struct vtext *v);
/* What a VEVENT's text depends on besides the event's own version: the
 * cancelled occurrences of a series (its EXDATEs; series_sequence counts
 * their changes, sql/009) and its agreement, shown in the description.
 * Rows are stored under this stamp. */
#define VEVENT_STAMP                                                                               \
	"e.version || '.' || e.series_sequence || '.' || coalesce((SELECT a.version "              \
	"FROM agreements a WHERE a.id = e.agreement_id), 0)"
/* clang-format off */
/* Whether a feed whose window reaches `past` back (an interval) shows e: a
 * cancelled item until 30 days after its last occurrence or its
 * cancellation, whichever is later (an open-ended series: after the
 * cancellation); a cancelled occurrence of a series never as an item of
 * its own, since its master carries it as an EXDATE for good. The bounds
 * are subqueries, computed once: "now() - interval '1 year'" in a filter
 * is worked out again for every row (calendar arithmetic in the session's
 * zone), which cost most of a large feed's scan. */
#define VEVENT_SHOWN(past) \
	"(e.status <> 'cancelled' OR (e.series_id IS NULL AND greatest(e.cancelled_at, " \
	"CASE WHEN e.last_end_utc = 'infinity' THEN e.cancelled_at ELSE e.last_end_utc END) " \
	"> (SELECT now() - interval '30 days'))) " \
	"AND e.last_end_utc > (SELECT now() - " past ")"
/* clang-format on */
/* The events feeds with the default window show (the background renderer's
 * work). */
#define VEVENT_IN_FEEDS VEVENT_SHOWN("interval '365 days'")
/* The rows vevents_render takes: id, stamp, the parent's UID, the
 * agreement, what changed the VEVENT besides the event's own row (the
 * number of changes and the last one's time: its series' cancelled
 * occurrences, its agreement), the series' cancelled occurrences, then
 * EVENT_COLS; a WHERE clause follows. */
/* clang-format off */
#define VEVENT_SELECT \
	"SELECT e.id, " VEVENT_STAMP ", (SELECT p.uid FROM events p WHERE p.id = e.parent_id), " \
	"a.title, a.stage, to_jsonb(a.parties)::text, to_char(a.signed_on, 'YYYY-MM-DD'), " \
	"to_char(a.expires_on, 'YYYY-MM-DD'), e.series_sequence + coalesce(a.version - 1, 0), " \
	EV_UTC("greatest(e.series_changed_at, a.updated_at)") ", " \
	"CASE WHEN e.rrule IS NOT NULL OR cardinality(e.rdates) > 0 THEN (SELECT jsonb_agg(" \
	EV_LOCAL("x.recurrence_id") \
	" ORDER BY x.recurrence_id) FROM events x WHERE x.series_id = e.id " \
	"AND x.status = 'cancelled')::text END, " \
	"(SELECT s.timezone FROM events s WHERE s.id = e.series_id), " \
	EVENT_COLS " FROM events e " \
	"JOIN orgs o ON o.id = e.org_id LEFT JOIN agreements a ON a.id = e.agreement_id "
/* clang-format on */
enum {
	VEVENT_SERIES_SEQUENCE = 8,
	VEVENT_SERIES_CHANGED,
	VEVENT_CANCELLED,
	VEVENT_SERIES_ZONE,
	VEVENT_COLS
};
/* Whether e has a stored text, for alarms (a boolean literal) and renderer
 * $n, that is current. */
#define VEVENT_STORED(alarms, renderer)                                                            \
	"EXISTS (SELECT 1 FROM vevent_texts t WHERE t.event_id = e.id AND t.alarms = " alarms      \
	" AND t.renderer = " renderer " AND t.stamp = " VEVENT_STAMP ")"
/* Renders row k of a VEVENT_SELECT result (through libical); NULL when the
 * row cannot be rendered or memory runs out. */
struct vtext *vevents_render(const PGresult *res, int k, int alarms) WUR;

/* The running renderer's fingerprint (see ics_render_fingerprint), or NULL
 * when it could not be made: then nothing is read from or written to the
 * database. */
const char *vevents_renderer(void);
/* Stored texts of events, for a feed: $1 uuid[], $2 alarms, $3 renderer;
 * rows (id, stamp, body, zone) for those of the events with a text stored
 * by this renderer. A row whose stamp is not the event's current one is
 * out of date: the caller skips it. */
extern const char vevents_load_sql[];
/* Rendered texts for the database: vevents_batch_add keeps one more in
 * *batch (made on first use); vevents_store then writes them all, without
 * waiting, and frees the batch. A write that fails is logged and costs a
 * render later. */
struct vevents_batch;
void vevents_batch_add(struct vevents_batch **batch, const char *id, const char *stamp, int alarms,
                       const char *text, const char *zone);
void vevents_store(struct dbpool *db, struct vevents_batch *batch);
/* Drops everything (at exit). */
void vevents_clear(void);

#endif
