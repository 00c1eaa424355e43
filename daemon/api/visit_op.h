/* visit_op.h - a visit being checked and a write of /v1/visits in
 * progress, shared by visits.c (the handlers), visit_check.c (the visit,
 * its delegates and which stored ones they continue), visit_items.c (its
 * programme) and visit_text.c (titles, languages, names, descriptions). */
#ifndef LIAISON_VISIT_OP_H
#define LIAISON_VISIT_OP_H

#include <event2/buffer.h>
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct req;

#define VISIT_MAX_DELEGATES   200
#define VISIT_MAX_ITEMS       200
#define VISIT_MAX_LANGUAGES   10
#define VISIT_MAX_DESCRIPTION 20000
#define VISIT_PERSON_KEY      256

extern const char *const visit_directions[];
extern const char *const visit_statuses[];

/* A visit being checked, and the write's input ($2) built from it. */
struct vcheck {
	json_t *body;   /* the visit as it is to be */
	json_t *stored; /* a patch: the visit as stored, whose ids continue */
	json_t *errors;
	json_t *out;   /* the input of SQL_VISIT_CREATE / SQL_VISIT_UPDATE */
	json_t *langs; /* the languages: those given, then those titles use */
	json_t *keys;  /* each delegate's name as compared (visit_person_key) */
	const char *tz, *title, *status, *ev_status;
	int64_t arrive, depart; /* UTC, when have_span */
	int have_span;
	int oom;
};

/* Checks c->body (against c->stored for a patch) into c->out; 0 when
 * valid, -1 with c->errors (or c->oom) set. c->errors is made by the
 * caller; visit_check_clear frees what the check made. */
int visit_check(struct vcheck *c, const char *default_tz);
void visit_check_clear(struct vcheck *c);

/* ---- visit_text.c ---- */
/* obj[key] = v (stolen; NULL means memory ran out: c->oom). */
void visit_put(struct vcheck *c, json_t *obj, const char *key, json_t *v);
/* obj[key] = s, or null. */
void visit_put_text(struct vcheck *c, json_t *obj, const char *key, const char *s);
/* One of values (NULL-terminated), or dflt when absent; NULL (an error at
 * field) when it is none of them. */
const char *visit_pick(json_t *obj, const char *key, const char *field, const char *const *values,
                       const char *dflt, json_t *errors);
/* A name as names are compared (sql/010's liaison_place: trimmed, runs of
 * white space one space, lower case). */
void visit_person_key(const char *name, char *out, size_t size);
/* The language joins c->langs (at most VISIT_MAX_LANGUAGES). */
void visit_add_lang(struct vcheck *c, const char *lang);
/* obj's title: text, or an object of language tags and texts (field
 * names the fault); its languages join c->langs. 0 when valid. */
int visit_title_check(struct vcheck *c, json_t *obj, const char *field);
/* A valid title's text in the first of langs that it has. */
const char *visit_title_first(json_t *t, json_t *langs);
/* "lang: text" lines for the languages of t other than first's. */
void visit_titles_other(struct evbuffer *b, json_t *t, json_t *langs, const char *first);
/* The text built in b (freed) as an event's description: cut to what an
 * event holds (at a character), no trailing newline; null when empty. */
json_t *visit_description(struct evbuffer *b);

/* ---- visit_check.c, for visit_items.c ---- */
/* What checking a synthesised event ev takes: errors and a buffer for
 * its description; -1 (ev freed, c->oom set) when memory runs out. */
int visit_synth_start(struct vcheck *c, json_t *ev, json_t **errs, struct evbuffer **d);
/* Copies the members of from named map[i][0] to to as map[i][1]. */
void visit_fields_copy(struct vcheck *c, json_t *from, json_t *to, const char *const (*map)[2],
                       size_t n);
/* The list c->body names member, at most max entries, and the array of
 * rows its entries become in c->out (as out_key); NULL when none. */
json_t *visit_list_of(struct vcheck *c, const char *member, const char *out_key, size_t max,
                      json_t **rows);
/* of[i]: the stored entry that entry i of list continues, or -1 (new):
 * the id sent back, then passes 1..passes of same(). */
typedef int (*visit_same_fn)(int pass, json_t *mine, json_t *stored);
void visit_match_stored(struct vcheck *c, json_t *list, json_t *stored, const char *name,
                        int passes, visit_same_fn same, int *of, int *taken);
/* The position (1-based) of the delegate named name, or 0 (an error at
 * field). */
int visit_delegate_named(struct vcheck *c, json_t *name, const char *field);

/* ---- visit_items.c ---- */
/* The programme: items, their people and their events. */
void visit_items_check(struct vcheck *c);

/* ---- visits.c ---- */
/* The id of a visit route ({id}), or NULL once it has answered 404. */
const char *visits_id(struct req *r);
/* SQL_VISIT_GET, one statement for every reader: $1 visit, $2 caller's
 * org id, $3 its slug, $4 whether items carry conflicts. */
extern const char visits_get_sql[];

#endif
