/* vevents.c - the shared cache of rendered VEVENTs: an open-addressing
 * table keyed by event id and alarms, under one mutex (a lookup is a few
 * hundred nanoseconds; a feed of 10,000 events takes 10,000 of them). Its
 * size is bounded: when full it is emptied and refills from the feeds that
 * are still asked for. */
#include "vevents.h"

#include <pthread.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS   (1u << 17) /* room for 98,304 (event, alarms) pairs */
#define MAX_USE (SLOTS / 4 * 3)

struct vevent {
	char key[40]; /* uuid + alarms flag */
	char stamp[48];
	char zone[65];
	char *text;
	size_t len;
};

static struct vevent **table; /* SLOTS pointers, NULL when empty */
static size_t used;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static uint32_t hash(const char *s)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

static void make_key(char key[40], const char *id, int alarms)
{
	size_t n = strlen(id);
	if (n > 37)
		n = 37;
	memcpy(key, id, n);
	key[n] = alarms ? '+' : '-';
	key[n + 1] = '\0';
}

/* The slot of key, or the empty slot where it would go. Call locked. */
static struct vevent **slot(const char *key)
{
	for (uint32_t i = hash(key) & (SLOTS - 1);; i = (i + 1) & (SLOTS - 1))
		if (!table[i] || !strcmp(table[i]->key, key))
			return &table[i];
}

char *vevents_get(const char *id, const char *stamp, int alarms, char *zone)
{
	char key[40];
	make_key(key, id, alarms);
	char *copy = NULL;
	pthread_mutex_lock(&lock);
	if (table) {
		struct vevent *v = *slot(key);
		if (v && !strcmp(v->stamp, stamp) && (copy = malloc(v->len + 1))) {
			memcpy(copy, v->text, v->len + 1);
			memcpy(zone, v->zone, sizeof(v->zone));
		}
	}
	pthread_mutex_unlock(&lock);
	return copy;
}

static void clear_locked(void)
{
	for (size_t i = 0; table && i < SLOTS; i++) {
		if (table[i])
			free(table[i]->text);
		free(table[i]);
		table[i] = NULL;
	}
	used = 0;
}

void vevents_put(const char *id, const char *stamp, int alarms, const char *text, const char *zone)
{
	char key[40];
	make_key(key, id, alarms);
	size_t len = strlen(text);
	char *copy = malloc(len + 1);
	if (!copy || strlen(stamp) >= sizeof(((struct vevent *)0)->stamp)) {
		free(copy);
		return;
	}
	memcpy(copy, text, len + 1);
	pthread_mutex_lock(&lock);
	if (!table)
		table = calloc(SLOTS, sizeof(*table));
	if (table && used >= MAX_USE)
		clear_locked();
	if (!table) {
		pthread_mutex_unlock(&lock);
		free(copy);
		return;
	}
	struct vevent **at = slot(key);
	if (!*at) {
		*at = calloc(1, sizeof(**at));
		if (!*at) {
			pthread_mutex_unlock(&lock);
			free(copy);
			return;
		}
		used++;
	}
	struct vevent *v = *at;
	free(v->text);
	memcpy(v->key, key, sizeof(key));
	strcpy(v->stamp, stamp);
	snprintf(v->zone, sizeof(v->zone), "%s", zone ? zone : "");
	v->text = copy;
	v->len = len;
	pthread_mutex_unlock(&lock);
}

void vevents_clear(void)
{
	pthread_mutex_lock(&lock);
	clear_locked();
	free(table);
	table = NULL;
	pthread_mutex_unlock(&lock);
}
