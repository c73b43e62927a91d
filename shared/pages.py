"""Sign-in for server-rendered pages: a token pasted once, kept in an HttpOnly cookie.

Pages that people open on a phone or a control-room PC cannot send an ``Authorization`` header,
so a page reads its caller from the header when present, else from a cookie holding the same
API token. The cookie is HttpOnly (scripts cannot read it), SameSite=Lax (sent when a crew member
follows a link, never on a cross-site POST) and scoped to the page's path. The JSON API keeps
requiring the Bearer header, so the cookie cannot change data through it; the one page form
that writes (a crew logging a visit from its list page) also checks the request's Origin.
"""

from __future__ import annotations

from html import escape
from urllib.parse import urlsplit

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from shared.auth import Principal, lookup
from shared.errors import Forbidden

PAGE_COOKIE = "csp_page_token"
PAGE_COOKIE_MAX_AGE_S = 12 * 3600


def page_principal(request: Request, session: Session) -> Principal | None:
    """The caller of a page: the Bearer header if sent, else the page cookie; None if neither."""
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return lookup(session, header[7:].strip())
    token = request.cookies.get(PAGE_COOKIE)
    return lookup(session, token) if token else None


def check_same_origin(request: Request, *, what: str = "This form") -> None:
    """Forbidden unless a browser sent the request from this site (login and form CSRF).

    Browsers send ``Origin`` (and ``Sec-Fetch-Site``) on every POST; a cross-site form post to a
    sign-in route would otherwise swap the victim's cookie for the attacker's token. A request
    with neither header nor a ``Referer`` is not from a browser, so there is no victim cookie
    jar to forge with.
    """
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site in ("cross-site", "same-site"):
        raise Forbidden(f"{what} can be sent only from this site's own pages")
    source = request.headers.get("origin") or request.headers.get("referer")
    if source is None:
        return
    own = {request.headers.get("host", "")}
    public_url = getattr(getattr(request.app.state, "settings", None), "public_url", None)
    if public_url:
        own.add(urlsplit(public_url).netloc)
    if source == "null" or urlsplit(source).netloc not in own:
        raise Forbidden(f"{what} can be sent only from this site's own pages")


def safe_next(value: str | None, *, prefix: str) -> str:
    """A same-site path under ``prefix`` to go back to after sign-in (never another site)."""
    if value and value.startswith(prefix) and not value.startswith("//") and "\\" not in value:
        return value
    return prefix


def sign_in_page(
    *, action: str, next_url: str, title: str, error: str | None = None
) -> HTMLResponse:
    """A small, phone-friendly sign-in form (status 401 so scripts see it is not the page)."""
    msg = f'<p class="err" role="alert">{escape(error)}</p>' if error else ""
    html = f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in: {escape(title)}</title>
<style>body{{font:16px/1.4 system-ui,sans-serif;margin:0;padding:24px;max-width:420px}}
input,button{{font-size:1rem;min-height:48px;width:100%;margin:8px 0;box-sizing:border-box}}
button{{background:#1f4e79;color:#fff;border:0;border-radius:8px}}.err{{color:#b2182b}}</style>
</head><body><h1>{escape(title)}</h1>
<p>Paste your API token once; this device keeps it for 12 hours.</p>
{msg}<form method="post" action="{escape(action)}" id="sign-in">
<input type="hidden" name="next" value="{escape(next_url)}">
<label for="token">API token</label><input id="token" name="token" type="password"
autocomplete="current-password" required maxlength="200">
<button type="submit">Sign in</button></form></body></html>"""
    return HTMLResponse(html, status_code=401, headers={"Cache-Control": "no-store"})


def sign_in_response(
    request: Request, session: Session, *, token: str, next_url: str, cookie_path: str
) -> Response:
    """Check ``token``; on success set the page cookie and go to ``next_url``, else back."""
    check_same_origin(request, what="Sign-in")
    token = token.strip()
    if lookup(session, token) is None:
        sep = "&" if "?" in next_url else "?"
        return RedirectResponse(f"{next_url}{sep}error=token", status_code=303)
    response = RedirectResponse(next_url, status_code=303)
    response.set_cookie(
        PAGE_COOKIE,
        token,
        max_age=PAGE_COOKIE_MAX_AGE_S,
        path=cookie_path,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    return response
