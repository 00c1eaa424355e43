/* remind.c - fire times of an event's reminders (see remind.h). */
#include "remind.h"

#include "recur.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct planwork {
	const struct remind_event *ev;
	int64_t after, dur, stopped_at;
	int64_t offsets[64];
	size_t trigger_at[64]; /* each offset's place in ev->triggers */
	size_t ntriggers;
	size_t nfires;
	remind_cb cb;
	void *arg;
	int failed;
	/* The RDATEs, by their place in the list and by instant: RFC 5545
	 * (3.8.5.3) counts one the rule gives too once (the rule's walk marks
	 * them). */
	struct rdate_slot *slot;
	struct rdate_at *by_t;
	size_t nrd;
	int walking_rule;
};

struct rdate_slot {
	int64_t t; /* INT64_MIN: unreadable */
	int ruled;
};

struct rdate_at {
	int64_t t;
	size_t i; /* its slot */
};

static int by_instant(const void *a, const void *b)
{
	int64_t x = ((const struct rdate_at *)a)->t, y = ((const struct rdate_at *)b)->t;
	return (x > y) - (x < y);
}

/* Marks the RDATEs at instant t as given by the rule. */
static void mark_ruled(struct planwork *w, int64_t t)
{
	size_t i =
	    recur_instant_index(w->by_t, w->nrd, sizeof(*w->by_t), offsetof(struct rdate_at, t), t);
	for (; i < w->nrd && w->by_t[i].t == t; i++)
		w->slot[w->by_t[i].i].ruled = 1;
}

static int on_start(const struct civil *s, int64_t start_utc, void *arg)
{
	struct planwork *w = arg;
	if (w->walking_rule)
		mark_ruled(w, start_utc);
	struct remind_fire f = {.occ_start = start_utc};
	civil_format(s, w->ev->all_day, f.start_local);
	if (recur_excluded(w->ev->exdates, f.start_local))
		return 0;
	size_t i;
	json_t *v;
	/* An override event stands in for this occurrence: it plans its own. */
	json_array_foreach(w->ev->overridden, i, v)
	{
		if (!strcmp(json_string_value(v), f.start_local))
			return 0;
	}
	struct civil end;
	f.occ_end = recur_end(w->ev->zone, w->ev->all_day, s, start_utc, w->dur, &end);
	civil_format(&end, w->ev->all_day, f.end_local);
	for (i = 0; i < w->ntriggers; i++) {
		f.fire_at = start_utc + w->offsets[i];
		if (f.fire_at <= w->after)
			continue;
		if (w->nfires == REMIND_MAX_FIRES) {
			w->stopped_at = start_utc;
			return 1;
		}
		f.trigger = json_string_value(json_array_get(w->ev->triggers, w->trigger_at[i]));
		w->nfires++;
		if (w->cb(&f, w->arg)) {
			w->failed = 1;
			return 1;
		}
	}
	return 0;
}

static int64_t failed(const char **why, const char *reason)
{
	if (why)
		*why = reason;
	return -1;
}

int64_t remind_plan(const struct remind_event *ev, int64_t after, int64_t until, remind_cb cb,
                    void *arg, const char **why)
{
	struct planwork w = {
	    .ev = ev, .after = after, .stopped_at = INT64_MAX, .cb = cb, .arg = arg};
	size_t i;
	json_t *v;
	json_array_foreach(ev->triggers, i, v)
	{
		if (w.ntriggers == sizeof(w.offsets) / sizeof(w.offsets[0]) || !json_is_string(v) ||
		    ical_duration_parse(json_string_value(v), &w.offsets[w.ntriggers]))
			return failed(why, "a reminder is not an RFC 5545 duration");
		/* Two triggers at one offset (-PT1H, -PT60M; stored before the API
		 * refused them) would fire the same reminder twice: the first
		 * one stands for both. */
		size_t k = 0;
		while (k < w.ntriggers && w.offsets[k] != w.offsets[w.ntriggers])
			k++;
		if (k < w.ntriggers)
			continue;
		w.trigger_at[w.ntriggers++] = i;
	}
	if (w.ntriggers == 0)
		return INT64_MAX;
	w.dur = recur_duration(ev->zone, &ev->start, &ev->end, ev->all_day);
	w.nrd = json_array_size(ev->rdates);
	w.slot = calloc(w.nrd ? w.nrd : 1, sizeof(*w.slot));
	w.by_t = calloc(w.nrd ? w.nrd : 1, sizeof(*w.by_t));
	if (!w.slot || !w.by_t) {
		free(w.slot);
		free(w.by_t);
		return failed(why, "out of memory");
	}
	json_array_foreach(ev->rdates, i, v)
	{
		struct civil c;
		if (!json_is_string(v) || civil_parse(json_string_value(v), ev->all_day, &c) ||
		    tz_to_utc(ev->zone, &c, &w.slot[i].t) == TZ_UNKNOWN)
			w.slot[i].t = INT64_MIN;
		w.by_t[i] = (struct rdate_at){w.slot[i].t, i};
	}
	qsort(w.by_t, w.nrd, sizeof(*w.by_t), by_instant);
	/* Occurrences that start by `after` fire by then: the walk starts there. */
	w.walking_rule = 1;
	long got = recur_expand_window(ev->rrule, ev->zone, &ev->start, ev->all_day, after, until,
	                               NULL, on_start, &w);
	w.walking_rule = 0;
	int64_t rc = w.stopped_at;
	if (got == RECUR_EXHAUSTED)
		rc = failed(why, "the recurrence rule takes too long to expand");
	else if (got < 0)
		rc = failed(why, "the recurrence rule cannot be expanded (libical cannot step "
		                 "it, or its times cannot be placed in its zone)");
	json_array_foreach(ev->rdates, i, v)
	{
		struct civil c;
		if (rc < 0 || w.stopped_at != INT64_MAX || w.failed)
			break;
		if (w.slot[i].t == INT64_MIN || w.slot[i].ruled || w.slot[i].t >= until ||
		    civil_parse(json_string_value(v), ev->all_day, &c))
			continue;
		on_start(&c, w.slot[i].t, &w);
	}
	free(w.slot);
	free(w.by_t);
	if (rc < 0)
		return rc;
	return w.failed ? failed(why, "out of memory") : w.stopped_at;
}
