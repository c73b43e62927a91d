"""Pydantic I/O of the fault routes: reports, status changes, SLA, availability."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from services.assets import lifecycle as lc
from services.assets.fields import FaultCategoryName, FaultStatusName, InputModel, UtcDatetime
from services.assets.models import Fault, FaultEvent


class FaultCreate(InputModel):
    """A fault report (operator)."""

    category: FaultCategoryName
    description: str = Field(min_length=1, max_length=4000)
    reported_at: UtcDatetime | None = Field(None, description="Defaults to now")
    started_at: UtcDatetime | None = Field(
        None,
        description="When the fault began, if before it was reported (at or before "
        "reported_at); downtime counts from it, the SLA from the report",
    )


class FaultPatch(InputModel):
    """A fault status change (operator)."""

    status: FaultStatusName
    note: str | None = Field(None, max_length=4000)
    at: UtcDatetime | None = Field(None, description="When it happened; defaults to now")


class FaultNoteCreate(InputModel):
    """A note on a fault without a status change (operator)."""

    note: str = Field(min_length=1, max_length=4000)
    at: UtcDatetime | None = Field(None, description="When; defaults to now")


# What an event is: the report, a status change, or a note alone (same status before and after).
EventKind = Literal["report", "status", "note"]


class FaultEventRead(BaseModel):
    """One step in a fault's history."""

    kind: EventKind
    from_status: str | None
    to_status: str
    at: datetime
    actor: str
    note: str | None


class FaultChanges(BaseModel):
    """A stamp that changes whenever any fault is logged, moved or noted (for live pages)."""

    stamp: str = Field(description="Opaque; compare with the last one seen")
    open: int = Field(description="Faults open or in progress")


class SlaRead(BaseModel):
    """A fault's SLA target and whether it is (or was) breached."""

    target_hours: float
    elapsed_hours: float
    due_at: datetime
    breached: bool


class FaultRead(BaseModel):
    """A fault with its SLA and history."""

    id: int
    number: str
    camera_id: int
    category: FaultCategoryName
    description: str
    status: FaultStatusName
    reported_at: datetime
    started_at: datetime | None = Field(description="When it began, if before the report")
    resolved_at: datetime | None
    reported_by: str
    source: str
    sla: SlaRead
    events: list[FaultEventRead]
    media_url: str | None = Field(None, description="The reporter's photo link (Open311)")
    address_string: str | None = Field(None, description="The reporter's address (Open311)")


class FaultPage(BaseModel):
    """One page of faults."""

    items: list[FaultRead]
    total: int
    limit: int
    offset: int


class AvailabilityRead(BaseModel):
    """Downtime and availability of one camera over a period (overlapping faults merged)."""

    camera_id: int
    start: datetime
    end: datetime
    downtime_hours: float
    degraded_hours: float
    availability: float


class SlaBreachRead(BaseModel):
    """A fault past its SLA target."""

    fault: FaultRead
    camera_name: str


def fault_read(fault: Fault, events: list[FaultEvent], *, now: datetime) -> FaultRead:
    """A fault with its SLA status at ``now`` and its history."""
    s = lc.sla_status(fault.category, fault.reported_at, fault.resolved_at, now)
    return FaultRead(
        id=fault.id,
        number=fault.number,
        camera_id=fault.camera_id,
        category=fault.category,
        description=fault.description,
        status=fault.status,
        reported_at=fault.reported_at,
        started_at=fault.started_at,
        resolved_at=fault.resolved_at,
        reported_by=fault.reported_by,
        source=fault.source,
        sla=SlaRead(
            target_hours=s.target_hours,
            elapsed_hours=round(s.elapsed_hours, 2),
            due_at=s.due_at,
            breached=s.breached,
        ),
        events=[
            FaultEventRead(
                kind=event_kind(e),
                from_status=e.from_status,
                to_status=e.to_status,
                at=e.at,
                actor=e.actor,
                note=e.note,
            )
            for e in events
        ],
        media_url=fault.media_url,
        address_string=fault.address_string,
    )


def event_kind(event: FaultEvent) -> EventKind:
    """The report (no status before), a note alone (the same status after) or a status change."""
    if event.from_status is None:
        return "report"
    return "note" if event.from_status == event.to_status else "status"


def fault_etag(read: FaultRead) -> str:
    """The weak ETag of a fault: how many status changes it has had (each adds an event)."""
    return f'W/"{len(read.events)}"'
