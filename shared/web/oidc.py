"""Single sign-on through the partnership's OpenID Connect provider (code flow with PKCE).

Not configured yet: ``/sso/start`` sends people back to the password form.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

router = APIRouter(include_in_schema=False, tags=["pages"])


@router.get("/sso/start")
def sso_start(request: Request, next: Annotated[str, Query(max_length=500)] = "/") -> Response:
    """Send the browser to the identity provider (or back to the form when SSO is off)."""
    return RedirectResponse(request.url_for("sign_in_form").path + "?error=sso", status_code=303)


@router.get("/sso/callback")
def sso_callback(request: Request) -> Response:
    """The provider's answer: check it, find or make the account, start a session."""
    return RedirectResponse(request.url_for("sign_in_form").path + "?error=sso", status_code=303)
