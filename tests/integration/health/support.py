"""What the camera-health tests share: the faults they inject and how they set a camera up."""

from __future__ import annotations

from typing import Any

from services.assets.health import service as svc
from services.assets.health.causes import Cause
from tests.factories import make_camera

# mount -> (mode injected, cause expected)
INJECTED = {
    "cam1": ("black", Cause.NO_PICTURE),
    "cam2": ("uniform", Cause.NO_PICTURE),
    "cam3": ("frozen", Cause.FROZEN),
    "cam4": ("blurred", Cause.OBSCURED),
    "cam5": ("shifted", Cause.VIEW_MOVED),
    "cam6": ("stall", Cause.TIMED_OUT),
}


def camera_with_stream(
    session: Any,
    settings: Any,
    url: str,
    *,
    user: str | None = None,
    pw: str | None = None,
    **camera: Any,
) -> int:
    """A camera (``camera`` fields over the factory's) with a stream at ``url`` (and
    credentials when given); its id."""
    cam = make_camera(session, **{"name": f"Health {url[-12:]}", **camera})
    svc.set_stream(
        session,
        camera_id=cam.id,
        rtsp_url=url,
        onvif_url=None,
        username=user,
        password=pw,
        keep_password=False,
        actor="test admin",
        reason="test",
        key=settings.health_credentials_key,
    )
    return cam.id


def check_round(session: Any, settings: Any, ids: list[int]) -> dict[int, str]:
    """One round of checks over ``ids``: camera id -> result."""
    checks = svc.check_batch(session, camera_ids=ids, settings=settings)
    assert sorted(c.camera_id for c in checks) == sorted(ids)
    return {c.camera_id: c.result for c in checks}
