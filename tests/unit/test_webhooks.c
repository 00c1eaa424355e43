/* test_webhooks.c - Standard Webhooks signatures (the specification's
 * published vector) and the private-address guard for webhook targets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "netguard.h"
#include "remind.h"
#include "jobs/sender.h"
#include "whsig.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <string.h>

static void test_published_vector(void **state)
{
	(void)state;
	const char *body = "{\"test\": 2432232314}";
	char sig[WHSIG_V1_LEN + 1];
	assert_int_equal(whsig_sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
	                            "msg_p5jXN8AQM9LWM0D4loKWxJek", 1674087231, body, strlen(body),
	                            sig),
	                 0);
	assert_string_equal(sig, "v1,AQG81rX2n4rTN1fkXoqILSHO9gAOcwya9dP41rhrQDI=");
	/* Any change to id, time or body changes the signature. */
	char other[WHSIG_V1_LEN + 1];
	assert_int_equal(whsig_sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
	                            "msg_p5jXN8AQM9LWM0D4loKWxJek", 1674087232, body, strlen(body),
	                            other),
	                 0);
	assert_string_not_equal(sig, other);
}

static void test_secrets(void **state)
{
	(void)state;
	char a[WHSEC_LEN + 1], b[WHSEC_LEN + 1];
	assert_int_equal(whsig_secret_new(a), 0);
	assert_int_equal(whsig_secret_new(b), 0);
	assert_int_equal(strlen(a), WHSEC_LEN);
	assert_memory_equal(a, "whsec_", 6);
	assert_string_not_equal(a, b);
	char sig[WHSIG_V1_LEN + 1];
	assert_int_equal(whsig_sign(a, "msg_1", 1, "{}", 2, sig), 0);
	assert_int_equal(strlen(sig), WHSIG_V1_LEN);
}

static void test_bad_secrets(void **state)
{
	(void)state;
	char sig[WHSIG_V1_LEN + 1];
	const char *bad[] = {"whsec_",
	                     "whsec_abc",
	                     "whsec_!!!!",
	                     "whsec_A===",
	                     "whsec_AA=A",
	                     "whsec_"
	                     "QUFB"
	                     "QUFB"
	                     "QUFB"
	                     "QUFB"
	                     "QUFB"
	                     "QUFB"
	                     "QUFB"
	                     "QUFB"
	                     "QUFB"
	                     "QUFB"
	                     "QUFB"
	                     "QUFB"
	                     "QUFB"
	                     "QUFB"
	                     "QUFB"
	                     "QUFB"
	                     "QUFB"
	                     "QUFB"
	                     "QUFB"
	                     "QUFB"
	                     "QUFB"
	                     "QUFB"
	                     "QUFB"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(whsig_sign(bad[i], "msg_1", 1, "{}", 2, sig), -1);
}

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

struct fires {
	int64_t at[16];
	char start[16][CIVIL_LEN];
	int n;
};

static int collect(const struct remind_fire *f, void *arg)
{
	struct fires *out = arg;
	if (out->n < 16) {
		out->at[out->n] = f->fire_at;
		memcpy(out->start[out->n], f->start_local, CIVIL_LEN);
		out->n++;
	}
	return 0;
}

static int64_t utc(const char *s)
{
	struct civil c;
	assert_int_equal(civil_parse(s, 0, &c), 0);
	return civil_to_epoch(&c);
}

/* A weekly 09:00 meeting in Toronto across 2026-03-08: the reminder an
 * hour before is 13:00Z in EST and 12:00Z in EDT. */
static void test_reminders_follow_dst(void **state)
{
	(void)state;
	struct remind_event ev = {.rrule = "FREQ=WEEKLY;COUNT=3", .zone = "America/Toronto"};
	assert_int_equal(civil_parse("2026-03-01T09:00:00", 0, &ev.start), 0);
	assert_int_equal(civil_parse("2026-03-01T10:00:00", 0, &ev.end), 0);
	ev.exdates = json_array();
	ev.rdates = json_array();
	ev.overridden = json_array();
	ev.triggers = json_pack("[s]", "-PT1H");
	struct fires f = {0};
	assert_int_equal(remind_plan(&ev, 0, INT64_MAX, collect, &f, NULL), INT64_MAX);
	assert_int_equal(f.n, 3);
	assert_true(f.at[0] == utc("2026-03-01T13:00:00"));
	assert_true(f.at[1] == utc("2026-03-08T12:00:00"));
	assert_true(f.at[2] == utc("2026-03-15T12:00:00"));
	assert_string_equal(f.start[1], "2026-03-08T09:00:00");
	/* An exdate and an overridden occurrence plan nothing; fire times at
	 * or before `after` are skipped; an rdate adds one. */
	json_array_append_new(ev.exdates, json_string("2026-03-08T09:00:00"));
	json_array_append_new(ev.overridden, json_string("2026-03-15T09:00:00"));
	json_array_append_new(ev.rdates, json_string("2026-04-01T09:00:00"));
	memset(&f, 0, sizeof(f));
	assert_int_equal(remind_plan(&ev, utc("2026-03-01T13:00:00"), INT64_MAX, collect, &f, NULL),
	                 INT64_MAX);
	assert_int_equal(f.n, 1);
	assert_true(f.at[0] == utc("2026-04-01T12:00:00"));
	/* Bad triggers are refused, not guessed. */
	json_decref(ev.triggers);
	ev.triggers = json_pack("[s]", "-P1X");
	const char *why = NULL;
	assert_int_equal(remind_plan(&ev, 0, INT64_MAX, collect, &f, &why), -1);
	assert_non_null(why);
	json_decref(ev.triggers);
	json_decref(ev.exdates);
	json_decref(ev.rdates);
	json_decref(ev.overridden);
}

/* An open-ended daily series stops at the cap and says where. */
static void test_reminder_plan_is_bounded(void **state)
{
	(void)state;
	struct remind_event ev = {.rrule = "FREQ=DAILY", .zone = "Asia/Seoul"};
	assert_int_equal(civil_parse("2027-01-01T09:00:00", 0, &ev.start), 0);
	ev.end = ev.start;
	ev.exdates = json_array();
	ev.rdates = json_array();
	ev.overridden = json_array();
	ev.triggers = json_pack("[s,s,s]", "-PT1H", "-PT2H", "-P1D");
	struct fires f = {0};
	int64_t stop = remind_plan(&ev, 0, INT64_MAX, collect, &f, NULL);
	assert_true(stop != INT64_MAX && stop > utc("2027-01-01T00:00:00"));
	/* 2000 fire times of 3 triggers a day: the 667th day. */
	assert_true(stop == utc("2028-10-28T00:00:00"));
	json_decref(ev.triggers);
	json_decref(ev.exdates);
	json_decref(ev.rdates);
	json_decref(ev.overridden);
}

/* A rule libical accepts but cannot step is an error with a reason, not
 * an empty plan: the scheduler parks such a row and the API says why. */
static void test_unsteppable_rule_is_an_error(void **state)
{
	(void)state;
	struct remind_event ev = {.rrule = "FREQ=YEARLY;BYYEARDAY=-366,366,1;BYMONTHDAY=-1",
	                          .zone = "Asia/Seoul"};
	assert_int_equal(civil_parse("2027-01-01T09:00:00", 0, &ev.start), 0);
	ev.end = ev.start;
	ev.exdates = json_array();
	ev.rdates = json_array();
	ev.overridden = json_array();
	ev.triggers = json_pack("[s]", "-PT1H");
	struct fires f = {0};
	const char *why = NULL;
	assert_int_equal(remind_plan(&ev, 0, INT64_MAX, collect, &f, &why), -1);
	assert_non_null(why);
	assert_non_null(strstr(why, "recurrence rule"));
	assert_int_equal(f.n, 0);
	json_decref(ev.triggers);
	json_decref(ev.exdates);
	json_decref(ev.rdates);
	json_decref(ev.overridden);
}

static void test_retry_after_values(void **state)
{
	(void)state;
	assert_true(sender_retry_after_ms("120") == 120000);
	assert_true(sender_retry_after_ms(" 0\r\n") == 0);
	assert_true(sender_retry_after_ms("-5") == 0);
	assert_true(sender_retry_after_ms("99999999999999999999") == 86400000);
	assert_true(sender_retry_after_ms("Wed, 21 Oct 2015 07:28:00 GMT") == 0); /* past */
	assert_true(sender_retry_after_ms("Fri, 31 Dec 2100 23:59:59 GMT") == 86400000);
	assert_true(sender_retry_after_ms("soon") == -1);
	assert_true(sender_retry_after_ms("") == -1);
	assert_true(sender_retry_after_ms("12abc") == -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_published_vector),
	    cmocka_unit_test(test_secrets),
	    cmocka_unit_test(test_bad_secrets),
	    cmocka_unit_test(test_private_addresses),
	    cmocka_unit_test(test_literal_hosts),
	    cmocka_unit_test(test_reminders_follow_dst),
	    cmocka_unit_test(test_retry_after_values),
	    cmocka_unit_test(test_reminder_plan_is_bounded),
	    cmocka_unit_test(test_unsteppable_rule_is_an_error),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
