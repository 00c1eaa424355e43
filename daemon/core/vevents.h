/* vevents.h - rendered VEVENTs kept across feeds and threads, and in the
 * database (vevent_texts, 008) across restarts and instances. A feed is
 * assembled from the texts of its events; an event is rendered only when
 * neither keeps its text for its current stamp, so a change to one event
 * costs one render, not one per event of every feed. */
#ifndef LIAISON_VEVENTS_H
#define LIAISON_VEVENTS_H

#include "macros.h"
#include "token.h"

#include "dbpool.h"
#include "core/vevents_sql.h"

#include <stdatomic.h>
#include <stddef.h>

/* A rendered VEVENT and the zone it uses (or ""), shared by the cache and
 * the feeds being assembled: never changed once made, freed with its last
 * reference. A feed's rendering reads refs, len, digest and the zone's
 * first bytes of each of its texts, scattered in the heap: they come
 * first, in one cache line (a miss each, where the zone after the digest
 * made it two). */
#define VTEXT_ZONE_LEN 65
struct vtext {
	atomic_int refs;
	size_t len;
	unsigned char digest[DIGEST_BYTES]; /* of the text: a feed's ETag is made of them */
	char zone[VTEXT_ZONE_LEN];
	char text[];
};
/* A text with one reference (zone may be NULL), of digest when it is known
 * (stored beside the text, sql/033), else hashed here; NULL when out of
 * memory. */
struct vtext *vtext_new(const char *text, size_t len, const char *zone,
                        const unsigned char *digest) WUR;
void vtext_unref(struct vtext *v);
/* v with one more reference (NULL stays NULL). */
struct vtext *vtext_ref(struct vtext *v);

/* The cache keys a text by id and alarms: an event's id, or "id@lang"
 * for its text in a feed of language lang where its title differs there
 * (a stamp that ends in "@", feed_serve.c); a longer id is never kept,
 * nor a stamp of VEVENT_STAMP_LEN or more. */
#define VEVENT_KEY_LEN   72
#define VEVENT_STAMP_LEN 48
/* id's text for stamp and alarms, with a reference for the caller; NULL
 * when it is not kept. Safe from any thread. */
struct vtext *vevents_get(const char *id, const char *stamp, int alarms) WUR;
/* Keeps v (with a reference of its own). Safe from any thread. */
void vevents_put(const char *id, const char *stamp, int alarms, struct vtext *v);
/* The same for ids[at[k]], stamps[at[k]] and texts[at[k]], k < n, under
 * one lock: a feed of thousands puts them at once. */
void vevents_put_at(const char (*ids)[37], const char (*stamps)[VEVENT_STAMP_LEN],
                    struct vtext *const *texts, const int *at, int n, int alarms);
enum {
	VEVENT_SERIES_SEQUENCE = 8,
	VEVENT_SERIES_CHANGED,
	VEVENT_CANCELLED,
	VEVENT_SERIES_ZONE,
	VEVENT_ORG_NAME,
	VEVENT_PARTNER_NAMES,
	VEVENT_PARTY_NAMES,
	VEVENT_TITLE,
	VEVENT_COLS
};
/* Renders row k of a VEVENT_SELECT result; NULL when the row cannot be
 * rendered or memory runs out. */
struct vtext *vevents_render(const PGresult *res, int k, int alarms) WUR;

/* The running renderer's fingerprint (see ics_render_fingerprint), or NULL
 * when it could not be made: then nothing is read from or written to the
 * database. */
const char *vevents_renderer(void);
/* SQL_VEVENTS_LOAD, by the address the pools prepare it under. */
extern const char vevents_load_sql[];
/* Rendered texts for the database: vevents_batch_add keeps one more in
 * *batch (made on first use); vevents_store then writes them all, without
 * waiting, and frees the batch. A write that fails is logged and costs a
 * render later. */
struct vevents_batch;
void vevents_batch_add(struct vevents_batch **batch, const char *id, const char *stamp, int alarms,
                       const struct vtext *v);
void vevents_store(struct dbpool *db, struct vevents_batch *batch);
/* Drops everything (at exit). */
void vevents_clear(void);

#endif
