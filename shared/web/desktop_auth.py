"""Who is calling on the desktop routes (OGC API, tiles, downloads): Bearer, Basic or session.

Desktop GIS cannot always send a Bearer header: QGIS 3.22's "Basic" authentication
configuration and GDAL's ``GDAL_HTTP_USERPWD`` send HTTP Basic. Here the Basic password is an
API token (the user name is free text, for the client's own records); the token is looked up as
a Bearer token would be. A person's session cookie works too (these routes only read, so no
CSRF check is needed). Only these routes take Basic: the rest of the API keeps Bearer or the
session (``shared.auth``), so a password prompt never stands in for the sign-in page.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from shared.auth import Principal, lookup, session_principal
from shared.db import SessionDep
from shared.errors import Unauthorized

REALM = "Medway CSP (user name: anything; password: an API token)"
CHALLENGE = f'Basic realm="{REALM}", charset="UTF-8", Bearer'
MAX_HEADER = 600  # a token is ~50 characters; nothing longer is decoded


def _bad(detail: str) -> Unauthorized:
    return Unauthorized(detail, headers={"WWW-Authenticate": CHALLENGE})


def basic_token(header: str) -> str:
    """The password of a ``Basic`` header (the token), or Unauthorized saying what is wrong."""
    if len(header) > MAX_HEADER:
        raise _bad("The Authorization header is too long to hold a token")
    encoded = header.partition(" ")[2].strip()
    try:
        decoded = base64.b64decode(encoded, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise _bad("The Basic credentials are not base64 of 'name:token'") from None
    _, colon, password = decoded.partition(":")
    if not colon or not password:
        raise _bad("Basic authentication needs 'name:token' (the password is an API token)")
    return password


def desktop_caller(request: Request, session: Session) -> Principal | None:
    """The caller from Bearer, Basic (password = token) or the session; None for none."""
    header = request.headers.get("authorization", "").strip()
    if header:
        scheme = header.split(" ", 1)[0].lower()
        if scheme == "bearer":
            clear = header[len("bearer") :].strip()
        elif scheme == "basic":
            clear = basic_token(header)
        else:
            raise _bad("Send 'Authorization: Bearer <token>' or Basic with the token as password")
        found = lookup(session, clear)
        if found is None:
            raise _bad("The token is not valid or has been revoked")
        return found
    return session_principal(request, session)


def desktop_principal(request: Request, session: SessionDep) -> Principal:
    """Dependency: the caller of a desktop route; 401 with a Basic challenge without one."""
    found = desktop_caller(request, session)
    if found is None:
        raise _bad(
            "This layer needs a token: 'Authorization: Bearer <token>', or HTTP Basic with any "
            "user name and the token as password (QGIS Basic authentication, GDAL_HTTP_USERPWD)"
        )
    return found


DesktopCaller = Annotated[Principal, Depends(desktop_principal)]
