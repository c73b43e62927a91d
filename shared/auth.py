"""API tokens with roles: create, revoke, and FastAPI dependencies that check them."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shared.core.models import TOKEN_NAME_MAX, ApiToken
from shared.db import SessionDep
from shared.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized

ROLES = ("operator", "seg", "crew", "analyst", "admin")
TOKEN_PREFIX = "csp_"  # noqa: S105 - a prefix, not a secret
NAME_MAX = TOKEN_NAME_MAX
# Line and paragraph separators break the one-line audit and CLI output like control characters.
_NAME_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})

_bearer = HTTPBearer(auto_error=False, description="API token: `Authorization: Bearer csp_...`")


@dataclass(frozen=True)
class Principal:
    """Who is calling: token id (the identity), name and role."""

    token_id: int
    name: str
    role: str

    @property
    def actor(self) -> str:
        """Name used in audit trails; the token id makes it unique to one token."""
        return f"{self.name} ({self.role}, token #{self.token_id})"


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
    return Principal(token_id=row.id, name=row.name, role=row.role)


def optional_principal(
    request: Request,
    session: SessionDep,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal | None:
    """The caller, or None when no token was sent; a bad token is still a 401."""
    if creds is None:
        header = request.headers.get("authorization")
        if header:
            raise Unauthorized(
                "Malformed Authorization header; send 'Bearer <token>'",
                headers={"WWW-Authenticate": "Bearer"},
            )
        return None
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
            "This needs an API token: send 'Authorization: Bearer <token>'",
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
