"""What the camera-health tests share: the faults they inject and how they set a camera up."""

from __future__ import annotations

from typing import Any

from services.assets.health import service as svc
from tests.factories import make_camera
from tests.integration.health.rtsp import fault_mounts

# mount -> (mode injected, cause expected): cam1 .. cam6
INJECTED = fault_mounts(1)


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


# What the loopback test server's dropped connection (about 1 in 100, more under load) reads as.
DROPPED = ("timed_out", "no_stream")


def check_answered(session: Any, settings: Any, ids: list[int], tries: int = 3) -> dict[int, str]:
    """A round over ``ids``, repeated (up to ``tries``) for the cameras whose read the test
    server dropped: camera id -> the last result. For tests that need one real answer."""
    got: dict[int, str] = {}
    todo = list(ids)
    for _ in range(tries):
        got |= check_round(session, settings, todo)
        todo = [cid for cid in todo if got[cid] in DROPPED]
        if not todo:
            break
    return got
