"""Every route x every role, plus no token, a revoked token and a malformed one.

The roles a route admits are read from its ``require(...)`` dependency, so a new route is
covered without editing this test; a route with no auth dependency must be on the public list.
"""

from typing import Any

import pytest
from fastapi.routing import APIRoute

from shared.auth import ROLES, revoke_token

# Routes readable without a token (camera locations and the standards' discovery documents are
# public; pages answer with their own sign-in form).
PUBLIC = {
    "assets": {
        "/healthz",
        "/readyz",
        "/cameras",
        "/cameras/{camera_id}",
        "/map",
        "/control-room",
        "/open311/v2/services.json",
        "/open311/v2/services/{service_code}.json",
    },
    "hotspots": {"/healthz", "/readyz", "/map"},
    "predictive": {"/healthz", "/readyz", "/targets/page", "/targets/page.csv"},
}
PUBLIC_PREFIXES = {"assets": ("/ogc",), "hotspots": (), "predictive": ()}
COOKIE_PAGES = {"/map/sign-in", "/map/sign-out", "/targets/sign-in"}
# Routes that check their token themselves (Open311 also takes it as the api_key form field):
# (method, path) -> roles admitted (None: any valid token).
MANUAL: dict[tuple[str, str], set[str] | None] = {
    ("GET", "/open311/v2/requests.json"): None,
    ("POST", "/open311/v2/requests.json"): {"operator"},
    ("GET", "/open311/v2/requests/{service_request_id}.json"): None,
    # The crews' list page logs visits with its sign-in cookie or a Bearer header.
    ("POST", "/targets/page/visit"): {"crew"},
}
MIN_CHECKED = {"assets": 23, "hotspots": 25, "predictive": 8}  # guards against a vacuous walk
OPEN311_FORM = {"service_code": "no_picture", "description": "matrix", "lat": "51.3", "long": "0.5"}
# Well-formed forms for the manual routes that parse one before their token check.
FORMS = {
    "/open311/v2/requests.json": OPEN311_FORM,
    "/targets/page/visit": {"list_id": "1", "cell_id": "150m_1_1", "crew": "matrix"},
}


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
        if getattr(dep.call, "__name__", "") in ("current_principal", "dep") or _needs_token(dep):
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
    service: str, make_client: Any, tokens: dict, db_session: Any
) -> None:
    client = make_client(service)
    checked = 0
    for method, path, route in _routes(client.app):
        if path in COOKIE_PAGES:
            continue
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
            r = client.request(method, url, headers=tokens[role], data=form)
            may = allowed is None or role == "admin" or role in allowed
            if may:
                assert r.status_code not in (401, 403), f"{role} refused on {method} {path}"
                assert r.status_code < 500, f"{role} on {method} {path}: {r.status_code} {r.text}"
            else:
                assert r.status_code == 403, f"{role} on {method} {path} gave {r.status_code}"
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
            if _needs_token(route.dependant) and path not in COOKIE_PAGES:
                r = client.request(method, _url(path), headers=tokens["admin"])
                assert r.status_code == 401, (service, method, path, r.status_code)
