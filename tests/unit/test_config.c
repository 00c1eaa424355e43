/* test_config.c - the settings (common/config.c): defaults, files, environment, reloads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "config.h"
#include "http/ratelimit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *write_temp(const char *text)
{
	static char path[64];
	strcpy(path, "/tmp/liaison-cfg-XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

static void expect_file_error(const char *text, const char *needle)
{
	struct config c;
	char err[CONFIG_ERR_LEN];
	char want[256];
	config_init(&c);
	char *path = write_temp(text);
	assert_int_not_equal(config_load_file(&c, path, err, sizeof(err)), 0);
	snprintf(want, sizeof(want), "%s:%s", path, needle);
	if (!strstr(err, want))
		fail_msg("error \"%s\" lacks \"%s\"", err, want);
	unlink(path);
	config_free(&c);
}

static void test_defaults(void **state)
{
	(void)state;
	struct config c;
	config_init(&c);
	assert_string_equal(c.listen, "127.0.0.1:8080");
	assert_int_equal(c.listen_port, 8080);
	assert_int_equal(c.webhook_timeout_ms, 15000);
	assert_int_equal(c.webhook_retry_count, 7);
	assert_int_equal(c.webhook_disable_after_ms, 5LL * 86400000);
	assert_false(c.webhook_allow_private);
	assert_true(c.rate_limit == 50.0);
	assert_int_equal(c.log_level, LOG_INFO);
	assert_int_equal(c.row_cache_ttl_ms, 1000);
	assert_int_equal(c.feed_state_every_ms, 30000);
	config_free(&c);
}

static void test_file(void **state)
{
	(void)state;
	struct config c;
	char err[CONFIG_ERR_LEN];
	config_init(&c);
	char *path = write_temp("# liaisond\n\nlisten = 0.0.0.0:9000  # public\n"
	                        "database = 'host=/tmp dbname=x'\nwebhook_allow_private=true\n"
	                        "log_level = debug\npublic_url = \"https://cal.example.org\"\n");
	assert_int_equal(config_load_file(&c, path, err, sizeof(err)), 0);
	assert_int_equal(c.listen_port, 9000);
	assert_string_equal(c.database, "host=/tmp dbname=x");
	assert_true(c.webhook_allow_private);
	assert_int_equal(c.log_level, LOG_DEBUG);
	assert_string_equal(c.public_url, "https://cal.example.org");
	unlink(path);
	config_free(&c);
}

static void test_file_errors_name_the_line(void **state)
{
	(void)state;
	expect_file_error("threads = 2\nthreads = lots\n", "2: threads:");
	expect_file_error("\n\n\nwebhook_timeout = 15\n", "4: webhook_timeout:");
	expect_file_error("bogus = 1\n", "1: bogus: unknown setting");
	expect_file_error("listen\n", "1: expected");
	expect_file_error("database = 'open\n", "1: database: unterminated");
	expect_file_error("threads = 100000\n", "1: threads:");
	/* A bound above as well as below: a row kept for minutes would hide
	 * what a lost NOTIFY did for as long. */
	expect_file_error("row_cache_ttl = 2m\n", "1: row_cache_ttl: must be at most 60000 ms");
	expect_file_error("row_cache_ttl = -1s\n", "1: row_cache_ttl:");
	expect_file_error("feed_state_every = 2m\n",
	                  "1: feed_state_every: must be at most 60000 ms");
}

static void test_row_cache_ttl(void **state)
{
	(void)state;
	struct config c;
	char err[CONFIG_ERR_LEN];
	config_init(&c);
	assert_int_equal(config_set(&c, "row_cache_ttl", "0s", err, sizeof(err)), 0);
	assert_int_equal(c.row_cache_ttl_ms, 0);
	assert_int_equal(config_set(&c, "row_cache_ttl", "1m", err, sizeof(err)), 0);
	assert_int_equal(c.row_cache_ttl_ms, 60000);
	assert_int_not_equal(config_set(&c, "row_cache_ttl", "61s", err, sizeof(err)), 0);
	assert_int_equal(c.row_cache_ttl_ms, 60000);
	config_free(&c);
}

static void test_environment(void **state)
{
	(void)state;
	struct config c;
	char err[CONFIG_ERR_LEN];
	config_init(&c);
	char *env[] = {"PATH=/bin",
	               "LIAISON_LISTEN=127.0.0.1:7000",
	               "LIAISON_RATE_LIMIT=0",
	               "LIAISON_UNRELATED=1",
	               "LIAISON_CONFIG=/x",
	               NULL};
	assert_int_equal(config_load_env(&c, env, err, sizeof(err)), 0);
	assert_int_equal(c.listen_port, 7000);
	assert_true(c.rate_limit == 0.0);
	char *bad[] = {"LIAISON_THREADS=x", NULL};
	assert_int_not_equal(config_load_env(&c, bad, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "LIAISON_THREADS"));
	config_free(&c);
}

static void test_restart_needed(void **state)
{
	(void)state;
	struct config a, b;
	char err[CONFIG_ERR_LEN];
	config_init(&a);
	config_init(&b);
	assert_null(config_restart_needed(&a, &b));
	assert_int_equal(config_set(&b, "log_level", "warn", err, sizeof(err)), 0);
	assert_null(config_restart_needed(&a, &b));
	assert_int_equal(config_set(&b, "threads", "3", err, sizeof(err)), 0);
	assert_string_equal(config_restart_needed(&a, &b), "threads");
	config_free(&a);
	config_free(&b);
}

static void test_rate_per_minute(void **state)
{
	(void)state;
	struct config c;
	char err[CONFIG_ERR_LEN];
	config_init(&c);
	assert_int_equal(config_set(&c, "rate_limit", "3/m", err, sizeof(err)), 0);
	assert_true(c.rate_limit_burst == 3.0);
	ratelimit_configure_burst(c.rate_limit, c.rate_limit_burst);
	for (int i = 0; i < 3; i++)
		assert_int_equal(ratelimit_take("per-minute", 1000), 0);
	int wait = ratelimit_take("per-minute", 1000);
	assert_true(wait >= 19 && wait <= 20);
	assert_int_equal(ratelimit_take("per-minute", 21000), 0); /* 20 s: one more */
	assert_int_equal(config_set(&c, "rate_limit", "1/h", err, sizeof(err)), 0);
	assert_true(c.rate_limit_burst == 1.0);
	assert_int_equal(config_set(&c, "rate_limit", "50/s", err, sizeof(err)), 0);
	assert_true(c.rate_limit_burst == 100.0);
	ratelimit_configure(0);
	assert_int_not_equal(config_set(&c, "webhook_timeout", "0s", err, sizeof(err)), 0);
	assert_int_not_equal(config_set(&c, "webhook_ca_file", "/nonexistent", err, sizeof(err)),
	                     0);
	assert_int_equal(config_set(&c, "webhook_ca_file", "", err, sizeof(err)), 0);
	config_free(&c);
}

static void test_restart_list(void **state)
{
	(void)state;
	struct config a, b;
	char err[CONFIG_ERR_LEN], out[256];
	config_init(&a);
	config_init(&b);
	assert_int_equal(config_restart_list(&a, &b, out, sizeof(out)), 0);
	assert_string_equal(out, "");
	assert_int_equal(config_set(&b, "threads", "3", err, sizeof(err)), 0);
	assert_int_equal(config_set(&b, "max_body", "10", err, sizeof(err)), 0);
	assert_int_equal(config_set(&b, "log_level", "warn", err, sizeof(err)), 0);
	assert_int_equal(config_restart_list(&a, &b, out, sizeof(out)), 2);
	assert_string_equal(out, "threads, max_body");
	config_free(&a);
	config_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_file),
	    cmocka_unit_test(test_file_errors_name_the_line),
	    cmocka_unit_test(test_environment),
	    cmocka_unit_test(test_restart_needed),
	    cmocka_unit_test(test_rate_per_minute),
	    cmocka_unit_test(test_restart_list),
	    cmocka_unit_test(test_row_cache_ttl),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
