"""Idempotency-Key: the request header, the per-caller key stored with a row, and the race.

A client that retries a record-creating POST sends the same ``Idempotency-Key``; the service
stores ``scoped_key(caller, key)`` in the row's unique ``idempotency_key`` column and answers a
repeat with the first row (200 and ``Idempotent-Replayed: true``) instead of a second row.

The caller is the token's id (``Principal.token_id``), not its name: two tokens never share a
key. The stored value is a SHA-256 digest of caller and key, 64 characters whatever their
lengths, so two different keys never collide (a cut to the column's width made two 200-character
keys after a long name the same).

Concurrent repeats: a use case waits for another request's lock (the camera's, or the unique key
of a first insert still in flight) at most ``LOCK_WAIT_MS`` inside ``bounded_wait``, then answers
409 "in progress, retry" instead of holding its pooled connection; and a repeat ends its
transaction (``release``) before it returns, so no lock outlives the lookup that found the
first record.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any, TypeVar

from fastapi import Header, Response
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from shared.errors import Conflict

T = TypeVar("T")

# Width of the idempotency_key columns; a stored key (a hex digest) is far shorter.
KEY_COLUMN_LENGTH = 300
REPLAYED_HEADER = "Idempotent-Replayed"
# Longest wait for a lock another request holds: its work takes milliseconds, so a longer wait
# means a stuck request, and waiting on would hold a pooled connection for nothing.
LOCK_WAIT_MS = 3000
RETRY_AFTER_S = 1
LOCK_NOT_AVAILABLE = "55P03"

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        pattern=r"^[ -~]+$",
        description="Up to 200 printable ASCII characters, new for each new record: a retry "
        "with the same key and body returns what the first request created instead of "
        "creating another; the same key with another body is 409.",
    ),
]


def replay_responses(model: type[Any]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` of a POST that takes an Idempotency-Key and returns ``model``."""
    return {
        200: {
            "model": model,
            "description": "A repeat of an earlier request with the same "
            "Idempotency-Key: what the first one created (nothing new is created)",
            "headers": {REPLAYED_HEADER: {"description": "true", "schema": {"type": "string"}}},
        },
        409: {"description": "This Idempotency-Key was used for a different record"},
    }


def mark_replay(response: Response, created: bool) -> None:
    """Answer a repeat with 200 (not 201) and ``Idempotent-Replayed: true``."""
    if not created:
        response.status_code = 200
        response.headers[REPLAYED_HEADER] = "true"


def scoped_key(caller: int | str | None, key: str | None) -> str | None:
    """The key as stored: a digest of the caller (token id) and the key, None without a key.

    Distinct (caller, key) pairs give distinct digests: the caller's length prefixes it, so no
    caller:key split is ambiguous.
    """
    if not key:
        return None
    who = str(caller)
    return hashlib.sha256(f"{len(who)}:{who}:{key}".encode()).hexdigest()


@contextmanager
def bounded_wait(session: Session, busy: str) -> Iterator[None]:
    """Wait at most ``LOCK_WAIT_MS`` for other requests' locks in this block; then 409 ``busy``.

    The transaction is rolled back on the timeout (it is aborted anyway), freeing the
    connection; the client is told to retry shortly.
    """
    session.execute(text(f"SET LOCAL lock_timeout = '{int(LOCK_WAIT_MS)}ms'"))
    try:
        yield
    except OperationalError as exc:
        if getattr(exc.orig, "pgcode", None) != LOCK_NOT_AVAILABLE:
            raise
        session.rollback()
        raise Conflict(
            busy, headers={"Retry-After": str(RETRY_AFTER_S)}, internal=str(exc.orig)
        ) from exc
    session.execute(text("SET LOCAL lock_timeout = DEFAULT"))


def release(session: Session, found: T) -> T:
    """End the transaction of a lookup that wrote nothing (its locks go with it); ``found``."""
    session.commit()
    return found


def insert_once(session: Session, row: object, constraint: str) -> bool:
    """Insert ``row`` in a savepoint; False when a concurrent insert holds its key (``constraint``).

    The other insert has committed by then (Postgres waits for it), so the caller can read it.
    """
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError as exc:
        if getattr(getattr(exc.orig, "diag", None), "constraint_name", None) != constraint:
            raise
        return False
    return True


def replay(found: T, same: dict[str, Any], what: str) -> T:
    """``found`` when its fields equal ``same`` (a true repeat), else Conflict (409)."""
    if any(getattr(found, name) != value for name, value in same.items()):
        raise Conflict(
            f"This Idempotency-Key was used for a different {what}; send a new key for a new {what}"
        )
    return found
