"""People's accounts: create, disable, list, check a password (Argon2) with slow-down and lock-out.

A person signs in by username and password, or through the partnership's identity provider
(``sso_account``). Repeated wrong passwords first slow down (each attempt after
``sign_in_slow_after`` failures must wait ``sign_in_slow_seconds`` times the excess since the
last failure) and then lock the account for ``sign_in_lock_minutes``. The answer to a wrong
username and to a wrong password is the same, so the form does not tell who has an account.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shared.auth import ROLES
from shared.core.models import FULL_NAME_MAX, USERNAME_MAX, User, WebSession
from shared.errors import Conflict, InvalidInput, NotFound
from shared.settings import CommonSettings

PASSWORD_MIN = 10
PASSWORD_MAX = 256
AGENCY_MAX = 20
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._@-]*$")
_AGENCY = re.compile(r"^[a-z0-9_-]+$")
_hasher = PasswordHasher()
# Checked against when the username is unknown, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash("not-a-password-of-anyone")


@dataclass(frozen=True)
class SignInRefused:
    """Why a password sign-in was refused, in words for the page, and when to try again."""

    message: str
    retry_after_s: int = 0


def check_username(username: str) -> str:
    """The username lower-cased, or InvalidInput saying why it cannot be one."""
    clean = username.strip().lower()
    if not clean or len(clean) > USERNAME_MAX or not _USERNAME.match(clean):
        raise InvalidInput(
            f"A username is 1 to {USERNAME_MAX} characters: letters, digits and . _ @ -",
            errors=[{"field": "username", "message": "not a valid username"}],
        )
    return clean


def check_full_name(name: str) -> str:
    """The name stripped, or InvalidInput when empty, too long or holding control characters."""
    clean = name.strip()
    bad = any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in clean)
    if not clean or len(clean) > FULL_NAME_MAX or bad:
        raise InvalidInput(
            f"A full name is 1 to {FULL_NAME_MAX} printable characters",
            errors=[{"field": "name", "message": "not a valid name"}],
        )
    return clean


def check_role(role: str, agency: str | None) -> tuple[str, str | None]:
    """The role and agency code (lower-cased), or InvalidInput; a crew member needs an agency."""
    if role not in ROLES:
        raise InvalidInput(f"Unknown role {role!r}; choose one of {', '.join(ROLES)}")
    code = agency.strip().lower() if agency else None
    if code is not None and (len(code) > AGENCY_MAX or not _AGENCY.match(code)):
        raise InvalidInput(f"Agency code {agency!r} is not a code such as kfrs or police")
    if role == "crew" and not code:
        raise InvalidInput("A crew member belongs to an agency: give --agency (e.g. kfrs)")
    return role, code


def check_password(password: str) -> str:
    """The password, or InvalidInput when it is shorter than PASSWORD_MIN or too long."""
    if len(password) < PASSWORD_MIN or len(password) > PASSWORD_MAX:
        raise InvalidInput(
            f"A password is {PASSWORD_MIN} to {PASSWORD_MAX} characters long",
            errors=[{"field": "password", "message": f"{len(password)} characters"}],
        )
    return password


def find_user(session: Session, username: str) -> User | None:
    """The account with this username (case ignored), or None."""
    return session.scalars(
        select(User).where(func.lower(User.username) == username.strip().lower())
    ).first()


def create_user(
    session: Session,
    *,
    username: str,
    role: str,
    full_name: str | None = None,
    agency: str | None = None,
    password: str | None = None,
) -> User:
    """Create an account (a password, or none for SSO-only); Conflict if the name is taken."""
    clean = check_username(username)
    role, code = check_role(role, agency)
    name = check_full_name(full_name) if full_name else clean
    digest = _hasher.hash(check_password(password)) if password is not None else None
    if find_user(session, clean) is not None:
        raise Conflict(f"An account named {clean!r} already exists")
    row = User(username=clean, full_name=name, role=role, agency_code=code, password_hash=digest)
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        raise Conflict(f"An account named {clean!r} already exists") from None
    return row


def set_password(session: Session, *, username: str, password: str) -> User:
    """Replace an account's password; its open sessions end."""
    row = _existing(session, username)
    row.password_hash = _hasher.hash(check_password(password))
    row.failed_sign_ins = 0
    row.locked_until = None
    end_sessions(session, user_id=row.id)
    return row


def disable_user(session: Session, *, username: str) -> User:
    """Disable an account: it cannot sign in (by password or SSO) and its sessions end now."""
    row = _existing(session, username)
    if row.disabled_at is None:
        row.disabled_at = datetime.now(UTC)
    end_sessions(session, user_id=row.id)
    return row


def enable_user(session: Session, *, username: str) -> User:
    """Enable a disabled account again (and clear a lock)."""
    row = _existing(session, username)
    row.disabled_at = None
    row.failed_sign_ins = 0
    row.locked_until = None
    session.flush()
    return row


def list_users(session: Session) -> list[User]:
    """Every account, by username."""
    return list(session.scalars(select(User).order_by(User.username)))


def end_sessions(session: Session, *, user_id: int) -> int:
    """End every open session of an account; returns how many."""
    result = session.execute(
        update(WebSession)
        .where(WebSession.user_id == user_id, WebSession.ended_at.is_(None))
        .values(ended_at=datetime.now(UTC))
    )
    session.flush()
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def _existing(session: Session, username: str) -> User:
    row = find_user(session, username)
    if row is None:
        raise NotFound(f"No account is named {username.strip().lower()!r}")
    return row


def _wait_s(row: User, settings: CommonSettings, now: datetime) -> int:
    """Seconds before this account may try a password again (0: now)."""
    if row.locked_until is not None and row.locked_until > now:
        return max(1, int((row.locked_until - now).total_seconds()))
    excess = row.failed_sign_ins - settings.sign_in_slow_after + 1
    if excess > 0 and row.last_failed_at is not None:
        ready = row.last_failed_at + timedelta(seconds=settings.sign_in_slow_seconds * excess)
        if ready > now:
            return max(1, int((ready - now).total_seconds() + 0.999))
    return 0


def _minutes(seconds: int) -> str:
    minutes = max(1, (seconds + 59) // 60)
    return f"{minutes} minute" + ("" if minutes == 1 else "s")


def authenticate(
    session: Session, *, username: str, password: str, settings: CommonSettings
) -> User | SignInRefused:
    """The account if the password is right, else why not (the failure is counted and kept).

    The caller commits either way, so a failure counts even though the sign-in is refused.
    """
    now = datetime.now(UTC)
    row = None
    try:
        row = find_user(session, check_username(username))
    except InvalidInput:
        pass
    if row is None or row.password_hash is None or row.disabled_at is not None:
        _verify(_DUMMY_HASH, password)
        if row is not None and row.disabled_at is not None:
            return SignInRefused("This account is disabled; ask an administrator.")
        return SignInRefused("That username and password do not match an account.")
    wait = _wait_s(row, settings, now)
    if wait:
        if row.locked_until is not None and row.locked_until > now:
            return SignInRefused(
                "Too many wrong passwords: this account is locked for "
                f"{_minutes(wait)}. Try again later or ask an administrator.",
                wait,
            )
        return SignInRefused(
            f"Too many wrong passwords: wait {wait} seconds before trying again.", wait
        )
    # Lock the row: two attempts at once must both count.
    session.refresh(row, with_for_update=True)
    if _verify(row.password_hash, password):
        row.failed_sign_ins = 0
        row.locked_until = None
        row.last_sign_in_at = now
        if _hasher.check_needs_rehash(row.password_hash):
            row.password_hash = _hasher.hash(password)
        session.flush()
        return row
    row.failed_sign_ins += 1
    row.last_failed_at = now
    left = settings.sign_in_max_failures - row.failed_sign_ins
    if left <= 0:
        row.locked_until = now + timedelta(minutes=settings.sign_in_lock_minutes)
        session.flush()
        return SignInRefused(
            "Too many wrong passwords: this account is locked for "
            f"{_minutes(settings.sign_in_lock_minutes * 60)}.",
            settings.sign_in_lock_minutes * 60,
        )
    session.flush()
    warn = f" {left} more wrong and the account locks for a while." if left <= 2 else ""
    return SignInRefused("That username and password do not match an account." + warn)


def _verify(digest: str, password: str) -> bool:
    if len(password) > PASSWORD_MAX:
        return False
    try:
        return _hasher.verify(digest, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def sso_account(
    session: Session,
    *,
    issuer: str,
    subject: str,
    username: str,
    full_name: str,
    role: str,
    agency: str | None,
) -> User | SignInRefused:
    """The account linked to this identity-provider subject, made on first sign-in.

    The role and agency follow the provider's claims at every sign-in. A disabled account is
    refused; an account made without a password (``--sso-only``) of the same username is linked
    on the first SSO sign-in, a password account never.
    """
    role, code = check_role(role, agency)
    row = session.scalars(
        select(User).where(User.sso_issuer == issuer, User.sso_subject == subject)
    ).first()
    if row is None:
        clean = check_username(username)
        row = find_user(session, clean)
        if row is not None and row.sso_subject is not None:
            return SignInRefused(
                f"The username {clean!r} belongs to another single sign-on identity."
            )
        if row is not None and row.password_hash is not None:
            # A provider that lets people choose their username must not hand over a password
            # account: only an account made for SSO (`csp user create --sso-only`) is linked.
            return SignInRefused(
                f"The username {clean!r} is a password account here; sign in with the password, "
                "or ask an administrator to make it a single sign-on account."
            )
        if row is None:
            row = User(username=clean, full_name=check_full_name(full_name or clean), role=role)
            session.add(row)
        row.sso_issuer = issuer
        row.sso_subject = subject
    if row.disabled_at is not None:
        return SignInRefused("This account is disabled; ask an administrator.")
    row.role = role
    row.agency_code = code
    if full_name:
        row.full_name = check_full_name(full_name)
    row.last_sign_in_at = datetime.now(UTC)
    session.flush()
    return row
