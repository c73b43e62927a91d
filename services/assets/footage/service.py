"""Footage request use cases: record a police request (once per Idempotency-Key), list and
search them, and update one (If-Match its version; audited). Keyword-only, session first; each
write commits once."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import exists, func, or_, select
from sqlalchemy.orm import Session

from services.assets import audit
from services.assets.cameras.service import commit_change, get_camera
from services.assets.clock import aware, now_utc
from services.assets.enums import FootageOutcome
from services.assets.models import Camera, FootageRequest
from shared.errors import InvalidInput, NotFound, PreconditionFailed, PreconditionRequired
from shared.idempotency import bounded_wait, insert_once, release, replay, scoped_key

# Footage asked for in one request: recorders keep about a month, so a longer window is a typo.
MAX_WINDOW = timedelta(days=31)
# Evidence kept at most this long after the request (beyond it, a new request).
MAX_RETENTION = timedelta(days=10 * 366)
SEARCH_MAX_CHARS = 100
WINDOW_SLACK = timedelta(minutes=5)
# Fields a PATCH may change, in the order the audit shows them.
UPDATABLE = ("outcome", "note", "officer", "retain_until", "window_start", "window_end")


def check_request(
    *,
    requested_on: date,
    window_start: datetime | None,
    window_end: datetime | None,
    retain_until: date | None,
    now: datetime,
) -> None:
    """422 naming the field when the window is reversed, too long or in the future, or the
    retention date is before the request or more than ten years after it."""
    errors: list[dict[str, str]] = []
    if window_start and window_end and window_end <= window_start:
        errors.append({"field": "window_end", "message": "must be after window_start"})
    if window_start and window_end and window_end - window_start > MAX_WINDOW:
        errors.append(
            {"field": "window_end", "message": f"a window is at most {MAX_WINDOW.days} days"}
        )
    for name, value in (("window_start", window_start), ("window_end", window_end)):
        if value is not None and value > now + WINDOW_SLACK:
            errors.append({"field": name, "message": "footage cannot be asked for the future"})
    if retain_until is not None and retain_until < requested_on:
        errors.append({"field": "retain_until", "message": "must not be before requested_on"})
    if retain_until is not None and retain_until > requested_on + MAX_RETENTION:
        errors.append({"field": "retain_until", "message": "at most ten years after the request"})
    if errors:
        raise InvalidInput(
            "The footage request does not add up: "
            + "; ".join(f"{e['field']} {e['message']}" for e in errors),
            errors=errors,
        )


def add_footage_request(
    session: Session,
    *,
    camera_id: int,
    requested_on: date,
    reference: str,
    outcome: str = FootageOutcome.PENDING,
    note: str | None = None,
    window_start: datetime | None = None,
    window_end: datetime | None = None,
    officer: str | None = None,
    retain_until: date | None = None,
    actor: str,
    caller: int | str | None = None,
    idempotency_key: str | None = None,
) -> tuple[FootageRequest, bool]:
    """Record a police footage request unless this caller's key already did: (row, is new).

    ``caller`` scopes the key (the token id; ``actor`` when absent).
    """
    get_camera(session, camera_id=camera_id)
    start = aware(window_start) if window_start else None
    end = aware(window_end) if window_end else None
    key = scoped_key(caller if caller is not None else actor, idempotency_key)
    by_key = select(FootageRequest).where(FootageRequest.idempotency_key == key)
    same = {
        "camera_id": camera_id,
        "requested_on": requested_on,
        "reference": reference,
        "outcome": outcome,
        "note": note,
        "window_start": start,
        "window_end": end,
        "officer": officer,
        "retain_until": retain_until,
    }
    if key is not None and (found := session.scalars(by_key).first()) is not None:
        return release(session, replay(found, same, "footage request")), False
    check_request(
        requested_on=requested_on,
        window_start=start,
        window_end=end,
        retain_until=retain_until,
        now=now_utc(),
    )
    row = FootageRequest(recorded_by=actor, idempotency_key=key, version=1, **same)
    busy = "A request with this Idempotency-Key is in progress; retry"
    with bounded_wait(session, busy):
        inserted = insert_once(session, row, "uq_footage_requests_idempotency_key")
    if not inserted:
        # A concurrent retry with the same key got there first.
        return release(
            session, replay(session.scalars(by_key).one(), same, "footage request")
        ), False
    audit.record(
        session,
        camera_id=camera_id,
        entity="footage_request",
        entity_id=row.id,
        action="footage_request",
        actor=actor,
        before=None,
        after=_audited(row),
        reason=note,
    )
    commit_change(session)
    return row, True


def _audited(row: FootageRequest) -> dict[str, Any]:
    out: dict[str, Any] = {"requested_on": row.requested_on.isoformat(), "reference": row.reference}
    for name in UPDATABLE:
        value = getattr(row, name)
        if value is not None:
            out[name] = value.isoformat() if isinstance(value, date | datetime) else value
    return out


def get_footage_request(session: Session, *, request_id: int) -> FootageRequest:
    """A footage request by id; NotFound if absent."""
    row = session.get(FootageRequest, request_id)
    if row is None:
        raise NotFound(f"No footage request with id {request_id}")
    return row


def update_footage_request(
    session: Session,
    *,
    request_id: int,
    changes: Mapping[str, Any],
    expected_version: int | None,
    actor: str,
    reason: str | None = None,
) -> FootageRequest:
    """Change a request's outcome, note, officer, retention or window (If-Match its version:
    428 without, 412 when stale); every change is audited with before and after."""
    if expected_version is None:
        raise PreconditionRequired(
            "Send If-Match with the footage request's ETag (from its last read)"
        )
    row = get_footage_request(session, request_id=request_id)
    session.refresh(row, with_for_update=True)
    if expected_version != row.version:
        raise PreconditionFailed(
            f"Footage request {row.reference} changed since you read it; fetch it again",
            extra={"current_version": row.version},
        )
    unknown = set(changes) - set(UPDATABLE)
    if unknown:
        raise InvalidInput("Cannot change " + ", ".join(sorted(unknown)))
    if "outcome" in changes and changes["outcome"] is None:
        raise InvalidInput("outcome cannot be cleared", errors=[{"field": "outcome"}])
    new = {
        name: aware(value) if isinstance(value, datetime) else value
        for name, value in changes.items()
    }
    merged = {name: new.get(name, getattr(row, name)) for name in UPDATABLE}
    # Checked before anything is set: a refused change leaves the row as it was.
    check_request(
        requested_on=row.requested_on,
        window_start=merged["window_start"],
        window_end=merged["window_end"],
        retain_until=merged["retain_until"],
        now=now_utc(),
    )
    before = _audited(row)
    for name, value in new.items():
        setattr(row, name, value)
    after = _audited(row)
    if after == before:
        return release(session, row)
    row.version += 1
    row.updated_at = now_utc()
    session.flush()
    audit.record(
        session,
        camera_id=row.camera_id,
        entity="footage_request",
        entity_id=row.id,
        action="footage_update",
        actor=actor,
        before={k: before.get(k) for k in UPDATABLE},
        after={k: after.get(k) for k in UPDATABLE},
        reason=reason,
    )
    commit_change(session)
    return row


def list_footage_requests(session: Session, *, camera_id: int) -> list[FootageRequest]:
    """Footage requests for a camera, newest first."""
    get_camera(session, camera_id=camera_id)
    return list(
        session.scalars(
            select(FootageRequest)
            .where(FootageRequest.camera_id == camera_id)
            .order_by(FootageRequest.requested_on.desc(), FootageRequest.id.desc())
        )
    )


def search_footage_requests(
    session: Session,
    *,
    q: str | None = None,
    outcome: str | None = None,
    camera_id: int | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[FootageRequest], int]:
    """Footage requests of every camera, newest first, with the total; ``q`` (plain text)
    matches the police reference, officer, note or the camera's tag or name."""
    stmt = select(FootageRequest)
    if camera_id is not None:
        stmt = stmt.where(FootageRequest.camera_id == camera_id)
    if outcome is not None:
        stmt = stmt.where(FootageRequest.outcome == outcome)
    if q is not None and q.strip():
        text_ = q.strip()
        if len(text_) > SEARCH_MAX_CHARS:
            raise InvalidInput(f"The search is longer than {SEARCH_MAX_CHARS} characters")
        like = "%" + text_.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        camera = exists().where(
            Camera.id == FootageRequest.camera_id,
            or_(Camera.asset_tag.ilike(like, escape="\\"), Camera.name.ilike(like, escape="\\")),
        )
        stmt = stmt.where(
            or_(
                FootageRequest.reference.ilike(like, escape="\\"),
                FootageRequest.officer.ilike(like, escape="\\"),
                FootageRequest.note.ilike(like, escape="\\"),
                camera,
            )
        )
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(
        stmt.order_by(FootageRequest.requested_on.desc(), FootageRequest.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    return list(rows), int(total)
