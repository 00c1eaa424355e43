/* changes.c - see changes.h. A ring of the last steps, each with its
 * generation and what it reaches, under one lock: the bump and its step
 * are one, so a reader that saw a generation finds its step (the lock
 * orders them). A step whose reach names more than fits is kept as
 * reaching everything. */
#include "core/changes.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define CHANGES_KEPT 256
#define REACH_MAX    1024

static struct step {
	unsigned generation;
	int known;             /* the ring holds this generation's step */
	int all;               /* it may reach every feed */
	char reach[REACH_MAX]; /* else the orgs it reaches, comma-separated */
} ring[CHANGES_KEPT];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

unsigned changes_bump(_Atomic unsigned *generation, const char *reach)
{
	pthread_mutex_lock(&lock);
	unsigned g = atomic_fetch_add(generation, 1) + 1;
	struct step *s = &ring[g % CHANGES_KEPT];
	s->generation = g;
	s->known = 1;
	s->all = !reach || strlen(reach) >= REACH_MAX;
	if (s->all)
		s->reach[0] = '\0';
	else
		strcpy(s->reach, reach);
	pthread_mutex_unlock(&lock);
	return g;
}

int changes_names(const char *list, const char *word)
{
	size_t n = strlen(word);
	if (n == 0)
		return 0;
	for (const char *p = list; *p;) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if (len == n && !memcmp(p, word, n))
			return 1;
		if (!end)
			break;
		p = end + 1;
	}
	return 0;
}

int changes_reach(unsigned from, unsigned to, const char *org, const char *slug)
{
	if (to - from > CHANGES_KEPT)
		return 1;
	int reached = 0;
	pthread_mutex_lock(&lock);
	for (unsigned g = from + 1; g != to + 1 && !reached; g++) {
		const struct step *s = &ring[g % CHANGES_KEPT];
		reached = !s->known || s->generation != g || s->all ||
		          changes_names(s->reach, org) || changes_names(s->reach, slug);
	}
	pthread_mutex_unlock(&lock);
	return reached;
}
