"""Who is calling: API tokens (create, revoke) or a person's session, and the role checks."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shared.core.models import TOKEN_NAME_MAX, ApiToken, User
from shared.db import SessionDep
from shared.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized
from shared.web import sessions

ROLES = ("operator", "seg", "crew", "analyst", "admin")
TOKEN_PREFIX = "csp_"  # noqa: S105 - a prefix, not a secret
NAME_MAX = TOKEN_NAME_MAX
# Line and paragraph separators break the one-line audit and CLI output like control characters.
_NAME_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})

_bearer = HTTPBearer(auto_error=False, description="API token: `Authorization: Bearer csp_...`")


@dataclass(frozen=True)
class Principal:
    """Who is calling: a person signed in (``kind`` "user") or an API token ("token").

    ``id`` is the account's or the token's id; ``agency`` limits a crew member to one agency's
    lists (None: every agency). ``csrf`` is the session's CSRF token for pages (None for tokens).
    """

    id: int
    name: str
    role: str
    kind: str = "token"
    username: str | None = None
    agency: str | None = None
    csrf: str | None = field(default=None, compare=False, repr=False)

    @property
    def token_id(self) -> int | None:
        """The token's id, None for a person."""
        return self.id if self.kind == "token" else None

    @property
    def caller(self) -> int | str:
        """A key unique to this caller (idempotency keys are scoped by it)."""
        return self.id if self.kind == "token" else f"user:{self.id}"

    @property
    def actor(self) -> str:
        """Name used in audit trails: the person (username, role), or the token (its id)."""
        if self.kind == "user":
            return f"{self.name} ({self.username}, {self.role})"
        return f"{self.name} ({self.role}, token #{self.id})"

    def holds(self, *roles: str) -> bool:
        """Whether this caller holds one of ``roles`` (an admin holds every role)."""
        return self.role == "admin" or self.role in roles

    def may_see_agency(self, code: str) -> bool:
        """Whether this caller may see an agency's lists (crew only their own agency's)."""
        return self.agency is None or self.role != "crew" or self.agency == code.lower()


def hash_token(token: str) -> str:
    """SHA-256 hex digest of a token; tokens carry 256 bits of entropy, so no salt is needed."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def check_token_name(name: str) -> str:
    """The name stripped, or InvalidInput saying why it cannot name a token."""
    clean = name.strip()
    if not clean:
        raise InvalidInput("A token needs a name saying who holds it")
    if len(clean) > NAME_MAX:
        raise InvalidInput(
            f"The token name is {len(clean)} characters long; the limit is {NAME_MAX}"
        )
    bad = sorted(
        {f"U+{ord(c):04X}" for c in clean if unicodedata.category(c) in _NAME_REFUSED_CATEGORIES}
    )
    if bad:
        raise InvalidInput(
            f"The token name holds control or invisible characters ({', '.join(bad)}); "
            "use printable text"
        )
    return clean


def _active_named(session: Session, name: str) -> ApiToken | None:
    """The active token with this name, ignoring case (names are unique among active tokens)."""
    return session.scalars(
        select(ApiToken).where(
            func.lower(ApiToken.name) == name.lower(), ApiToken.revoked_at.is_(None)
        )
    ).first()


def _name_taken(holder: ApiToken) -> Conflict:
    return Conflict(
        f"An active token is already named {holder.name!r} (token #{holder.id}, {holder.role}); "
        "choose another name or revoke that token first",
        extra={"token_id": holder.id},
    )


def create_token(session: Session, *, name: str, role: str) -> tuple[ApiToken, str]:
    """Create a token; returns the row and the clear token, which is never stored."""
    if role not in ROLES:
        raise InvalidInput(f"Unknown role {role!r}; choose one of {', '.join(ROLES)}")
    clean = check_token_name(name)
    holder = _active_named(session, clean)
    if holder is not None:
        raise _name_taken(holder)
    clear = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(name=clean, role=role, token_hash=hash_token(clear), prefix=clear[:10])
    try:
        # A savepoint: a concurrent create of the same name (the unique index) leaves the
        # caller's transaction usable and is reported like the check above.
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        holder = _active_named(session, clean)
        if holder is None:
            raise
        raise _name_taken(holder) from None
    return row, clear


def revoke_token(
    session: Session, *, token_id: int | None = None, name: str | None = None
) -> ApiToken:
    """Revoke exactly one active token, by id or by its (unique) name; returns it."""
    if token_id is None and not name:
        raise InvalidInput("Give a token id or a name to revoke")
    if token_id is not None and name:
        raise InvalidInput("Give a token id or a name to revoke, not both")
    if token_id is not None:
        row = session.scalars(
            select(ApiToken).where(ApiToken.id == token_id, ApiToken.revoked_at.is_(None))
        ).first()
    else:
        row = _active_named(session, (name or "").strip())
    if row is None:
        what = f"id {token_id}" if token_id is not None else f"name {name!r}"
        raise NotFound(f"No active token has {what}")
    row.revoked_at = datetime.now(UTC)
    session.flush()
    return row


def list_tokens(session: Session) -> list[ApiToken]:
    """All tokens, newest first (hashes only)."""
    return list(session.scalars(select(ApiToken).order_by(ApiToken.id.desc())))


def lookup(session: Session, clear: str) -> Principal | None:
    """Find the active token matching ``clear``."""
    if not clear.startswith(TOKEN_PREFIX) or len(clear) > 200:
        return None
    digest = hash_token(clear)
    row = session.scalars(
        select(ApiToken).where(ApiToken.token_hash == digest, ApiToken.revoked_at.is_(None))
    ).first()
    if row is None or not hmac.compare_digest(row.token_hash, digest):
        return None
    return Principal(id=row.id, name=row.name, role=row.role)


async def form_csrf(request: Request) -> str | None:
    """The ``csrf_token`` field of a form body (parsed once; FastAPI reuses the parse)."""
    if request.method in sessions.SAFE_METHODS or sessions.COOKIE not in request.cookies:
        return None
    kind = request.headers.get("content-type", "")
    if not kind.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        return None
    value = (await request.form()).get(sessions.CSRF_FIELD)
    return value if isinstance(value, str) else None


def user_principal(user: User, csrf: str | None = None) -> Principal:
    """The principal of a signed-in person."""
    return Principal(
        id=user.id,
        name=user.full_name,
        role=user.role,
        kind="user",
        username=user.username,
        agency=user.agency_code,
        csrf=csrf,
    )


def session_principal(request: Request, session: Session) -> Principal | None:
    """The person signed in by the session cookie, or None (no cookie, ended or timed out)."""
    clear = request.cookies.get(sessions.COOKIE)
    if not clear:
        return None
    signed_in = sessions.resolve(session, clear, request.app.state.settings)
    if signed_in is None:
        return None
    return user_principal(signed_in.user, signed_in.row.csrf_token)


def optional_principal(
    request: Request,
    session: SessionDep,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    form_token: Annotated[str | None, Depends(form_csrf)],
) -> Principal | None:
    """The caller: a Bearer token, else the session cookie; None for neither.

    A bad token is a 401. A change sent with the session cookie must pass the CSRF check.
    """
    if creds is None:
        header = request.headers.get("authorization")
        if header:
            raise Unauthorized(
                "Malformed Authorization header; send 'Bearer <token>'",
                headers={"WWW-Authenticate": "Bearer"},
            )
        clear = request.cookies.get(sessions.COOKIE)
        if not clear:
            return None
        signed_in = sessions.resolve(session, clear, request.app.state.settings)
        if signed_in is None:
            return None
        sessions.check_csrf(request, signed_in, form_token)
        return user_principal(signed_in.user, signed_in.row.csrf_token)
    principal = lookup(session, creds.credentials)
    if principal is None:
        raise Unauthorized(
            "The token is not valid or has been revoked",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    return principal


def current_principal(
    principal: Annotated[Principal | None, Depends(optional_principal)],
) -> Principal:
    """The caller; 401 without a token."""
    if principal is None:
        raise Unauthorized(
            "This needs you signed in, or an API token: send 'Authorization: Bearer <token>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return principal


def require(*roles: str) -> Callable[..., Principal]:
    """Dependency factory: the caller must hold one of ``roles`` (admins hold every role)."""
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles {unknown}")

    def dep(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if principal.role != "admin" and principal.role not in roles:
            raise Forbidden(
                f"Role '{principal.role}' may not do this; it needs one of: "
                + ", ".join(sorted(set(roles) | {"admin"}))
            )
        return principal

    return dep


AnyRole = Annotated[Principal, Depends(current_principal)]
MaybePrincipal = Annotated[Principal | None, Depends(optional_principal)]
