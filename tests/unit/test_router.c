/* test_router.c - route patterns and the route table (daemon/http/router.c,
 * daemon/api/routes.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "api/routes.h"

static void test_route_patterns(void **state)
{
	(void)state;
	assert_true(router_pattern_matches("/v1/keys/{id}", "/v1/keys/abc"));
	assert_false(router_pattern_matches("/v1/keys/{id}", "/v1/keys/"));
	assert_false(router_pattern_matches("/v1/keys/{id}", "/v1/keys/a/b"));
	assert_false(router_pattern_matches("/v1/keys/{id}", "/v1/keys"));
	assert_true(router_pattern_matches("/v1/orgs/{slug}/keys", "/v1/orgs/x/keys"));
	assert_false(router_pattern_matches("/v1/orgs/{slug}/keys", "/v1/orgs/x/keys/"));
	assert_true(router_pattern_matches("/healthz", "/healthz"));
	assert_false(router_pattern_matches("/healthz", "/healthzz"));
	/* A parameter with a literal rest in its segment. */
	assert_true(router_pattern_matches("/feeds/{token}.ics", "/feeds/abc.ics"));
	assert_false(router_pattern_matches("/feeds/{token}.ics", "/feeds/.ics"));
	assert_false(router_pattern_matches("/feeds/{token}.ics", "/feeds/abc"));
	assert_false(router_pattern_matches("/feeds/{token}.ics", "/feeds/abc.icsx"));
	assert_false(router_pattern_matches("/feeds/{token}.ics", "/feeds/abc.ics/x"));
	assert_false(router_pattern_matches("/feeds/{token}.ics", "/feeds/ics"));
	assert_true(router_pattern_matches("/feeds/{token}", "/feeds/abc.ics"));
	size_t n;
	const struct route *table = api_routes(&n);
	router_set(table, n);
	const struct route *routes = router_routes(&n);
	assert_ptr_equal(routes, table);
	assert_true(n > 5);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(router_index(&routes[i]), (int)i);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_route_patterns),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
