"""Organisations and API keys: the host creates orgs and their first admin
key, admins manage their own keys, revocation reaches every instance."""
import re
import socket

import harness
from harness import problem


def setup(ctx):
    db = ctx.database()
    host = ctx.org_with_key(db, "hcmc-dost", host=True, tz="Asia/Ho_Chi_Minh")
    return db, host


def test_host_creates_org_and_first_key(ctx):
    db, host = setup(ctx)
    d = ctx.daemon(db)
    r = d.request("POST", "/v1/orgs", token=host, body={
        "slug": "busan-city", "name": "Busan Metropolitan City", "timezone": "Asia/Seoul",
        "country": "KR"})
    assert r.status == 201, r
    assert r.header("Location") == "/v1/orgs/busan-city"
    assert r.json()["is_host"] is False
    r = d.request("POST", "/v1/orgs/busan-city/keys", token=host, body={"name": "first"})
    assert r.status == 201 and r.json()["role"] == "admin", r
    busan = r.json()["token"]
    assert len(busan) == 43
    # Only the first: the host cannot mint keys for an org that has its own.
    r = d.request("POST", "/v1/orgs/busan-city/keys", token=host, body={})
    assert r.status == 404 or r.status == 409 or r.status == 422, r
    # The new admin works and is not a host.
    assert d.request("GET", "/v1/keys", token=busan).status == 200
    problem(d.request("POST", "/v1/orgs", token=busan, body={"slug": "x", "name": "X"}), 403)
    names = [o["slug"] for o in d.request("GET", "/v1/orgs", token=busan).json()["items"]]
    assert names == ["busan-city", "hcmc-dost"], names
    p = problem(d.request("POST", "/v1/orgs", token=host, body={
        "slug": "busan-city", "name": "again"}), 409)
    assert p["errors"][0]["field"] == "slug"


def test_org_validation_names_every_field(ctx):
    db, host = setup(ctx)
    d = ctx.daemon(db)
    p = problem(d.request("POST", "/v1/orgs", token=host, body={
        "slug": "Bad Slug!", "name": "", "timezone": "Mars/Olympus", "country": "vnm",
        "colour": "red"}), 422)
    fields = sorted(e["field"] for e in p["errors"])
    assert fields == ["colour", "country", "name", "slug", "timezone"], p
    for tz in ["../../../etc/passwd", "/etc/localtime", "Asia/../Asia/Seoul", "A" * 500]:
        p = problem(d.request("POST", "/v1/orgs", token=host, body={
            "slug": "ok", "name": "ok", "timezone": tz}), 422)
        assert p["errors"][0]["field"] == "timezone", p
    p = problem(d.request("POST", "/v1/orgs", token=host, body={"slug": 5, "name": ["x"]}), 422)
    assert sorted(e["field"] for e in p["errors"]) == ["name", "slug"]
    # Nothing was written.
    assert len(d.request("GET", "/v1/orgs", token=host).json()["items"]) == 1


def test_roles_for_keys(ctx):
    db, host = setup(ctx)
    d = ctx.daemon(db)
    ed = d.request("POST", "/v1/keys", token=host, body={"name": "ed", "role": "editor"}).json()
    vw = d.request("POST", "/v1/keys", token=host, body={"name": "vw"}).json()
    assert vw["role"] == "viewer" and ed["role"] == "editor"
    for tok in [ed["token"], vw["token"]]:
        problem(d.request("GET", "/v1/keys", token=tok), 403)
        problem(d.request("POST", "/v1/keys", token=tok, body={"role": "admin"}), 403)
        problem(d.request("DELETE", f"/v1/keys/{ed['id']}", token=tok), 403)
        assert d.request("GET", "/v1/orgs", token=tok).status == 200
    listed = d.request("GET", "/v1/keys", token=host).json()["items"]
    assert {k["name"] for k in listed} >= {"ed", "vw"}
    assert all("token" not in k for k in listed)
    p = problem(d.request("POST", "/v1/keys", token=host, body={"role": "root", "x": 1}), 422)
    assert sorted(e["field"] for e in p["errors"]) == ["role", "x"]


def test_revocation_reaches_every_instance_at_once(ctx):
    db, host = setup(ctx)
    a = ctx.daemon(db)
    b = ctx.daemon(db)
    key = a.request("POST", "/v1/keys", token=host, body={"name": "temp"}).json()
    # Warm both instances' caches (each worker thread has its own: several
    # connections reach several of them).
    for _ in range(8):
        assert a.request("GET", "/v1/orgs", token=key["token"]).status == 200
        assert b.request("GET", "/v1/orgs", token=key["token"]).status == 200
    assert a.request("DELETE", f"/v1/keys/{key['id']}", token=host).status == 204
    # Where it was revoked, at once: no request after the DELETE's answer
    # is served from a cached credential.
    for _ in range(8):
        problem(a.request("GET", "/v1/orgs", token=key["token"]), 401)
    # Told by NOTIFY: well within the 10 s its cached credential would last.
    harness.wait_for(lambda: b.request("GET", "/v1/orgs", token=key["token"]).status == 401,
                     5, what="revocation on the other instance")
    problem(a.request("DELETE", f"/v1/keys/{key['id']}", token=host), 404)
    problem(a.request("DELETE", "/v1/keys/not-a-uuid", token=host), 404)
    # A request read right behind the revocation, on the same connection
    # (so on the same worker, whose cache holds the key), is refused too:
    # no waiting for the NOTIFY.
    key = a.request("POST", "/v1/keys", token=host, body={"name": "temp2"}).json()
    for _ in range(8):
        assert a.request("GET", "/v1/orgs", token=key["token"]).status == 200
    with socket.create_connection(("127.0.0.1", a.port), timeout=10) as s:
        s.sendall(f"GET /v1/orgs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key['token']}"
                  f"\r\n\r\nDELETE /v1/keys/{key['id']} HTTP/1.1\r\nHost: x\r\n"
                  f"Authorization: Bearer {host}\r\n\r\n"
                  f"GET /v1/orgs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key['token']}"
                  f"\r\nConnection: close\r\n\r\n".encode())
        out = b""
        while chunk := s.recv(65536):
            out += chunk
    statuses = re.findall(rb"^HTTP/1.1 (\d+)", out, re.M)
    assert statuses == [b"200", b"204", b"401"], out[:2000]


def test_other_orgs_keys_cannot_be_deleted(ctx):
    db, host = setup(ctx)
    d = ctx.daemon(db)
    d.request("POST", "/v1/orgs", token=host, body={"slug": "cabc", "name": "CABC"})
    other = d.request("POST", "/v1/orgs/cabc/keys", token=host, body={}).json()
    problem(d.request("DELETE", f"/v1/keys/{other['id']}", token=host), 404)
    assert d.request("GET", "/v1/keys", token=other["token"]).status == 200


def test_unknown_field_with_long_non_ascii_name_is_refused(ctx):
    db, host = setup(ctx)
    d = ctx.daemon(db)
    name = "é" * 100  # 200 bytes: any cut at an odd byte splits a character
    p = problem(d.request("POST", "/v1/orgs", token=host,
                          body={"slug": "ok", "name": "ok", name: 1}), 422)
    assert len(p["errors"]) == 1, p
    p = problem(d.request("POST", "/v1/feeds", token=host,
                          body={"name": "f", "filter": {"x" + name: []}}), 422)
    assert len(p["errors"]) == 1, p
    assert len(d.request("GET", "/v1/orgs", token=host).json()["items"]) == 1


def test_first_keys_asked_at_once_make_one(ctx):
    """The first-key check and its insert ran in one READ COMMITTED
    statement: requests made at once each saw no key, and each made one,
    so the host held admin keys of a partner that had its own."""
    import threading
    db, host = setup(ctx)
    d = ctx.daemon(db, args=["--threads", "2", "--db-pool-size", "8"])
    for n in range(4):
        slug = f"partner-{n}"
        r = d.request("POST", "/v1/orgs", token=host, body={"slug": slug, "name": slug})
        assert r.status == 201, r
        statuses = []
        go = threading.Barrier(12)

        def ask():
            go.wait()
            statuses.append(d.request("POST", f"/v1/orgs/{slug}/keys", token=host,
                                      body={"name": "first"}).status)
        threads = [threading.Thread(target=ask) for _ in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(statuses) == [201] + [409] * 11, (slug, statuses)
        keys = ctx.cluster.psql(
            f"SELECT count(*) FROM api_keys k JOIN orgs o ON o.id = k.org_id "
            f"WHERE o.slug = '{slug}'", db.split("dbname=")[1])
        assert keys == "1", (slug, keys)
