"""Single sign-on through the partnership's OpenID Connect provider (code flow with PKCE, S256).

``GET /sso/start`` keeps a fresh state, nonce and PKCE verifier (``core.sso_attempts``, the
state also in a short-lived cookie, so only the browser that started can finish) and sends the
browser to the provider's authorization endpoint, found by discovery (cached per process).
``GET /sso/callback`` takes the attempt (one use, ten minutes), exchanges the code with the
client secret, verifies the ID token (signature against the provider's JWKS, ``iss``, ``aud``,
``exp``, ``nonce``), maps the role claim to the suite's role and agency, finds or makes the
account (``shared.accounts.sso_account``) and starts a session as the password form does.
Every failure goes back to the sign-in page with a message (``shared.oidc.SSO_MESSAGES``); what
went wrong in detail goes to the log. Off while ``oidc_issuer`` is empty. The protocol itself
(discovery, keys, token checks, claims) is ``shared.oidc``.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from datetime import UTC, datetime, timedelta
from typing import Annotated
from urllib.parse import urlencode, urlsplit

from authlib.oauth2.rfc7636 import create_s256_code_challenge
from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import delete
from sqlalchemy.orm import Session

from shared import accounts
from shared.core.models import SsoAttempt, User
from shared.db import SessionDep
from shared.errors import InvalidInput
from shared.oidc import (
    SsoFailed,
    exchange_code,
    full_name,
    identity,
    map_role,
    pick_username,
    provider_info,
)
from shared.settings import CommonSettings
from shared.web import sessions
from shared.web.sessions import safe_next

router = APIRouter(include_in_schema=False, tags=["pages"])
log = logging.getLogger("csp.sso")

ATTEMPT_TTL = timedelta(minutes=10)
STATE_COOKIE = "csp_sso_state"
CALLBACK_PATH = "/sso/callback"


def _digest(state: str) -> str:
    return hashlib.sha256(state.encode("utf-8")).hexdigest()


def _callback_url(request: Request) -> str:
    """Where the provider sends the browser back: this service as people reach it."""
    public = getattr(request.app.state.settings, "public_url", None)
    if public:
        return str(public).rstrip("/") + CALLBACK_PATH
    return str(request.url_for("sso_callback"))


def _state_path(request: Request) -> str:
    """The state cookie's path: the callback's, as the browser sees it (behind a proxy too)."""
    return urlsplit(_callback_url(request)).path


def _back(request: Request, key: str, next_url: str) -> RedirectResponse:
    """Back to the sign-in form, which says ``SSO_MESSAGES[key]``."""
    query = urlencode({"next": next_url, "error": key})
    return RedirectResponse(request.url_for("sign_in_form").path + "?" + query, 303)


@router.get("/sso/start")
def sso_start(
    request: Request, session: SessionDep, next: Annotated[str, Query(max_length=500)] = "/"
) -> Response:
    """Send the browser to the identity provider (or back to the form when SSO is off)."""
    settings: CommonSettings = request.app.state.settings
    target = safe_next(next)
    if not settings.oidc_issuer:
        return _back(request, "sso-off", target)
    try:
        info = provider_info(settings.oidc_issuer)
    except SsoFailed as failed:
        log.warning("single sign-on cannot start: %s", failed.detail)
        return _back(request, failed.key, target)
    state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    verifier = secrets.token_urlsafe(48)
    now = datetime.now(UTC)
    session.execute(delete(SsoAttempt).where(SsoAttempt.created_at < now - ATTEMPT_TTL))
    session.add(
        SsoAttempt(
            state_hash=_digest(state),
            code_verifier=verifier,
            nonce=nonce,
            next_url=target,
            created_at=now,
        )
    )
    session.commit()
    query = urlencode(
        {
            "response_type": "code",
            "client_id": settings.oidc_client_id,
            "redirect_uri": _callback_url(request),
            "scope": settings.oidc_scope,
            "state": state,
            "nonce": nonce,
            "code_challenge": create_s256_code_challenge(verifier),
            "code_challenge_method": "S256",
        }
    )
    joiner = "&" if "?" in info.authorization_endpoint else "?"
    response = RedirectResponse(info.authorization_endpoint + joiner + query, status_code=303)
    response.set_cookie(
        STATE_COOKIE,
        state,
        max_age=int(ATTEMPT_TTL.total_seconds()),
        path=_state_path(request),
        httponly=True,
        samesite="lax",
        secure=settings.environment == "production"
        or "https" in (request.url.scheme, urlsplit(_callback_url(request)).scheme),
    )
    return response


@router.get("/sso/callback")
def sso_callback(
    request: Request,
    session: SessionDep,
    state: Annotated[str, Query(max_length=200)] = "",
    code: Annotated[str, Query(max_length=2000)] = "",
    error: Annotated[str, Query(max_length=200)] = "",
    iss: Annotated[str, Query(max_length=500)] = "",
) -> Response:
    """The provider's answer: check it, find or make the account, start a session."""
    settings: CommonSettings = request.app.state.settings
    if not settings.oidc_issuer:
        return _back(request, "sso-off", "/")
    attempt = _take_attempt(session, request, state)
    if attempt is None:
        # Not an attempt of this browser's (or used, or stale): its own attempt, if any, stays.
        log.warning("single sign-on refused (sso-expired): no live attempt for this state here")
        return _back(request, "sso-expired", "/")
    target = safe_next(attempt.next_url)
    try:
        if error:
            raise SsoFailed("sso-denied", f"the provider answered {error!r}")
        user = _sign_in(session, request, settings, attempt, code=code, iss=iss)
    except SsoFailed as failed:
        session.rollback()
        log.warning("single sign-on refused (%s): %s", failed.key, failed.detail)
        response = _back(request, failed.key, target)
    else:
        clear = sessions.start(session, user, via="sso", settings=settings)
        session.commit()
        response = RedirectResponse(target, status_code=303)
        sessions.set_cookie(response, clear, request=request, settings=settings)
    response.delete_cookie(STATE_COOKIE, path=_state_path(request))
    return response


def _take_attempt(session: Session, request: Request, state: str) -> SsoAttempt | None:
    """The live attempt this browser started with ``state``, deleted as it is read (one use)."""
    held = request.cookies.get(STATE_COOKIE, "")
    if not state or not hmac.compare_digest(held.encode("utf-8"), state.encode("utf-8")):
        return None
    row = session.execute(
        delete(SsoAttempt).where(SsoAttempt.state_hash == _digest(state)).returning(SsoAttempt)
    ).scalar_one_or_none()
    session.commit()  # used up even if what follows fails
    if row is None or row.created_at + ATTEMPT_TTL < datetime.now(UTC):
        return None
    return row


def _sign_in(
    session: Session,
    request: Request,
    settings: CommonSettings,
    attempt: SsoAttempt,
    *,
    code: str,
    iss: str,
) -> User:
    """Exchange the code, verify the identity, map the role: the account to sign in."""
    info = provider_info(settings.oidc_issuer)
    # RFC 9207: an answer naming another issuer is a mix-up, whatever the code.
    if iss and iss != info.issuer:
        raise SsoFailed("sso", f"the answer names issuer {iss!r}")
    if not code:
        raise SsoFailed("sso", "the answer has no code")
    tokens = exchange_code(
        info,
        code=code,
        verifier=attempt.code_verifier,
        redirect_uri=_callback_url(request),
        client_id=settings.oidc_client_id,
        client_secret=settings.oidc_client_secret,
    )
    claims = identity(
        info,
        tokens,
        client_id=settings.oidc_client_id,
        nonce=attempt.nonce,
        role_claim=settings.oidc_role_claim,
    )
    role, agency = map_role(claims, claim=settings.oidc_role_claim, role_map=settings.oidc_role_map)
    if not role:
        raise SsoFailed(
            "sso-no-role", f"{claims['sub']!r} holds no mapped {settings.oidc_role_claim}"
        )
    username = pick_username(claims)
    if username is None:
        raise SsoFailed("sso-account", f"{claims['sub']!r} has no usable username")
    try:
        found = accounts.sso_account(
            session,
            issuer=info.issuer,
            subject=str(claims["sub"]),
            username=username,
            full_name=full_name(claims),
            role=role,
            agency=agency or None,
        )
    except InvalidInput as exc:
        raise SsoFailed("sso-account", f"role map or identity refused: {exc}") from None
    if isinstance(found, accounts.SignInRefused):
        key = "sso-disabled" if "disabled" in found.message else "sso-account"
        raise SsoFailed(key, f"{claims['sub']!r}: {found.message}")
    return found
