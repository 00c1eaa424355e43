/* test_feed_fetches.c - the kind of client a feed fetch came from, by the
 * User-Agent strings calendar apps really send (daemon/api/feed_fetches.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "api/feed_fetches.h"

static void test_fetch_client_of(void **state)
{
	(void)state;
	static const struct {
		const char *ua;
		enum fetch_client want;
	} cases[] = {
	    {"Google-Calendar-Importer", FC_GOOGLE},
	    {"Microsoft.Exchange/15.20 (Windows NT 10.0; Win64; x64)", FC_MICROSOFT},
	    {"Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17928; Pro)",
	     FC_MICROSOFT},
	    {"Outlook-iOS/723.4027091.prod.iphone (4.2413.0)", FC_MICROSOFT},
	    {"iOS/17.0 (21A329) dataaccessd/1.0", FC_APPLE},
	    {"iOS/26.0 (23A341) calaccessd/1.0", FC_APPLE},
	    {"macOS/14.0 (23A344) CalendarAgent/988", FC_APPLE},
	    {"Mac+OS+X/10.10.5 (14F27) CalendarAgent/316.1", FC_APPLE},
	    {"CalendarStore/5.0 (1127); iCal/5.0 (1535); Mac OS X/10.7.1 (11B26)", FC_APPLE},
	    {"Mozilla/5.0 (X11; Linux x86_64; rv:115.0) Gecko/20100101 Thunderbird/115.3.1",
	     FC_THUNDERBIRD},
	    {"ICSx5/2.2.3 (ical4j/3.2.19; okhttp/4.12.0; Android 14)", FC_ICSX5},
	    {"DAVx5/4.3.13-ose (2024/02/20; dav4jvm; okhttp/4.12.0) Android/14", FC_ICSX5},
	    {"curl/7.88.1", FC_OTHER},
	    {"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", FC_OTHER},
	    {"", FC_OTHER},
	    {NULL, FC_OTHER},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(fetch_client_of(cases[i].ua), cases[i].want);
	assert_string_equal(fetch_client_names[FC_ICSX5], "icsx5");
	assert_string_equal(fetch_client_names[FC_OTHER], "other");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fetch_client_of),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
