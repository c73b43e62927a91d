"""Camera health judging on in-memory frames: each cause from a picture built to have it, and
the day/night and passing-object cases that must stay good. Credentials and addresses too."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from services.assets.health.causes import FAULT_CATEGORY, Cause
from services.assets.health.credentials import (
    CredentialsKeyMissing,
    decrypt_secret,
    encrypt_secret,
    new_key,
)
from services.assets.health.judge import judge, pack_reference, sharpness
from services.assets.health.stream import with_credentials

RNG = np.random.default_rng(7)


def scene(w: int = 640, h: int = 480, seed: int = 1) -> np.ndarray:
    """A textured scene: blocks of random grey on a blurred noise ground (float)."""
    r = np.random.default_rng(seed)
    img = cv2.GaussianBlur(r.normal(110, 35, (h, w)), (0, 0), 2)
    for _ in range(80):
        x, y = r.integers(0, w - 40), r.integers(0, h - 40)
        img[y : y + r.integers(10, 80), x : x + r.integers(10, 80)] = r.uniform(10, 245)
    return img


def live(base: np.ndarray, n: int = 6, gain: float = 1.0, noise: float = 4.0) -> list[np.ndarray]:
    """``n`` frames of ``base`` with sensor noise and a ball crossing."""
    out = []
    for i in range(n):
        f = base * gain + RNG.normal(0, noise, base.shape)
        cv2.circle(f, (60 + 40 * i, 300), 25, 230 * gain, -1)
        out.append(np.clip(f, 0, 255).astype(np.uint8))
    return out


BASE = scene()
REF, BASELINE = pack_reference(live(BASE))


def run(frames: list[np.ndarray], previous: bytes | None = None) -> Cause:
    return judge(
        frames, previous_fingerprint=previous, sharpness_baseline=BASELINE, reference=REF
    ).cause


def test_healthy_day_night_and_passing_objects_are_ok() -> None:
    assert run(live(BASE)) == Cause.OK
    assert run(live(BASE, gain=0.35, noise=8.0)) == Cause.OK  # dusk: dark and noisy
    assert run(live(BASE, gain=1.15)) == Cause.OK  # bright sun


def test_black_and_uniform_frames_are_no_picture() -> None:
    black = [np.clip(RNG.normal(3, 1, BASE.shape), 0, 255).astype(np.uint8) for _ in range(6)]
    grey = [np.full(BASE.shape, 120, np.uint8) for _ in range(6)]
    assert run(black) == Cause.NO_PICTURE
    assert run(grey) == Cause.NO_PICTURE


def test_frozen_needs_a_still_sample_and_the_same_picture_as_last_time() -> None:
    still = [np.clip(BASE, 0, 255).astype(np.uint8)] * 6
    first = judge(still, previous_fingerprint=None, sharpness_baseline=BASELINE, reference=REF)
    assert first.cause == Cause.OK  # no history yet: not frozen on one check
    assert run(still, previous=first.fingerprint) == Cause.FROZEN
    # A live picture after the same thumbnail is not frozen (noise and movement).
    assert run(live(BASE), previous=first.fingerprint) == Cause.OK


def test_blur_is_obscured_and_sharpness_ignores_lighting() -> None:
    blurred = [cv2.GaussianBlur(f, (0, 0), 4) for f in live(BASE)]
    assert run(blurred) == Cause.OBSCURED
    a = sharpness(cv2.resize(live(BASE)[0], (320, 240), interpolation=cv2.INTER_AREA))
    b = sharpness(cv2.resize(live(BASE, gain=0.5)[0], (320, 240), interpolation=cv2.INTER_AREA))
    assert b == pytest.approx(a, rel=0.35)


def test_a_moved_view_is_found() -> None:
    h, w = BASE.shape
    m = np.float32([[1, 0, 0.15 * w], [0, 1, 0.1 * h]])
    shifted = cv2.warpAffine(BASE, m, (w, h), borderMode=cv2.BORDER_REFLECT)
    assert run(live(shifted)) == Cause.VIEW_MOVED
    other = scene(seed=99)  # another street altogether
    assert run(live(other)) == Cause.VIEW_MOVED


def test_every_failure_cause_has_a_register_category() -> None:
    assert set(FAULT_CATEGORY) == set(Cause) - {Cause.OK}


def test_credentials_round_trip_and_refuse_without_key() -> None:
    key = new_key()
    token = encrypt_secret(key, "pässword:@/")
    assert "pässword" not in token and decrypt_secret(key, token) == "pässword:@/"
    with pytest.raises(CredentialsKeyMissing):
        decrypt_secret(new_key(), token)
    with pytest.raises(CredentialsKeyMissing):
        encrypt_secret("", "x")


def test_credentials_are_percent_encoded_in_the_address() -> None:
    url = with_credentials("rtsp://10.0.0.5:554/stream1", "op@csp", "a:b/c@d")
    assert url == "rtsp://op%40csp:a%3Ab%2Fc%40d@10.0.0.5:554/stream1"
    assert with_credentials("rtsp://h/x", None, "ignored") == "rtsp://h/x"
