"""The OpenAPI description lists exactly the routes the daemon serves."""
import json
import os
import re

import harness


def routes_in_table():
    text = open(os.path.join(harness.ROOT, "daemon", "http", "router.c")).read()
    table = text[text.index("static const struct route routes[]"):]
    table = table[:table.index("};")]
    return {(m.lower(), p) for m, p in re.findall(r'\{(GET|POST|PATCH|DELETE|PUT), "([^"]+)"', table)}


def test_openapi_matches_routes(ctx):
    d = ctx.daemon()
    r = d.request("GET", "/v1/openapi.json")
    assert r.status == 200 and r.header("Content-Type") == "application/json"
    doc = r.json()
    assert doc["openapi"].startswith("3.1")
    assert doc == json.load(open(os.path.join(harness.ROOT, "daemon", "api", "openapi.json")))
    documented = {(m, p) for p, ops in doc["paths"].items() for m in ops
                  if m in ("get", "post", "patch", "delete", "put")}
    served = routes_in_table()
    assert len(served) > 15
    assert served - documented == set(), f"served but not documented: {served - documented}"
    assert documented - served == set(), f"documented but not served: {documented - served}"
    # Every documented route answers something other than 404/405 for its method.
    for method, path in sorted(documented):
        concrete = path.replace("{slug}", "hub").replace("{id}", "00000000-0000-0000-0000-000000000000")
        status = d.request(method.upper(), concrete, body=b"{}",
                           headers={"Content-Type": "application/json"}).status
        assert status not in (405,), (method, path, status)
        if "{" not in path:
            assert status != 404, (method, path)
