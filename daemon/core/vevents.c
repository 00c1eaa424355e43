/* vevents.c - the shared cache of rendered VEVENTs: an open-addressing
 * table keyed by event id and alarms, under one mutex (a lookup is short
 * beside the rendering it spares, and a feed makes one per event). A
 * lookup hands out a reference to the text, not a copy: on a daemon that
 * has just started every fresh page of a copy would fault in. Its size is
 * bounded: when full it is emptied and refills from the feeds that are
 * still asked for. Below: the same texts in the database. */
#include "core/vevents.h"

#include "clock.h"
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

struct vtext *vtext_new(const char *text, size_t len, const char *zone, const unsigned char *digest)
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
	if (digest)
		memcpy(v->digest, digest, DIGEST_BYTES);
	else if (digest_sha256(v->text, len, v->digest) != 0) {
		free(v);
		return NULL;
	}
	return v;
}

struct vtext *vtext_ref(struct vtext *v)
{
	if (v)
		atomic_fetch_add(&v->refs, 1);
	return v;
}

void vtext_unref(struct vtext *v)
{
	if (v && atomic_fetch_sub(&v->refs, 1) == 1)
		free(v);
}

/* A row of VEVENT_SELECT as the event the renderer takes (struct
 * ics_event): what ics_render_vevent would read of the API's
 * representation (event_json_build's object), with the parent's UID, the
 * agreement, the names of the orgs it names (owner, partners, parties),
 * and for a series its cancelled occurrences as EXDATEs; read from the
 * columns without building that object, which cost more than the
 * rendering itself. What changes the VEVENT from elsewhere moves its
 * DTSTAMP too, which calendars compare to notice a change: an override
 * cancelled, the agreement changed (these move SEQUENCE as well), an org
 * it names renamed (not SEQUENCE: renames are not counted per event, and a
 * count over the orgs it names would go back when a partner is taken off).
 * The database's text is UTF-8 (initdb -E UTF8), which the object's
 * strings must be. tests/unit/test_vevents_row.c holds this to the bytes
 * of the object's rendering. */
struct row {
	struct ics_event ev;
	struct ics_agreement ag;
	char start[CIVIL_LEN], end[CIVIL_LEN], rid[CIVIL_LEN], created[21], updated[21];
	void *mem[5];          /* the lists' blocks */
	const char **exdates;  /* with the cancelled occurrences */
	json_t *json[4];       /* cancelled, partner names, parties, party names */
	const char **names[3]; /* their strings */
};

/* Column col of row k as str() reads the object's string: NULL for SQL
 * NULL or "". */
static const char *text_of(const PGresult *res, int k, int col)
{
	const char *v = PQgetisnull(res, k, col) ? NULL : PQgetvalue(res, k, col);
	return v && *v ? v : NULL;
}

/* A wall time, of Unix seconds, as event_json.c writes it. */
static const char *local_of(const PGresult *res, int k, int col, int all_day, char out[CIVIL_LEN])
{
	struct civil c;
	if (PQgetisnull(res, k, col))
		return NULL;
	civil_from_epoch(strtoll(PQgetvalue(res, k, col), NULL, 10), &c);
	civil_format(&c, all_day, out);
	return out;
}

static const char *utc_of(const PGresult *res, int k, int col, char out[21])
{
	if (PQgetisnull(res, k, col))
		return NULL;
	rfc3339_utc(strtoll(PQgetvalue(res, k, col), NULL, 10), out);
	return out;
}

/* PostgreSQL's text form of an array, "{a,"b c",NULL}", as a list (as
 * event_json.c reads it: quoted elements take backslash escapes; unquoted
 * NULL is NULL; locals are Unix seconds written as wall times), in one
 * block *mem to be freed; -1 when out of memory. */
static int list_of(const PGresult *res, int k, int col, int locals, int all_day,
                   struct ics_list *out, void **mem)
{
	*out = (struct ics_list){0, NULL};
	*mem = NULL;
	const char *s = PQgetisnull(res, k, col) ? "" : PQgetvalue(res, k, col);
	if (*s++ != '{' || *s == '}')
		return 0;
	size_t max = 1, len = strlen(s) + 1;
	for (const char *c = s; *c; c++)
		max += *c == ',';
	/* The pointers, then the elements' text, then the wall times. */
	size_t ptrs = max * sizeof(const char *);
	char *block = malloc(ptrs + len + (locals ? max * CIVIL_LEN : 0));
	if (!block)
		return -1;
	const char **v = (const char **)(void *)block;
	char *buf = block + ptrs, *times = buf + len;
	size_t n = 0;
	while (*s && *s != '}' && n < max) {
		char *at = buf;
		int quoted = *s == '"';
		if (quoted) {
			for (s++; *s && *s != '"'; s++) {
				if (*s == '\\' && s[1])
					s++;
				*buf++ = *s;
			}
			if (*s == '"')
				s++;
		} else {
			while (*s && *s != ',' && *s != '}')
				*buf++ = *s++;
		}
		*buf++ = '\0';
		if (!quoted && !strcmp(at, "NULL")) {
			v[n++] = NULL;
		} else if (locals) {
			struct civil c;
			civil_from_epoch(strtoll(at, NULL, 10), &c);
			civil_format(&c, all_day, times + n * CIVIL_LEN);
			v[n] = times + n * CIVIL_LEN;
			n++;
		} else {
			v[n++] = at;
		}
		if (*s == ',')
			s++;
	}
	*out = (struct ics_list){n, v};
	*mem = block;
	return 0;
}

/* The strings of the JSON array in column col (as json_column: none when
 * NULL or not an array), kept in *json and *names. */
static int json_list_of(const PGresult *res, int k, int col, struct ics_list *out, json_t **json,
                        const char ***names)
{
	*out = (struct ics_list){0, NULL};
	*json = PQgetisnull(res, k, col) ? NULL : json_loads(PQgetvalue(res, k, col), 0, NULL);
	size_t n = json_array_size(*json);
	if (!n)
		return 0;
	if (!(*names = malloc(n * sizeof(**names))))
		return -1;
	for (size_t i = 0; i < n; i++)
		(*names)[i] = json_string_value(json_array_get(*json, i));
	*out = (struct ics_list){n, *names};
	return 0;
}

/* A series' cancelled occurrences join its exdates, in order, once each:
 * every client honours an EXDATE (a cancelled RECURRENCE-ID instance is
 * shown as an event by some, struck through by others), and it stays with
 * the master for as long as the series is in the feed. */
static int add_cancelled(struct row *w, const char *cancelled)
{
	json_t *more = w->json[0] = json_loads(cancelled, 0, NULL);
	size_t n = w->ev.exdates.n, m = json_array_size(more);
	if (!json_is_array(more) || !m)
		return 0;
	if (!(w->exdates = malloc((n + m) * sizeof(*w->exdates))))
		return -1;
	if (n) /* none: v may be NULL, which memcpy may not be given */
		memcpy(w->exdates, w->ev.exdates.v, n * sizeof(*w->exdates));
	for (size_t i = 0; i < m; i++) {
		const char *s = json_string_value(json_array_get(more, i));
		size_t at = 0;
		if (!s)
			continue;
		while (at < n && w->exdates[at] && strcmp(w->exdates[at], s) < 0)
			at++;
		if (at == n || !w->exdates[at] || strcmp(w->exdates[at], s)) {
			memmove(w->exdates + at + 1, w->exdates + at,
			        (n - at) * sizeof(*w->exdates));
			w->exdates[at] = s;
			n++;
		}
	}
	w->ev.exdates = (struct ics_list){n, w->exdates};
	return 0;
}

/* Whether two lists are equal as json_equal finds two arrays of strings
 * and nulls. */
static int same_list(const struct ics_list *a, const struct ics_list *b)
{
	if (a->n != b->n)
		return 0;
	for (size_t i = 0; i < a->n; i++)
		if ((!a->v[i]) != (!b->v[i]) || (a->v[i] && strcmp(a->v[i], b->v[i])))
			return 0;
	return 1;
}

static void row_free(struct row *w)
{
	for (size_t i = 0; i < sizeof(w->mem) / sizeof(*w->mem); i++)
		free(w->mem[i]);
	for (size_t i = 0; i < sizeof(w->json) / sizeof(*w->json); i++)
		json_decref(w->json[i]);
	for (size_t i = 0; i < sizeof(w->names) / sizeof(*w->names); i++)
		free(w->names[i]);
	free(w->exdates);
}

static int row_event(const PGresult *res, int k, struct row *w)
{
	const int e = VEVENT_COLS;
	struct ics_event *ev = &w->ev;
	memset(w, 0, sizeof(*w));
	ev->all_day = PQgetvalue(res, k, e + EVENT_C_ALL_DAY)[0] == 't';
	ev->uid = text_of(res, k, e + EVENT_C_UID);
	ev->timezone = text_of(res, k, e + EVENT_C_TIMEZONE);
	ev->start = local_of(res, k, e + EVENT_C_START, ev->all_day, w->start);
	ev->end = local_of(res, k, e + EVENT_C_END, ev->all_day, w->end);
	ev->rrule = text_of(res, k, e + EVENT_C_RRULE);
	ev->series_id = text_of(res, k, e + EVENT_C_SERIES_ID);
	ev->recurrence_id = local_of(res, k, e + EVENT_C_RECURRENCE_ID, ev->all_day, w->rid);
	ev->series_timezone = text_of(res, k, VEVENT_SERIES_ZONE);
	/* In the feed's language when it differs. */
	ev->title = PQgetisnull(res, k, VEVENT_TITLE) ? text_of(res, k, e + EVENT_C_TITLE)
	                                              : text_of(res, k, VEVENT_TITLE);
	ev->description = text_of(res, k, e + EVENT_C_DESCRIPTION);
	ev->location = text_of(res, k, e + EVENT_C_LOCATION);
	ev->url = text_of(res, k, e + EVENT_C_URL);
	ev->parent_uid = text_of(res, k, 2);
	ev->org = text_of(res, k, e + EVENT_C_ORG);
	ev->org_name = text_of(res, k, VEVENT_ORG_NAME);
	ev->status = text_of(res, k, e + EVENT_C_STATUS);
	ev->kind = text_of(res, k, e + EVENT_C_KIND);
	ev->created_at = utc_of(res, k, e + EVENT_C_CREATED_AT, w->created);
	ev->updated_at = utc_of(res, k, e + EVENT_C_UPDATED_AT, w->updated);
	const char *changed = PQgetvalue(res, k, VEVENT_SERIES_CHANGED);
	if (!PQgetisnull(res, k, VEVENT_SERIES_CHANGED) && ev->updated_at &&
	    strcmp(changed, ev->updated_at) > 0)
		ev->updated_at = changed;
	long long more = strtoll(PQgetvalue(res, k, VEVENT_SERIES_SEQUENCE), NULL, 10);
	ev->sequence = (PQgetisnull(res, k, e + EVENT_C_SEQUENCE)
	                    ? 0
	                    : strtoll(PQgetvalue(res, k, e + EVENT_C_SEQUENCE), NULL, 10)) +
	               (more > 0 ? more : 0);
	if (list_of(res, k, e + EVENT_C_EXDATES, 1, ev->all_day, &ev->exdates, &w->mem[0]) ||
	    list_of(res, k, e + EVENT_C_RDATES, 1, ev->all_day, &ev->rdates, &w->mem[1]) ||
	    list_of(res, k, e + EVENT_C_TAGS, 0, 0, &ev->tags, &w->mem[2]) ||
	    list_of(res, k, e + EVENT_C_REMINDERS, 0, 0, &ev->reminders, &w->mem[3]) ||
	    list_of(res, k, e + EVENT_C_PARTNERS, 0, 0, &ev->partners, &w->mem[4]))
		return -1;
	if (ev->partners.n && json_list_of(res, k, VEVENT_PARTNER_NAMES, &ev->partner_names,
	                                   &w->json[1], &w->names[0]))
		return -1;
	if (!PQgetisnull(res, k, 3)) {
		struct ics_agreement *ag = &w->ag;
		ag->title = text_of(res, k, 3);
		ag->stage = text_of(res, k, 4);
		ag->signed_on = text_of(res, k, 6);
		ag->expires_on = text_of(res, k, 7);
		if (json_list_of(res, k, 5, &ag->parties, &w->json[2], &w->names[1]) ||
		    json_list_of(res, k, VEVENT_PARTY_NAMES, &ag->party_names, &w->json[3],
		                 &w->names[2]))
			return -1;
		ag->same_partners = same_list(&ev->partners, &ag->parties);
		ev->agreement = ag;
	}
	if (!PQgetisnull(res, k, VEVENT_CANCELLED) &&
	    add_cancelled(w, PQgetvalue(res, k, VEVENT_CANCELLED)))
		return -1;
	return 0;
}

struct vtext *vevents_render(const PGresult *res, int k, int alarms)
{
	struct row w;
	const char *zone = NULL;
	char *text = row_event(res, k, &w) == 0 ? ics_render_event(&w.ev, alarms, &zone) : NULL;
	struct vtext *v =
	    text ? vtext_new(text, strlen(text), zone && !tz_is_utc(zone) ? zone : NULL, NULL)
	         : NULL;
	free(text);
	row_free(&w);
	return v;
}

/* A slot keeps its key's hash beside the entry: a probe that meets
 * another key's entry looks no further than the slot (a feed's rendering
 * looks up every one of its events). */
struct slot {
	uint32_t hash;
	struct vevent *e; /* NULL when empty */
};
static struct slot *table; /* SLOTS of them */
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

/* The slot of key (of hash h), or the empty slot where it would go. Call
 * locked. */
static struct slot *slot(const char *key, uint32_t h)
{
	for (uint32_t i = h & (SLOTS - 1);; i = (i + 1) & (SLOTS - 1))
		if (!table[i].e || (table[i].hash == h && !strcmp(table[i].e->key, key)))
			return &table[i];
}

/* A key's hash: an id's two words and the alarms flag (id_hash), or,
 * for "id@lang", all of it. */
static uint32_t key_hash(const char *key)
{
	size_t n = strnlen(key, 38);
	return n == 37 ? id_hash(key) ^ ((uint32_t)(unsigned char)key[36] * 0x9E3779B9u)
	               : str_hash(key);
}

struct vtext *vevents_get(const char *id, const char *stamp, int alarms)
{
	char key[VEVENT_KEY_LEN + 2];
	if (strlen(id) > VEVENT_KEY_LEN)
		return NULL;
	make_key(key, id, alarms);
	uint32_t h = key_hash(key);
	struct vtext *v = NULL;
	pthread_mutex_lock(&lock);
	if (table) {
		struct vevent *e = slot(key, h)->e;
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
		if (table[i].e)
			vtext_unref(table[i].e->v);
		free(table[i].e);
		table[i].e = NULL;
	}
	used = 0;
}

/* Call locked. */
static void put_locked(const char *id, const char *stamp, int alarms, struct vtext *v)
{
	char key[VEVENT_KEY_LEN + 2];
	if (strlen(id) > VEVENT_KEY_LEN || strlen(stamp) >= VEVENT_STAMP_LEN)
		return;
	make_key(key, id, alarms);
	uint32_t h = key_hash(key);
	if (!table)
		table = calloc(SLOTS, sizeof(*table));
	if (table && used >= MAX_USE)
		clear_locked();
	struct slot *at = table ? slot(key, h) : NULL;
	if (at && !at->e && (at->e = calloc(1, sizeof(*at->e)))) {
		at->hash = h;
		used++;
	}
	if (at && at->e) {
		struct vevent *e = at->e;
		vtext_unref(e->v);
		memcpy(e->key, key, sizeof(key));
		strcpy(e->stamp, stamp);
		atomic_fetch_add(&v->refs, 1);
		e->v = v;
	}
}

void vevents_put(const char *id, const char *stamp, int alarms, struct vtext *v)
{
	pthread_mutex_lock(&lock);
	put_locked(id, stamp, alarms, v);
	pthread_mutex_unlock(&lock);
}

void vevents_put_at(const char (*ids)[37], const char (*stamps)[VEVENT_STAMP_LEN],
                    struct vtext *const *texts, const int *at, int n, int alarms)
{
	pthread_mutex_lock(&lock);
	for (int k = 0; k < n; k++)
		put_locked(ids[at[k]], stamps[at[k]], alarms, texts[at[k]]);
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
	struct evbuffer *ids, *stamps, *zones, *bodies, *digests;
};

static void batch_free(struct vevents_batch *b)
{
	if (!b)
		return;
	struct evbuffer *bufs[] = {b->ids, b->stamps, b->zones, b->bodies, b->digests};
	for (size_t i = 0; i < sizeof(bufs) / sizeof(*bufs); i++)
		if (bufs[i])
			evbuffer_free(bufs[i]);
	free(b);
}

static struct vevents_batch *batch_new(int alarms)
{
	struct vevents_batch *b = calloc(1, sizeof(*b));
	if (b && (b->ids = evbuffer_new()) && (b->stamps = evbuffer_new()) &&
	    (b->zones = evbuffer_new()) && (b->bodies = evbuffer_new()) &&
	    (b->digests = evbuffer_new())) {
		b->alarms = alarms;
		return b;
	}
	batch_free(b);
	return NULL;
}

void vevents_batch_add(struct vevents_batch **bp, const char *id, const char *stamp, int alarms,
                       const struct vtext *v)
{
	if (!vevents_renderer())
		return;
	if (!*bp && !(*bp = batch_new(alarms)))
		return;
	struct vevents_batch *b = *bp;
	char digest[2 * DIGEST_BYTES + 1];
	digest_hex(v->digest, DIGEST_BYTES, digest);
	if (db_array_add(b->ids, id) || db_array_add(b->stamps, stamp) ||
	    db_array_add(b->zones, v->zone) || db_array_add(b->bodies, v->text) ||
	    db_array_add(b->digests, digest))
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
	     *zones = db_array_end(b->zones), *bodies = db_array_end(b->bodies),
	     *digests = db_array_end(b->digests);
	const char *p[] = {ids,    stamps, zones, bodies, b->alarms ? "t" : "f", vevents_renderer(),
	                   digests};
	/* By its generic plan: each text's event is found by key, however
	 * many (planned for its arrays, it took half as long to plan as to run
	 * in mixed.sh's mix). */
	if (ids && stamps && zones && bodies && digests &&
	    dbpool_query_generic(db, SQL_VEVENTS_STORE, 7, p, on_stored, NULL) != 0)
		log_warn("storing rendered VEVENTs: the database is busy; they are rendered again "
		         "later");
	free(ids);
	free(stamps);
	free(zones);
	free(bodies);
	free(digests);
	batch_free(b);
}
