"""The health board: every camera that can take faults, with its health, open faults, SLA
breaches and availability over the last days, filtered as the reader asks. Reads only."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.assets import lifecycle as lc
from services.assets.cameras.schemas import camera_grid_ref
from services.assets.clock import now_utc
from services.assets.enums import CameraHealth
from services.assets.faults.availability import availability_from_faults, began, faults_overlapping
from services.assets.models import Camera, Fault

AVAILABILITY_DAYS = 30
SEARCH_MAX_CHARS = 100
# Worst first: what the control room must act on comes to the top.
_HEALTH_ORDER: dict[str, int] = {
    CameraHealth.OFFLINE: 0,
    CameraHealth.DEGRADED: 1,
    CameraHealth.ONLINE: 2,
}


def health_rank(health: str) -> int:
    """Where a health comes on the board: offline first, then degraded, then online."""
    return _HEALTH_ORDER.get(health, 3)


@dataclass(frozen=True)
class BoardFault:
    """An open fault as the board shows it."""

    id: int
    number: str
    category: str
    status: str
    began_at: datetime
    due_at: datetime
    breached: bool


@dataclass
class BoardRow:
    """One camera on the board."""

    id: int
    asset_tag: str
    name: str
    ward: str | None
    grid_ref: str | None
    lifecycle: str
    health: str
    availability: float
    faults: list[BoardFault] = field(default_factory=list)

    @property
    def breached(self) -> int:
        """How many of its open faults are past their SLA."""
        return sum(1 for f in self.faults if f.breached)


@dataclass(frozen=True)
class BoardFilter:
    """What the reader asked for; None or False is 'any'."""

    health: str | None = None
    ward: str | None = None
    lifecycle: str | None = None
    open_only: bool = False
    breached_only: bool = False
    q: str | None = None


@dataclass(frozen=True)
class Board:
    """The rows shown, the totals over every camera, and the choices for the filters."""

    rows: list[BoardRow]
    cameras: int
    offline: int
    degraded: int
    with_open_faults: int
    breached: int
    wards: list[str]
    lifecycles: list[str]
    since: datetime
    now: datetime


def keep(row: BoardRow, f: BoardFilter) -> bool:
    """Whether ``row`` passes the filters ``f``."""
    text = (f.q or "").strip().casefold()
    return (
        (f.health is None or row.health == f.health)
        and (f.ward is None or row.ward == f.ward)
        and (f.lifecycle is None or row.lifecycle == f.lifecycle)
        and (not f.open_only or bool(row.faults))
        and (not f.breached_only or row.breached > 0)
        and (not text or text in row.asset_tag.casefold() or text in row.name.casefold())
    )


def _open_faults(session: Session, now: datetime) -> dict[int, list[BoardFault]]:
    out: dict[int, list[BoardFault]] = defaultdict(list)
    stmt = select(Fault).where(Fault.status.in_(lc.OPEN_STATUSES)).order_by(Fault.reported_at)
    for f in session.scalars(stmt):
        sla = lc.sla_status(f.category, f.reported_at, f.resolved_at, now)
        out[f.camera_id].append(
            BoardFault(f.id, f.number, f.category, f.status, began(f), sla.due_at, sla.breached)
        )
    return out


def _availability(camera_id: int, faults: list[Fault], since: datetime, now: datetime) -> float:
    return availability_from_faults(camera_id, faults, since, now, now).availability


def health_board(
    session: Session, *, filters: BoardFilter | None = None, now: datetime | None = None
) -> Board:
    """Every camera that can take faults (worst first), filtered, with totals over all."""
    filters = filters or BoardFilter()
    now = now or now_utc()
    since = now - timedelta(days=AVAILABILITY_DAYS)
    cameras = list(
        session.scalars(
            select(Camera)
            .where(Camera.lifecycle.not_in(lc.NO_FAULT_LIFECYCLES))
            .order_by(Camera.asset_tag)
        )
    )
    open_faults = _open_faults(session, now)
    history: dict[int, list[Fault]] = defaultdict(list)
    for f in faults_overlapping(session, camera_ids=None, start=since, end=now):
        history[f.camera_id].append(f)
    rows = [
        BoardRow(
            id=c.id,
            asset_tag=c.asset_tag,
            name=c.name,
            ward=c.ward,
            grid_ref=camera_grid_ref(c),
            lifecycle=c.lifecycle,
            health=c.health,
            availability=availability_from_faults(
                c.id, history[c.id], since, now, now
            ).availability,
            faults=open_faults.get(c.id, []),
        )
        for c in cameras
    ]
    rows.sort(key=lambda r: (health_rank(r.health), -r.breached, r.asset_tag))
    return Board(
        rows=[r for r in rows if keep(r, filters)],
        cameras=len(rows),
        offline=sum(1 for r in rows if r.health == CameraHealth.OFFLINE),
        degraded=sum(1 for r in rows if r.health == CameraHealth.DEGRADED),
        with_open_faults=sum(1 for r in rows if r.faults),
        breached=sum(1 for r in rows if r.breached),
        wards=sorted({r.ward for r in rows if r.ward}),
        lifecycles=[str(x) for x in lc.LIFECYCLES if any(r.lifecycle == x for r in rows)],
        since=since,
        now=now,
    )
