"""The page kit: one template environment, one base template, the signed-in person, navigation.

Every page of the three services renders through ``render``: the base template
(``shared/templates/base.html``) draws the suite's header with the person signed in, sign-out and
links to the pages this person's role may use on all three services (``NAV``). A service's own
templates are registered under its name (``register_templates("assets", dir)``) and named
``"assets/map.html"``. User text reaches a page only as autoescaped data.

Pages ask for a person with ``page_user``: nobody signed in is ``SignInRequired`` (the sign-in
page, 401), a role that may not see the page is ``PageForbidden`` (a page naming the roles
needed, 403); ``install_page_handlers`` renders both as HTML, never JSON.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from jinja2 import (
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    PrefixLoader,
    StrictUndefined,
    select_autoescape,
)
from sqlalchemy.orm import Session

from shared.auth import Principal, lookup, session_principal

SHARED_TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
SUITE_NAME = "Medway Community Safety Partnership"
_service_loaders: dict[str, FileSystemLoader] = {}

env = Environment(
    loader=ChoiceLoader([FileSystemLoader(SHARED_TEMPLATES), PrefixLoader(_service_loaders)]),
    autoescape=select_autoescape(["html"], default_for_string=True, default=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def register_templates(service: str, directory: Path) -> None:
    """Make ``directory``'s templates available as ``"<service>/<name>"``."""
    _service_loaders[service] = FileSystemLoader(directory)


@dataclass(frozen=True)
class NavItem:
    """A page in the header: which service, its path, its label, who may open it."""

    service: str
    path: str
    label: str
    roles: tuple[str, ...]
    agency: str | None = None
    public: bool = False
    about: str = ""


# The suite's pages for people, in header order. Roles as the pages check them (admin sees all).
NAV: tuple[NavItem, ...] = (
    NavItem(
        "assets",
        "/map",
        "Camera map",
        ("operator", "seg", "crew", "analyst"),
        public=True,
        about="Public-space cameras, their faults and the SEG's recommendations",
    ),
    NavItem(
        "assets",
        "/control-room",
        "Control room",
        ("operator",),
        about="Log, update and close camera faults",
    ),
    NavItem(
        "assets",
        "/health-board",
        "Health board",
        ("operator", "seg", "analyst"),
        about="Every camera's health, open faults and SLA breaches",
    ),
    NavItem(
        "assets",
        "/footage",
        "Footage requests",
        ("operator",),
        about="Police requests for footage: record, find, update",
    ),
    NavItem(
        "assets",
        "/briefing",
        "CCTV briefing",
        ("seg", "analyst"),
        about="The quarter's faults, availability, footage requests and SEG decisions, as PDF too",
    ),
    NavItem(
        "hotspots",
        "/map",
        "Hotspots",
        ("analyst", "seg"),
        about="Incident hotspots: run a surface, see its map",
    ),
    NavItem(
        "predictive",
        "/targets/page?agency=kfrs",
        "KFRS boxes",
        ("crew", "analyst"),
        "kfrs",
        about="Today's target boxes for fire and rescue crews",
    ),
    NavItem(
        "predictive",
        "/targets/page?agency=police",
        "Police boxes",
        ("crew", "analyst"),
        "police",
        about="Today's target boxes for police patrols",
    ),
    NavItem(
        "predictive",
        "/backtests/page",
        "Backtests",
        ("analyst",),
        about="Backtest the forecast methods on an agency's incidents",
    ),
)
DOCS: tuple[tuple[str, str], ...] = (
    ("assets", "Assets API"),
    ("hotspots", "Hotspots API"),
    ("predictive", "Predictive API"),
)


def service_url(request: Request, service: str) -> str:
    """The base URL of a service as people reach it (this request's own root for this one)."""
    settings = request.app.state.settings
    if getattr(settings, "service_name", None) == service:
        return str(request.base_url).rstrip("/")
    return str(getattr(settings, f"{service}_url", "")).rstrip("/")


def may_open(who: Principal | None, item: NavItem) -> bool:
    """Whether ``who`` may open a page of the header (a crew member: their agency's only)."""
    if who is None:
        return item.public
    if not who.holds(*item.roles):
        return False
    return item.agency is None or who.may_see_agency(item.agency)


@dataclass(frozen=True)
class Link:
    """A header or home-page link."""

    label: str
    href: str
    current: bool = False
    service: str = ""
    about: str = ""


@dataclass
class PageContext:
    """What the base template needs besides a page's own data."""

    who: Principal | None
    links: list[Link]
    docs: list[Link]
    sign_in: str
    sign_out: str
    csrf: str | None
    service: str
    suite: str = SUITE_NAME
    extra: dict[str, Any] = field(default_factory=dict)


def page_links(request: Request, who: Principal | None) -> list[Link]:
    """The pages ``who`` may open on the three services, the current one marked."""
    me = request.app.state.settings.service_name
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    out = []
    for item in NAV:
        if may_open(who, item):
            base = service_url(request, item.service)
            current = item.service == me and here.startswith(item.path)
            out.append(Link(item.label, base + item.path, current, item.service, item.about))
    return out


def kit(request: Request, who: Principal | None) -> PageContext:
    """The base template's context for ``who`` on this request."""
    docs = [Link(label, service_url(request, svc) + "/docs", False, svc) for svc, label in DOCS]
    return PageContext(
        who=who,
        links=page_links(request, who),
        docs=docs,
        sign_in=sign_in_url(request),
        sign_out=request.url_for("sign_out").path,
        csrf=who.csrf if who else None,
        service=request.app.state.settings.service_name,
    )


def sign_in_url(request: Request, *, next_url: str | None = None) -> str:
    """This service's sign-in page, coming back to ``next_url`` (default: this page)."""
    here = next_url or request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return request.url_for("sign_in_form").path + "?" + urlencode({"next": here})


def render(
    request: Request,
    name: str,
    context: Mapping[str, Any],
    *,
    who: Principal | None,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """Render a page template (extending ``base.html``) for ``who``; never cached."""
    html = env.get_template(name).render({**context, "kit": kit(request, who), "request": request})
    out = {"Cache-Control": "no-store", **(headers or {})}
    return HTMLResponse(html, status_code=status_code, headers=out)


class SignInRequired(Exception):
    """Nobody is signed in on a page that needs a person (rendered as the sign-in page, 401)."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or "Sign in to see this page.")
        self.message = message or "Sign in to see this page."


class PageForbidden(Exception):
    """The person signed in may not see this page (rendered as an HTML 403 naming the roles)."""

    def __init__(self, who: Principal, roles: Sequence[str], what: str = "this page") -> None:
        needed = sorted(set(roles) | {"admin"})
        super().__init__(f"{what} needs the role {' or '.join(needed)}")
        self.who = who
        self.roles = needed
        self.what = what


def page_caller(request: Request, session: Session) -> Principal | None:
    """The caller of a page: a Bearer header (scripts) or the session cookie; None if neither."""
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return lookup(session, header[7:].strip())
    return session_principal(request, session)


def page_user(
    request: Request, session: Session, *roles: str, what: str = "This page"
) -> Principal:
    """The person signed in, holding one of ``roles`` (any role if none given)."""
    who = page_caller(request, session)
    if who is None:
        raise SignInRequired()
    if roles and not who.holds(*roles):
        raise PageForbidden(who, roles, what)
    return who


def sign_in_page(
    request: Request,
    *,
    next_url: str,
    message: str | None = None,
    error: str | None = None,
    status_code: int = 401,
    username: str = "",
) -> HTMLResponse:
    """The sign-in page (password, and SSO when configured)."""
    settings = request.app.state.settings
    context = {
        "next_url": next_url,
        "message": message,
        "error": error,
        "username": username,
        "action": request.url_for("sign_in").path,
        "sso": bool(getattr(settings, "oidc_issuer", "")),
        "sso_label": getattr(settings, "oidc_button_label", "Single sign-on"),
        "sso_url": request.url_for("sso_start").path + "?" + urlencode({"next": next_url}),
    }
    return render(request, "sign_in.html", context, who=None, status_code=status_code)


def install_page_handlers(app: FastAPI) -> None:
    """Render SignInRequired and PageForbidden as HTML pages."""

    async def on_sign_in(request: Request, exc: Exception) -> HTMLResponse:
        assert isinstance(exc, SignInRequired)
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return sign_in_page(request, next_url=here, message=exc.message)

    async def on_forbidden(request: Request, exc: Exception) -> HTMLResponse:
        assert isinstance(exc, PageForbidden)
        context = {"roles": exc.roles, "what": exc.what}
        return render(request, "forbidden.html", context, who=exc.who, status_code=403)

    app.add_exception_handler(SignInRequired, on_sign_in)
    app.add_exception_handler(PageForbidden, on_forbidden)
