/* vevents.c - the shared cache of rendered VEVENTs: an open-addressing
 * table keyed by event id and alarms, under one mutex (a lookup is short
 * beside the rendering it spares, and a feed makes one per event). A
 * lookup hands out a reference to the text, not a copy: on a daemon that
 * has just started every fresh page of a copy would fault in. Its size is
 * bounded: when full it is emptied and refills from the feeds that are
 * still asked for. Below: the same texts in the database. */
#include "core/vevents.h"

#include "core/event_json.h"
#include "ics_render.h"
#include "log.h"
#include "tz.h"
#include "strhash.h"

#include <event2/buffer.h>

#include <pthread.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS   (1u << 17) /* room for 98,304 (event, alarms) pairs */
#define MAX_USE (SLOTS / 4 * 3)

struct vevent {
	char key[VEVENT_KEY_LEN + 2]; /* id (maybe "@lang") + alarms flag */
	char stamp[VEVENT_STAMP_LEN];
	struct vtext *v;
};

struct vtext *vtext_new(const char *text, size_t len, const char *zone)
{
	struct vtext *v = malloc(sizeof(*v) + len + 1);
	if (!v)
		return NULL;
	atomic_init(&v->refs, 1);
	v->len = len;
	/* As snprintf would, without its parsing: once per text of a feed. */
	size_t z = zone ? strnlen(zone, sizeof(v->zone) - 1) : 0;
	memcpy(v->zone, zone ? zone : "", z);
	v->zone[z] = '\0';
	memcpy(v->text, text, len);
	v->text[len] = '\0';
	return v;
}

void vtext_unref(struct vtext *v)
{
	if (v && atomic_fetch_sub(&v->refs, 1) == 1)
		free(v);
}

/* A series' cancelled occurrences join its exdates, in order, once each:
 * every client honours an EXDATE (a cancelled RECURRENCE-ID instance is
 * shown as an event by some, struck through by others), and it stays with
 * the master for as long as the series is in the feed. */
static void add_cancelled(json_t *ev, const char *cancelled)
{
	json_t *more = json_loads(cancelled, 0, NULL);
	json_t *ex = json_object_get(ev, "exdates");
	if (!json_is_array(more) || !json_is_array(ex)) {
		json_decref(more);
		return;
	}
	size_t i;
	json_t *v;
	json_array_foreach(more, i, v)
	{
		const char *s = json_string_value(v);
		size_t at = 0;
		while (at < json_array_size(ex) &&
		       strcmp(json_string_value(json_array_get(ex, at)), s) < 0)
			at++;
		if (at == json_array_size(ex) ||
		    strcmp(json_string_value(json_array_get(ex, at)), s))
			json_array_insert(ex, at, v);
	}
	json_decref(more);
}

/* The JSON array of column col of row k, or an empty one. */
static json_t *json_column(const PGresult *res, int k, int col)
{
	json_t *v = PQgetisnull(res, k, col) ? NULL : json_loads(PQgetvalue(res, k, col), 0, NULL);
	if (json_is_array(v))
		return v;
	json_decref(v);
	return json_array();
}

/* A row as the event the renderer takes: the API's representation (built
 * from plain columns, which costs the database far less than JSON), with
 * the parent's UID, the agreement, the names of the orgs it names (owner,
 * partners, parties), and for a series its cancelled occurrences as
 * EXDATEs. What changes the VEVENT from elsewhere moves its DTSTAMP too,
 * which calendars compare to notice a change: an override cancelled, the
 * agreement changed (these move SEQUENCE as well), an org it names
 * renamed (not SEQUENCE: renames are not counted per event, and a count
 * over the orgs it names would go back when a partner is taken off). */
static json_t *row_event(const PGresult *res, int k)
{
	json_t *ev = event_json_build(res, k, VEVENT_COLS);
	if (!ev)
		return NULL;
	if (!PQgetisnull(res, k, 2))
		json_object_set_new(ev, "parent_uid", json_string(PQgetvalue(res, k, 2)));
	json_object_set_new(ev, "org_name", json_string(PQgetvalue(res, k, VEVENT_ORG_NAME)));
	json_object_set_new(ev, "partner_names", json_column(res, k, VEVENT_PARTNER_NAMES));
	if (!PQgetisnull(res, k, 3)) {
		json_t *ag =
		    json_pack("{s:s, s:s, s:o, s:o, s:s?, s:s?}", "title", PQgetvalue(res, k, 3),
		              "stage", PQgetvalue(res, k, 4), "parties", json_column(res, k, 5),
		              "party_names", json_column(res, k, VEVENT_PARTY_NAMES), "signed_on",
		              PQgetisnull(res, k, 6) ? NULL : PQgetvalue(res, k, 6), "expires_on",
		              PQgetisnull(res, k, 7) ? NULL : PQgetvalue(res, k, 7));
		if (ag)
			json_object_set_new(ev, "agreement", ag);
	}
	long long more = strtoll(PQgetvalue(res, k, VEVENT_SERIES_SEQUENCE), NULL, 10);
	if (more > 0)
		json_object_set_new(
		    ev, "sequence",
		    json_integer(json_integer_value(json_object_get(ev, "sequence")) + more));
	const char *changed = PQgetvalue(res, k, VEVENT_SERIES_CHANGED);
	const char *updated = json_string_value(json_object_get(ev, "updated_at"));
	if (!PQgetisnull(res, k, VEVENT_SERIES_CHANGED) && updated && strcmp(changed, updated) > 0)
		json_object_set_new(ev, "updated_at", json_string(changed));
	if (!PQgetisnull(res, k, VEVENT_CANCELLED))
		add_cancelled(ev, PQgetvalue(res, k, VEVENT_CANCELLED));
	if (!PQgetisnull(res, k, VEVENT_SERIES_ZONE))
		json_object_set_new(ev, "series_timezone",
		                    json_string(PQgetvalue(res, k, VEVENT_SERIES_ZONE)));
	if (!PQgetisnull(res, k, VEVENT_TITLE)) /* in the feed's language */
		json_object_set_new(ev, "title", json_string(PQgetvalue(res, k, VEVENT_TITLE)));
	return ev;
}

struct vtext *vevents_render(const PGresult *res, int k, int alarms)
{
	json_t *ev = row_event(res, k);
	const char *zone = NULL;
	char *text = ev ? ics_render_vevent(ev, alarms, &zone) : NULL;
	struct vtext *v =
	    text ? vtext_new(text, strlen(text), zone && !tz_is_utc(zone) ? zone : NULL) : NULL;
	free(text);
	json_decref(ev);
	return v;
}

static struct vevent **table; /* SLOTS pointers, NULL when empty */
static size_t used;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static void make_key(char key[VEVENT_KEY_LEN + 2], const char *id, int alarms)
{
	size_t n = strlen(id);
	if (n > VEVENT_KEY_LEN)
		n = VEVENT_KEY_LEN;
	memcpy(key, id, n);
	key[n] = alarms ? '+' : '-';
	key[n + 1] = '\0';
}

/* The slot of key, or the empty slot where it would go. Call locked. */
static struct vevent **slot(const char *key)
{
	for (uint32_t i = str_hash(key) & (SLOTS - 1);; i = (i + 1) & (SLOTS - 1))
		if (!table[i] || !strcmp(table[i]->key, key))
			return &table[i];
}

struct vtext *vevents_get(const char *id, const char *stamp, int alarms)
{
	char key[VEVENT_KEY_LEN + 2];
	if (strlen(id) > VEVENT_KEY_LEN)
		return NULL;
	make_key(key, id, alarms);
	struct vtext *v = NULL;
	pthread_mutex_lock(&lock);
	if (table) {
		struct vevent *e = *slot(key);
		if (e && !strcmp(e->stamp, stamp)) {
			v = e->v;
			atomic_fetch_add(&v->refs, 1);
		}
	}
	pthread_mutex_unlock(&lock);
	return v;
}

static void clear_locked(void)
{
	for (size_t i = 0; table && i < SLOTS; i++) {
		if (table[i])
			vtext_unref(table[i]->v);
		free(table[i]);
		table[i] = NULL;
	}
	used = 0;
}

void vevents_put(const char *id, const char *stamp, int alarms, struct vtext *v)
{
	char key[VEVENT_KEY_LEN + 2];
	if (strlen(id) > VEVENT_KEY_LEN || strlen(stamp) >= VEVENT_STAMP_LEN)
		return;
	make_key(key, id, alarms);
	pthread_mutex_lock(&lock);
	if (!table)
		table = calloc(SLOTS, sizeof(*table));
	if (table && used >= MAX_USE)
		clear_locked();
	struct vevent **at = table ? slot(key) : NULL;
	if (at && !*at && (*at = calloc(1, sizeof(**at))))
		used++;
	if (at && *at) {
		struct vevent *e = *at;
		vtext_unref(e->v);
		memcpy(e->key, key, sizeof(key));
		strcpy(e->stamp, stamp);
		atomic_fetch_add(&v->refs, 1);
		e->v = v;
	}
	pthread_mutex_unlock(&lock);
}

void vevents_clear(void)
{
	pthread_mutex_lock(&lock);
	clear_locked();
	free(table);
	table = NULL;
	pthread_mutex_unlock(&lock);
}

/* ---- in the database ------------------------------------------------------ */

static char renderer[ICS_FINGERPRINT_LEN + 1];
static pthread_once_t renderer_once = PTHREAD_ONCE_INIT;

static void renderer_make(void)
{
	if (ics_render_fingerprint(renderer) != 0) {
		renderer[0] = '\0';
		log_warn("cannot fingerprint the renderer: rendered VEVENTs are not stored");
	}
}

const char *vevents_renderer(void)
{
	pthread_once(&renderer_once, renderer_make);
	return renderer[0] ? renderer : NULL;
}

const char vevents_load_sql[] = SQL_VEVENTS_LOAD;

/* Rendered texts on their way to the database, as PostgreSQL array
 * literals (JSON would do, but dumping megabytes of it through jansson
 * holds the loop; this is one pass of memcpy). */
struct vevents_batch {
	int alarms, n, failed;
	struct evbuffer *ids, *stamps, *zones, *bodies;
};

static void batch_free(struct vevents_batch *b)
{
	if (!b)
		return;
	struct evbuffer *bufs[] = {b->ids, b->stamps, b->zones, b->bodies};
	for (size_t i = 0; i < sizeof(bufs) / sizeof(*bufs); i++)
		if (bufs[i])
			evbuffer_free(bufs[i]);
	free(b);
}

static struct vevents_batch *batch_new(int alarms)
{
	struct vevents_batch *b = calloc(1, sizeof(*b));
	if (b && (b->ids = evbuffer_new()) && (b->stamps = evbuffer_new()) &&
	    (b->zones = evbuffer_new()) && (b->bodies = evbuffer_new())) {
		b->alarms = alarms;
		return b;
	}
	batch_free(b);
	return NULL;
}

void vevents_batch_add(struct vevents_batch **bp, const char *id, const char *stamp, int alarms,
                       const char *text, const char *zone)
{
	if (!vevents_renderer())
		return;
	if (!*bp && !(*bp = batch_new(alarms)))
		return;
	struct vevents_batch *b = *bp;
	if (db_array_add(b->ids, id) || db_array_add(b->stamps, stamp) ||
	    db_array_add(b->zones, zone ? zone : "") || db_array_add(b->bodies, text))
		b->failed = 1;
	b->n++;
}

static void on_stored(PGresult *res, void *arg)
{
	(void)arg;
	if (!res || PQresultStatus(res) != PGRES_COMMAND_OK)
		log_warn("storing rendered VEVENTs failed: %s",
		         res ? PQresultErrorMessage(res) : "no connection");
}

void vevents_store(struct dbpool *db, struct vevents_batch *b)
{
	if (!b || b->n == 0 || b->failed) {
		batch_free(b);
		return;
	}
	char *ids = db_array_end(b->ids), *stamps = db_array_end(b->stamps),
	     *zones = db_array_end(b->zones), *bodies = db_array_end(b->bodies);
	const char *p[] = {ids, stamps, zones, bodies, b->alarms ? "t" : "f", vevents_renderer()};
	if (ids && stamps && zones && bodies &&
	    dbpool_query(db, SQL_VEVENTS_STORE, 6, p, on_stored, NULL) != 0)
		log_warn("storing rendered VEVENTs: the database is busy; they are rendered again "
		         "later");
	free(ids);
	free(stamps);
	free(zones);
	free(bodies);
	batch_free(b);
}
