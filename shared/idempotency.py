"""Idempotency-Key: the request header, the per-caller key stored with a row, and the race.

A client that retries a record-creating POST sends the same ``Idempotency-Key``; the service
stores ``scoped_key(actor, key)`` in the row's unique ``idempotency_key`` column and answers a
repeat with the first row (200 and ``Idempotent-Replayed: true``) instead of a second row.
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from fastapi import Header, Response
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shared.errors import Conflict

T = TypeVar("T")

# Width of the idempotency_key columns; longer actor:key strings are cut, as surface runs' are.
KEY_COLUMN_LENGTH = 300
REPLAYED_HEADER = "Idempotent-Replayed"

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


def scoped_key(actor: str | None, key: str | None) -> str | None:
    """The key as stored: prefixed by the caller, so one caller's key never answers another's."""
    return f"{actor}:{key}"[:KEY_COLUMN_LENGTH] if key else None


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
