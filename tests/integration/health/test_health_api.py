"""Camera health API and checks on real streams (GStreamer RTSP on loopback, real PostGIS):
healthy varying streams open no fault; credentials never come back or reach a log; snapshots
are for operators only, audited and deleted at expiry; batches and claims.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from sqlalchemy import select

from services.assets.health import service as svc
from services.assets.health.models import CameraStream, HealthCheck, HealthSnapshot
from services.assets.models import AuditEntry, Fault
from tests.factories import make_camera
from tests.integration.health.rtsp import PASSWORD, USER, RtspServer, SilentServer  # noqa: F401
from tests.integration.health.support import camera_with_stream, check_answered, check_round

pytestmark = pytest.mark.integration


def test_healthy_varying_streams_open_no_fault(
    db_session: Any, health_settings: Any, rtsp: RtspServer
) -> None:
    """Noise, lighting drift, a moving object, night and a still scene: never a fault."""
    s, st = db_session, health_settings
    mounts = ["cam0", "cam7", "cam8", "cam9"]
    for m in mounts:
        rtsp.mode(m, "healthy")
    ids = [camera_with_stream(s, st, rtsp.url(m)) for m in mounts]
    for cid in ids:
        svc.set_reference(s, camera_id=cid, actor="test operator", settings=st)
    rtsp.mode("cam7", "dark")  # night falls on a camera set up by day
    rtsp.mode("cam8", "still")  # nothing moves, only the sensor's noise
    results = []
    for _ in range(5):
        results.extend(check_round(s, st, ids).values())
    # The loopback test server drops about one connection in a hundred (a timeout); the
    # picture is never judged bad, and a lone lost connection opens no fault.
    assert not set(results) - {"ok", "timed_out", "no_stream"}, results
    assert results.count("ok") >= len(results) - 2, results
    assert not s.scalars(select(Fault).where(Fault.camera_id.in_(ids))).all()


def test_stream_api_never_returns_or_logs_credentials(
    client: Any,
    tokens: dict[str, dict[str, str]],
    db_session: Any,
    health_settings: Any,
    rtsp: RtspServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    cam = make_camera(db_session, name="Health API camera")
    analogue = make_camera(db_session, name="Analogue", technology="analogue")
    body = {"rtsp_url": rtsp.url("secure"), "username": USER, "password": PASSWORD}
    assert (
        client.put(f"/cameras/{cam.id}/stream", json=body, headers=tokens["operator"]).status_code
        == 403
    )
    r = client.put(f"/cameras/{cam.id}/stream", json=body, headers=tokens["admin"])
    assert r.status_code == 200, r.text
    assert PASSWORD not in r.text and USER not in r.text and r.json()["credentials_set"] is True
    row = db_session.get(CameraStream, cam.id)
    assert row.password_encrypted and PASSWORD not in row.password_encrypted
    # Stored encrypted: only the key opens it.
    from services.assets.health.credentials import decrypt_secret

    assert (
        decrypt_secret(health_settings.health_credentials_key, row.password_encrypted) == PASSWORD
    )
    got = client.get(f"/cameras/{cam.id}/stream", headers=tokens["operator"])
    assert got.status_code == 200 and PASSWORD not in got.text and USER not in got.text
    assert client.get(f"/cameras/{cam.id}/stream", headers=tokens["crew"]).status_code == 403
    # Bad input: named.
    bad = client.put(
        f"/cameras/{cam.id}/stream",
        json={"rtsp_url": f"rtsp://{USER}:{PASSWORD}@127.0.0.1/x"},
        headers=tokens["admin"],
    )
    assert bad.status_code == 422 and "credentials" in bad.json()["detail"]
    assert PASSWORD not in bad.text
    http = client.put(
        f"/cameras/{cam.id}/stream", json={"rtsp_url": "http://x/"}, headers=tokens["admin"]
    )
    assert http.status_code == 422 and "rtsp_url" in http.json()["detail"]
    ana = client.put(f"/cameras/{analogue.id}/stream", json=body, headers=tokens["admin"])
    assert ana.status_code == 409 and "analogue" in ana.json()["detail"]
    # The check connects with the stored password; the trail and the logs never hold it.
    ref = client.post(f"/cameras/{cam.id}/stream/reference", headers=tokens["operator"])
    assert ref.status_code == 200, ref.text
    assert ref.json()["reference_set_at"] and ref.json()["sharpness_baseline"] > 0
    assert check_answered(db_session, health_settings, [cam.id]) == {cam.id: "ok"}
    listed = client.get(f"/cameras/{cam.id}/health-checks?limit=5", headers=tokens["operator"])
    assert listed.status_code == 200 and listed.json()[0]["result"] == "ok"
    assert (
        client.get(
            f"/cameras/{cam.id}/health-checks?limit=501", headers=tokens["operator"]
        ).status_code
        == 422
    )
    trail = db_session.scalars(select(AuditEntry).where(AuditEntry.entity == "camera_stream")).all()
    assert {e.action for e in trail} >= {"stream_set", "reference_set"}
    assert all(PASSWORD not in str(e.before) + str(e.after) for e in trail)
    assert PASSWORD not in caplog.text and "s3cret" not in caplog.text


def test_snapshots_operators_only_audited_and_expire(
    client: Any,
    tokens: dict[str, dict[str, str]],
    db_session: Any,
    health_settings: Any,
    rtsp: RtspServer,
) -> None:
    from datetime import timedelta

    from services.assets.clock import now_utc
    from services.assets.health import faults as hf

    s, st = db_session, health_settings
    rtsp.mode("cam1", "black")
    cid = camera_with_stream(s, st, rtsp.url("cam1"))
    assert check_round(s, st, [cid]) == {cid: "no_picture"}
    fault_id = s.get(CameraStream, cid).fault_id
    listed = client.get(f"/faults/{fault_id}/snapshots", headers=tokens["operator"])
    assert listed.status_code == 200 and len(listed.json()) == 1
    image = listed.json()[0]["image"]
    for role in ("seg", "analyst", "crew"):
        assert client.get(image, headers=tokens[role]).status_code == 403
    r = client.get(image, headers=tokens["operator"])
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
    assert r.content[:2] == b"\xff\xd8" and r.headers["cache-control"] == "no-store"
    views = s.scalars(select(AuditEntry).where(AuditEntry.action == "snapshot_viewed")).all()
    assert len(views) == 1 and views[0].camera_id == cid
    snap = s.scalars(select(HealthSnapshot).where(HealthSnapshot.fault_id == fault_id)).one()
    assert snap.expires_at - snap.taken_at == timedelta(days=31)
    assert hf.delete_expired_snapshots(s, now=now_utc() + timedelta(days=30)) == 0
    assert hf.delete_expired_snapshots(s, now=now_utc() + timedelta(days=31, minutes=1)) == 1
    assert client.get(image, headers=tokens["operator"]).status_code == 404
    rtsp.mode("cam1", "healthy")


def test_batches_split_and_claims_are_skipped(db_session: Any, health_settings: Any) -> None:
    """Batches cover every camera once; a camera another worker holds is not checked twice."""
    assert svc.batches(list(range(7)), 3) == [[0, 1, 2], [3, 4, 5], [6]]
    cid = camera_with_stream(db_session, health_settings, "rtsp://127.0.0.1:9/x")
    assert svc.claim(db_session, camera_ids=[cid], lease_s=60) == [cid]
    assert svc.claim(db_session, camera_ids=[cid], lease_s=60) == []
    assert svc.check_batch(db_session, camera_ids=[cid], settings=health_settings) == []
    assert cid in svc.checkable_ids(db_session)
    assert not db_session.scalars(select(HealthCheck).where(HealthCheck.camera_id == cid)).all()
