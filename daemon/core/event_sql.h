/* event_sql.h - the SQL of /v1/events: the representation of an event
 * (built in SQL, so every route returns the same JSON), the visibility
 * rule, and the statements. Table e is events, o the owner org. */
#ifndef LIAISON_EVENT_SQL_H
#define LIAISON_EVENT_SQL_H

#define EV_LOCAL(col)                                                                              \
	"to_char(" col ", CASE WHEN e.all_day THEN 'YYYY-MM-DD' "                                  \
	"ELSE 'YYYY-MM-DD\"T\"HH24:MI:SS' END)"
/* Most events have no exdates or rdates: skip the subquery for them. */
#define EV_LOCAL_LIST(col)                                                                         \
	"(CASE WHEN cardinality(" col ") = 0 THEN '[]'::jsonb ELSE (SELECT jsonb_agg(" EV_LOCAL(   \
	    "x") " ORDER BY x) FROM unnest(" col ") x) END)"
#define EV_UTC(col) "to_char(" col ", 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

#define EVENT_JSON                                                                                         \
	"jsonb_build_object('id', e.id, 'org', o.slug, 'kind', e.kind, 'title', e.title, "                 \
	"'description', e.description, 'location', e.location, 'city', e.city, "                           \
	"'country', e.country, 'timezone', e.timezone, 'all_day', e.all_day, "                             \
	"'start', " EV_LOCAL("e.start_local") ", 'end', " EV_LOCAL(                                        \
	    "e.end_local") ", "                                                                            \
	                   "'rrule', e.rrule, 'exdates', " EV_LOCAL_LIST(                                  \
	                       "e.exdates") ", "                                                           \
	                                    "'rdates', " EV_LOCAL_LIST(                                    \
	                                        "e.rdates") ", 'series_id', e.series_id, "                 \
	                                                    "'recurrence_id', " EV_LOCAL(                  \
	                                                        "e.recurrence_id") ", 'uid', "             \
	                                                                           "e.uid, "               \
	                                                                           "'status', "            \
	                                                                           "e.status, "            \
	                                                                           "'visibility',"         \
	                                                                           " e."                   \
	                                                                           "visibility, "          \
	                                                                           "'partners', "          \
	                                                                           "to_jsonb(e."           \
	                                                                           "partners), "           \
	                                                                           "'tags', "              \
	                                                                           "to_jsonb(e."           \
	                                                                           "tags), "               \
	                                                                           "'parent_id', "         \
	                                                                           "e.parent_id, "         \
	                                                                           "'agreement_"           \
	                                                                           "id', "                 \
	                                                                           "e.agreement_"          \
	                                                                           "id, "                  \
	                                                                           "'reminders', "         \
	                                                                           "to_jsonb(e."           \
	                                                                           "reminders), "          \
	                                                                           "'url', "               \
	                                                                           "e.url, "               \
	                                                                           "'sequence', "          \
	                                                                           "e.sequence, "          \
	                                                                           "'created_at',"         \
	                                                                           " " EV_UTC(             \
	                                                                               "e."                \
	                                                                               "cr"                \
	                                                                               "ea"                \
	                                                                               "te"                \
	                                                                               "d_"                \
	                                                                               "a"                 \
	                                                                               "t") ", "           \
	                                                                                    "'upd"         \
	                                                                                    "ated"         \
	                                                                                    "_at'"         \
	                                                                                    ","            \
	                                                                                    " " EV_UTC(    \
	                                                                                        "e."       \
	                                                                                        "updated_" \
	                                                                                        "at") ")"

/* The same event as plain columns, for event_json.c (EVENT_NCOLS of them):
 * times as Unix seconds (wall times read as UTC), arrays in text form. */
/* clang-format off */
#define EV_EPOCH(col) "floor(extract(epoch FROM " col "))::bigint"
#define EV_EPOCH_LIST(col) \
	"(CASE WHEN cardinality(" col ") = 0 THEN '{}'::bigint[] ELSE (SELECT array_agg(" \
	EV_EPOCH("x") " ORDER BY x) FROM unnest(" col ") x) END)"
#define EVENT_COLS \
	"e.id, o.slug, e.kind, e.title, e.description, e.location, e.city, e.country, " \
	"e.timezone, e.all_day, " EV_EPOCH("e.start_local") ", " EV_EPOCH("e.end_local") ", " \
	"e.rrule, " EV_EPOCH_LIST("e.exdates") ", " EV_EPOCH_LIST("e.rdates") ", e.series_id, " \
	EV_EPOCH("e.recurrence_id") ", e.uid, e.status, e.visibility, e.partners, e.tags, " \
	"e.parent_id, e.agreement_id, e.reminders, e.url, e.sequence, " \
	EV_EPOCH("e.created_at") ", " EV_EPOCH("e.updated_at")
/* clang-format on */

/* Who may see event e: $ME is the caller's org id, $MYSLUG its slug. */
#define EV_VISIBLE(t, me, myslug)                                                                  \
	"(" t ".visibility = 'network' OR " t ".org_id = " me " OR " myslug " = ANY(" t            \
	".partners))"

/* Visits and meetings at the same place whose spans overlap e's, the
 * first 50 by start (an answer stays bounded however crowded a venue).
 * Places compare as liaison_place makes them (trimmed, white space
 * collapsed, lower case), spans as liaison_busy (an item without an end
 * is busy at its instant: what spans it conflicts); the conditions match
 * the partial GiST index events_place (010). */
#define EV_CONFLICTS(me, myslug)                                                                   \
	"(SELECT coalesce(jsonb_agg(jsonb_build_object('id', c.id, 'title', c.title) "             \
	"ORDER BY c.start_utc, c.id), '[]') FROM (SELECT c.id, c.title, c.start_utc "              \
	"FROM events c WHERE e.kind IN ('visit', 'meeting') "                                      \
	"AND e.location IS NOT NULL AND e.status <> 'cancelled' "                                  \
	"AND liaison_place(e.location) <> '' "                                                     \
	"AND c.kind IN ('visit', 'meeting') AND c.location IS NOT NULL "                           \
	"AND c.status <> 'cancelled' AND liaison_place(c.location) = liaison_place(e.location) "   \
	"AND liaison_busy(c.start_utc, c.end_utc, c.last_end_utc) && "                             \
	"liaison_busy(e.start_utc, e.end_utc, e.last_end_utc) AND c.id <> e.id AND " EV_VISIBLE(   \
	    "c", me, myslug) " ORDER BY c.start_utc, c.id LIMIT 50) c)"

/* The 25 columns every write sets, from parameters $2..$26 ($1: org id). */
#define EV_VALUES                                                                                  \
	"$2::text, $3::text, $4::text, $5::text, $6::text, $7::text, $8::text, $9::boolean, "      \
	"$10::timestamp, $11::timestamp, "                                                         \
	"to_timestamp($12::bigint), to_timestamp($13::bigint), "                                   \
	"CASE WHEN $14::bigint IS NULL THEN 'infinity'::timestamptz "                              \
	"ELSE to_timestamp($14::bigint) END, $15::text, "                                          \
	"ARRAY(SELECT jsonb_array_elements_text($16::jsonb))::timestamp[], "                       \
	"ARRAY(SELECT jsonb_array_elements_text($17::jsonb))::timestamp[], "                       \
	"$18::uuid, $19::timestamp, $20::text, $21::text, "                                        \
	"ARRAY(SELECT DISTINCT jsonb_array_elements_text($22::jsonb)), "                           \
	"ARRAY(SELECT DISTINCT jsonb_array_elements_text($23::jsonb)), $24::uuid, "                \
	"ARRAY(SELECT jsonb_array_elements_text($25::jsonb)), $26::text"
#define EV_NPARAMS 26
#define EV_COLUMNS                                                                                 \
	"kind, title, description, location, city, country, timezone, all_day, "                   \
	"start_local, end_local, start_utc, end_utc, last_end_utc, rrule, exdates, rdates, "       \
	"series_id, recurrence_id, status, visibility, partners, tags, parent_id, reminders, url"

#endif
