/* test_config.c - the settings parser: values, files, environment. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "config.h"
#include "values.h"
#include "cidr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void test_durations(void **state)
{
	(void)state;
	int64_t ms;
	assert_int_equal(duration_parse("15s", &ms), 0);
	assert_int_equal(ms, 15000);
	assert_int_equal(duration_parse("250ms", &ms), 0);
	assert_int_equal(ms, 250);
	assert_int_equal(duration_parse("5d", &ms), 0);
	assert_int_equal(ms, 5LL * 86400000);
	assert_int_equal(duration_parse("2h", &ms), 0);
	assert_int_equal(ms, 7200000);
	const char *bad[] = {"",
	                     "s",
	                     "15",
	                     "15 s",
	                     "-5s",
	                     "1.5s",
	                     "15sec",
	                     "5w",
	                     "99999999999999999999s",
	                     "9223372036854775807d",
	                     " 5s",
	                     "5s ",
	                     "0x10s"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_not_equal(duration_parse(bad[i], &ms), 0);
}

static void test_duration_lists(void **state)
{
	(void)state;
	int64_t v[8];
	size_t n;
	assert_int_equal(duration_list_parse("5s,5m,30m,2h,5h,10h,10h", v, 8, &n), 0);
	assert_int_equal(n, 7);
	assert_int_equal(v[0], 5000);
	assert_int_equal(v[6], 36000000);
	assert_int_equal(duration_list_parse("", v, 8, &n), 0);
	assert_int_equal(n, 0);
	assert_int_not_equal(duration_list_parse("5s,,5m", v, 8, &n), 0);
	assert_int_not_equal(duration_list_parse("5s,", v, 8, &n), 0);
	assert_int_not_equal(duration_list_parse("1s,1s,1s", v, 2, &n), 0);
}

static void test_rates(void **state)
{
	(void)state;
	double r;
	assert_int_equal(rate_parse("50/s", &r), 0);
	assert_true(r == 50.0);
	assert_int_equal(rate_parse("600/m", &r), 0);
	assert_true(r == 10.0);
	assert_int_equal(rate_parse("0", &r), 0);
	assert_true(r == 0.0);
	assert_int_not_equal(rate_parse("50", &r), 0);
	assert_int_not_equal(rate_parse("50/d", &r), 0);
	assert_int_not_equal(rate_parse("/s", &r), 0);
	assert_int_not_equal(rate_parse("-1/s", &r), 0);
}

static void test_hostport(void **state)
{
	(void)state;
	char host[64];
	int port;
	assert_int_equal(hostport_parse("127.0.0.1:8080", host, sizeof(host), &port), 0);
	assert_string_equal(host, "127.0.0.1");
	assert_int_equal(port, 8080);
	assert_int_equal(hostport_parse("[::1]:9", host, sizeof(host), &port), 0);
	assert_string_equal(host, "::1");
	assert_int_equal(port, 9);
	const char *bad[] = {"",         "8080",   "host:",   "host:0", "host:65536",
	                     "host:80x", "::1:80", "[::1]80", "[::1",   "h:123456"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_not_equal(hostport_parse(bad[i], host, sizeof(host), &port), 0);
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
	config_free(&c);
}

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

static void test_file_errors_name_the_line(void **state)
{
	(void)state;
	expect_file_error("threads = 2\nthreads = lots\n", "2: threads:");
	expect_file_error("\n\n\nwebhook_timeout = 15\n", "4: webhook_timeout:");
	expect_file_error("bogus = 1\n", "1: bogus: unknown setting");
	expect_file_error("listen\n", "1: expected");
	expect_file_error("database = 'open\n", "1: database: unterminated");
	expect_file_error("threads = 100000\n", "1: threads:");
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

static void test_cidrs(void **state)
{
	(void)state;
	struct cidr nets[4];
	size_t n;
	assert_int_equal(cidr_list_parse("127.0.0.1, 10.0.0.0/8,::1,2001:db8::/32", nets, 4, &n),
	                 0);
	assert_int_equal(n, 4);
	assert_true(cidr_match(nets, n, "127.0.0.1"));
	assert_true(cidr_match(nets, n, "10.255.3.4"));
	assert_true(cidr_match(nets, n, "::1"));
	assert_true(cidr_match(nets, n, "2001:db8:ffff::1"));
	assert_false(cidr_match(nets, n, "127.0.0.2"));
	assert_false(cidr_match(nets, n, "11.0.0.1"));
	assert_false(cidr_match(nets, n, "2001:db9::1"));
	assert_false(cidr_match(nets, n, "not an address"));
	struct cidr one;
	assert_int_equal(cidr_parse("192.168.1.0/23", &one), 0);
	assert_true(cidr_match(&one, 1, "192.168.0.77"));
	assert_false(cidr_match(&one, 1, "192.168.2.1"));
	const char *bad[] = {"",           "/8",      "10.0.0.0/33", "10.0.0.0/",
	                     "10.0.0.0/x", "::1/129", "300.1.1.1",   "example.com"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_not_equal(cidr_parse(bad[i], &one), 0);
	assert_int_not_equal(cidr_list_parse("1.1.1.1,2.2.2.2,3.3.3.3", nets, 2, &n), 0);
	struct config c;
	char err[CONFIG_ERR_LEN];
	config_init(&c);
	assert_int_not_equal(config_set(&c, "trusted_proxies", "10.0.0.0/99", err, sizeof(err)), 0);
	assert_int_equal(config_set(&c, "trusted_proxies", "10.0.0.0/8", err, sizeof(err)), 0);
	assert_int_equal(c.ntrusted, 1);
	config_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_durations),
	    cmocka_unit_test(test_duration_lists),
	    cmocka_unit_test(test_rates),
	    cmocka_unit_test(test_hostport),
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_file),
	    cmocka_unit_test(test_file_errors_name_the_line),
	    cmocka_unit_test(test_environment),
	    cmocka_unit_test(test_restart_needed),
	    cmocka_unit_test(test_cidrs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
