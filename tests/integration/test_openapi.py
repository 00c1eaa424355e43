"""The OpenAPI description lists exactly the routes the daemon serves, and
the access each route declares in the table is what the role matrix
(test_roles) finds."""
import json
import os
import re

import harness


import test_roles

RANK = {"viewer": 1, "editor": 2, "admin": 3}


def table_entries():
    """(method, pattern) -> access (PUBLIC, VIEWER, EDITOR, ADMIN, HOST)."""
    text = open(os.path.join(harness.ROOT, "daemon", "api", "routes.c")).read()
    table = text[text.index("static const struct route routes[]"):]
    table = table[:table.index("};")]
    return {(m, p): a for m, p, a in re.findall(
        r'\{(GET|POST|PATCH|DELETE|PUT),\s*"([^"]+)",\s*\w+,\s*(PUBLIC|VIEWER|EDITOR|ADMIN|HOST)\}',
        table)}


def routes_in_table():
    return {(m.lower(), p) for m, p in table_entries()}


def test_declared_access_matches_role_matrix(ctx):
    table = table_entries()
    assert len(table) == text_routes(), "a route of the table declares no access"
    for name, route in test_roles.ROUTE_OF.items():
        access = table[route]
        for org in ("host", "peer"):
            for role in test_roles.ROLES:
                allowed = access != "PUBLIC" and (
                    access == "VIEWER" or
                    (access == "EDITOR" and RANK[role] >= 2) or
                    (access in ("ADMIN", "HOST") and role == "admin")) and (
                    access != "HOST" or org == "host")
                want = test_roles.expected(name, org, role, org)
                assert (want != 403) == allowed, (name, route, access, org, role, want)


def text_routes():
    text = open(os.path.join(harness.ROOT, "daemon", "api", "routes.c")).read()
    table = text[text.index("static const struct route routes[]"):]
    return len(re.findall(r'\{(GET|POST|PATCH|DELETE|PUT),', table[:table.index("};")]))


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


def test_operations_name_themselves_and_their_4xx(ctx):
    # Every operation that has an operationId has its own, camelCase; the
    # agreement, follow-up and report operations (issue 17) all have one,
    # and list their 4xx answers.
    doc = json.load(open(os.path.join(harness.ROOT, "daemon", "api", "openapi.json")))
    methods = ("get", "post", "patch", "delete", "put")
    ids = [op["operationId"] for ops in doc["paths"].values() for m, op in ops.items()
           if m in methods and "operationId" in op]
    assert len(ids) == len(set(ids)), ids
    assert all(re.fullmatch(r"[a-z]+(?:[A-Z][a-z]+)*", i) for i in ids), ids
    for path in ("/v1/agreements", "/v1/agreements/{id}", "/v1/follow-up-template",
                 "/v1/reports/cooperation"):
        for m, op in doc["paths"][path].items():
            if m not in methods:
                continue
            assert op.get("operationId"), (m, path)
            fours = [c for c in op["responses"] if c.startswith("4")]
            assert "401" in fours and len(fours) >= 2, (m, path, fours)


def test_every_operation_is_named_and_answers_its_errors(ctx):
    """What a generated client needs (openapi-generator, openapi-typescript):
    a readable unique method name per operation, its error answers, and a
    license for the document. make lint runs @redocly/cli on the same rules;
    this keeps them where CI runs without npm."""
    doc = json.load(open(os.path.join(harness.ROOT, "daemon", "api", "openapi.json")))
    assert doc["info"].get("license", {}).get("name")
    names = []
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            if method not in ("get", "post", "patch", "delete", "put"):
                continue
            name = op.get("operationId")
            assert name and re.fullmatch(r"[a-z][A-Za-z0-9]+", name), (method, path, name)
            names.append(name)
            errors = [c for c in op.get("responses", {}) if c.startswith("4")]
            assert errors, (method, path, "no 4xx answer")
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)
