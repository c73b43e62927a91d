"""Demo camera streams: the demo's digital cameras pointed at the stack's simulated cameras
(``deploy/demo/rtsp_cameras.py``), their reference views set, and one round of checks, so the
control room and the health board show the checks at work from the start.

Only when ``CSP_DEMO_RTSP_URL`` names the simulator (the stack sets it when it runs one, e.g.
``rtsp://127.0.0.1:8554``; its second port, +1, serves ``/secure`` behind a password). The stack
starts it with ``cam3`` black and ``cam4`` stalled, and one camera is given a wrong password,
so the first checks find no picture, a lost connection and a refused password. A second run
adds nothing.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.assets.health import service as svc
from services.assets.health.models import CameraStream
from services.assets.models import Camera
from services.assets.settings import AssetsSettings
from shared.errors import AppError

ENV = "CSP_DEMO_RTSP_URL"
ACTOR = "demo loader"
USER = "demo"
PASSWORD = "demo-stream-pass"  # noqa: S105 - the simulator's demo password, not a secret
# (camera, mount, password): None = no credentials; "secure" is on the simulator's second port.
PLAN: tuple[tuple[str, str, str | None], ...] = (
    ("MED-GIL-001", "cam0", None),
    ("MED-ROC-001", "cam1", None),
    ("MED-ROC-002", "cam2", None),
    ("MED-ROC-003", "cam3", None),  # black picture
    ("MED-CHA-001", "cam4", None),  # stalled: connection times out
    ("MED-RAI-RG1", "cam5", None),
    ("MED-ROC-004", "secure", PASSWORD),
    ("MED-RAI-RG2", "secure", "not-the-password"),  # refused
)
# The first round is bounded tighter than the service's checks, so the demo starts quickly.
FIRST_ROUND_BOUND_S = 4.0


def load_demo(session: Session, *, shared_data: Path) -> str:
    """Give the demo's digital cameras their simulated streams and check them once."""
    base = os.environ.get(ENV, "").strip().rstrip("/")
    if not base:
        return f"no demo camera streams ({ENV} is not set: the stack sets it when it runs them)"
    parts = urlsplit(base)
    if parts.scheme != "rtsp" or not parts.hostname or not parts.port:
        return f"no demo camera streams ({ENV} must be rtsp://host:port, got {base[:80]!r})"
    settings = AssetsSettings()
    ids = dict(
        session.execute(
            select(Camera.asset_tag, Camera.id).where(Camera.asset_tag.in_([t for t, *_ in PLAN]))
        )
        .tuples()
        .all()
    )
    have = set(session.scalars(select(CameraStream.camera_id)))
    added: list[int] = []
    skipped: list[str] = []
    for tag, mount, password in PLAN:
        cid = ids.get(tag)
        if cid is None or cid in have:
            continue
        if password and not settings.health_credentials_key:
            skipped.append(f"{tag} (no ASSETS_HEALTH_CREDENTIALS_KEY for its password)")
            continue
        port = parts.port + 1 if mount == "secure" else parts.port
        svc.set_stream(
            session,
            camera_id=cid,
            rtsp_url=f"rtsp://{parts.hostname}:{port}/{mount}",
            onvif_url=None,
            username=USER if password else None,
            password=password,
            keep_password=False,
            actor=ACTOR,
            reason="demo: a simulated camera stream",
            key=settings.health_credentials_key,
        )
        added.append(cid)
    if not added:
        return "demo camera streams already set; nothing added" + _skipped(skipped)
    quick = settings.model_copy(update={"health_check_bound_s": FIRST_ROUND_BOUND_S})
    references = 0
    for cid in added:
        for _ in range(2):  # a busy machine may be slow to send a stream's first frames
            try:
                svc.set_reference(session, camera_id=cid, actor=ACTOR, settings=quick)
                references += 1
                break
            except AppError:
                session.rollback()  # a broken demo camera has no good view to keep
    checks = svc.check_batch(session, camera_ids=added, settings=quick)
    found: dict[str, int] = {}
    for c in checks:
        found[c.result] = found.get(c.result, 0) + 1
    said = ", ".join(f"{n} {r}" for r, n in sorted(found.items()))
    return (
        f"{len(added)} camera streams at {base}, {references} reference views; first checks: "
        f"{said}" + _skipped(skipped)
    )


def _skipped(skipped: list[str]) -> str:
    return f"; skipped: {'; '.join(skipped)}" if skipped else ""
