/* tz_offsets.c - a zone's UTC offset at an instant. libical knows it, but
 * its zone table and each zone's lazily expanded list of changes are
 * shared and unlocked, so every call into them is made under one lock,
 * and each call first finds the zone by a linear search of some 600
 * names: expanding a few hundred series on several threads at once
 * queued on that lock. Here each zone's offsets are kept a span (2^25 s,
 * about 388 days) at a time: the offset at the span's start and the
 * instants where it changes, read from libical once, so that both agree
 * by construction. A built span never changes and is published with an
 * atomic store; readers take no lock. */
#include "tz_offsets.h"

#include "strhash.h"

#include <libical/ical.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define DAY 86400
/* Spans of 2^25 seconds, numbered from the epoch: -76 to 227 cover 1889
 * to 2212, past the years an event may have (1900 to 2200) and the day
 * on either side that a conversion looks at. */
#define SPAN_SHIFT 25
#define FIRST_SPAN (-76)
#define SPANS      304
/* Changes of offset in one span: real zones have at most four a year
 * (Morocco's Ramadan); a span with more is answered by libical. */
#define SPAN_CHANGES 32
/* Zones by name, open addressing. The tz directory holds fewer names
 * than the bound (its zones, and the posix/ and right/ copies that old
 * rows may name), so the table never fills. */
#define SLOTS      8192
#define SLOTS_USED 6144

static pthread_mutex_t ical_lock = PTHREAD_MUTEX_INITIALIZER;

struct change {
	int64_t at;
	int off;
};

struct span {
	int off0, n;
	struct change c[];
};

/* Marks a span that libical answers (too many changes). */
static struct span busy_span;

struct tz_offsets {
	char *name;
	icaltimezone *ical;
	_Atomic(struct span *) spans[SPANS];
};

static _Atomic(struct tz_offsets *) table[SLOTS];
static int table_used; /* under ical_lock */

/* libical's offset at t; under ical_lock. */
static int ical_offset(icaltimezone *z, int64_t t)
{
	struct icaltimetype tt =
	    icaltime_from_timet_with_zone((time_t)t, 0, icaltimezone_get_utc_timezone());
	return icaltimezone_get_utc_offset_of_utc_time(z, &tt, NULL);
}

struct tz_offsets *tz_offsets_of(const char *name)
{
	uint32_t i = str_hash(name) % SLOTS;
	for (struct tz_offsets *e; (e = atomic_load_explicit(&table[i], memory_order_acquire));
	     i = (i + 1) % SLOTS)
		if (!strcmp(e->name, name))
			return e;
	pthread_mutex_lock(&ical_lock);
	/* Another thread may have added it meanwhile: slots only ever fill,
	 * so the search goes on from the empty slot it stopped at. */
	struct tz_offsets *e;
	while ((e = atomic_load_explicit(&table[i], memory_order_relaxed)) && strcmp(e->name, name))
		i = (i + 1) % SLOTS;
	if (!e && table_used < SLOTS_USED) {
		icaltimezone *z = icaltimezone_get_builtin_timezone(name);
		e = z ? calloc(1, sizeof(*e)) : NULL;
		if (e && !(e->name = strdup(name))) {
			free(e);
			e = NULL;
		}
		if (e) {
			e->ical = z;
			table_used++;
			atomic_store_explicit(&table[i], e, memory_order_release);
		}
	}
	pthread_mutex_unlock(&ical_lock);
	return e;
}

int tz_offsets_at_uncached(struct tz_offsets *z, int64_t t)
{
	pthread_mutex_lock(&ical_lock);
	int off = ical_offset(z->ical, t);
	pthread_mutex_unlock(&ical_lock);
	return off;
}

/* The first instant in (lo, hi] whose offset is not off, where hi's is
 * not; under ical_lock. */
static int64_t change_in(icaltimezone *z, int64_t lo, int64_t hi, int off)
{
	while (hi - lo > 1) {
		int64_t mid = lo + (hi - lo) / 2;
		if (ical_offset(z, mid) == off)
			lo = mid;
		else
			hi = mid;
	}
	return hi;
}

/* The offsets over [a, b), read a day apart and each change found to the
 * second between two readings that differ (no zone since 1900 changes
 * twice within days); under ical_lock. NULL when out of memory. */
static struct span *span_build(icaltimezone *z, int64_t a, int64_t b)
{
	struct change c[SPAN_CHANGES];
	int n = 0, off0 = ical_offset(z, a), cur = off0;
	int64_t prev = a;
	for (int64_t s = a + DAY; prev < b; s += DAY) {
		if (s > b)
			s = b;
		int v;
		while ((v = ical_offset(z, s)) != cur) {
			int64_t at = change_in(z, prev, s, cur);
			if (at >= b)
				break; /* a change at b is the next span's */
			if (n == SPAN_CHANGES)
				return &busy_span;
			cur = at == s ? v : ical_offset(z, at);
			c[n++] = (struct change){at, cur};
			prev = at;
		}
		prev = s;
	}
	struct span *sp = malloc(sizeof(*sp) + (size_t)n * sizeof(sp->c[0]));
	if (!sp)
		return NULL;
	sp->off0 = off0;
	sp->n = n;
	memcpy(sp->c, c, (size_t)n * sizeof(c[0]));
	return sp;
}

/* Span i of zone z, built by the first thread to need it. */
static struct span *span_get(struct tz_offsets *z, int i)
{
	struct span *s = atomic_load_explicit(&z->spans[i], memory_order_acquire);
	if (s)
		return s;
	pthread_mutex_lock(&ical_lock);
	s = atomic_load_explicit(&z->spans[i], memory_order_relaxed);
	if (!s) {
		int64_t a = (int64_t)(i + FIRST_SPAN) * ((int64_t)1 << SPAN_SHIFT);
		s = span_build(z->ical, a, a + ((int64_t)1 << SPAN_SHIFT));
		if (s)
			atomic_store_explicit(&z->spans[i], s, memory_order_release);
	}
	pthread_mutex_unlock(&ical_lock);
	return s;
}

/* The number of the span that holds t. Floor division: spans before the
 * epoch count down from -1. */
static int64_t span_of(int64_t t)
{
	return t >= 0 ? t >> SPAN_SHIFT : -((-(t + 1)) >> SPAN_SHIFT) - 1;
}

int tz_offsets_at(struct tz_offsets *z, int64_t t)
{
	int64_t q = span_of(t);
	struct span *s =
	    q >= FIRST_SPAN && q < FIRST_SPAN + SPANS ? span_get(z, (int)(q - FIRST_SPAN)) : NULL;
	if (!s || s == &busy_span)
		return tz_offsets_at_uncached(z, t);
	int off = s->off0;
	for (int k = 0; k < s->n && s->c[k].at <= t; k++)
		off = s->c[k].off;
	return off;
}

int tz_offsets_constant(struct tz_offsets *z, int64_t from, int64_t to)
{
	int64_t first = span_of(from), last = span_of(to);
	if (from > to || first < FIRST_SPAN || last >= FIRST_SPAN + SPANS)
		return 0;
	int off = tz_offsets_at(z, from);
	for (int64_t q = first; q <= last; q++) {
		struct span *s = span_get(z, (int)(q - FIRST_SPAN));
		if (!s || s == &busy_span)
			return 0; /* out of memory, or changes libical alone answers */
		/* A later span begins inside the range: its opening offset counts. */
		if (q > first && s->off0 != off)
			return 0;
		for (int k = 0; k < s->n; k++)
			if (s->c[k].at > from && s->c[k].at <= to && s->c[k].off != off)
				return 0;
	}
	return 1;
}

icalcomponent *tz_offsets_vtimezone(struct tz_offsets *z)
{
	pthread_mutex_lock(&ical_lock);
	icalcomponent *src = icaltimezone_get_component(z->ical);
	icalcomponent *vtz = src ? icalcomponent_new_clone(src) : NULL;
	pthread_mutex_unlock(&ical_lock);
	return vtz;
}
