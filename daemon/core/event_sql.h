/* event_sql.h - an event in SQL, as the API, the feeds and the webhook
 * messages all give it: its JSON representation built by PostgreSQL
 * (EVENT_JSON), the same as plain columns for event_json.c (EVENT_COLS),
 * and who may see it (EV_VISIBLE). Table e is events, o its owner org.
 * The statements of /v1/events are in api/events_sql.h. */
#ifndef LIAISON_EVENT_SQL_H
#define LIAISON_EVENT_SQL_H

/* clang-format off */

/* A wall time as the API writes it: a date for all-day items. */
#define EV_LOCAL(col) \
	"to_char(" col ", CASE WHEN e.all_day THEN 'YYYY-MM-DD'" \
	"                 ELSE 'YYYY-MM-DD\"T\"HH24:MI:SS' END)"
/* A list of them, sorted; most events have no exdates or rdates: the
 * subquery is skipped for them. */
#define EV_LOCAL_LIST(col) \
	"(CASE WHEN cardinality(" col ") = 0 THEN '[]'::jsonb" \
	"      ELSE (SELECT jsonb_agg(" EV_LOCAL("x") " ORDER BY x)" \
	"              FROM unnest(" col ") x) END)"
/* Whether override x of series e may name one of e's occurrences, as
 * /v1/occurrences applies it (it compares recurrence ids as written):
 * not an orphan (sql/012: a change of e took its occurrence away), and of
 * e's form, all-day or timed (read in e's form, 09:00 on a day of a
 * series made all-day since was that whole day). */
#define EV_NAMES_AN_OCCURRENCE(x, e) \
	"(" x ".orphan_status IS NULL AND " x ".all_day = " e ".all_day)"

/* An instant, RFC 3339 in UTC with whole seconds. */
#define EV_UTC(col) "to_char(" col ", 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

/* The representation (jsonb: its keys come out in jsonb's order). */
#define EVENT_JSON \
	"jsonb_build_object(" \
	"  'id', e.id," \
	"  'org', o.slug," \
	"  'kind', e.kind," \
	"  'title', e.title," \
	"  'description', e.description," \
	"  'location', e.location," \
	"  'city', e.city," \
	"  'country', e.country," \
	"  'timezone', e.timezone," \
	"  'all_day', e.all_day," \
	"  'start', " EV_LOCAL("e.start_local") "," \
	"  'end', " EV_LOCAL("e.end_local") "," \
	"  'rrule', e.rrule," \
	"  'exdates', " EV_LOCAL_LIST("e.exdates") "," \
	"  'rdates', " EV_LOCAL_LIST("e.rdates") "," \
	"  'series_id', e.series_id," \
	"  'recurrence_id', " EV_LOCAL("e.recurrence_id") "," \
	"  'uid', e.uid," \
	"  'status', e.status," \
	"  'visibility', e.visibility," \
	"  'partners', to_jsonb(e.partners)," \
	"  'tags', to_jsonb(e.tags)," \
	"  'parent_id', e.parent_id," \
	"  'agreement_id', e.agreement_id," \
	"  'reminders', to_jsonb(e.reminders)," \
	"  'url', e.url," \
	"  'sequence', e.sequence," \
	"  'created_at', " EV_UTC("e.created_at") "," \
	"  'updated_at', " EV_UTC("e.updated_at") ")"

/* The same event as plain columns, for event_json.c (EVENT_NCOLS of them):
 * times as Unix seconds (wall times read as UTC), arrays in text form. */
#define EV_EPOCH(col) "floor(extract(epoch FROM " col "))::bigint"
#define EV_EPOCH_LIST(col) \
	"(CASE WHEN cardinality(" col ") = 0 THEN '{}'::bigint[]" \
	"      ELSE (SELECT array_agg(" EV_EPOCH("x") " ORDER BY x)" \
	"              FROM unnest(" col ") x) END)"
#define EVENT_COLS \
	"e.id, o.slug, e.kind, e.title, e.description, e.location, e.city, e.country," \
	" e.timezone, e.all_day, " EV_EPOCH("e.start_local") ", " EV_EPOCH("e.end_local") "," \
	" e.rrule, " EV_EPOCH_LIST("e.exdates") ", " EV_EPOCH_LIST("e.rdates") ", e.series_id," \
	" " EV_EPOCH("e.recurrence_id") ", e.uid, e.status, e.visibility, e.partners, e.tags," \
	" e.parent_id, e.agreement_id, e.reminders, e.url, e.sequence," \
	" " EV_EPOCH("e.created_at") ", " EV_EPOCH("e.updated_at")

/* Who may see event t: me is the caller's org id, myslug its slug. */
#define EV_VISIBLE(t, me, myslug) \
	"(" t ".visibility = 'network'" \
	" OR " t ".org_id = " me \
	" OR " myslug " = ANY(" t ".partners))"

/* clang-format on */

#endif
