"""The role matrix: each role of a host org and of a partner org, against
each /v1 route, on resources of its own org and of the other."""
import uuid

from harness import run_cli
from test_events import VISIT
from test_agreements import LOI
from test_visits import SF

ROLES = ["admin", "editor", "viewer"]

# The route (method, pattern of api/routes.c) each call of the matrix
# makes: test_openapi checks the access the table declares against the
# statuses expected() gives.
ROUTE_OF = {
    "list orgs": ("GET", "/v1/orgs"),
    "get org": ("GET", "/v1/orgs/{slug}"),
    "create org": ("POST", "/v1/orgs"),
    "list keys": ("GET", "/v1/keys"),
    "create key": ("POST", "/v1/keys"),
    "delete key": ("DELETE", "/v1/keys/{id}"),
    "list events": ("GET", "/v1/events"),
    "create event": ("POST", "/v1/events"),
    "get event": ("GET", "/v1/events/{id}"),
    "patch event": ("PATCH", "/v1/events/{id}"),
    "cancel event": ("DELETE", "/v1/events/{id}"),
    "occurrences": ("GET", "/v1/occurrences"),
    "list agreements": ("GET", "/v1/agreements"),
    "create agreement": ("POST", "/v1/agreements"),
    "get agreement": ("GET", "/v1/agreements/{id}"),
    "patch agreement": ("PATCH", "/v1/agreements/{id}"),
    "cancel agreement": ("DELETE", "/v1/agreements/{id}"),
    "get follow-up": ("GET", "/v1/follow-up-template"),
    "put follow-up": ("PUT", "/v1/follow-up-template"),
    "report": ("GET", "/v1/reports/cooperation"),
    "first key": ("POST", "/v1/orgs/{slug}/keys"),
    "list visits": ("GET", "/v1/visits"),
    "create visit": ("POST", "/v1/visits"),
    "get visit": ("GET", "/v1/visits/{id}"),
    "visit programme": ("GET", "/v1/visits/{id}/programme"),
    "patch visit": ("PATCH", "/v1/visits/{id}"),
    "cancel visit": ("DELETE", "/v1/visits/{id}"),
    "delete delegate": ("DELETE", "/v1/visits/{id}/delegates/{delegate_id}"),
    "list checklists": ("GET", "/v1/checklists"),
    "create checklist": ("POST", "/v1/checklists"),
    "get checklist": ("GET", "/v1/checklists/{id}"),
    "patch checklist": ("PATCH", "/v1/checklists/{id}"),
    "delete checklist": ("DELETE", "/v1/checklists/{id}"),
    "list tasks": ("GET", "/v1/visits/{id}/tasks"),
    "patch task": ("PATCH", "/v1/visits/{id}/tasks/{task_id}"),
    "get feed": ("GET", "/v1/feeds/{id}"),
}

# A checklist of one task, which each org's visit gets.
CHECKLIST = {"name": "Letters", "tasks": [{"title": "Invitation letter", "offset_days": -30}]}


def setup(ctx):
    db = ctx.database()
    run_cli(["org", "create", "host", "--name", "Host", "--host", "--timezone", "Asia/Seoul"], db)
    run_cli(["org", "create", "peer", "--name", "Peer", "--timezone", "Asia/Seoul"], db)
    keys = {(o, r): run_cli(["key", "create", o, "--role", r], db).stdout.strip()
            for o in ("host", "peer") for r in ROLES}
    d = ctx.daemon(db)
    own = {}
    for o in ("host", "peer"):
        t = keys[(o, "admin")]
        own[o] = {
            "event": d.request("POST", "/v1/events", token=t, body=dict(VISIT, partners=[])).json()["id"],
            "agreement": d.request("POST", "/v1/agreements", token=t, body=dict(LOI, parties=[])).json()["id"],
            "key": d.request("POST", "/v1/keys", token=t, body={"name": "victim"}).json()["id"],
            "checklist": d.request("POST", "/v1/checklists", token=t, body=CHECKLIST).json()["id"],
            "feed": d.request("POST", "/v1/feeds", token=t, body={"name": "f"}).json()["id"],
        }
        v = d.request("POST", "/v1/visits", token=t, body=dict(SF, partners=[])).json()["id"]
        own[o]["visit"] = v
        own[o]["task"] = d.request("GET", f"/v1/visits/{v}/tasks", token=t).json()["items"][0]["id"]
    return d, keys, own


def expected(route, org, role, target):
    """The status a caller (org, role) gets on route for target's resource."""
    admin, writer = role == "admin", role in ("admin", "editor")
    mine = org == target
    return {
        "list orgs": 200, "get org": 200, "list events": 200, "occurrences": 200,
        "get event": 200, "list agreements": 200, "get agreement": 200,
        "create org": 201 if admin and org == "host" else 403,
        "list keys": 200 if admin else 403,
        "create key": 201 if admin else 403,
        "delete key": (204 if mine else 404) if admin else 403,
        "create event": 201 if writer else 403,
        "patch event": 403 if not writer or not mine else 200,
        "cancel event": 403 if not writer or not mine else 200,
        "create agreement": 201 if writer else 403,
        "patch agreement": 403 if not writer or not mine else 200,
        "cancel agreement": 403 if not writer or not mine else 200,
        "get follow-up": 200, "report": 200,
        "put follow-up": 200 if admin else 403,
        "first key": 201 if admin and org == "host" else 403,
        "list visits": 200, "get visit": 200, "visit programme": 200,
        "create visit": 201 if writer else 403,
        "patch visit": 403 if not writer or not mine else 200,
        "cancel visit": 403 if not writer or not mine else 200,
        # a delegate that is not there: the role and the owner are checked first
        "delete delegate": 403 if not writer or not mine else 404,
        # an org's checklists are its own: another's is not found
        "list checklists": 200, "get checklist": 200 if mine else 404,
        "create checklist": 201 if writer else 403,
        "patch checklist": 403 if not writer else 200 if mine else 404,
        "delete checklist": 403 if not writer else 404,  # one that is not there
        # a visit's tasks are its org's: another that sees the visit is refused
        "list tasks": 200 if mine else 403,
        "patch task": 403 if not writer or not mine else 200,
        "get feed": (200 if mine else 404) if admin else 403,
    }[route]


def test_role_matrix(ctx):
    d, keys, own = setup(ctx)
    failures = []
    for org in ("host", "peer"):
        for role in ROLES:
            tok = keys[(org, role)]
            for target in ("host", "peer"):
                res = own[target]
                fresh = f"o{uuid.uuid4().hex[:8]}"
                calls = {
                    "list orgs": ("GET", "/v1/orgs", None),
                    "get org": ("GET", f"/v1/orgs/{target}", None),
                    "create org": ("POST", "/v1/orgs", {"slug": fresh, "name": "New"}),
                    "list keys": ("GET", "/v1/keys", None),
                    "create key": ("POST", "/v1/keys", {"name": "k"}),
                    "delete key": ("DELETE", f"/v1/keys/{res['key']}", None),
                    "list events": ("GET", "/v1/events", None),
                    "create event": ("POST", "/v1/events", dict(VISIT, partners=[])),
                    "get event": ("GET", f"/v1/events/{res['event']}", None),
                    "patch event": ("PATCH", f"/v1/events/{res['event']}", {"tags": [role]}),
                    "cancel event": ("DELETE", f"/v1/events/{res['event']}", None),
                    "occurrences": ("GET", "/v1/occurrences?from=2024-08-01&to=2024-09-01", None),
                    "list agreements": ("GET", "/v1/agreements", None),
                    "create agreement": ("POST", "/v1/agreements", dict(LOI, parties=[])),
                    "get agreement": ("GET", f"/v1/agreements/{res['agreement']}", None),
                    "patch agreement": ("PATCH", f"/v1/agreements/{res['agreement']}", {"stage": "drafting"}),
                    "cancel agreement": ("DELETE", f"/v1/agreements/{res['agreement']}", None),
                    "get follow-up": ("GET", "/v1/follow-up-template", None),
                    "put follow-up": ("PUT", "/v1/follow-up-template",
                                      {"steps": [{"title": "Annual review", "days": 365}]}),
                    "report": ("GET", "/v1/reports/cooperation?from=2024-01-01&to=2025-01-01",
                               None),
                    "list visits": ("GET", "/v1/visits", None),
                    "create visit": ("POST", "/v1/visits", dict(SF, partners=[])),
                    "get visit": ("GET", f"/v1/visits/{res['visit']}", None),
                    "visit programme": ("GET", f"/v1/visits/{res['visit']}/programme", None),
                    "patch visit": ("PATCH", f"/v1/visits/{res['visit']}", {"purpose": role}),
                    "cancel visit": ("DELETE", f"/v1/visits/{res['visit']}", None),
                    "delete delegate": ("DELETE", f"/v1/visits/{res['visit']}/delegates/"
                                        f"{uuid.uuid4()}", None),
                    "list checklists": ("GET", "/v1/checklists", None),
                    "create checklist": ("POST", "/v1/checklists", CHECKLIST),
                    "get checklist": ("GET", f"/v1/checklists/{res['checklist']}", None),
                    "patch checklist": ("PATCH", f"/v1/checklists/{res['checklist']}",
                                        {"name": role}),
                    "delete checklist": ("DELETE", f"/v1/checklists/{uuid.uuid4()}", None),
                    "list tasks": ("GET", f"/v1/visits/{res['visit']}/tasks", None),
                    "patch task": ("PATCH", f"/v1/visits/{res['visit']}/tasks/{res['task']}",
                                   {"owner": role}),
                    "get feed": ("GET", f"/v1/feeds/{res['feed']}", None),
                }
                for name, (method, path, body) in calls.items():
                    want = expected(name, org, role, target)
                    got = d.request(method, path, body=body, token=tok).status
                    if name == "delete key" and got == 204:
                        # the victim is gone: make another for the next caller
                        own[target]["key"] = d.request(
                            "POST", "/v1/keys", token=keys[(target, "admin")],
                            body={"name": "victim"}).json()["id"]
                    if got != want:
                        failures.append(f"{org}/{role} -> {target}: {name} {method} {path}: "
                                        f"want {want}, got {got}")
    # The host's first-key route: only the host admin, only for an org without keys.
    for (org, role), tok in keys.items():
        slug = f"n{uuid.uuid4().hex[:8]}"
        run_cli(["org", "create", slug, "--name", "N"], d.database)
        got = d.request("POST", f"/v1/orgs/{slug}/keys", token=tok, body={}).status
        want = expected("first key", org, role, org)
        if got != want:
            failures.append(f"{org}/{role}: first key want {want}, got {got}")
    assert not failures, "\n".join(failures)
