"""The review map's data from the register: camera views, open faults, recommendations over
the chosen window, the decisions recorded since it began, and which recommendations they answer.

A recommendation is *decided* when its camera has a decision from a meeting since the window
began (or a change still due); a recommendation that no longer arises because its decision took
effect (a camera removed, made permanent) is kept in the list as decided, from the
recommendation the decision recorded that it answered. Redundant pairs are one row.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

from sqlalchemy.orm import Session

from services.assets import lifecycle as lc
from services.assets.cameras import schemas as sc
from services.assets.cameras.schedule import Due
from services.assets.decisions import service as decisions_svc
from services.assets.enums import DecisionKind
from services.assets.faults import service as faults_svc
from services.assets.models import Camera
from services.assets.recommendations import service as recs_svc
from services.assets.recommendations.coverage import EvidenceWindow
from services.assets.settings import AssetsSettings
from services.assets.web.reviewviews import CameraView, DecisionView, FaultView, RecView

# Most decisions named in one "recorded" notice (?recorded=1,2): a pair is two.
MAX_RECORDED = 10


def camera_view(
    camera: Camera, *, health: bool, due: Due | None = None, signed_in: bool = True
) -> CameraView:
    """The map's view of a camera row (WGS84, with its OS grid reference).

    ``health`` False leaves it out (the reader may not see it); without ``signed_in`` only
    what anyone may see (where it is, its type and purpose).
    """
    lon, lat = sc.camera_lonlat(camera)
    review = camera.next_review_due.isoformat() if camera.next_review_due else None
    allowed = lc.allowed_decisions(
        lifecycle=camera.lifecycle,
        technology=camera.technology,
        deployment=camera.deployment,
        scheduled=due.decision if due else None,
    )
    return CameraView(
        id=camera.id,
        asset_tag=camera.asset_tag,
        name=camera.name,
        ward=camera.ward,
        lifecycle=camera.lifecycle,
        health=camera.health if health else None,
        technology=camera.technology,
        deployment=camera.deployment,
        lon=lon,
        lat=lat,
        cone=sc.camera_view_geojson(camera),
        next_review_due=review if signed_in else None,
        grid_ref=sc.camera_grid_ref(camera),
        purpose=camera.purpose,
        allowed_decisions=allowed if signed_in else (),
        due=due.text if due and signed_in else None,
    )


def open_faults(session: Session) -> list[FaultView]:
    """Open faults with their SLA due time."""
    rows, _ = faults_svc.list_faults(session, open_only=True, limit=1000)
    out = []
    for f in rows:
        hours = lc.SLA_HOURS.get(f.category)
        due = f.reported_at + timedelta(hours=hours) if hours else None
        out.append(
            FaultView(
                f.camera_id, f.number, f.category, f.status, f.reported_at, f.description, due
            )
        )
    return out


def recommendations(
    session: Session, settings: AssetsSettings, window: EvidenceWindow
) -> list[RecView]:
    """The recommendations over ``window``."""
    recs = recs_svc.recommendations(
        session,
        window_days=window.days,
        settings=settings,
        as_of=window.end,
        start=window.start,
    )
    return [
        RecView(r.camera_id, r.action, r.rule, r.reason, r.evidence, r.related_camera_id)
        for r in recs
    ]


def decision_views(session: Session, *, since: date) -> list[DecisionView]:
    """Decisions from meetings since ``since``, and every change still due, oldest first."""
    rows = decisions_svc.decisions_on(session, since=since)
    due = decisions_svc.decisions_due(session)
    seen = {d.id for d, _ in rows}
    rows += [(d, e) for d, e in due if d.id not in seen]
    return [
        DecisionView(
            id=d.id,
            camera_id=d.camera_id,
            decision=d.decision,
            meeting_date=d.meeting_date,
            minute_ref=d.minute_ref,
            recorded_by=d.recorded_by,
            status=e.status,
            effective_on=e.effective_on,
            related_camera_id=e.related_camera_id,
            answers=e.recommendation,
        )
        for d, e in sorted(rows, key=lambda r: (r[0].meeting_date, r[0].id))
    ]


def _newest(ds: Sequence[DecisionView]) -> DecisionView:
    due = [d for d in ds if d.status == lc.DecisionStatus.SCHEDULED]
    return (due or sorted(ds, key=lambda d: (d.meeting_date, d.id)))[-1]


def mark_decided(recs: Sequence[RecView], decisions: Sequence[DecisionView]) -> list[RecView]:
    """Recommendations with the decision that answered each; open ones first."""
    by_camera: dict[int, list[DecisionView]] = defaultdict(list)
    for d in decisions:
        by_camera[d.camera_id].append(d)
    out = [
        replace(r, decided=_newest(by_camera[r.camera_id])) if by_camera.get(r.camera_id) else r
        for r in recs
    ]
    present = {(r.camera_id, r.action, r.rule) for r in out}
    for d in decisions:
        ans = d.answers or {}
        action, rule = str(ans.get("action", "")), str(ans.get("rule", ""))
        if not action or (d.camera_id, action, rule) in present:
            continue
        present.add((d.camera_id, action, rule))
        reason = f"Recommended: {action.replace('_', ' ')} ({rule.replace('_', ' ')})"
        out.append(RecView(d.camera_id, action, rule, reason, {}, d.related_camera_id, d))
    return sorted(out, key=lambda r: r.decided is not None)


@dataclass(frozen=True)
class RecRow:
    """One row of the side list: a recommendation, or a redundant pair decided together."""

    index: int
    rec: RecView
    camera: CameraView | None
    partner_index: int | None = None
    partner: RecView | None = None
    partner_camera: CameraView | None = None

    @property
    def is_pair(self) -> bool:
        """True for a redundant pair (remove one, keep - and perhaps replace - the other)."""
        return self.rec.pair_kind and self.partner_camera is not None

    def parts(self) -> list[tuple[int, RecView | None, CameraView | None]]:
        """(index, recommendation, camera) of each camera, the one to remove first."""
        mine = (self.index, self.rec, self.camera)
        if not self.is_pair:
            return [mine]
        other = (self.partner_index, self.partner, self.partner_camera)
        first, second = (mine, other) if self.rec.action == "decommission" else (other, mine)
        return [(i if i is not None else -1, r, c) for i, r, c in (first, second)]

    @property
    def decided(self) -> bool:
        """True when every recommendation of the row has its decision."""
        return all(r is not None and r.decided is not None for _, r, _ in self.parts())


def _partner(i: int, recs: Sequence[RecView], taken: set[int]) -> int | None:
    r = recs[i]
    for k, o in enumerate(recs):
        if k != i and k not in taken and o.pair_kind and o.camera_id == r.related_camera_id:
            if o.related_camera_id == r.camera_id:
                return k
    return None


def rec_rows(recs: Sequence[RecView], cams: dict[int, CameraView]) -> list[RecRow]:
    """The side list's rows, in the list's order; a pair's two recommendations make one row."""
    rows, taken = [], set()
    for i, r in enumerate(recs):
        if i in taken:
            continue
        taken.add(i)
        j = _partner(i, recs, taken) if r.pair_kind else None
        if j is not None:
            taken.add(j)
        other = cams.get(r.related_camera_id) if r.pair_kind and r.related_camera_id else None
        partner = recs[j] if j is not None else None
        rows.append(RecRow(i, r, cams.get(r.camera_id), j, partner, other))
    return rows


def page_recs(rows: Sequence[RecRow]) -> dict[str, Any]:
    """What the page's script needs of each row (by its first index): the cameras to decide,
    the one to remove first, each with the action recommended and whether it is decided."""
    out: dict[str, Any] = {}
    for row in rows:
        parts = []
        for _, rec, cam in row.parts():
            if cam is None:
                continue
            action = rec.action if rec else DecisionKind.RETAIN.value
            parts.append(
                {
                    "camera": cam.id,
                    "action": action,
                    "rule": rec.rule if rec else row.rec.rule,
                    "decided": rec is not None and rec.decided is not None,
                }
            )
        entry = {"pair": row.is_pair, "parts": parts}
        out[str(row.index)] = entry
        if row.partner_index is not None:  # the keeper's own ring opens the pair too
            out[str(row.partner_index)] = entry
    return out


def recorded_notice(
    raw: str | None, decisions: Sequence[DecisionView], cams: dict[int, CameraView]
) -> list[str]:
    """The sentences of the "decision recorded" notice for ``?recorded=<id>,<id>``."""
    if not raw:
        return []
    wanted = []
    for part in raw.split(",")[:MAX_RECORDED]:
        part = part.strip()
        if part.isascii() and part.isdigit() and len(part) < 12:
            wanted.append(int(part))
    by_id = {d.id: d for d in decisions}
    out = []
    for i in wanted:
        d = by_id.get(i)
        if d is None:
            continue
        cam = cams.get(d.camera_id)
        name = cam.name if cam else f"camera {d.camera_id}"
        what = f"due: {d.due}" if d.due else "in effect"
        out.append(f"{d.label} for {name} ({what}), minute {d.minute_ref}.")
    return out
