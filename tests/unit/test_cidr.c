/* test_cidr.c - networks (common/cidr.c), for trusted_proxies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "config.h"

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
	    cmocka_unit_test(test_cidrs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
