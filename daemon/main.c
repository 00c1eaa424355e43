/* main.c - liaisond's command line: settings from flags, LIAISON_*
 * variables, the config file and defaults (in that order of precedence),
 * then one of serve, migrate, org create, key create. */
#include "cli.h"
#include "version.h"
#include "config.h"
#include "log.h"
#include "server.h"

#include <event2/event.h>
#include <event2/thread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern char **environ;

struct args {
	const char *config_path;
	int nflags;
	char **flags; /* name, value, name, value ... (settings from flags) */
	int nwords;
	const char *words[4]; /* command words and its positional argument */
	const char *name, *timezone, *country, *role;
	int host;
};

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: liaisond [--config FILE] [--SETTING VALUE ...] [serve]\n"
	        "       liaisond [...] migrate\n"
	        "       liaisond [...] org create SLUG --name NAME [--timezone TZ] [--country CC] "
	        "[--host]\n"
	        "       liaisond [...] key create SLUG [--role admin|editor|viewer] [--name NAME]\n"
	        "       liaisond --version | --help\n\n"
	        "Settings (flag --name, variable LIAISON_NAME, or \"name = value\" in the file;\n"
	        "flags win over variables, variables over the file):\n");
	size_t n;
	const struct config_setting_info *s = config_settings(&n);
	for (size_t i = 0; i < n; i++) {
		char flag[64];
		snprintf(flag, sizeof(flag), "--%s", s[i].name);
		for (char *p = flag + 2; *p; p++)
			if (*p == '_')
				*p = '-';
		fprintf(f, "  %-26s %s (default: %s)\n", flag, s[i].help,
		        *s[i].default_value ? s[i].default_value : "empty");
	}
	fprintf(f, "\nDurations: an integer and a unit (ms, s, m, h, d). Lists: comma-separated.\n"
	           "The config file may also be named by LIAISON_CONFIG.\n");
}

/* "--webhook-timeout" -> "webhook_timeout" */
static void flag_to_setting(const char *flag, char *out, size_t len)
{
	snprintf(out, len, "%s", flag + 2);
	char *eq = strchr(out, '=');
	if (eq)
		*eq = '\0';
	for (char *p = out; *p; p++)
		if (*p == '-')
			*p = '_';
}

static int take_value(int argc, char **argv, int *i, const char **out)
{
	const char *eq = strchr(argv[*i], '=');
	if (eq) {
		*out = eq + 1;
		return 0;
	}
	if (*i + 1 >= argc)
		return -1;
	*out = argv[++*i];
	return 0;
}

static int command_option(struct args *a, const char *opt, int argc, char **argv, int *i)
{
	static const struct {
		const char *name;
		size_t off;
	} opts[] = {{"name", offsetof(struct args, name)},
	            {"timezone", offsetof(struct args, timezone)},
	            {"country", offsetof(struct args, country)},
	            {"role", offsetof(struct args, role)}};
	if (strcmp(opt, "host") == 0) {
		a->host = 1;
		return 0;
	}
	for (size_t k = 0; k < sizeof(opts) / sizeof(opts[0]); k++)
		if (strcmp(opt, opts[k].name) == 0)
			return take_value(argc, argv, i, (const char **)((char *)a + opts[k].off));
	return -1;
}

static int parse_args(int argc, char **argv, struct args *a)
{
	a->flags = calloc((size_t)argc * 2 + 2, sizeof(char *));
	if (!a->flags)
		return -1;
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		if (strncmp(arg, "--", 2) != 0) {
			if (a->nwords == 4) {
				fprintf(stderr, "liaisond: too many arguments\n");
				return -1;
			}
			a->words[a->nwords++] = arg;
			continue;
		}
		char name[64];
		flag_to_setting(arg, name, sizeof(name));
		const char *value;
		if (strcmp(name, "config") == 0 || config_is_setting(name)) {
			if (take_value(argc, argv, &i, &value)) {
				fprintf(stderr, "liaisond: %s needs a value\n", arg);
				return -1;
			}
			if (strcmp(name, "config") == 0) {
				a->config_path = value;
			} else {
				a->flags[a->nflags++] = strdup(name);
				a->flags[a->nflags++] = (char *)value;
				if (!a->flags[a->nflags - 2])
					return -1;
			}
			continue;
		}
		if (a->nwords > 0 && command_option(a, name, argc, argv, &i) == 0)
			continue;
		fprintf(stderr, "liaisond: unknown option %s (see --help)\n", arg);
		return -1;
	}
	return 0;
}

static void free_args(struct args *a)
{
	for (int i = 0; a->flags && i < a->nflags; i += 2)
		free(a->flags[i]);
	free(a->flags);
}

/* The settings' sources, kept for SIGHUP: the reload reads them again. */
static struct config_sources sources_of(const struct args *a)
{
	struct config_sources src = {.path =
	                                 a->config_path ? a->config_path : getenv("LIAISON_CONFIG"),
	                             .envp = environ,
	                             .flags = a->flags,
	                             .nflags = a->nflags};
	return src;
}

static int load_config(struct config *cfg, const struct args *a)
{
	char err[CONFIG_ERR_LEN];
	struct config_sources src = sources_of(a);
	if (config_load(cfg, &src, err, sizeof(err)) != 0) {
		fprintf(stderr, "liaisond: %s\n", err);
		return -1;
	}
	return 0;
}

static volatile sig_atomic_t early_stop;

static void on_early_signal(int sig)
{
	(void)sig;
	early_stop = 1;
}

static int serve(struct config *cfg, const struct args *a)
{
	/* Until the event loops take over the signals, a TERM while waiting
	 * for the database just ends the wait. */
	struct sigaction sa = {.sa_handler = on_early_signal};
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	PGconn *c = cli_connect_migrated(cfg, 1, (volatile int *)&early_stop);
	if (!c)
		return early_stop ? 0 : 1;
	char *identity =
	    cfg->feed_state_dir && *cfg->feed_state_dir ? cli_database_identity(c) : NULL;
	PQfinish(c);
	if (early_stop) {
		free(identity);
		return 0;
	}
	struct config_sources src = sources_of(a);
	int rc = server_run(cfg, &src, identity);
	free(identity);
	return rc;
}

static int run_command(struct config *cfg, const struct args *a)
{
	const char *cmd = a->nwords ? a->words[0] : "serve";
	if (!strcmp(cmd, "serve") && a->nwords <= 1)
		return serve(cfg, a);
	if (!strcmp(cmd, "migrate") && a->nwords == 1)
		return cli_migrate(cfg);
	if (!strcmp(cmd, "org") && a->nwords == 3 && !strcmp(a->words[1], "create")) {
		struct cli_org org = {a->words[2], a->name, a->timezone, a->country, a->host};
		return cli_org_create(cfg, &org);
	}
	if (!strcmp(cmd, "key") && a->nwords == 3 && !strcmp(a->words[1], "create"))
		return cli_key_create(cfg, a->words[2], a->role ? a->role : "viewer", a->name);
	fprintf(stderr, "liaisond: unknown command (see --help)\n");
	return 2;
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			return 0;
		}
		if (!strcmp(argv[i], "--version")) {
			printf("liaisond %s\n", LIAISON_VERSION);
			return 0;
		}
	}
	/* libevent does not ignore SIGPIPE; a client that hangs up would kill us. */
	signal(SIGPIPE, SIG_IGN);
	if (evthread_use_pthreads() != 0) {
		fprintf(stderr, "liaisond: libevent has no thread support\n");
		return 1;
	}
	struct args a = {0};
	struct config cfg;
	config_init(&cfg);
	int rc = 2;
	if (parse_args(argc, argv, &a) == 0 && load_config(&cfg, &a) == 0) {
		log_set_level(cfg.log_level);
		if (log_open(cfg.log_file) != 0)
			fprintf(stderr, "liaisond: cannot open log file %s\n", cfg.log_file);
		else
			rc = run_command(&cfg, &a);
	}
	config_free(&cfg);
	free_args(&a);
	libevent_global_shutdown();
	return rc;
}
