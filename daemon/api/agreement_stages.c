/* agreement_stages.c - an agreement's stage and its history (sql/017):
 * SPEC's stage names (and the names taken for them), the history
 * a write keeps (as sent or as stored, with an entry for a stage it does
 * not end with yet), and the org's follow-up template, whose steps become
 * milestones when the agreement is signed. */
#include "api/agreement_op.h"

#include "api/jsonv.h"
#include "macros.h"
#include "tz.h"

#include <stdio.h>
#include <string.h>

/* SPEC's stages: what is stored, answered, shown in feeds and sent. */
static const char *const stages[] = {"intent",  "drafting", "signed",
                                     "renewal", "expired",  "terminated"};
/* Issue 17 names the stages otherwise; a client that uses its names is
 * understood. An agreement in force ("active") is signed in SPEC's terms.
 * "renewed" has no counterpart: SPEC's renewal is an agreement up for
 * renewal (SPEC: "an MOU signed in 2015 that comes up for renewal"), and
 * taking a renewed one for that would say the opposite; it is refused
 * with what to send instead. */
static const struct {
	const char *name, *stage;
} synonyms[] = {{"letter_of_intent", "intent"}, {"negotiation", "drafting"}, {"active", "signed"}};

#define STAGE_LIST                                                                                 \
	"must be intent, drafting, signed, renewal, expired or terminated (letter_of_intent, "     \
	"negotiation and active are taken as intent, drafting and signed)"
#define STAGE_RENEWED                                                                              \
	"renewed is not a stage: a renewed agreement is signed again (stage signed with its new "  \
	"signed_on and expires_on); renewal is an agreement up for renewal"

const char *ag_stage(const char *s)
{
	for (size_t i = 0; s && i < ARRAY_LEN(stages); i++)
		if (!strcmp(s, stages[i]))
			return stages[i];
	for (size_t i = 0; s && i < ARRAY_LEN(synonyms); i++)
		if (!strcmp(s, synonyms[i].name))
			return synonyms[i].stage;
	return NULL;
}

const char *ag_stage_fault(const char *s)
{
	return s && !strcmp(s, "renewed") ? STAGE_RENEWED : STAGE_LIST;
}

const char *ag_past_date(const struct agop *op, json_t *v, const char *field, json_t *errors,
                         int *ok)
{
	if (!v || json_is_null(v))
		return NULL;
	const char *s = json_string_value(v);
	struct civil c;
	if (!s || strlen(s) != 10 || civil_parse(s, 1, &c)) {
		jv_error(errors, field, "must be a date, YYYY-MM-DD");
		*ok = 0;
		return NULL;
	}
	if (strcmp(s, op->today) > 0) {
		jv_error(errors, field, "must not be after today in the agreement's time zone");
		*ok = 0;
		return NULL;
	}
	return s;
}

/* The unknown members of object o, named base.member. */
static void unknown_members(json_t *o, const char *const *allowed, const char *base, json_t *errors)
{
	json_t *unknown = json_array();
	jv_known(o, allowed, NULL, unknown);
	size_t k;
	json_t *u;
	json_array_foreach(unknown, k, u)
	{
		char field[192];
		snprintf(field, sizeof(field), "%s.%s", base,
		         json_string_value(json_object_get(u, "field")));
		jv_error(errors, field, "unknown field");
	}
	json_decref(unknown);
}

/* One history entry, checked as history[i] against the one before it
 * (prev, or NULL); its normal form ({stage, on, note?}: the names
 * become SPEC's) is appended to out. */
static void check_entry(struct agop *op, json_t *e, size_t i, json_t *prev, json_t *out,
                        json_t *errors)
{
	static const char *const allowed[] = {"stage", "on", "note", NULL};
	char base[32], field[64];
	snprintf(base, sizeof(base), "history[%zu]", i);
	if (!json_is_object(e)) {
		jv_error(errors, base, "must be an object with stage and on");
		return;
	}
	unknown_members(e, allowed, base, errors);
	snprintf(field, sizeof(field), "%s.stage", base);
	const char *name = jv_string_at(e, "stage", field, 1, 32, 0, errors);
	const char *stage = ag_stage(name);
	if (name && !stage)
		jv_error(errors, field, ag_stage_fault(name));
	const char *prev_stage = ag_stage(json_string_value(json_object_get(prev, "stage")));
	if (stage && prev_stage && !strcmp(stage, prev_stage)) {
		char msg[96];
		snprintf(msg, sizeof(msg),
		         "is taken as %s, the stage of the entry before it: not a change", stage);
		jv_error(errors, field,
		         strcmp(name, stage) ? msg
		                             : "is the stage of the entry before it: not a change");
	}
	snprintf(field, sizeof(field), "%s.on", base);
	int ok = 1;
	const char *on = ag_past_date(op, json_object_get(e, "on"), field, errors, &ok);
	if (!on && ok)
		jv_error(errors, field, "is required");
	const char *prev_on = json_string_value(json_object_get(prev, "on"));
	if (on && prev_on && strcmp(on, prev_on) < 0)
		jv_error(errors, field, "must not be before the entry before it");
	snprintf(field, sizeof(field), "%s.note", base);
	const char *note = jv_string_at(e, "note", field, 0, 500, 0, errors);
	if (stage && on &&
	    json_array_append_new(
	        out, json_pack("{s:s, s:s, s:s*}", "stage", stage, "on", on, "note", note)))
		op->oom = 1;
}

/* op->body's history in normal form (an empty array when it has none), or
 * NULL when it is not valid. */
static json_t *check_history(struct agop *op, json_t *errors)
{
	json_t *v = json_object_get(op->body, "history");
	json_t *out = json_array();
	size_t before = json_array_size(errors);
	if (!out) {
		op->oom = 1;
		return NULL;
	}
	if (op->history_given && (!v || json_is_null(v) || !json_array_size(v))) {
		jv_error(errors, "history", "must keep at least one stage change");
	} else if (v && !json_is_null(v) &&
	           (!json_is_array(v) || json_array_size(v) > AG_MAX_HISTORY)) {
		jv_error(errors, "history", "must be an array of at most 100 stage changes");
	} else {
		size_t i;
		json_t *e;
		json_array_foreach(v, i, e)
		{
			check_entry(op, e, i, i ? json_array_get(v, i - 1) : NULL, out, errors);
		}
	}
	if (json_array_size(errors) > before || op->oom) {
		json_decref(out);
		return NULL;
	}
	return out;
}

/* The day a change to stage made now is recorded on: a signature on
 * signed_on and an expiry on expires_on when that day has come, else
 * today; never before the last entry (after) or after today. */
static const char *change_day(const struct agop *op, const char *stage, const char *after)
{
	const char *day = op->today;
	if (!strcmp(stage, "signed") && op->signed_on && strcmp(op->signed_on, op->today) <= 0)
		day = op->signed_on;
	else if (!strcmp(stage, "expired") && op->expires_on &&
	         strcmp(op->expires_on, op->today) <= 0)
		day = op->expires_on;
	return after && strcmp(day, after) < 0 ? after : day;
}

void ag_check_stages(struct agop *op, json_t *errors)
{
	const char *stage = NULL;
	json_t *sv = json_object_get(op->body, "stage");
	if (sv && !json_is_null(sv)) {
		const char *name = jv_string(op->body, "stage", 0, 32, 0, errors);
		if (!name)
			return;
		if (!(stage = ag_stage(name))) {
			jv_error(errors, "stage", ag_stage_fault(name));
			return;
		}
	}
	json_t *h = check_history(op, errors);
	if (!h)
		return;
	json_t *last = json_array_get(h, json_array_size(h) - 1);
	const char *last_stage = json_string_value(json_object_get(last, "stage"));
	/* A history sent without a stage says which stage the agreement is in. */
	if (last_stage && (!stage || (op->history_given && !op->stage_given)))
		stage = last_stage;
	if (!stage) {
		jv_error(errors, "stage", "is required");
		json_decref(h);
		return;
	}
	if (!last_stage || strcmp(stage, last_stage)) {
		if (json_array_size(h) >= AG_MAX_HISTORY) {
			jv_error(errors, "history",
			         "holds 100 stage changes, as many as an agreement keeps");
			json_decref(h);
			return;
		}
		const char *on =
		    change_day(op, stage, json_string_value(json_object_get(last, "on")));
		if (json_array_append_new(h, json_pack("{s:s, s:s}", "stage", stage, "on", on)))
			op->oom = 1;
	}
	op->stage = stage;
	op->history = h;
}

/* ---- the follow-up template ------------------------------------------------ */

/* Whether history h has an entry of stage. */
static json_t *entry_of(json_t *h, const char *stage)
{
	size_t i;
	json_t *e;
	json_array_foreach(h, i, e)
	{
		const char *s = json_string_value(json_object_get(e, "stage"));
		if (s && !strcmp(s, stage))
			return e;
	}
	return NULL;
}

/* Whether this write signs the agreement: its stage becomes signed, and
 * as stored (a patch) it was never signed. */
static int signing(const struct agop *op)
{
	if (!op->stage || strcmp(op->stage, "signed"))
		return 0;
	if (!op->before)
		return 1;
	const char *was = json_string_value(json_object_get(op->before, "stage"));
	return !(was && !strcmp(was, "signed")) &&
	       !entry_of(json_object_get(op->before, "history"), "signed");
}

void ag_follow_up(struct agop *op, json_t *errors)
{
	if (!json_array_size(op->template) || !signing(op) || !op->history || op->oom)
		return;
	const char *from = op->signed_on;
	if (!from)
		from = json_string_value(json_object_get(entry_of(op->history, "signed"), "on"));
	struct civil signed_day;
	if (!from || civil_parse(from, 1, &signed_day))
		return;
	json_t *ms = json_object_get(op->body, "milestones");
	size_t i;
	json_t *step;
	json_array_foreach(op->template, i, step)
	{
		const char *title = json_string_value(json_object_get(step, "title"));
		json_t *days = json_object_get(step, "days");
		if (!title || !json_is_integer(days))
			continue; /* PUT /v1/follow-up-template checked it: not reached */
		int taken = 0;
		size_t k;
		json_t *m;
		json_array_foreach(ms, k, m)
		{
			const char *t = json_string_value(json_object_get(m, "title"));
			taken |= t && !strcmp(t, title);
		}
		if (taken)
			continue;
		struct civil due = signed_day;
		char day[CIVIL_LEN];
		civil_add_days(&due, (int)json_integer_value(days));
		civil_format(&due, 1, day);
		json_t *rem = json_object_get(step, "reminders");
		size_t before = json_array_size(errors);
		json_t *row =
		    ag_deadline_row("milestone", title, day, op->timezone,
		                    json_is_array(rem) ? rem : NULL, NULL, "stage", errors);
		if ((!row && json_array_size(errors) == before) ||
		    (row && json_array_append_new(op->events, row)))
			op->oom = 1;
	}
}

void ag_check_steps(json_t *steps, const char *base, json_t *errors)
{
	static const char *const allowed[] = {"title", "days", "reminders", NULL};
	if (!json_is_array(steps) || json_array_size(steps) > AG_MAX_STEPS) {
		jv_error(errors, base, "must be an array of at most 20 steps");
		return;
	}
	size_t i;
	json_t *s;
	json_array_foreach(steps, i, s)
	{
		char at[48], field[96];
		snprintf(at, sizeof(at), "%s[%zu]", base, i);
		if (!json_is_object(s)) {
			jv_error(errors, at, "must be an object with title and days");
			continue;
		}
		unknown_members(s, allowed, at, errors);
		snprintf(field, sizeof(field), "%s.title", at);
		jv_string_at(s, "title", field, 1, 500, 0, errors);
		snprintf(field, sizeof(field), "%s.days", at);
		json_t *days = json_object_get(s, "days");
		if (!json_is_integer(days) || json_integer_value(days) < 0 ||
		    json_integer_value(days) > 3650)
			jv_error(errors, field, "must be a whole number of days from 0 to 3650");
		ag_check_reminders(s, at, errors);
	}
}
