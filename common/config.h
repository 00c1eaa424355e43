/* config.h - the daemon's settings: defaults, file, environment, flags. */
#ifndef LIAISON_CONFIG_H
#define LIAISON_CONFIG_H

#include "cidr.h"
#include "macros.h"
#include "log.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONFIG_MAX_RETRIES 32
#define CONFIG_ERR_LEN     512

struct config {
	char *listen; /* as given, e.g. "127.0.0.1:8080" */
	char listen_host[256];
	int listen_port;
	char *database;
	char *read_database; /* a streaming standby's conninfo; "": none */
	char *public_url;
	int threads;
	int db_pool_size;             /* connections per worker thread */
	int db_queue_max;             /* queued queries per worker before 503 */
	int64_t max_body;             /* bytes; larger request bodies get 413 */
	int64_t render_memory;        /* bytes touched at start by the workers, for renderings */
	int64_t feed_cache_memory;    /* bytes the rendered feeds kept may hold, all threads */
	char *feed_file_dir;          /* where large ones are kept as unnamed files; "": memfds */
	char *feed_state_dir;         /* where they are kept across a restart; "": not kept */
	int64_t request_timeout_ms;   /* idle keep-alive connection; a response's write */
	int64_t header_timeout_ms;    /* a request's head, from its first byte */
	int64_t body_timeout_ms;      /* a request's body, from the end of its head */
	int max_connections;          /* per instance; 0: from the descriptor limit */
	int64_t max_bodies_in_flight; /* bytes all request bodies being read may hold */
	int64_t db_query_timeout_ms;  /* deadline of every database statement */
	int64_t row_cache_ttl_ms;     /* single rows answered again from memory */
	int64_t feed_state_every_ms;  /* renderings saved while running */
	int64_t shutdown_timeout_ms;
	int64_t webhook_timeout_ms;
	int64_t webhook_retry_schedule_ms[CONFIG_MAX_RETRIES];
	size_t webhook_retry_count;
	bool webhook_allow_private;
	char *webhook_ca_file;
	int64_t webhook_disable_after_ms;
	int webhook_concurrency;          /* attempts in flight per instance */
	int webhook_endpoint_concurrency; /* per endpoint, across instances */
	double rate_limit;                /* per second, 0 = off */
	double rate_limit_burst;          /* requests a key may make at once */
	double auth_failure_limit;        /* failed authentications per second per address */
	double auth_failure_limit_burst;
	char *trusted_proxies;
	struct cidr trusted[CIDR_MAX]; /* parsed trusted_proxies */
	size_t ntrusted;
	enum log_level log_level;
	char *log_file;
};

/* One setting's description, for --help and the README. */
struct config_setting_info {
	const char *name;
	const char *default_value;
	const char *help;
};

void config_init(struct config *cfg);
void config_free(struct config *cfg);
/* Sets one setting from its text form; err gets the reason on failure. */
int config_set(struct config *cfg, const char *name, const char *value, char *err,
               size_t errlen) WUR;
/* Reads "key = value" lines; err gets "FILE:LINE: key: reason". */
int config_load_file(struct config *cfg, const char *path, char *err, size_t errlen) WUR;
/* Applies every LIAISON_* variable of envp. */
int config_load_env(struct config *cfg, char *const *envp, char *err, size_t errlen) WUR;
/* Where settings come from, applied in this order, each over the one
 * before: the file (path; NULL or "": none), the environment's LIAISON_*
 * variables (envp), the command line (flags: name, value, name, value). */
struct config_sources {
	const char *path;
	char *const *envp;
	char *const *flags;
	int nflags;
};
/* The one way settings are read, at start and on SIGHUP alike: cfg, fresh
 * from config_init, gets the defaults, then each source, then what
 * defaults to other settings (config_finish). err gets "FILE:LINE: key:
 * reason", "environment LIAISON_KEY: reason" or "--key: reason". */
int config_load(struct config *cfg, const struct config_sources *src, char *err, size_t errlen) WUR;
/* Derives what defaults to other settings (public_url from listen). */
int config_finish(struct config *cfg) WUR;
/* Settings a reload cannot change; returns the first that differs, or NULL. */
const char *config_restart_needed(const struct config *old, const struct config *new);
/* Every such setting that differs, comma-separated, into out; returns how
 * many differ (0: none, out ""). */
int config_restart_list(const struct config *old, const struct config *new, char *out,
                        size_t outlen);
const struct config_setting_info *config_settings(size_t *n);
int config_is_setting(const char *name);

#endif
