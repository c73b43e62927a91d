"""Server-side sessions for people: one cookie, one store in the database, all three services.

The cookie ``csp_session`` holds 256 random bits; the database keeps only their SHA-256 digest,
the account, a CSRF token and three times (last seen, absolute expiry, ended). The cookie is
HttpOnly, SameSite=Lax, path ``/`` and Secure in production (or over https). The three services
run on one host (or behind one proxy), so a browser sends the same cookie to each and a session
started on one is valid on all; sign-out ends the row, so every service asks again.

Requests that change something with the cookie (any method but GET, HEAD, OPTIONS) must come
from the suite's own pages (``check_same_origin``) and carry the session's CSRF token, in the
``X-CSRF-Token`` header (scripts) or the ``csrf_token`` form field (forms).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from shared.core.models import User, WebSession
from shared.errors import Forbidden
from shared.settings import CommonSettings

COOKIE = "csp_session"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# last_seen_at is written at most this often (an idle timeout does not need every request).
TOUCH_EVERY = timedelta(seconds=60)
_COOKIE_MAX = 200


@dataclass(frozen=True)
class SignedIn:
    """A live session and its account."""

    user: User
    row: WebSession


def _digest(clear: str) -> str:
    return hashlib.sha256(clear.encode("utf-8")).hexdigest()


def start(session: Session, user: User, *, via: str, settings: CommonSettings) -> str:
    """Open a session for ``user`` (signed in ``via`` "password" or "sso"); returns the cookie."""
    clear = secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    session.add(
        WebSession(
            id_hash=_digest(clear),
            user_id=user.id,
            csrf_token=secrets.token_urlsafe(32),
            last_seen_at=now,
            expires_at=now + timedelta(hours=settings.session_max_hours),
            via=via,
        )
    )
    session.flush()
    return clear


def resolve(session: Session, clear: str, settings: CommonSettings) -> SignedIn | None:
    """The live session behind a cookie value, or None (unknown, ended, idle or expired).

    Seeing a session moves its idle clock on (at most once a minute): that write commits here,
    before the request's own work starts.
    """
    if not clear or len(clear) > _COOKIE_MAX:
        return None
    found = session.execute(
        select(WebSession, User)
        .join(User, User.id == WebSession.user_id)
        .where(WebSession.id_hash == _digest(clear), WebSession.ended_at.is_(None))
    ).first()
    if found is None:
        return None
    row, user = found
    now = datetime.now(UTC)
    idle = timedelta(minutes=settings.session_idle_minutes)
    if user.disabled_at is not None or row.expires_at <= now or row.last_seen_at + idle <= now:
        return None
    if now - row.last_seen_at >= TOUCH_EVERY:
        session.execute(
            update(WebSession).where(WebSession.id_hash == row.id_hash).values(last_seen_at=now)
        )
        session.commit()
    return SignedIn(user=user, row=row)


def end(session: Session, clear: str) -> None:
    """End the session behind a cookie value (sign-out): no service accepts it again."""
    if clear and len(clear) <= _COOKIE_MAX:
        session.execute(
            update(WebSession)
            .where(WebSession.id_hash == _digest(clear), WebSession.ended_at.is_(None))
            .values(ended_at=datetime.now(UTC))
        )
        session.flush()


def set_cookie(
    response: Response, clear: str, *, request: Request, settings: CommonSettings
) -> None:
    """Put the session cookie on a response (Secure in production or over https)."""
    response.set_cookie(
        COOKIE,
        clear,
        max_age=settings.session_max_hours * 3600,
        path="/",
        httponly=True,
        samesite="lax",
        secure=settings.environment == "production" or request.url.scheme == "https",
    )


def clear_cookie(response: Response) -> None:
    """Remove the session cookie (and the token cookies of earlier versions) from the browser."""
    response.delete_cookie(COOKIE, path="/")


def check_csrf(request: Request, signed_in: SignedIn, form_token: str | None) -> None:
    """Forbidden unless a cookie-borne change comes from this site with the session's token."""
    if request.method in SAFE_METHODS:
        return
    check_same_origin(request, what="A change made while signed in")
    sent = request.headers.get(CSRF_HEADER) or form_token or ""
    if not hmac.compare_digest(sent.encode("utf-8"), signed_in.row.csrf_token.encode("utf-8")):
        raise Forbidden(
            "This change was sent without the page's CSRF token; reload the page and try again"
        )


def check_same_origin(request: Request, *, what: str = "This form") -> None:
    """Forbidden unless a browser sent the request from this suite (login and form CSRF).

    Browsers send ``Origin`` (and ``Sec-Fetch-Site``) on every POST. The three services are one
    site on one host, so a page of one may post to another (``same-site``); another host may
    not. A request with no such header nor a ``Referer`` is not from a browser, so there is no
    victim cookie jar to forge with.
    """
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site == "cross-site":
        raise Forbidden(f"{what} can be sent only from this suite's own pages")
    source = request.headers.get("origin") or request.headers.get("referer")
    if source is None:
        return
    if source == "null" or urlsplit(source).netloc not in own_hosts(request):
        raise Forbidden(f"{what} can be sent only from this suite's own pages")


def own_hosts(request: Request) -> set[str]:
    """The host:port pairs of the suite: this request's host, the public URL, every service."""
    own = {request.headers.get("host", "")}
    settings = getattr(request.app.state, "settings", None)
    for name in ("public_url", "assets_url", "hotspots_url", "predictive_url"):
        url = getattr(settings, name, None)
        if url:
            own.add(urlsplit(url).netloc)
    return own


def safe_next(value: str | None, *, default: str = "/") -> str:
    """A path on this site, or a URL of one of the suite's services, to go to after sign-in."""
    if not value or "\\" in value or any(ord(c) < 32 for c in value):
        return default
    if value.startswith("/") and not value.startswith("//"):
        return value
    return default
