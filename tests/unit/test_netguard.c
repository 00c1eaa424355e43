/* test_netguard.c - the private-address guard for webhook targets (common/netguard.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "netguard.h"

#include <arpa/inet.h>
#include <string.h>

static int blocked_addr(const char *text)
{
	struct sockaddr_storage ss = {0};
	if (strchr(text, ':')) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
		a->sin6_family = AF_INET6;
		assert_int_equal(inet_pton(AF_INET6, text, &a->sin6_addr), 1);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		a->sin_family = AF_INET;
		assert_int_equal(inet_pton(AF_INET, text, &a->sin_addr), 1);
	}
	return netguard_blocked((struct sockaddr *)&ss);
}

static void test_private_addresses(void **state)
{
	(void)state;
	const char *blocked[] = {"127.0.0.1",
	                         "127.255.0.9",
	                         "10.0.0.1",
	                         "172.16.0.1",
	                         "172.31.255.255",
	                         "192.168.1.1",
	                         "169.254.169.254",
	                         "100.64.0.1",
	                         "100.127.255.255",
	                         "0.0.0.0",
	                         "224.0.0.1",
	                         "255.255.255.255",
	                         "::1",
	                         "::",
	                         "fe80::1",
	                         "fd00:ec2::254",
	                         "fc00::1",
	                         "::ffff:127.0.0.1",
	                         "::ffff:10.1.2.3",
	                         "64:ff9b::a9fe:a9fe",
	                         "2002:7f00:1::1",
	                         "ff02::1"};
	for (size_t i = 0; i < sizeof(blocked) / sizeof(blocked[0]); i++) {
		if (!blocked_addr(blocked[i]))
			fail_msg("%s should be blocked", blocked[i]);
	}
	const char *open[] = {"93.184.216.34",   "8.8.8.8",        "172.32.0.1",  "100.128.0.1",
	                      "2606:4700::1111", "::ffff:8.8.8.8", "169.253.1.1", "11.0.0.1"};
	for (size_t i = 0; i < sizeof(open) / sizeof(open[0]); i++) {
		if (blocked_addr(open[i]))
			fail_msg("%s should be allowed", open[i]);
	}
}

static void test_literal_hosts(void **state)
{
	(void)state;
	assert_int_equal(netguard_blocked_literal("127.0.0.1"), 1);
	assert_int_equal(netguard_blocked_literal("[::1]"), 1);
	assert_int_equal(netguard_blocked_literal("[fd00:ec2::254]"), 1);
	assert_int_equal(netguard_blocked_literal("2130706433"), 1); /* 127.0.0.1 as a number */
	assert_int_equal(netguard_blocked_literal("0x7f.1"), 1);
	assert_int_equal(netguard_blocked_literal("127.1"), 1);
	assert_int_equal(netguard_blocked_literal("8.8.8.8"), 0);
	assert_int_equal(netguard_blocked_literal("[2606:4700::1111]"), 0);
	assert_int_equal(netguard_blocked_literal("hooks.example.org"), -1);
	assert_int_equal(netguard_blocked_literal("localhost"), -1);
	assert_int_equal(netguard_blocked_literal(""), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_private_addresses),
	    cmocka_unit_test(test_literal_hosts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
