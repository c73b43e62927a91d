"""API tokens with roles: create, revoke, and FastAPI dependencies that check them."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from shared.core.models import ApiToken
from shared.db import SessionDep
from shared.errors import Forbidden, InvalidInput, NotFound, Unauthorized

ROLES = ("operator", "seg", "crew", "analyst", "admin")
TOKEN_PREFIX = "csp_"  # noqa: S105 - a prefix, not a secret

_bearer = HTTPBearer(auto_error=False, description="API token: `Authorization: Bearer csp_...`")


@dataclass(frozen=True)
class Principal:
    """Who is calling: token id, name and role."""

    token_id: int
    name: str
    role: str

    @property
    def actor(self) -> str:
        """Name used in audit trails."""
        return f"{self.name} ({self.role})"


def hash_token(token: str) -> str:
    """SHA-256 hex digest of a token; tokens carry 256 bits of entropy, so no salt is needed."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(session: Session, *, name: str, role: str) -> tuple[ApiToken, str]:
    """Create a token; returns the row and the clear token, which is never stored."""
    if role not in ROLES:
        raise InvalidInput(f"Unknown role {role!r}; choose one of {', '.join(ROLES)}")
    if not name.strip():
        raise InvalidInput("A token needs a name saying who holds it")
    clear = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(name=name.strip(), role=role, token_hash=hash_token(clear), prefix=clear[:10])
    session.add(row)
    session.flush()
    return row, clear


def revoke_token(session: Session, *, token_id: int | None = None, name: str | None = None) -> int:
    """Revoke tokens by id or by name; returns how many were revoked."""
    if token_id is None and not name:
        raise InvalidInput("Give a token id or a name to revoke")
    stmt = update(ApiToken).where(ApiToken.revoked_at.is_(None))
    stmt = (
        stmt.where(ApiToken.id == token_id)
        if token_id is not None
        else stmt.where(ApiToken.name == name)
    )
    n = getattr(session.execute(stmt.values(revoked_at=datetime.now(UTC))), "rowcount", 0)
    if not n:
        raise NotFound("No active token matches")
    return int(n)


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
