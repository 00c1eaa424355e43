/* feed_list.c - see feed_list.h. Rows are taken as the statement gives
 * them (api/feed_rows_sql.h's SQL_FEED_ROWS): a row that says what they
 * were read under, and the feed's rows, which are put in feed order here
 * (the statement's own sort was a quarter of its time). */
#include "api/feed_list.h"

#include "api/feed_rows_sql.h"
#include "clock.h"
#include "ics_render.h"
#include "macros.h"
#include "strhash.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The columns of SQL_FEED_ROWS. */
enum {
	COL_ID,
	COL_STAMP,
	COL_ROOT,
	COL_START,
	COL_ENDS,
	COL_KEPT,
	COL_REVS,
	COL_AHEAD,
	COL_ROOTS,
	NCOLS
};

/* A threshold this close is read again at every splice: the database's
 * clock and ours may differ, and a day is not 24 hours everywhere. */
#define NEAR_S (2 * 3600)

/* Value (k, col) of res into out, cut to its size as snprintf would; once
 * per event, where snprintf's parsing of "%s" showed. */
static void copy_value(char *out, size_t size, const PGresult *res, int k, int col)
{
	size_t n = (size_t)PQgetlength(res, k, col);
	if (n >= size)
		n = size - 1;
	memcpy(out, PQgetvalue(res, k, col), n);
	out[n] = '\0';
}

/* A copy of value (k, col), NULL for SQL NULL; -1 when out of memory. */
static int dup_value(char **out, const PGresult *res, int k, int col)
{
	*out = PQgetisnull(res, k, col) ? NULL : strdup(PQgetvalue(res, k, col));
	return !*out && !PQgetisnull(res, k, col) ? -1 : 0;
}

static struct feed_list *list_new(int n)
{
	struct feed_list *l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	atomic_init(&l->refs, 1);
	l->n = n;
	size_t m = (size_t)n + 1;
	l->ids = malloc(m * sizeof(*l->ids));
	l->stamps = malloc(m * sizeof(*l->stamps));
	l->roots = malloc(m * sizeof(*l->roots));
	l->starts = malloc(m * sizeof(*l->starts));
	l->thr = malloc(m * sizeof(*l->thr));
	l->hid = malloc(m * sizeof(*l->hid));
	l->hroot = malloc(m * sizeof(*l->hroot));
	l->texts = calloc(m, sizeof(*l->texts));
	l->digests = malloc(m * sizeof(*l->digests));
	l->zone = malloc(m * sizeof(*l->zone));
	if (!l->ids || !l->stamps || !l->roots || !l->starts || !l->thr || !l->hid || !l->hroot ||
	    !l->texts || !l->digests || !l->zone) {
		feed_list_unref(l);
		return NULL;
	}
	for (int i = 0; i < n; i++)
		l->zone[i] = FEED_NO_TEXT;
	return l;
}

struct feed_list *feed_list_ref(struct feed_list *l)
{
	if (l)
		atomic_fetch_add(&l->refs, 1);
	return l;
}

void feed_list_unref(struct feed_list *l)
{
	if (!l || atomic_fetch_sub(&l->refs, 1) != 1)
		return;
	for (int i = 0; l->texts && i < l->n; i++)
		vtext_unref(l->texts[i]);
	free(l->texts);
	free(l->digests);
	free(l->zone);
	free(l->zones);
	free(l->ids);
	free(l->stamps);
	free(l->roots);
	free(l->starts);
	free(l->thr);
	free(l->hid);
	free(l->hroot);
	free(l->from);
	free(l->at);
	free(l->head);
	free(l->head_for);
	free(l->snapshot);
	free(l->revs);
	free(l->ahead);
	free(l->key);
	free(l);
}

size_t feed_list_bytes(const struct feed_list *l)
{
	size_t row = sizeof(*l->ids) + sizeof(*l->stamps) + sizeof(*l->roots) + sizeof(*l->starts) +
	             sizeof(*l->thr) + sizeof(*l->hid) + sizeof(*l->hroot) + sizeof(*l->texts) +
	             sizeof(*l->digests) + sizeof(*l->zone) + (l->from ? sizeof(*l->from) : 0) +
	             (l->at ? sizeof(*l->at) : 0);
	return sizeof(*l) + ((size_t)l->n + 1) * row + (size_t)l->capzones * sizeof(*l->zones) +
	       strlen(l->snapshot) + strlen(l->key) + (l->head ? strlen(l->head) : 0) +
	       (l->head_for ? strlen(l->head_for) : 0);
}

/* The row of res that says what the rows were read under (the one
 * without an id; the statement sends it last), or -1 when res is not a
 * list: no such row, or two. */
static int find_head(const PGresult *res)
{
	int n = PQntuples(res), head = -1;
	if (PQnfields(res) != NCOLS)
		return -1;
	for (int k = n - 1; k >= 0; k--) {
		if (!PQgetisnull(res, k, COL_ID))
			continue;
		if (head >= 0)
			return -1;
		head = k;
	}
	return head >= 0 && !PQgetisnull(res, head, COL_STAMP) && !PQgetisnull(res, head, COL_REVS)
	           ? head
	           : -1;
}

static int take_head(struct feed_list *l, const PGresult *res, int head)
{
	return dup_value(&l->snapshot, res, head, COL_STAMP) ||
	               dup_value(&l->revs, res, head, COL_REVS) ||
	               dup_value(&l->ahead, res, head, COL_AHEAD)
	           ? -1
	           : 0;
}

/* The column of row k's root: its own id for m's rows (SQL_FEED_LIST_LIVE). */
static int root_col(const PGresult *res, int k)
{
	return PQgetisnull(res, k, COL_ROOT) ? COL_ID : COL_ROOT;
}

/* Unix seconds (k, col) of res (FEED_ENDS, FEED_KEPT) plus days, as a
 * threshold: INT64_MAX for NULL or never. */
static int64_t threshold(const PGresult *res, int k, int col, int days)
{
	if (PQgetisnull(res, k, col))
		return INT64_MAX;
	double t = strtod(PQgetvalue(res, k, col), NULL) + (double)days * 86400.0;
	return isfinite(t) && t < 9e15 ? (int64_t)t : INT64_MAX;
}

/* A start as the statement gives it (Unix seconds as float8's shortest
 * text, "1796276582.123"), in microseconds. A microsecond's double needs
 * no more than six decimals to be told apart, so this is exact, and
 * orders as the statement ordered the doubles; strtod was most of the
 * time taken to read a list of 10,000. Anything else (an exponent, more
 * decimals) goes through strtod. */
static int64_t start_us(const char *s)
{
	const char *p = s + (*s == '-');
	int64_t whole = 0, frac = 0;
	int digits = 0, decimals = 0;
	for (; *p >= '0' && *p <= '9' && digits < 15; p++, digits++)
		whole = whole * 10 + (*p - '0');
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9' && decimals < 6; p++, decimals++)
			frac = frac * 10 + (*p - '0');
	if (*p || digits == 0 || digits == 15) {
		double d = strtod(s, NULL) * 1e6;
		return isfinite(d) && fabs(d) < 9e18 ? (int64_t)llround(d) : 0;
	}
	for (; decimals < 6; decimals++)
		frac *= 10;
	return (*s == '-' ? -1 : 1) * (whole * 1000000 + frac);
}

/* A row of res, with what puts it in feed order: start, then id. */
struct row {
	int64_t start;
	const char *id;
	int k;
};

static int row_cmp(int64_t sa, const char *ia, int64_t sb, const char *ib)
{
	return sa < sb ? -1 : sa > sb ? 1 : strcmp(ia, ib);
}

static int row_order(const void *a, const void *b)
{
	const struct row *x = a, *y = b;
	return row_cmp(x->start, x->id, y->start, y->id);
}

/* res's rows but its head, in feed order (*n of them); NULL when out of
 * memory. They mostly come in that order already (m's own), and are only
 * sorted when they do not. */
static struct row *rows_in_order(const PGresult *res, int head, int *n)
{
	int all = PQntuples(res);
	struct row *rows = malloc(((size_t)all + 1) * sizeof(*rows));
	if (!rows)
		return NULL;
	int m = 0, sorted = 1;
	for (int k = 0; k < all; k++) {
		if (k == head)
			continue;
		rows[m] = (struct row){start_us(PQgetvalue(res, k, COL_START)),
		                       PQgetvalue(res, k, COL_ID), k};
		sorted = sorted && (m == 0 || row_order(&rows[m - 1], &rows[m]) < 0);
		m++;
	}
	if (!sorted)
		qsort(rows, (size_t)m, sizeof(*rows), row_order);
	*n = m;
	return rows;
}

/* Row r of res as row i of l, read at now: its threshold is the earlier
 * of its end's leaving the window and a cancelled item's 30 days (one
 * that came more than NEAR_S ago flipped before the rows were read, and
 * counts as never). */
static void take_row(struct feed_list *l, int i, const PGresult *res, const struct row *r,
                     int64_t now)
{
	int k = r->k;
	copy_value(l->ids[i], sizeof(l->ids[i]), res, k, COL_ID);
	copy_value(l->stamps[i], sizeof(l->stamps[i]), res, k, COL_STAMP);
	copy_value(l->roots[i], sizeof(l->roots[i]), res, k, root_col(res, k));
	l->hid[i] = id_hash(l->ids[i]);
	l->hroot[i] = id_hash(l->roots[i]);
	if (l->from)
		l->from[i] = -1;
	l->starts[i] = r->start;
	int64_t ends = threshold(res, k, COL_ENDS, l->past), kept = threshold(res, k, COL_KEPT, 30);
	l->thr[i] = ends < kept ? ends : kept;
	if (l->thr[i] < now - NEAR_S)
		l->thr[i] = INT64_MAX;
}

/* Row j of b as row i of l (whose zones are b's). */
static void copy_row(struct feed_list *l, int i, const struct feed_list *b, int j)
{
	memcpy(l->ids[i], b->ids[j], sizeof(l->ids[i]));
	memcpy(l->stamps[i], b->stamps[j], sizeof(l->stamps[i]));
	memcpy(l->roots[i], b->roots[j], sizeof(l->roots[i]));
	l->starts[i] = b->starts[j];
	l->thr[i] = b->thr[j];
	l->hid[i] = b->hid[j];
	l->hroot[i] = b->hroot[j];
	l->from[i] = j;
	memcpy(l->digests[i], b->digests[j], sizeof(l->digests[i]));
	l->zone[i] = b->zone[j];
}

int feed_list_zone(struct feed_list *l, const char *zone)
{
	if (!zone[0])
		return FEED_ZONE_NONE;
	int k = 0;
	while (k < l->nzones && k < FEED_ZONES_SEEN && strcmp(l->zones[k], zone))
		k++;
	if (k < l->nzones && k < FEED_ZONES_SEEN)
		return k;
	if (l->nzones == l->capzones) {
		int cap = l->capzones ? 2 * l->capzones : 8;
		void *more = realloc(l->zones, (size_t)cap * sizeof(*l->zones));
		if (!more)
			return -3;
		l->zones = more;
		l->capzones = cap;
	}
	size_t n = strnlen(zone, sizeof(*l->zones) - 1);
	memcpy(l->zones[l->nzones], zone, n);
	l->zones[l->nzones][n] = '\0';
	return l->nzones++;
}

static int zone_name_cmp(const void *key, const void *name)
{
	return strcmp(*(const char *const *)key, name);
}

int feed_list_zones_settle(struct feed_list *l)
{
	int *used = calloc((size_t)l->nzones + 1, sizeof(*used));
	const char **names = malloc(((size_t)l->nzones + 1) * sizeof(*names));
	char(*zones)[VTEXT_ZONE_LEN] = malloc(((size_t)l->nzones + 1) * sizeof(*zones));
	if (!used || !names || !zones) {
		free(used);
		free(names);
		free(zones);
		return -1;
	}
	for (int i = 0; i < l->n; i++)
		if (l->zone[i] >= 0)
			used[l->zone[i]] = 1;
	size_t u = 0;
	for (int k = 0; k < l->nzones; k++)
		if (used[k])
			names[u++] = l->zones[k];
	qsort(names, u, sizeof(*names), ics_zone_cmp);
	int nz = 0;
	for (size_t k = 0; k < u; k++)
		if (nz == 0 || strcmp(zones[nz - 1], names[k]))
			memcpy(zones[nz++], names[k], sizeof(*zones));
	/* Each old index to its name's new one (a repeat to its first). */
	for (int k = 0; k < l->nzones; k++) {
		if (!used[k])
			continue;
		const char *key = l->zones[k];
		const char(*hit)[VTEXT_ZONE_LEN] =
		    bsearch(&key, zones, (size_t)nz, sizeof(*zones), zone_name_cmp);
		used[k] = (int)(hit - zones);
	}
	for (int i = 0; i < l->n; i++)
		if (l->zone[i] >= 0)
			l->zone[i] = used[l->zone[i]];
	free(used);
	free(names);
	free(l->zones);
	l->zones = zones;
	l->nzones = l->capzones = nz;
	return 0;
}

struct feed_list *feed_list_read(const PGresult *res, const char *key, int past_days)
{
	int head = find_head(res), n = 0;
	if (head < 0 || !PQgetisnull(res, head, COL_ROOTS))
		return NULL;
	struct row *rows = rows_in_order(res, head, &n);
	struct feed_list *l = rows ? list_new(n) : NULL;
	if (l && (take_head(l, res, head) || !(l->key = strdup(key)))) {
		feed_list_unref(l);
		l = NULL;
	}
	if (l) {
		l->full_ms = now_monotonic_ms();
		l->past = past_days;
		int64_t now = (int64_t)time(NULL);
		for (int i = 0; i < l->n; i++)
			take_row(l, i, res, &rows[i], now);
	}
	free(rows);
	return l;
}

static int may_be_cut(const struct feed_list *l);

int feed_list_fresh(const struct feed_list *base, const char *key, int64_t ttl_ms)
{
	return base && !strcmp(base->key, key) && now_monotonic_ms() - base->full_ms < ttl_ms &&
	       !may_be_cut(base);
}

char *feed_list_near(const struct feed_list *base)
{
	int64_t until = (int64_t)time(NULL) + NEAR_S;
	size_t n = 0;
	for (int i = 0; i < base->n; i++)
		n += base->thr[i] <= until;
	char *out = malloc(n * sizeof(base->roots[0]) + 3);
	if (!out)
		return NULL;
	size_t at = 0;
	out[at++] = '{';
	for (int i = 0; i < base->n; i++) {
		if (base->thr[i] > until)
			continue;
		if (at > 1)
			out[at++] = ',';
		size_t len = strlen(base->roots[i]);
		memcpy(out + at, base->roots[i], len);
		at += len;
	}
	out[at++] = '}';
	out[at] = '\0';
	return out;
}

/* ---- a splice ---------------------------------------------------------------- */

/* A set of ids, open addressing over pointers the caller keeps, each
 * with its hash: a splice asks it of every row of the list. */
struct idset {
	struct idslot {
		uint32_t hash;
		const char *id; /* NULL when empty */
	} * slots;
	unsigned mask;
};

static int idset_init(struct idset *s, size_t n)
{
	unsigned size = 16;
	while (size < 2 * n)
		size *= 2;
	s->mask = size - 1;
	s->slots = calloc(size, sizeof(*s->slots));
	return s->slots ? 0 : -1;
}

/* Whether s has id, of hash h (id_hash). */
static int idset_has_hashed(const struct idset *s, const char *id, uint32_t h)
{
	for (unsigned at = h & s->mask; s->slots[at].id; at = (at + 1) & s->mask)
		if (s->slots[at].hash == h && !strcmp(s->slots[at].id, id))
			return 1;
	return 0;
}

static int idset_has(const struct idset *s, const char *id)
{
	return idset_has_hashed(s, id, id_hash(id));
}

static void idset_add(struct idset *s, const char *id)
{
	uint32_t h = id_hash(id);
	unsigned at = h & s->mask;
	while (s->slots[at].id && (s->slots[at].hash != h || strcmp(s->slots[at].id, id)))
		at = (at + 1) & s->mask;
	s->slots[at].hash = h;
	s->slots[at].id = id;
}

/* The roots a splice read again ("count:{id,...}", SQL_FEED_SPLICE_ROOTS)
 * into set, pointing into text, which it cuts; -1 when there are too many
 * or the text is not such a list. */
static int take_roots(struct idset *set, char *text)
{
	char *p;
	long count = strtol(text, &p, 10);
	if (count < 0 || count > FEED_SPLICE_MAX || strncmp(p, ":{", 2) ||
	    idset_init(set, (size_t)count) != 0)
		return -1;
	p += 2;
	while (*p && *p != '}') {
		char *id = p;
		p += strcspn(p, ",}");
		int last = *p != ',';
		*p = '\0';
		idset_add(set, id);
		if (last)
			break;
		p++;
	}
	return 0;
}

/* base's rows outside the roots touched, merged in feed order with res's
 * rows (nd of them, in feed order: all of touched families, none of
 * another's, none already in base outside them) into a list of its own;
 * NULL when the rows are not so, or out of memory. */
static struct feed_list *merge(const struct feed_list *base, const struct idset *touched,
                               const PGresult *res, const struct row *rows, int nd)
{
	int64_t now = (int64_t)time(NULL);
	struct idset ids = {0};
	if (idset_init(&ids, (size_t)nd) != 0)
		return NULL;
	int ok = 1;
	for (int k = 0; k < nd && ok; k++) {
		ok = idset_has(touched, PQgetvalue(res, rows[k].k, root_col(res, rows[k].k)));
		idset_add(&ids, rows[k].id);
	}
	/* Which of base's rows stay: those of families not read again. */
	unsigned char *keep = ok ? malloc((size_t)base->n + 1) : NULL;
	int kept = 0;
	for (int j = 0; j < base->n && keep && ok; j++) {
		keep[j] = !idset_has_hashed(touched, base->roots[j], base->hroot[j]);
		if (keep[j]) /* an event in two families */
			ok = !idset_has_hashed(&ids, base->ids[j], base->hid[j]);
		kept += keep[j];
	}
	struct feed_list *l = keep && ok ? list_new(kept + nd) : NULL;
	free(ids.slots);
	if (l &&
	    (!(l->from = malloc(((size_t)l->n + 1) * sizeof(*l->from))) ||
	     (base->nzones && !(l->zones = malloc((size_t)base->nzones * sizeof(*l->zones)))))) {
		feed_list_unref(l);
		l = NULL;
	}
	if (!l) {
		free(keep);
		return NULL;
	}
	l->past = base->past;
	if (base->nzones)
		memcpy(l->zones, base->zones, (size_t)base->nzones * sizeof(*l->zones));
	l->nzones = l->capzones = base->nzones;
	int i = 0, j = 0, k = 0;
	while (i < l->n) {
		while (j < base->n && !keep[j])
			j++;
		if (k == nd || (j < base->n && row_cmp(base->starts[j], base->ids[j], rows[k].start,
		                                       rows[k].id) < 0))
			copy_row(l, i++, base, j++);
		else
			take_row(l, i++, res, &rows[k++], now);
	}
	free(keep);
	return l;
}

/* m's own limit (SQL_FEED_M_END): a list this long may have left some out,
 * and only a full read says which. */
#define LIST_MASTERS_MAX 50000

/* Whether l may have met that limit (it holds fewer rows than that
 * before anything is counted). */
static int may_be_cut(const struct feed_list *l)
{
	if (l->n < LIST_MASTERS_MAX)
		return 0;
	int n = 0;
	for (int i = 0; i < l->n; i++)
		n += !strcmp(l->ids[i], l->roots[i]);
	return n >= LIST_MASTERS_MAX;
}

struct feed_list *feed_list_splice(const struct feed_list *base, const PGresult *res)
{
	int head = find_head(res), nd = 0;
	if (head < 0 || PQgetisnull(res, head, COL_ROOTS) ||
	    strcmp(PQgetvalue(res, head, COL_REVS), base->revs))
		return NULL;
	char *roots = strdup(PQgetvalue(res, head, COL_ROOTS));
	struct row *rows = roots ? rows_in_order(res, head, &nd) : NULL;
	struct idset touched = {0};
	struct feed_list *l =
	    rows && take_roots(&touched, roots) == 0 ? merge(base, &touched, res, rows, nd) : NULL;
	free(touched.slots);
	free(rows);
	free(roots);
	if (l && (take_head(l, res, head) || !(l->key = strdup(base->key)) || may_be_cut(l))) {
		feed_list_unref(l);
		return NULL;
	}
	if (l)
		l->full_ms = base->full_ms;
	return l;
}

/* ---- across a restart (api/feed_state.c) ---------------------------------- */

#define SAVED_MAGIC "liaison-list 1\n"
#define SAVED_ROWS  1000000 /* more than any feed's limit (SQL_FEED_M_END) */

static int put(FILE *f, const void *p, size_t n)
{
	return n == 0 || fwrite(p, n, 1, f) == 1 ? 0 : -1;
}

static int put_i64(FILE *f, int64_t v)
{
	return put(f, &v, sizeof(v));
}

/* A string as its length and bytes; NULL as length -1. */
static int put_str(FILE *f, const char *s)
{
	return put_i64(f, s ? (int64_t)strlen(s) : -1) || (s && put(f, s, strlen(s))) ? -1 : 0;
}

/* A fixed-size text as its bytes up to its end, then zeros: no byte of
 * memory it was not given goes to the file. */
static int put_fixed(FILE *f, const char *s, size_t size)
{
	static const char zeros[VEVENT_STAMP_LEN + 65];
	size_t n = strnlen(s, size);
	return put(f, s, n) || put(f, zeros, size - n);
}

int feed_list_save(const struct feed_list *l, FILE *f)
{
	if (!l->at || l->from)
		return -1; /* not assembled yet: no body to take its texts from */
	size_t n = (size_t)l->n;
	int64_t age = now_monotonic_ms() - l->full_ms;
	int rc = put(f, SAVED_MAGIC, strlen(SAVED_MAGIC)) || put_i64(f, l->n) ||
	         put_i64(f, l->past) || put_i64(f, now_realtime_ms() - age) || put_str(f, l->key) ||
	         put_str(f, l->snapshot) || put_str(f, l->revs) || put_str(f, l->ahead);
	for (size_t i = 0; i < n && !rc; i++)
		rc = put_fixed(f, l->ids[i], sizeof(*l->ids));
	for (size_t i = 0; i < n && !rc; i++)
		rc = put_fixed(f, l->stamps[i], sizeof(*l->stamps));
	for (size_t i = 0; i < n && !rc; i++)
		rc = put_fixed(f, l->roots[i], sizeof(*l->roots));
	rc = rc || put(f, l->starts, n * sizeof(*l->starts)) ||
	     put(f, l->thr, n * sizeof(*l->thr)) || put(f, l->at, (n + 1) * sizeof(*l->at));
	for (size_t i = 0; i < n && !rc; i++) {
		int z = l->zone[i];
		unsigned char has = z != FEED_NO_TEXT;
		rc = put(f, &has, 1) ||
		     (has && (put_fixed(f, z >= 0 ? l->zones[z] : "", sizeof(*l->zones)) ||
		              put(f, l->digests[i], DIGEST_BYTES)));
	}
	return rc;
}

char *feed_list_body(const struct feed_list *l, size_t *len)
{
	size_t n = l->at ? l->at[l->n] : 0;
	char *body = l->at && !l->from ? calloc(1, n + 1) : NULL;
	for (int i = 0; body && i < l->n; i++)
		if (l->texts[i])
			memcpy(body + l->at[i], l->texts[i]->text, l->texts[i]->len);
	*len = n;
	return body;
}

/* A cursor over a saved list's bytes. */
struct cursor {
	const unsigned char *p;
	size_t left;
};

static int take(struct cursor *c, void *out, size_t n)
{
	if (n > c->left)
		return -1;
	memcpy(out, c->p, n);
	c->p += n;
	c->left -= n;
	return 0;
}

static int take_i64(struct cursor *c, int64_t *v)
{
	return take(c, v, sizeof(*v));
}

/* A saved string, malloc'd (NULL for a saved NULL when nullable). */
static int take_str(struct cursor *c, char **out, int nullable)
{
	int64_t n;
	*out = NULL;
	if (take_i64(c, &n) || n < -1 || (n == -1 && !nullable) || n > (int64_t)c->left)
		return -1;
	if (n == -1)
		return 0;
	if (!(*out = malloc((size_t)n + 1)) || take(c, *out, (size_t)n))
		return -1;
	(*out)[n] = '\0';
	return strlen(*out) == (size_t)n ? 0 : -1;
}

/* Each fixed-size text of a saved array ends within its size. */
static void terminate(char *rows, size_t size, int n)
{
	for (int i = 0; i < n; i++)
		rows[(size_t)i * size + size - 1] = '\0';
}

struct feed_list *feed_list_load(const void *data, size_t len, size_t *used, const char *body,
                                 size_t body_len, int64_t ttl_ms)
{
	struct cursor c = {data, len};
	char magic[sizeof(SAVED_MAGIC) - 1];
	int64_t n, past, full;
	if (take(&c, magic, sizeof(magic)) || memcmp(magic, SAVED_MAGIC, sizeof(magic)) ||
	    take_i64(&c, &n) || take_i64(&c, &past) || take_i64(&c, &full) || n < 0 ||
	    n > SAVED_ROWS || past < 0 || past > 100000)
		return NULL;
	int64_t age = now_realtime_ms() - full;
	if (age < 0 || age >= ttl_ms)
		return NULL; /* read whole too long ago, or the clock went back */
	size_t m = (size_t)n;
	struct feed_list *l = NULL;
	/* The rows' arrays are there before they are made room for. */
	size_t row = sizeof(*l->ids) + sizeof(*l->stamps) + sizeof(*l->roots) + sizeof(*l->starts) +
	             sizeof(*l->thr) + sizeof(*l->at) + 1;
	if (m * row + sizeof(*l->at) > c.left || !(l = list_new((int)n)))
		return NULL;
	if (take_str(&c, &l->key, 0) || take_str(&c, &l->snapshot, 0) ||
	    take_str(&c, &l->revs, 0) || take_str(&c, &l->ahead, 1) ||
	    !(l->at = malloc((m + 1) * sizeof(*l->at))) || take(&c, l->ids, m * sizeof(*l->ids)) ||
	    take(&c, l->stamps, m * sizeof(*l->stamps)) ||
	    take(&c, l->roots, m * sizeof(*l->roots)) ||
	    take(&c, l->starts, m * sizeof(*l->starts)) || take(&c, l->thr, m * sizeof(*l->thr)) ||
	    take(&c, l->at, (m + 1) * sizeof(*l->at)))
		goto bad;
	terminate(&l->ids[0][0], sizeof(*l->ids), l->n);
	terminate(&l->stamps[0][0], sizeof(*l->stamps), l->n);
	terminate(&l->roots[0][0], sizeof(*l->roots), l->n);
	l->past = (int)past;
	l->full_ms = now_monotonic_ms() - age;
	for (size_t i = 0; i < m; i++) {
		unsigned char has;
		char zone[VTEXT_ZONE_LEN];
		unsigned char digest[DIGEST_BYTES];
		if (take(&c, &has, 1) || has > 1 || l->at[i] > l->at[i + 1] ||
		    l->at[i + 1] > body_len || (!has && l->at[i] != l->at[i + 1]))
			goto bad;
		if (i > 0 && row_cmp(l->starts[i - 1], l->ids[i - 1], l->starts[i], l->ids[i]) >= 0)
			goto bad; /* not in feed order: a splice would put rows wrong */
		l->hid[i] = id_hash(l->ids[i]);
		l->hroot[i] = id_hash(l->roots[i]);
		if (!has)
			continue;
		if (take(&c, zone, sizeof(zone)) || take(&c, digest, sizeof(digest)))
			goto bad;
		zone[sizeof(zone) - 1] = '\0';
		memcpy(l->digests[i], digest, sizeof(digest));
		if ((l->zone[i] = feed_list_zone(l, zone)) == -3 ||
		    !(l->texts[i] =
		          vtext_new(body + l->at[i], l->at[i + 1] - l->at[i], zone, digest)))
			goto bad;
	}
	if (m == 0 && l->at[0] > body_len)
		goto bad;
	*used = len - c.left;
	return l;
bad:
	feed_list_unref(l);
	return NULL;
}
