"""A camera's stream address from its ONVIF device (Profile S: GetServices, GetProfiles,
GetStreamUri with WS-Security digest credentials) through the API, against an ONVIF device on
loopback whose stream is the real RTSP server's: the address kept (credentials the device embeds
taken out), the check passes on it, each failure named and nothing written, asked again later.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import select

from services.assets.health.models import CameraStream
from services.assets.models import AuditEntry
from tests.factories import make_camera
from tests.integration.health.onvif_device import OnvifDevice
from tests.integration.health.rtsp import PASSWORD, USER, RtspServer, SilentServer
from tests.integration.health.support import check_answered

pytestmark = pytest.mark.integration


@pytest.fixture()
def device(rtsp: RtspServer) -> Iterator[OnvifDevice]:
    """An ONVIF device whose first profile streams the RTSP server's password-protected mount
    (and, like many cameras, puts the credentials into the address it gives)."""
    url = rtsp.url("secure").replace("rtsp://", f"rtsp://{USER}:pw@")
    d = OnvifDevice(user=USER, password=PASSWORD, stream=url)
    yield d
    d.stop()


@pytest.fixture()
def quick_client(make_client: Callable[..., Any], health_settings: Any) -> Any:
    """The assets API with a 3-second bound on a device's answer."""
    return make_client(
        "assets",
        health_credentials_key=health_settings.health_credentials_key,
        health_check_bound_s=3.0,
    )


def test_the_device_gives_the_stream_and_the_check_passes_on_it(
    quick_client: Any,
    tokens: dict[str, dict[str, str]],
    db_session: Any,
    health_settings: Any,
    rtsp: RtspServer,
    device: OnvifDevice,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    cam = make_camera(db_session, name="ONVIF camera")
    body = {"onvif_url": device.url, "username": USER, "password": PASSWORD, "reason": "new"}
    r = quick_client.put(f"/cameras/{cam.id}/stream", json=body, headers=tokens["admin"])
    assert r.status_code == 200, r.text
    assert r.json()["rtsp_url"] == rtsp.url("secure")  # the device's, without user:pass@
    assert r.json()["onvif_url"] == device.url and PASSWORD not in r.text
    assert device.calls[-2:] == ["GetProfiles", "GetStreamUri"]
    assert check_answered(db_session, health_settings, [cam.id]) == {cam.id: "ok"}
    trail = db_session.scalars(
        select(AuditEntry).where(AuditEntry.camera_id == cam.id, AuditEntry.action == "stream_set")
    ).all()
    assert trail and trail[-1].after["rtsp_url"] == rtsp.url("secure")
    assert PASSWORD not in caplog.text and "s3cret" not in caplog.text

    # The device moves its stream (a firmware update): an admin asks again.
    device.stream = rtsp.url("cam2")
    assert (
        quick_client.post(
            f"/cameras/{cam.id}/stream/discover", headers=tokens["operator"]
        ).status_code
        == 403
    )
    again = quick_client.post(f"/cameras/{cam.id}/stream/discover", headers=tokens["admin"])
    assert again.status_code == 200, again.text
    assert again.json()["rtsp_url"] == rtsp.url("cam2") and again.json()["credentials_set"]
    reasons = db_session.scalars(
        select(AuditEntry.reason).where(
            AuditEntry.camera_id == cam.id, AuditEntry.action == "stream_set"
        )
    ).all()
    assert "stream address asked of the ONVIF device again" in reasons


@pytest.mark.parametrize("case", ["wrong password", "no device", "silent device"])
def test_a_device_that_gives_no_address_is_named_and_nothing_is_written(
    quick_client: Any,
    tokens: dict[str, dict[str, str]],
    db_session: Any,
    device: OnvifDevice,
    silent: SilentServer,
    case: str,
) -> None:
    cam = make_camera(db_session, name=f"ONVIF {case}")
    body: dict[str, Any] = {"onvif_url": device.url, "username": USER, "password": PASSWORD}
    expect = "auth_failed"
    if case == "wrong password":
        body["password"] = "not it"
    elif case == "no device":
        device.stop()
        expect = "refused"
    else:
        body["onvif_url"] = f"http://127.0.0.1:{silent.port}/onvif/device_service"
        expect = "timed_out"
    r = quick_client.put(f"/cameras/{cam.id}/stream", json=body, headers=tokens["admin"])
    assert r.status_code == 422, r.text
    problem = r.json()
    assert problem["errors"][0]["field"] == "onvif_url"
    assert problem["errors"][0]["message"].startswith(expect), problem
    assert PASSWORD not in r.text and "not it" not in r.text
    assert db_session.get(CameraStream, cam.id) is None


def test_without_either_address_the_problem_names_rtsp_url(
    quick_client: Any, tokens: dict[str, dict[str, str]], db_session: Any
) -> None:
    cam = make_camera(db_session, name="No address")
    r = quick_client.put(f"/cameras/{cam.id}/stream", json={}, headers=tokens["admin"])
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "rtsp_url", r.text
