/* conflicts.c - see conflicts.h. The item's own occurrences are expanded
 * once over the windows of all its candidates and sorted; each candidate
 * is then expanded over its window and looked up in them, stopping at the
 * first occurrence that meets one. All of it within one budget. */
#include "api/conflicts.h"

#include "tz.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* The item's occurrences a list is compared with, at most (a daily
 * series of 100 years; an hourly one of 4). */
#define SELF_MAX 40000

/* Busy time: [s, e), or the instant s when e == s (an item without end,
 * as liaison_busy reads it). */
struct span {
	int64_t s, e;
};

/* One side of a comparison, as EV_OCC_SIDE gives it. */
struct side {
	int recurs;
	int64_t s, t;     /* the first occurrence */
	int64_t from, to; /* the span (to: INT64_MAX without end) */
	const char *tz, *rrule;
	int all_day;
	struct civil start;
	int64_t dur;
	json_t *exdates, *rdates, *overridden; /* borrowed */
};

/* The item's occurrences, by start. */
struct spans {
	struct span *v;
	size_t n, cap;
	int64_t longest;
	int64_t lo, until; /* the starts they cover */
	int cut;           /* not all of them: too many, out of memory or budget */
};

static int span_meets(struct span a, struct span b)
{
	if (a.e == a.s)
		return b.e == b.s ? a.s == b.s : b.s <= a.s && a.s < b.e;
	if (b.e == b.s)
		return a.s <= b.s && b.s < a.e;
	return a.s < b.e && b.s < a.e;
}

static int64_t int_of(json_t *o, const char *key, int64_t otherwise)
{
	json_t *v = json_object_get(o, key);
	return json_is_integer(v) ? (int64_t)json_integer_value(v) : otherwise;
}

/* Reads a side; -1 when it cannot be read (then it cannot be decided). */
static int side_read(json_t *j, struct side *x)
{
	memset(x, 0, sizeof(*x));
	if (!json_is_object(j))
		return -1;
	x->s = int_of(j, "s", 0);
	x->t = int_of(j, "t", x->s);
	x->from = x->s;
	x->to = x->t;
	x->recurs = json_object_get(j, "from") != NULL;
	if (!x->recurs)
		return 0;
	x->from = int_of(j, "from", x->s);
	x->to = int_of(j, "to", INT64_MAX);
	x->tz = json_string_value(json_object_get(j, "timezone"));
	x->rrule = json_string_value(json_object_get(j, "rrule"));
	x->all_day = json_is_true(json_object_get(j, "all_day"));
	x->exdates = json_object_get(j, "exdates");
	x->rdates = json_object_get(j, "rdates");
	x->overridden = json_object_get(j, "overridden");
	const char *start = json_string_value(json_object_get(j, "start"));
	const char *end = json_string_value(json_object_get(j, "end"));
	if (!x->tz || !start || civil_parse(start, x->all_day, &x->start))
		return -1;
	/* Without an end, as /v1/occurrences reads it: an instant, or a day. */
	struct civil e = x->start;
	if (end) {
		if (civil_parse(end, x->all_day, &e))
			return -1;
	} else if (x->all_day) {
		civil_add_days(&e, 1);
	}
	x->dur = recur_duration(x->tz, &x->start, &e, x->all_day);
	return 0;
}

typedef int (*span_fn)(struct span o, void *arg);

struct walk {
	const struct side *x;
	int64_t until;
	span_fn fn;
	void *arg;
	int stopped;
};

static int walk_one(const struct civil *st, int64_t start_utc, void *arg)
{
	struct walk *w = arg;
	const struct side *x = w->x;
	char local[CIVIL_LEN];
	struct civil end;
	if (start_utc >= w->until)
		return 0;
	/* An exdate takes the occurrence away, and so does an override: it
	 * is found on its own where it is now, or is cancelled. */
	civil_format(st, x->all_day, local);
	if (recur_excluded(x->exdates, local) || recur_excluded(x->overridden, local))
		return 0;
	struct span o = {start_utc, recur_end(x->tz, x->all_day, st, start_utc, x->dur, &end)};
	w->stopped = w->fn(o, w->arg);
	return w->stopped;
}

/* Calls fn on each occurrence of x that starts in about [lo - its length,
 * until), rule first, then rdates (so not in order), until fn returns
 * non-zero. 1 when it did, 0 when all were seen, RECUR_EXHAUSTED when b
 * ran out first, -1 when x cannot be expanded. */
static long side_walk(const struct side *x, int64_t lo, int64_t until, struct recur_budget *b,
                      span_fn fn, void *arg)
{
	if (!x->recurs) {
		struct span o = {x->s, x->t};
		return fn(o, arg) ? 1 : 0;
	}
	struct walk w = {x, until, fn, arg, 0};
	long got = recur_expand_window(x->rrule, x->tz, &x->start, x->all_day, lo - x->dur, until,
	                               b, walk_one, &w);
	if (w.stopped)
		return 1;
	if (got < 0 && got != RECUR_EXHAUSTED)
		return -1;
	size_t i;
	json_t *v;
	json_array_foreach(x->rdates, i, v)
	{
		struct civil c;
		int64_t u;
		if (!civil_parse(json_string_value(v), x->all_day, &c) &&
		    tz_to_utc(x->tz, &c, &u) != TZ_UNKNOWN && walk_one(&c, u, &w))
			return 1;
	}
	return got == RECUR_EXHAUSTED ? RECUR_EXHAUSTED : 0;
}

static int spans_push(struct span o, void *arg)
{
	struct spans *l = arg;
	if (l->n == SELF_MAX) {
		l->cut = 1;
		return 1;
	}
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		struct span *bigger = realloc(l->v, cap * sizeof(*bigger));
		if (!bigger) {
			l->cut = 1;
			return 1;
		}
		l->v = bigger;
		l->cap = cap;
	}
	l->v[l->n++] = o;
	if (o.e - o.s > l->longest)
		l->longest = o.e - o.s;
	return 0;
}

static int span_cmp(const void *pa, const void *pb)
{
	const struct span *a = pa, *b = pb;
	return a->s < b->s ? -1 : a->s > b->s;
}

/* Whether o meets one of the item's occurrences. */
static int meets_self(struct span o, void *arg)
{
	const struct spans *l = arg;
	size_t i = recur_instant_index(l->v, l->n, sizeof(*l->v), offsetof(struct span, s),
	                               o.s - l->longest);
	for (; i < l->n && l->v[i].s <= o.e; i++)
		if (span_meets(o, l->v[i]))
			return 1;
	return 0;
}

/* Where two sides may meet: the common part of their spans, no further
 * than CONFLICTS_HORIZON when neither ends; [*lo, *until) holds every
 * start that matters (until is past an instant at the end). */
static void common_window(const struct side *a, const struct side *b, int64_t *lo, int64_t *until)
{
	*lo = a->from > b->from ? a->from : b->from;
	int64_t hi = a->to < b->to ? a->to : b->to;
	if (hi == INT64_MAX)
		hi = *lo + CONFLICTS_HORIZON;
	*until = hi + 1;
}

/* The item's occurrences over [lo, until) in mine, unless they are there
 * already: 0, or -1 when they cannot all be had (mine->cut). */
static int self_cover(const struct side *self, int64_t lo, int64_t until, struct spans *mine,
                      struct recur_budget *b)
{
	if (!mine->cut && mine->lo <= lo && until <= mine->until)
		return 0;
	mine->n = 0;
	mine->longest = 0;
	mine->cut = 0;
	mine->lo = lo;
	mine->until = until;
	if (side_walk(self, lo, until, b, spans_push, mine) < 0)
		mine->cut = 1;
	if (mine->cut)
		return -1;
	if (mine->n > 1)
		qsort(mine->v, mine->n, sizeof(*mine->v), span_cmp);
	return 0;
}

/* 1: c meets the item (or cannot be told apart from it within b), 0: it
 * never does. */
static int candidate_meets(json_t *occ, const struct side *self, struct spans *mine,
                           struct recur_budget *b)
{
	struct side c;
	int64_t lo, until;
	if (side_read(occ, &c))
		return 1;
	common_window(&c, self, &lo, &until);
	if (self_cover(self, lo, until, mine, b))
		return 1;
	return side_walk(&c, lo, until, b, meets_self, mine) != 0;
}

int conflicts_settle_list(json_t *list, struct recur_budget *b)
{
	size_t n = json_array_size(list);
	/* Held to the end: self points into it (side_read), and the candidates
	 * may expand it again, one by one (self_cover). */
	json_t *self_json =
	    json_incref(json_object_get(json_array_get(list, n ? n - 1 : 0), "_self"));
	struct side self;
	struct spans mine = {.lo = 0, .until = INT64_MIN};
	int rc = 0, unread = 1;
	if (self_json) {
		n--;
		/* The item's occurrences over the windows of all its marked
		 * candidates at once; when they are too many (candidates years
		 * apart), over each candidate's window in turn. */
		int64_t lo = INT64_MAX, until = INT64_MIN;
		unread = side_read(self_json, &self);
		for (size_t i = 0; !unread && i < n; i++) {
			struct side c;
			json_t *occ = json_object_get(json_array_get(list, i), "_occ");
			int64_t clo, cuntil;
			if (!occ || side_read(occ, &c))
				continue;
			common_window(&c, &self, &clo, &cuntil);
			lo = clo < lo ? clo : lo;
			until = cuntil > until ? cuntil : until;
		}
		if (!unread && lo < until)
			(void)self_cover(&self, lo, until, &mine, b);
		if (json_array_remove(list, n))
			rc = -1;
	}
	size_t kept = 0;
	for (size_t i = 0; i < json_array_size(list);) {
		json_t *item = json_array_get(list, i);
		json_t *occ = json_object_get(item, "_occ");
		/* An item that cannot be read keeps every candidate. */
		if (kept == CONFLICTS_MAX ||
		    (occ && !unread && !candidate_meets(occ, &self, &mine, b))) {
			if (json_array_remove(list, i))
				rc = -1;
			continue;
		}
		if (occ)
			json_object_del(item, "_occ");
		kept++;
		i++;
	}
	free(mine.v);
	json_decref(self_json);
	return rc;
}

/* Settles the list under key "conflicts" of object o, if any. */
static int settle_in(json_t *o, struct recur_budget *b)
{
	json_t *list = json_object_get(o, "conflicts");
	return json_is_array(list) ? conflicts_settle_list(list, b) : 0;
}

int conflicts_settle(const char *text, char **out)
{
	*out = NULL;
	/* Only a key can hold the quote, colon and space of jsonb's text: a
	 * string would have the quote escaped. */
	if (!strstr(text, "\"_self\": "))
		return 0;
	json_t *root = json_loads(text, 0, NULL);
	if (!root)
		return -1;
	/* One budget for the whole answer: a visit's items share it. */
	struct recur_budget b;
	recur_budget_init(&b, RECUR_MAX_ITERATIONS, RECUR_BUDGET_MS);
	int rc = settle_in(root, &b);
	size_t i;
	json_t *item;
	json_array_foreach(json_object_get(root, "programme"), i, item)
	{
		if (settle_in(item, &b))
			rc = -1;
	}
	if (!rc && !(*out = json_dumps(root, 0)))
		rc = -1;
	json_decref(root);
	return rc;
}
