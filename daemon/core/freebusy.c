/* freebusy.c - see freebusy.h. Merging is one sweep over the periods'
 * ends in time order: between two consecutive ends, the time belongs to
 * the strongest kind of the periods open there; runs of one kind that
 * touch are one period. Written through libical, which writes UTC times
 * and folds lines; one FREEBUSY property a period, which every reader
 * takes (a comma-separated list is legal but not read by all). */
#include "core/freebusy.h"

#include "ics_render.h"

#include <libical/ical.h>
#include <stdlib.h>
#include <string.h>

void busyset_init(struct busyset *s, int64_t from, int64_t to, size_t max)
{
	memset(s, 0, sizeof(*s));
	s->from = from;
	s->to = to;
	s->max = max;
}

void busyset_free(struct busyset *s)
{
	free(s->v);
	s->v = NULL;
	s->n = s->cap = 0;
}

int busyset_add(struct busyset *s, int64_t start, int64_t end, enum fbkind kind)
{
	if (start < s->from)
		start = s->from;
	if (end > s->to)
		end = s->to;
	if (end <= start)
		return 0;
	if (s->max && s->n >= s->max)
		return -1;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		struct busy *more = realloc(s->v, cap * sizeof(*more));
		if (!more)
			return -1;
		s->v = more;
		s->cap = cap;
	}
	s->v[s->n++] = (struct busy){start, end, kind};
	return 0;
}

/* A period's end seen by the sweep: +1 where one opens, -1 where it closes. */
struct edge {
	int64_t at;
	int kind, delta;
};

static int edge_cmp(const void *a, const void *b)
{
	const struct edge *x = a, *y = b;
	return x->at < y->at ? -1 : x->at > y->at;
}

int busyset_merge(struct busyset *s)
{
	if (s->n == 0)
		return 0;
	struct edge *e = malloc(2 * s->n * sizeof(*e));
	struct busy *out = malloc(s->n * 2 * sizeof(*out));
	if (!e || !out) {
		free(e);
		free(out);
		return -1;
	}
	for (size_t i = 0; i < s->n; i++) {
		e[2 * i] = (struct edge){s->v[i].start, (int)s->v[i].kind, 1};
		e[2 * i + 1] = (struct edge){s->v[i].end, (int)s->v[i].kind, -1};
	}
	qsort(e, 2 * s->n, sizeof(*e), edge_cmp);
	long open[FB_KINDS] = {0};
	size_t n = 0;
	for (size_t i = 0; i < 2 * s->n;) {
		int64_t at = e[i].at;
		for (; i < 2 * s->n && e[i].at == at; i++)
			open[e[i].kind] += e[i].delta;
		if (i == 2 * s->n)
			break;
		int kind = 0;
		while (kind < FB_KINDS && open[kind] == 0)
			kind++;
		if (kind == FB_KINDS)
			continue;
		int64_t next = e[i].at;
		if (n && out[n - 1].kind == (enum fbkind)kind && out[n - 1].end == at)
			out[n - 1].end = next;
		else
			out[n++] = (struct busy){at, next, (enum fbkind)kind};
	}
	free(e);
	free(s->v);
	s->v = out;
	s->n = n;
	s->cap = s->n ? s->n : 1;
	return 0;
}

static struct icaltimetype utc(int64_t t)
{
	return icaltime_from_timet_with_zone((time_t)t, 0, icaltimezone_get_utc_timezone());
}

char *freebusy_render(const struct busyset *s, const struct freebusy_head *h, size_t *len)
{
	static const icalparameter_fbtype fbtypes[FB_KINDS] = {
	    ICAL_FBTYPE_BUSY, ICAL_FBTYPE_BUSYUNAVAILABLE, ICAL_FBTYPE_BUSYTENTATIVE};
	icalcomponent *fb = icalcomponent_new(ICAL_VFREEBUSY_COMPONENT);
	if (!fb)
		return NULL;
	icalcomponent_add_property(fb, icalproperty_new_uid(h->uid));
	icalcomponent_add_property(fb, icalproperty_new_dtstamp(utc(h->stamp)));
	ics_add_organizer(fb, h->org_slug, h->org_name);
	icalcomponent_add_property(fb, icalproperty_new_dtstart(utc(s->from)));
	icalcomponent_add_property(fb, icalproperty_new_dtend(utc(s->to)));
	for (size_t i = 0; i < s->n; i++) {
		struct icalperiodtype p = icalperiodtype_null_period();
		p.start = utc(s->v[i].start);
		p.end = utc(s->v[i].end);
		icalproperty *prop = icalproperty_new_freebusy(p);
		icalproperty_add_parameter(prop, icalparameter_new_fbtype(fbtypes[s->v[i].kind]));
		icalcomponent_add_property(fb, prop);
	}
	char *head = ics_render_head(h->name, NULL, 0);
	char *body = icalcomponent_as_ical_string_r(fb);
	icalcomponent_free(fb);
	char *out = NULL;
	if (head && body) {
		size_t a = strlen(head), b = strlen(body), c = strlen(ICS_TAIL);
		if ((out = malloc(a + b + c + 1))) {
			memcpy(out, head, a);
			memcpy(out + a, body, b);
			memcpy(out + a + b, ICS_TAIL, c + 1);
			*len = a + b + c;
		}
	}
	free(head);
	free(body);
	return out;
}
