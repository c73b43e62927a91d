"""Every route x every role, plus no token, a revoked token and a malformed one.

The roles a route admits are read from its ``require(...)`` dependency, so a new route is
covered without editing this test; a route with no auth dependency must be on the public list.
"""

from typing import Any

import pytest
from fastapi.routing import APIRoute

from shared.auth import ROLES, revoke_token
from tests.factories import post_camera

# Routes readable without a token (camera locations and the standards' discovery documents are
# public, as is the API documentation page; pages answer with their own sign-in form).
PUBLIC = {
    "assets": {
        "/healthz",
        "/readyz",
        "/docs",
        "/cameras",
        "/cameras/{camera_id}",
        "/map",
        "/control-room",
        "/open311/v2/services.json",
        "/open311/v2/services/{service_code}.json",
        "/open311/v2/services.xml",
        "/open311/v2/services/{service_code}.xml",
        "/open311/discovery.json",
        "/open311/discovery.xml",
    },
    "hotspots": {"/healthz", "/readyz", "/docs", "/map"},
    "predictive": {
        "/healthz",
        "/readyz",
        "/docs",
        "/targets/page",
        "/targets/page.csv",
        "/targets/page/ranks.js",
        "/backtests/page",
    },
}
# The front door (shared.web.signin, shared.web.oidc) on every service: home, sign-in, SSO.
FRONT = {"/", "/sign-in", "/sign-out", "/sso/start", "/sso/callback", "/redoc"}
for _paths in PUBLIC.values():
    _paths |= FRONT
PUBLIC_PREFIXES = {
    "assets": ("/ogc", "/boundaries/"),
    "hotspots": ("/boundaries/",),
    "predictive": ("/boundaries/",),
}
# Routes that check their token themselves (Open311 also takes it as the api_key form field):
# (method, path) -> roles admitted (None: any valid token).
# Least privilege (issue 11, S7): who reads police footage requests, SEG decisions, the audit
# trail and faults (admins as well). Stated here rather than read from the routes, so a change
# of who may read them is a decision this table records; services.assets.api gives the reasons.
FAULT_READERS = {"operator", "seg", "analyst"}
LEAST_PRIVILEGE: dict[tuple[str, str], set[str]] = {
    ("GET", "/cameras/{camera_id}/footage-requests"): {"operator"},
    ("GET", "/cameras/{camera_id}/decisions"): {"seg", "analyst"},
    ("GET", "/cameras/{camera_id}/history"): set(),
    ("GET", "/faults"): FAULT_READERS,
    ("GET", "/faults/changes"): FAULT_READERS,
    ("GET", "/footage-requests"): {"operator"},
    ("GET", "/footage-requests/{request_id}"): {"operator"},
    ("GET", "/faults/{fault_id}"): FAULT_READERS,
    ("GET", "/faults/sla-breaches"): FAULT_READERS,
    ("GET", "/cameras/{camera_id}/faults"): FAULT_READERS,
    ("GET", "/cameras/{camera_id}/availability"): FAULT_READERS,
}
MANUAL: dict[tuple[str, str], set[str] | None] = {
    # Open311 (issue 17.4): crews report and read back only their own requests
    # (tests/integration/test_open311_client.py); fault readers read every request.
    **{
        (method, f"/open311/v2/{path}.{fmt}"): roles
        for fmt in ("json", "xml")
        for method, path, roles in (
            ("GET", "requests", FAULT_READERS | {"crew"}),
            ("POST", "requests", {"operator", "crew"}),
            ("GET", "requests/{service_request_id}", FAULT_READERS | {"crew"}),
            ("GET", "servicerequestupdates", FAULT_READERS | {"crew"}),
        )
    },
    # The crews' list page logs visits with its sign-in cookie or a Bearer header.
    ("POST", "/targets/page/visit"): {"crew"},
    # Pages read the person themselves (shared.web.pages.page_user).
    ("GET", "/briefing"): {"seg", "analyst"},
    ("GET", "/footage"): {"operator"},
    ("GET", "/health-board"): FAULT_READERS,
    ("GET", "/health-board/changes"): FAULT_READERS,
    ("GET", "/briefing.pdf"): {"seg", "analyst"},
}
MIN_CHECKED = {"assets": 23, "hotspots": 25, "predictive": 8}  # guards against a vacuous walk
OPEN311_FORM = {"service_code": "no_picture", "description": "matrix", "lat": "51.3", "long": "0.5"}
# Well-formed forms for the manual routes that parse one before their token check.
FORMS = {
    "/open311/v2/requests.json": OPEN311_FORM,
    "/open311/v2/requests.xml": OPEN311_FORM,
    "/targets/page/visit": {"list_id": "1", "cell_id": "150m_1_1", "crew": "matrix"},
}


@pytest.fixture()
def people(db_session: Any) -> dict[str, dict[str, str]]:
    """One signed-in person per role: headers a browser on the suite's own page would send."""
    from sqlalchemy import select

    from shared import accounts
    from shared.core.models import WebSession
    from shared.web import sessions
    from tests.support import service_settings

    settings = service_settings("assets", "postgresql://unused")
    out = {}
    for role in ROLES:
        user = accounts.create_user(
            db_session,
            username=f"matrix.{role}",
            role=role,
            agency="kfrs" if role == "crew" else None,
            password="matrix-password",
        )
        clear = sessions.start(db_session, user, via="password", settings=settings)
        row = db_session.scalars(select(WebSession).where(WebSession.user_id == user.id)).one()
        out[role] = {
            "Cookie": f"{sessions.COOKIE}={clear}",
            "X-CSRF-Token": row.csrf_token,
            "Origin": "http://testserver",
        }
    db_session.flush()
    return out


def _roles_of(dependant: Any) -> set[str] | None:
    """The roles a route's require() admits; None when it needs no particular role."""
    found: set[str] | None = None
    for dep in dependant.dependencies:
        call = dep.call
        closure = getattr(call, "__closure__", None) or ()
        names = getattr(getattr(call, "__code__", None), "co_freevars", ())
        if getattr(call, "__name__", "") == "dep" and "roles" in names:
            roles = closure[names.index("roles")].cell_contents
            found = (found or set()) | set(roles)
        sub = _roles_of(dep)
        if sub is not None:
            found = (found or set()) | sub
    return found


def _needs_token(dependant: Any) -> bool:
    for dep in dependant.dependencies:
        name = getattr(dep.call, "__name__", "")
        if name in ("current_principal", "desktop_principal", "dep") or _needs_token(dep):
            return True
    return False


class _Route:
    """A route with the dependencies of the routers it was included through."""

    def __init__(self, route: APIRoute, extra: list[Any]) -> None:
        from types import SimpleNamespace

        from fastapi.dependencies.utils import get_dependant

        subs = [get_dependant(path="", call=d.dependency) for d in extra]
        # A copy: the route objects belong to module-level routers shared by every app.
        self.dependant = SimpleNamespace(dependencies=[*route.dependant.dependencies, *subs])


def _routes(app: Any) -> list[tuple[str, str, Any]]:
    out: list[tuple[str, str, Any]] = []

    def walk(routes: list[Any], prefix: str, extra: list[Any]) -> None:
        for r in routes:
            if isinstance(r, APIRoute):
                wrapped = _Route(r, extra) if extra else r
                path = r.path if r.path.startswith(prefix) else prefix + r.path
                for m in sorted(r.methods - {"HEAD", "OPTIONS"}):
                    out.append((m, path, wrapped))
            elif hasattr(r, "original_router"):
                ctx = r.include_context
                deps = [*extra, *ctx.dependencies, *r.original_router.dependencies]
                walk(r.original_router.routes, prefix + ctx.prefix, deps)

    walk(app.routes, "", [])
    return out


def _url(path: str) -> str:
    import re

    return re.sub(r"\{[^}]+\}", "1", path)


@pytest.mark.parametrize("service", ["assets", "hotspots", "predictive"])
def test_every_route_every_role(
    service: str, make_client: Any, tokens: dict, people: dict, db_session: Any
) -> None:
    client = make_client(service)
    checked = 0
    for method, path, route in _routes(client.app):
        public = path in PUBLIC[service] or path.startswith(PUBLIC_PREFIXES[service])
        manual = (method, path) in MANUAL
        needs = manual or _needs_token(route.dependant)
        if not needs:
            assert public, f"{method} {path} has no auth dependency and is not on the public list"
            continue
        allowed = MANUAL[(method, path)] if manual else _roles_of(route.dependant)
        url = _url(path)
        # Open311 and the page's visit form parse their form before their own token check:
        # send a well-formed one.
        form = FORMS.get(path) if manual and method == "POST" else None
        r = client.request(method, url, data=form)
        assert r.status_code == 401, f"{method} {path} without a token gave {r.status_code}"
        for bad in ({"Authorization": "Bearer csp_not-a-token"}, {"Authorization": "Token x"}):
            assert client.request(method, url, headers=bad, data=form).status_code == 401, path
        for role in ROLES:
            # The same role as an API token and as a person signed in (cookie + CSRF token).
            for how, headers in (("token", tokens[role]), ("session", people[role])):
                client.cookies.clear()
                r = client.request(method, url, headers=headers, data=form)
                may = allowed is None or role == "admin" or role in allowed
                who = f"{role} ({how})"
                if may:
                    assert r.status_code not in (401, 403), f"{who} refused on {method} {path}"
                    assert r.status_code < 500, (
                        f"{who} on {method} {path}: {r.status_code} {r.text}"
                    )
                else:
                    assert r.status_code == 403, f"{who} on {method} {path} gave {r.status_code}"
        checked += 1
    assert checked >= MIN_CHECKED[service], checked


def test_revoked_token_refused_everywhere(make_client: Any, tokens: dict, db_session: Any) -> None:
    from shared.auth import lookup

    clear = tokens["admin"]["Authorization"].split()[1]
    who = lookup(db_session, clear)
    assert who is not None
    revoke_token(db_session, token_id=who.token_id)
    db_session.flush()
    for service in ("assets", "hotspots", "predictive"):
        client = make_client(service)
        for method, path, route in _routes(client.app):
            if _needs_token(route.dependant):
                r = client.request(method, _url(path), headers=tokens["admin"])
                assert r.status_code == 401, (service, method, path, r.status_code)


def test_sensitive_reads_admit_only_the_roles_that_need_them(
    make_client: Any, tokens: dict, db_session: Any
) -> None:
    """Footage requests, decisions, the audit trail and faults, on real records: the roles in
    LEAST_PRIVILEGE (and admin) read them, every other role, crews included, gets 403."""
    client = make_client("assets")
    cid = post_camera(client, tokens["admin"], name="Matrix camera", technology="analogue")["id"]
    fault = client.post(
        f"/cameras/{cid}/faults",
        headers=tokens["operator"],
        json={"category": "power", "description": "No power"},
    )
    etag = client.get(f"/cameras/{cid}", headers=tokens["seg"]).headers["etag"]
    footage = client.post(
        f"/cameras/{cid}/footage-requests",
        headers=tokens["operator"],
        json={"requested_on": "2024-05-02", "reference": "KENT/SECRET/1"},
    )
    decision = client.post(
        f"/cameras/{cid}/decisions",
        headers=tokens["seg"] | {"If-Match": etag},
        json={
            "decision": "retain",
            "meeting_date": "2024-05-01",
            "minute_ref": "SEG/1",
            "reason": "kept",
        },
    )
    assert (fault.status_code, footage.status_code, decision.status_code) == (201, 201, 201)
    urls = {
        "/cameras/{camera_id}/footage-requests": f"/cameras/{cid}/footage-requests",
        "/cameras/{camera_id}/decisions": f"/cameras/{cid}/decisions",
        "/cameras/{camera_id}/history": f"/cameras/{cid}/history",
        "/faults": "/faults",
        "/faults/{fault_id}": f"/faults/{fault.json()['id']}",
        "/faults/sla-breaches": "/faults/sla-breaches?include_resolved=true",
        "/cameras/{camera_id}/faults": f"/cameras/{cid}/faults",
        "/cameras/{camera_id}/availability": (
            f"/cameras/{cid}/availability?start=2024-01-01T00:00:00Z&end=2024-02-01T00:00:00Z"
        ),
        "/faults/changes": "/faults/changes",
        "/footage-requests": "/footage-requests",
        "/footage-requests/{request_id}": f"/footage-requests/{footage.json()['id']}",
    }
    routes = {(m, p): r for m, p, r in _routes(client.app)}
    for (method, path), readers in LEAST_PRIVILEGE.items():
        assert (method, path) in routes, path
        if (method, path) not in MANUAL:
            assert _roles_of(routes[(method, path)].dependant) == readers or (
                not readers and _roles_of(routes[(method, path)].dependant) == {"admin"}
            ), path
        for role in ROLES:
            r = client.get(urls[path], headers=tokens[role])
            if role == "admin" or role in readers:
                assert r.status_code == 200, (role, path, r.status_code, r.text[:200])
            else:
                assert r.status_code == 403, (role, path, r.status_code)
                assert "KENT/SECRET" not in r.text
    assert "crew" not in set().union(*LEAST_PRIVILEGE.values())
