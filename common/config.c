/* config.c - settings table and the three sources that fill it. Every
 * setting is one row below: its name in the file, LIAISON_NAME in the
 * environment and --name on the command line all resolve to that row. */
#include "config.h"

#include "values.h"
#include "cidr.h"
#include "macros.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum kind {
	K_CIDRS,
	K_STRING,
	K_FILE, /* a path that must be readable, or empty */
	K_INT,
	K_BOOL,
	K_DURATION,
	K_DURATIONS,
	K_RATE,
	K_LISTEN,
	K_LEVEL,
	K_BYTES,
	K_URL
};

struct setting {
	const char *name;
	enum kind kind;
	size_t offset;
	long min, max;   /* K_INT; K_DURATION's milliseconds (max 0: none) */
	bool reloadable; /* SIGHUP applies it; others are logged as needing a restart */
	const char *def;
	const char *help;
};

#define OFF(f) offsetof(struct config, f)

static const struct setting settings[] = {
    {"listen", K_LISTEN, OFF(listen), 0, 0, false, "127.0.0.1:8080",
     "address and port to serve on"},
    {"database", K_STRING, OFF(database), 0, 0, false, "",
     "libpq conninfo or URI; empty: libpq's PG* variables"},
    {"read_database", K_STRING, OFF(read_database), 0, 0, false, "",
     "a streaming standby of database (libpq conninfo or URI) for feeds, lists, occurrences "
     "and reports; a read goes to database when the standby has not replayed the last change "
     "it depends on; empty: none"},
    {"public_url", K_URL, OFF(public_url), 0, 0, false, "",
     "base of feed URLs handed out (default http://<listen>)"},
    {"threads", K_INT, OFF(threads), 0, 256, false, "0",
     "HTTP worker threads (0: number of cores)"},
    {"db_pool_size", K_INT, OFF(db_pool_size), 1, 64, false, "4",
     "database connections per worker thread"},
    {"db_queue_max", K_INT, OFF(db_queue_max), 1, 100000, false, "1024",
     "queries waiting per worker thread before 503"},
    {"db_query_timeout", K_DURATION, OFF(db_query_timeout_ms), 100, 0, false, "5s",
     "deadline of every database query (statement_timeout, and a client-side timer for a "
     "server that does not answer): 503 with Retry-After past it"},
    {"max_body", K_BYTES, OFF(max_body), 1, 0, false, "1048576", "largest request body, in bytes"},
    {"render_memory", K_BYTES, OFF(render_memory), 0, 0, false, "67108864",
     "bytes of heap the worker threads touch at start for renderings, shared among them "
     "(at most 32 MiB each; 0: none)"},
    {"row_cache_ttl", K_DURATION, OFF(row_cache_ttl_ms), 0, 60000, false, "1s",
     "how long a single event or org read once may be answered again from memory (per "
     "thread), unless a change that can reach it is heard of first: a write through this "
     "instance at once, another's by NOTIFY (at most 1m; 0: always read)"},
    {"feed_cache_memory", K_BYTES, OFF(feed_cache_memory), 0, 0, false, "67108864",
     "bytes the rendered feeds kept in memory (plain and gzip) may hold together, one copy "
     "for all worker threads; past it the oldest renderings go (0: none kept)"},
    {"feed_file_dir", K_STRING, OFF(feed_file_dir), 0, 0, false, "/var/tmp",
     "directory where rendered feeds of 16 KiB or more are kept as unnamed files and sent "
     "from with sendfile; best on a disk's filesystem, not tmpfs (\"\": memory files)"},
    {"feed_state_dir", K_STRING, OFF(feed_state_dir), 0, 0, false, "",
     "directory where the rendered feeds kept in memory are saved at a clean stop and read "
     "back at the next start, so that a feed's first request after a restart reads only what "
     "changed meanwhile (\"\": none)"},
    {"feed_state_every", K_DURATION, OFF(feed_state_every_ms), 0, 60000, false, "30s",
     "how often, while running, the renderings made since the last save are saved to "
     "feed_state_dir, so that a start after a crash finds them too (at least 100ms, at "
     "most 1m: a list read whole five minutes before is not read back; 0: at a clean "
     "stop only)"},
    {"request_timeout", K_DURATION, OFF(request_timeout_ms), 1, 0, false, "30s",
     "how long an idle keep-alive connection stays open, and how long a response's "
     "write may stall"},
    {"header_timeout", K_DURATION, OFF(header_timeout_ms), 1, 0, false, "10s",
     "a request's head must arrive within this, from its first byte (408 beyond)"},
    {"body_timeout", K_DURATION, OFF(body_timeout_ms), 1, 0, false, "30s",
     "a request's body must arrive within this, from the end of its head (408 beyond)"},
    {"max_connections", K_INT, OFF(max_connections), 0, 1000000, false, "0",
     "open HTTP connections per instance; beyond, idle ones are closed or 503 "
     "(0: the descriptor limit less a reserve)"},
    {"max_bodies_in_flight", K_BYTES, OFF(max_bodies_in_flight), 1, 0, false, "67108864",
     "bytes all request bodies being read may hold together (503 beyond)"},
    {"shutdown_timeout", K_DURATION, OFF(shutdown_timeout_ms), 0, 0, true, "10s",
     "how long SIGTERM waits for requests in flight"},
    {"webhook_timeout", K_DURATION, OFF(webhook_timeout_ms), 1, 0, false, "15s",
     "per webhook attempt"},
    {"webhook_retry_schedule", K_DURATIONS, OFF(webhook_retry_schedule_ms), 0, 0, false,
     "5s,5m,30m,2h,5h,10h,10h", "delays between webhook attempts"},
    {"webhook_allow_private", K_BOOL, OFF(webhook_allow_private), 0, 0, false, "false",
     "allow loopback/private webhook targets"},
    {"webhook_ca_file", K_FILE, OFF(webhook_ca_file), 0, 0, false, "",
     "CA bundle for HTTPS targets (default: system CAs)"},
    {"webhook_disable_after", K_DURATION, OFF(webhook_disable_after_ms), 0, 0, false, "5d",
     "failing this long disables an endpoint"},
    {"webhook_concurrency", K_INT, OFF(webhook_concurrency), 1, 4096, false, "128",
     "webhook attempts in flight per instance"},
    {"webhook_endpoint_concurrency", K_INT, OFF(webhook_endpoint_concurrency), 1, 1024, false, "16",
     "webhook attempts in flight per endpoint, across instances"},
    {"rate_limit", K_RATE, OFF(rate_limit), 0, 0, true, "50/s",
     "/v1 requests per API token (burst twice the rate a second, at least the N of N/m or "
     "N/h, at least 1; 0 off)"},
    {"auth_failure_limit", K_RATE, OFF(auth_failure_limit), 0, 0, true, "5/s",
     "unknown tokens per client address before 429 for tokens not cached (burst as "
     "rate_limit; 0 off)"},
    {"trusted_proxies", K_CIDRS, OFF(trusted_proxies), 0, 0, false, "",
     "addresses whose X-Forwarded-For is believed"},
    {"log_level", K_LEVEL, OFF(log_level), 0, 0, true, "info", "debug, info, warn or error"},
    {"log_file", K_STRING, OFF(log_file), 0, 0, true, "",
     "log to this file (reopened on SIGHUP); empty: stderr"},
};

static const struct setting *find(const char *name)
{
	for (size_t i = 0; i < ARRAY_LEN(settings); i++)
		if (strcmp(settings[i].name, name) == 0)
			return &settings[i];
	return NULL;
}

int config_is_setting(const char *name)
{
	return find(name) != NULL;
}

const struct config_setting_info *config_settings(size_t *n)
{
	static struct config_setting_info info[ARRAY_LEN(settings)];
	for (size_t i = 0; i < ARRAY_LEN(settings); i++) {
		info[i].name = settings[i].name;
		info[i].default_value = settings[i].def;
		info[i].help = settings[i].help;
	}
	*n = ARRAY_LEN(settings);
	return info;
}

static int set_string(char **slot, const char *value)
{
	char *copy = strdup(value);
	if (!copy)
		return -1;
	free(*slot);
	*slot = copy;
	return 0;
}

static int parse_bool(const char *v, bool *out)
{
	if (!strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "on") || !strcmp(v, "1"))
		*out = true;
	else if (!strcmp(v, "false") || !strcmp(v, "no") || !strcmp(v, "off") || !strcmp(v, "0"))
		*out = false;
	else
		return -1;
	return 0;
}

static int parse_int(const char *v, long min, long max, long *out)
{
	if (!*v)
		return -1;
	errno = 0;
	char *end;
	long x = strtol(v, &end, 10);
	if (errno || *end || x < min || (max && x > max))
		return -1;
	*out = x;
	return 0;
}

static double rate_burst(const char *value, double per_sec)
{
	double n = strtod(value, NULL), burst = per_sec * 2;
	if (burst < n)
		burst = n;
	return per_sec > 0 && burst < 1 ? 1 : burst;
}

static int bad(char *err, size_t errlen, const char *msg)
{
	snprintf(err, errlen, "%s", msg);
	return -1;
}

static int set_kind(struct config *cfg, const struct setting *s, const char *value, char *err,
                    size_t errlen)
{
	void *base = (char *)cfg + s->offset;
	long l;
	switch (s->kind) {
	case K_STRING:
		return set_string((char **)base, value) ? bad(err, errlen, "out of memory") : 0;
	case K_FILE:
		if (*value && access(value, R_OK) != 0)
			return snprintf(err, errlen, "cannot read %.300s: %s", value,
			                strerror(errno)),
			       -1;
		return set_string((char **)base, value) ? bad(err, errlen, "out of memory") : 0;
	case K_CIDRS:
		if (cidr_list_parse(value, cfg->trusted, CIDR_MAX, &cfg->ntrusted))
			return bad(err, errlen,
			           "must be a comma-separated list of addresses or networks, "
			           "e.g. 127.0.0.1, 10.0.0.0/8");
		return set_string((char **)base, value) ? bad(err, errlen, "out of memory") : 0;
	case K_URL:
		if (*value && strncmp(value, "http://", 7) && strncmp(value, "https://", 8))
			return bad(err, errlen, "must start with http:// or https://");
		return set_string((char **)base, value) ? bad(err, errlen, "out of memory") : 0;
	case K_INT:
		if (parse_int(value, s->min, s->max, &l))
			return snprintf(err, errlen, "must be an integer from %ld to %ld", s->min,
			                s->max),
			       -1;
		*(int *)base = (int)l;
		return 0;
	case K_BYTES:
		if (parse_int(value, s->min, 0, &l))
			return snprintf(err, errlen, "must be a number of bytes, at least %ld",
			                s->min),
			       -1;
		*(int64_t *)base = l;
		return 0;
	case K_BOOL:
		if (parse_bool(value, (bool *)base))
			return bad(err, errlen, "must be true or false");
		return 0;
	case K_DURATION: {
		int64_t ms;
		if (duration_parse(value, &ms))
			return bad(err, errlen,
			           "must be an integer and a unit (ms, s, m, h, d), e.g. 15s");
		if (ms < s->min)
			return snprintf(err, errlen, "must be at least %ld ms", s->min), -1;
		if (s->max && ms > s->max)
			return snprintf(err, errlen, "must be at most %ld ms", s->max), -1;
		*(int64_t *)base = ms;
		return 0;
	}
	case K_DURATIONS:
		if (duration_list_parse(value, cfg->webhook_retry_schedule_ms, CONFIG_MAX_RETRIES,
		                        &cfg->webhook_retry_count))
			return bad(err, errlen,
			           "must be a comma-separated list of durations, e.g. 5s,5m,30m");
		return 0;
	case K_RATE:
		if (rate_parse(value, (double *)base))
			return bad(err, errlen, "must be N/s, N/m, N/h or 0");
		/* The burst follows the double: twice the rate a second, and at
		 * least the N of N/m or N/h, so that 3/m lets 3 through at once
		 * (twice 0.05 a second alone would be under one token: every
		 * request refused). */
		((double *)base)[1] = rate_burst(value, *(double *)base);
		return 0;
	case K_LEVEL:
		if (log_level_parse(value, (enum log_level *)base))
			return bad(err, errlen, "must be debug, info, warn or error");
		return 0;
	case K_LISTEN:
		if (hostport_parse(value, cfg->listen_host, sizeof(cfg->listen_host),
		                   &cfg->listen_port) ||
		    !cfg->listen_host[0])
			return bad(err, errlen, "must be HOST:PORT, e.g. 127.0.0.1:8080");
		return set_string((char **)base, value) ? bad(err, errlen, "out of memory") : 0;
	}
	return -1;
}

int config_set(struct config *cfg, const char *name, const char *value, char *err, size_t errlen)
{
	const struct setting *s = find(name);
	if (!s)
		return bad(err, errlen, "unknown setting");
	return set_kind(cfg, s, value, err, errlen);
}

void config_init(struct config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	char err[CONFIG_ERR_LEN];
	for (size_t i = 0; i < ARRAY_LEN(settings); i++) {
		/* Defaults are constants of this file and always parse. */
		if (set_kind(cfg, &settings[i], settings[i].def, err, sizeof(err)))
			abort();
	}
}

void config_free(struct config *cfg)
{
	for (size_t i = 0; i < ARRAY_LEN(settings); i++) {
		if (settings[i].kind == K_STRING || settings[i].kind == K_FILE ||
		    settings[i].kind == K_CIDRS || settings[i].kind == K_URL ||
		    settings[i].kind == K_LISTEN) {
			char **slot = (char **)((char *)cfg + settings[i].offset);
			free(*slot);
			*slot = NULL;
		}
	}
}

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	char *e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/* A value may be quoted to keep leading or trailing spaces or a '#'. */
static int unquote(char *v)
{
	size_t n = strlen(v);
	if (n == 0 || (v[0] != '"' && v[0] != '\''))
		return 0;
	if (n < 2 || v[n - 1] != v[0])
		return -1;
	memmove(v, v + 1, n - 2);
	v[n - 2] = '\0';
	return 0;
}

static int parse_line(struct config *cfg, char *line, const char *path, int lineno, char *err,
                      size_t errlen)
{
	char reason[CONFIG_ERR_LEN];
	char *s = trim(line);
	if (*s == '\0' || *s == '#')
		return 0;
	char *eq = strchr(s, '=');
	if (!eq) {
		snprintf(err, errlen, "%s:%d: expected \"key = value\"", path, lineno);
		return -1;
	}
	*eq = '\0';
	char *key = trim(s);
	char *value = trim(eq + 1);
	if (value[0] != '"' && value[0] != '\'') {
		char *hash = strstr(value, " #");
		if (hash)
			*hash = '\0';
		value = trim(value);
	}
	if (unquote(value)) {
		snprintf(err, errlen, "%s:%d: %.64s: unterminated quote", path, lineno, key);
		return -1;
	}
	if (config_set(cfg, key, value, reason, sizeof(reason))) {
		snprintf(err, errlen, "%s:%d: %.64s: %s", path, lineno, key, reason);
		return -1;
	}
	return 0;
}

int config_load_file(struct config *cfg, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	char line[8192];
	int lineno = 0, rc = 0;
	while (fgets(line, sizeof(line), f)) {
		lineno++;
		if (!strchr(line, '\n') && !feof(f)) {
			snprintf(err, errlen, "%s:%d: line too long", path, lineno);
			rc = -1;
			break;
		}
		if (parse_line(cfg, line, path, lineno, err, errlen)) {
			rc = -1;
			break;
		}
	}
	if (rc == 0 && ferror(f)) {
		snprintf(err, errlen, "%s: read error", path);
		rc = -1;
	}
	fclose(f);
	return rc;
}

int config_load_env(struct config *cfg, char *const *envp, char *err, size_t errlen)
{
	char reason[CONFIG_ERR_LEN];
	for (; envp && *envp; envp++) {
		const char *e = *envp;
		if (strncmp(e, "LIAISON_", 8) != 0)
			continue;
		const char *eq = strchr(e, '=');
		if (!eq)
			continue;
		char name[64];
		size_t n = (size_t)(eq - e) - 8;
		if (n >= sizeof(name))
			continue;
		for (size_t i = 0; i < n; i++)
			name[i] = (char)tolower((unsigned char)e[8 + i]);
		name[n] = '\0';
		if (strcmp(name, "config") == 0)
			continue; /* the file's path, not a setting */
		if (!find(name))
			continue; /* other tools' variables may share the prefix */
		if (config_set(cfg, name, eq + 1, reason, sizeof(reason))) {
			snprintf(err, errlen, "environment LIAISON_%s: %s", name, reason);
			for (char *p = err + 20; *p && *p != ':'; p++)
				*p = (char)toupper((unsigned char)*p);
			return -1;
		}
	}
	return 0;
}

int config_finish(struct config *cfg)
{
	if (cfg->public_url && *cfg->public_url) {
		size_t n = strlen(cfg->public_url);
		while (n > 0 && cfg->public_url[n - 1] == '/')
			cfg->public_url[--n] = '\0'; /* we append "/feeds/..." */
		return 0;
	}
	char url[300];
	snprintf(url, sizeof(url), "http://%s", cfg->listen);
	return set_string(&cfg->public_url, url);
}

int config_load(struct config *cfg, const struct config_sources *src, char *err, size_t errlen)
{
	char reason[CONFIG_ERR_LEN];
	if (src->path && *src->path && config_load_file(cfg, src->path, err, errlen) != 0)
		return -1;
	if (config_load_env(cfg, src->envp, err, errlen) != 0)
		return -1;
	for (int i = 0; i + 1 < src->nflags; i += 2) {
		if (config_set(cfg, src->flags[i], src->flags[i + 1], reason, sizeof(reason)) !=
		    0) {
			snprintf(err, errlen, "--%s: %s", src->flags[i], reason);
			return -1;
		}
	}
	if (config_finish(cfg) != 0)
		return bad(err, errlen, "out of memory");
	return 0;
}

static int setting_differs(const struct setting *s, const struct config *a, const struct config *b)
{
	const void *pa = (const char *)a + s->offset, *pb = (const char *)b + s->offset;
	switch (s->kind) {
	case K_STRING:
	case K_FILE:
	case K_CIDRS:
	case K_URL:
	case K_LISTEN: {
		const char *x = *(char *const *)pa, *y = *(char *const *)pb;
		return strcmp(x ? x : "", y ? y : "") != 0;
	}
	case K_INT: return *(const int *)pa != *(const int *)pb;
	case K_BYTES:
	case K_DURATION: return *(const int64_t *)pa != *(const int64_t *)pb;
	case K_BOOL: return *(const bool *)pa != *(const bool *)pb;
	case K_RATE: return *(const double *)pa != *(const double *)pb;
	case K_LEVEL: return *(const enum log_level *)pa != *(const enum log_level *)pb;
	case K_DURATIONS:
		return a->webhook_retry_count != b->webhook_retry_count ||
		       memcmp(a->webhook_retry_schedule_ms, b->webhook_retry_schedule_ms,
		              sizeof(a->webhook_retry_schedule_ms)) != 0;
	}
	return 1;
}

const char *config_restart_needed(const struct config *old, const struct config *new)
{
	for (size_t i = 0; i < ARRAY_LEN(settings); i++)
		if (!settings[i].reloadable && setting_differs(&settings[i], old, new))
			return settings[i].name;
	return NULL;
}

int config_restart_list(const struct config *old, const struct config *new, char *out,
                        size_t outlen)
{
	int n = 0;
	size_t used = 0;
	if (outlen)
		out[0] = '\0';
	for (size_t i = 0; i < ARRAY_LEN(settings); i++) {
		if (settings[i].reloadable || !setting_differs(&settings[i], old, new))
			continue;
		int w = snprintf(out + used, outlen > used ? outlen - used : 0, "%s%s",
		                 n ? ", " : "", settings[i].name);
		if (w > 0 && used + (size_t)w < outlen)
			used += (size_t)w;
		n++;
	}
	return n;
}
