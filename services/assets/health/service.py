"""Camera health use cases: set a camera's stream, set its reference view, check cameras in
batches and record what each check found. Keyword-only, session first; each write commits once.

A check's reading (network, decoding) happens outside any transaction and in parallel across a
batch (``check_batch``); only the recording touches the database.
"""

from __future__ import annotations

import concurrent.futures
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from services.assets import audit
from services.assets.cameras.service import commit_change, get_camera
from services.assets.clock import now_utc
from services.assets.enums import CameraLifecycle, Technology
from services.assets.health import availability as ha
from services.assets.health import faults as hf
from services.assets.health.addresses import check_url, discovered
from services.assets.health.causes import Cause
from services.assets.health.credentials import decrypt_secret, encrypt_secret
from services.assets.health.judge import Thresholds, Verdict, judge, pack_reference
from services.assets.health.models import CameraStream, HealthCheck
from services.assets.health.stream import Sample, StreamFailure, read_bounded, with_credentials
from services.assets.models import Camera
from services.assets.settings import AssetsSettings
from shared.errors import Conflict, InvalidInput, NotFound

# Cameras a check looks at: digital, and in service.
CHECKED_LIFECYCLES = (CameraLifecycle.ACTIVE, CameraLifecycle.UNDER_REVIEW)


def thresholds(settings: AssetsSettings) -> Thresholds:
    """The judging thresholds from settings."""
    return Thresholds(
        uniform_std_max=settings.health_uniform_std_max,
        frozen_change_max=settings.health_frozen_change_max,
        obscured_ratio=settings.health_obscured_ratio,
        moved_min_inliers=settings.health_moved_min_inliers,
        moved_max_shift_share=settings.health_moved_max_shift_share,
    )


def get_stream(session: Session, *, camera_id: int) -> CameraStream:
    """A camera's stream row; NotFound when the camera has none."""
    stream = session.get(CameraStream, camera_id)
    if stream is None:
        raise NotFound(f"Camera {camera_id} has no stream address set")
    return stream


def _public(stream: CameraStream | None) -> dict[str, Any] | None:
    """What the audit trail keeps of a stream: addresses and whether credentials are set."""
    if stream is None:
        return None
    return {
        "rtsp_url": stream.rtsp_url,
        "onvif_url": stream.onvif_url,
        "credentials": "set" if stream.password_encrypted or stream.username else "none",
    }


def set_stream(
    session: Session,
    *,
    camera_id: int,
    rtsp_url: str | None,
    onvif_url: str | None,
    username: str | None,
    password: str | None,
    keep_password: bool,
    actor: str,
    reason: str | None,
    key: str,
    discover_bound_s: float = 10.0,
) -> CameraStream:
    """Set a digital camera's stream addresses and credentials (the password encrypted).

    ``keep_password``: leave the stored password as it is (an address change alone). Without
    an RTSP address the ONVIF device is asked for it (within ``discover_bound_s``), with the
    credentials given (or kept), before anything is locked or written.
    """
    camera = get_camera(session, camera_id=camera_id)
    if camera.technology != Technology.DIGITAL:
        raise Conflict(
            f"{camera.asset_tag} is {camera.technology}: only digital cameras have a stream; "
            "analogue cameras keep manual faults"
        )
    onvif = check_url(onvif_url, "onvif")
    rtsp = check_url(rtsp_url, "rtsp")
    if rtsp is None:
        if onvif is None:
            raise InvalidInput(
                "Give rtsp_url, or onvif_url for the camera's ONVIF device to give the address",
                errors=[{"field": "rtsp_url", "message": "required without onvif_url"}],
            )
        known = session.get(CameraStream, camera_id)
        secret = password
        if keep_password and known is not None and known.password_encrypted:
            secret = decrypt_secret(key, known.password_encrypted)
        rtsp = discovered(onvif, username, secret, discover_bound_s)
    get_camera(session, camera_id=camera_id, lock=True)
    stream = session.get(CameraStream, camera_id, with_for_update=True)
    before = _public(stream)
    secret = None if password is None else encrypt_secret(key, password)
    if stream is None:
        stream = CameraStream(camera_id=camera_id, rtsp_url=rtsp, updated_by=actor)
        session.add(stream)
    elif stream.rtsp_url != rtsp:
        # Another address is another view: its history says nothing about this one.
        stream.last_fingerprint = None
    stream.rtsp_url, stream.onvif_url, stream.username = rtsp, onvif, username
    if not keep_password:
        stream.password_encrypted = secret
    stream.updated_by, stream.updated_at = actor, now_utc()
    session.flush()
    after = _public(stream) or {}
    after["password"] = "kept" if keep_password else ("changed" if secret else "none")
    audit.record(
        session,
        camera_id=camera_id,
        entity="camera_stream",
        entity_id=camera_id,
        action="stream_set",
        actor=actor,
        before=before,
        after=after,
        reason=reason,
        changed_only=False,
    )
    commit_change(session)
    return stream


def rediscover(
    session: Session, *, camera_id: int, actor: str, settings: AssetsSettings
) -> CameraStream:
    """Ask the camera's ONVIF device again for its stream address (the device may have changed
    it), keeping the credentials; audited like any stream change."""
    stream = get_stream(session, camera_id=camera_id)
    if not stream.onvif_url:
        raise Conflict(f"Camera {camera_id} has no ONVIF device address to ask")
    return set_stream(
        session,
        camera_id=camera_id,
        rtsp_url=None,
        onvif_url=stream.onvif_url,
        username=stream.username,
        password=None,
        keep_password=True,
        actor=actor,
        reason="stream address asked of the ONVIF device again",
        key=settings.health_credentials_key,
        discover_bound_s=settings.health_check_bound_s,
    )


def stream_address(stream: CameraStream, *, key: str) -> str:
    """The address to connect to, credentials included (in memory only)."""
    password = decrypt_secret(key, stream.password_encrypted) if stream.password_encrypted else None
    return with_credentials(stream.rtsp_url, stream.username, password)


def set_reference(
    session: Session, *, camera_id: int, actor: str, settings: AssetsSettings
) -> CameraStream:
    """Take a good snapshot now and make it the camera's reference view and sharpness baseline.

    Refused (409) when the picture is not good enough to be a reference (no picture, frozen).
    """
    stream = get_stream(session, camera_id=camera_id)
    url = stream_address(stream, key=settings.health_credentials_key)
    session.commit()  # no transaction held open over the network read
    try:
        sample = read_bounded(
            url, bound_s=settings.health_check_bound_s, frames=settings.health_sample_frames
        )
    except StreamFailure as failure:
        raise Conflict(
            f"No reference view: the stream could not be read ({failure.cause}: {failure.detail})"
        ) from None
    verdict = judge(
        sample.frames,
        previous_fingerprint=None,
        sharpness_baseline=None,
        reference=None,
        thresholds=thresholds(settings),
    )
    if verdict.cause != Cause.OK:
        raise Conflict(f"No reference view: the picture is not good ({verdict.cause})")
    blob, baseline = pack_reference(sample.frames)
    get_camera(session, camera_id=camera_id, lock=True)
    stream = get_stream(session, camera_id=camera_id)
    before = {
        "reference_set_at": _iso(stream.reference_set_at),
        "baseline": stream.sharpness_baseline,
    }
    now = now_utc()
    stream.reference_features, stream.sharpness_baseline = blob, baseline
    stream.reference_set_at, stream.reference_set_by = now, actor
    audit.record(
        session,
        camera_id=camera_id,
        entity="camera_stream",
        entity_id=camera_id,
        action="reference_set",
        actor=actor,
        before=before,
        after={"reference_set_at": now.isoformat(), "baseline": round(baseline, 4)},
        reason="reference view set from a good snapshot",
        changed_only=False,
    )
    commit_change(session)
    return stream


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


@dataclass(frozen=True)
class Reading:
    """What reading one camera gave: a sample, or the failure, and how long it took (ms)."""

    camera_id: int
    sample: Sample | None
    failure: StreamFailure | None
    duration_ms: int


def checkable_ids(session: Session) -> list[int]:
    """Ids of the cameras a round checks: digital, in service, with a stream address."""
    return list(
        session.scalars(
            select(CameraStream.camera_id)
            .join(Camera, Camera.id == CameraStream.camera_id)
            .where(
                Camera.technology == Technology.DIGITAL,
                Camera.lifecycle.in_(CHECKED_LIFECYCLES),
            )
            .order_by(CameraStream.camera_id)
        )
    )


def batches(ids: list[int], size: int) -> list[list[int]]:
    """``ids`` in batches of at most ``size`` (each a task any worker can take)."""
    size = max(1, size)
    return [ids[i : i + size] for i in range(0, len(ids), size)]


def claim(session: Session, *, camera_ids: list[int], lease_s: float) -> list[int]:
    """Claim cameras for one check (others' live claims are skipped); commits the claim."""
    now = now_utc()
    got = session.scalars(
        update(CameraStream)
        .where(
            CameraStream.camera_id.in_(camera_ids),
            or_(CameraStream.claimed_until.is_(None), CameraStream.claimed_until < now),
        )
        .values(claimed_until=now + timedelta(seconds=lease_s))
        .returning(CameraStream.camera_id)
    ).all()
    session.commit()
    return sorted(got)


def _read_one(camera_id: int, url: str, settings: AssetsSettings) -> Reading:
    start = time.monotonic()
    try:
        sample = read_bounded(
            url, bound_s=settings.health_check_bound_s, frames=settings.health_sample_frames
        )
        failure = None
    except StreamFailure as exc:
        sample, failure = None, exc
    return Reading(camera_id, sample, failure, int((time.monotonic() - start) * 1000))


def read_all(urls: dict[int, str], *, settings: AssetsSettings) -> list[Reading]:
    """Read every camera in parallel (``health_concurrency`` at once), each within its bound."""
    workers = max(1, min(settings.health_concurrency, len(urls)))
    with concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="health") as pool:
        return list(pool.map(lambda kv: _read_one(kv[0], kv[1], settings), urls.items()))


def check_batch(
    session: Session, *, camera_ids: list[int], settings: AssetsSettings
) -> list[HealthCheck]:
    """Check a batch: claim, read in parallel (no transaction open), judge and record each."""
    mine = claim(session, camera_ids=camera_ids, lease_s=settings.health_check_bound_s * 3)
    urls: dict[int, str] = {}
    for camera_id in mine:
        stream = get_stream(session, camera_id=camera_id)
        urls[camera_id] = stream_address(stream, key=settings.health_credentials_key)
    session.commit()
    return [
        record_reading(session, reading=r, settings=settings)
        for r in read_all(urls, settings=settings)
    ]


def record_reading(
    session: Session, *, reading: Reading, settings: AssetsSettings, now: datetime | None = None
) -> HealthCheck:
    """Judge a reading against the camera's history, record it (and roll it up into the
    camera's days) and open/note/fix its fault."""
    stream = get_stream(session, camera_id=reading.camera_id)
    frame: np.ndarray | None = None
    if reading.sample is not None:
        verdict = judge(
            reading.sample.frames,
            previous_fingerprint=stream.last_fingerprint,
            sharpness_baseline=stream.sharpness_baseline,
            reference=stream.reference_features,
            thresholds=thresholds(settings),
        )
        frame = reading.sample.frames[-1]
    else:
        assert reading.failure is not None
        verdict = Verdict(
            cause=reading.failure.cause, measurement={"detail": reading.failure.detail}
        )
    now = now or now_utc()
    measurement = {**verdict.measurement, "duration_ms": reading.duration_ms}
    ha.roll_up(
        session,
        camera_id=stream.camera_id,
        previous_at=stream.last_checked_at,
        previous_result=stream.last_result,
        now=now,
        ok=verdict.cause == Cause.OK,
        interval_s=settings.health_check_interval_min * 60.0,
    )
    if verdict.fingerprint:
        stream.last_fingerprint = verdict.fingerprint
    if verdict.cause == Cause.OK and stream.sharpness_baseline is None and verdict.sharpness:
        # No reference yet: the first good picture is the camera's own baseline.
        stream.sharpness_baseline = verdict.sharpness
    stream.last_checked_at, stream.last_result = now, verdict.cause.value
    stream.last_measurement = measurement
    stream.claimed_until = None
    check = HealthCheck(
        camera_id=stream.camera_id,
        checked_at=now,
        result=verdict.cause.value,
        ok=verdict.cause == Cause.OK,
        measurement=measurement,
        duration_ms=reading.duration_ms,
    )
    session.add(check)
    session.flush()
    hf.follow_check(session, stream=stream, check=check, frame=frame, settings=settings, now=now)
    session.commit()
    return check


def latest_checks(session: Session, *, camera_id: int, limit: int) -> list[HealthCheck]:
    """The camera's last ``limit`` checks, newest first."""
    return list(
        session.scalars(
            select(HealthCheck)
            .where(HealthCheck.camera_id == camera_id)
            .order_by(HealthCheck.checked_at.desc(), HealthCheck.id.desc())
            .limit(limit)
        )
    )
