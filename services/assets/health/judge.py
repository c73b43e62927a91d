"""Judge a sample of grey frames: no picture, frozen, obscured, view moved, or good.

Pure (numpy + OpenCV, no database, no web). Frames are uint8 arrays (H x W) as decoded; they
are reduced to a working size first so the thresholds do not depend on the camera's resolution.
Each test is in the order a person would look: is there a picture, does it move, is it sharp,
is it the right view. Thresholds are ``Thresholds`` fields (settings supply them).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import cv2
import numpy as np

from services.assets.health.causes import Cause

WORK_WIDTH = 320  # px: every frame is judged at this width
FINGERPRINT_SIZE = 32  # px: the thumbnail kept between checks for the frozen test


@dataclass(frozen=True)
class Thresholds:
    """The judging thresholds (grey levels 0-255 unless said)."""

    # No picture: a frame whose spread of grey levels is below this is uniform (black, grey,
    # a "no signal" screen); a dark frame below ``black_mean_max`` with little spread is black.
    uniform_std_max: float = 6.0
    black_mean_max: float = 20.0
    black_std_max: float = 10.0
    # Frozen: the median over consecutive sample frames of their mean absolute change (as 32 x
    # 32 thumbnails, where sensor noise still shows and codec noise hardly does) below this, and
    # the thumbnail within ``frozen_fingerprint_max`` of the last check's.
    frozen_change_max: float = 0.4
    frozen_fingerprint_max: float = 1.5
    # Obscured / out of focus: contrast-normalised sharpness below this share of the baseline.
    obscured_ratio: float = 0.4
    # View moved: fewer RANSAC inliers than this against the reference, or the reference's
    # corners moved by more than this share of the frame width.
    moved_min_inliers: int = 15
    moved_max_shift_share: float = 0.06


@dataclass(frozen=True)
class Verdict:
    """What one check found, the numbers behind it, and what to keep for the next check."""

    cause: Cause
    measurement: dict[str, float | int | str | None] = field(default_factory=dict)
    fingerprint: bytes = b""
    sharpness: float = 0.0


def working(frame: np.ndarray) -> np.ndarray:
    """The frame as grey uint8 at ``WORK_WIDTH`` wide (area-averaged, so noise is reduced)."""
    g = frame if frame.ndim == 2 else cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    h, w = g.shape
    if w == WORK_WIDTH:
        return g
    size = (WORK_WIDTH, max(1, round(h * WORK_WIDTH / w)))
    return cv2.resize(g, size, interpolation=cv2.INTER_AREA)


def fingerprint(frame: np.ndarray) -> bytes:
    """A 32 x 32 grey thumbnail of the frame (1,024 bytes): too small to identify anyone."""
    thumb = cv2.resize(frame, (FINGERPRINT_SIZE, FINGERPRINT_SIZE), interpolation=cv2.INTER_AREA)
    return thumb.astype(np.uint8).tobytes()


def sharpness(frame: np.ndarray) -> float:
    """Variance of the Laplacian over the grey variance (independent of lighting and gain).

    A light 3 x 3 blur first, so sensor noise does not count as detail.
    """
    g = cv2.GaussianBlur(frame.astype(np.float32), (3, 3), 0)
    var = float(g.var())
    if var < 1e-6:
        return 0.0
    return float(cv2.Laplacian(g, cv2.CV_32F).var()) / var


def sample_change(frames: list[np.ndarray]) -> float:
    """The median mean absolute change between consecutive frames' fingerprints (grey levels).

    The median, so one repeated frame (a decoder's duplicate) does not make a live stream look
    still.
    """
    prints = [fingerprint(f) for f in frames]
    diffs = [fingerprint_distance(a, b) for a, b in zip(prints, prints[1:], strict=False)]
    return float(np.median(diffs)) if diffs else 0.0


def fingerprint_distance(a: bytes, b: bytes) -> float:
    """Mean absolute difference of two fingerprints (grey levels)."""
    x = np.frombuffer(a, np.uint8).astype(np.int16)
    y = np.frombuffer(b, np.uint8).astype(np.int16)
    if x.shape != y.shape:
        return float("inf")
    return float(np.abs(x - y).mean())


_CLAHE = cv2.createCLAHE(clipLimit=3.0, tileGridSize=(8, 8))
_ORB = cv2.ORB.create(nfeatures=800, fastThreshold=10)


def features(frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """ORB key points (N x 2, px at working size) and descriptors (N x 32) on an equalised frame.

    Local contrast equalisation (CLAHE) makes day and night frames of one scene comparable.
    """
    kps, desc = _ORB.detectAndCompute(_CLAHE.apply(frame), None)
    pts = np.array([k.pt for k in kps], np.float32).reshape(-1, 2)
    if desc is None:
        desc = np.zeros((0, 32), np.uint8)
    return pts, desc


def pack_reference(frames: list[np.ndarray]) -> tuple[bytes, float]:
    """The reference view (ORB features of the sample's middle frame) and its sharpness."""
    work = [working(f) for f in frames]
    mid = work[len(work) // 2]
    pts, desc = features(mid)
    buf = io.BytesIO()
    np.savez_compressed(buf, pts=pts, desc=desc, size=np.array(mid.shape[::-1], np.int32))
    return buf.getvalue(), float(np.median([sharpness(f) for f in work]))


def unpack_reference(blob: bytes) -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
    """(points, descriptors, (width, height)) of a packed reference."""
    with np.load(io.BytesIO(blob), allow_pickle=False) as z:
        w, h = (int(v) for v in z["size"])
        return z["pts"], z["desc"], (w, h)


def view_match(frame: np.ndarray, reference: bytes) -> tuple[int, float | None]:
    """RANSAC homography inliers against the reference and the corners' mean shift (px)."""
    ref_pts, ref_desc, (w, h) = unpack_reference(reference)
    pts, desc = features(frame)
    if len(ref_desc) < 2 or len(desc) < 2:
        return 0, None
    pairs = cv2.BFMatcher(cv2.NORM_HAMMING).knnMatch(ref_desc, desc, k=2)
    good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < 0.8 * p[1].distance]
    if len(good) < 4:
        return len(good), None
    src = ref_pts[[m.queryIdx for m in good]].reshape(-1, 1, 2)
    dst = pts[[m.trainIdx for m in good]].reshape(-1, 1, 2)
    hom, mask = cv2.findHomography(src, dst, cv2.RANSAC, 3.0)
    if hom is None or mask is None:
        return 0, None
    corners = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32).reshape(-1, 1, 2)
    moved = cv2.perspectiveTransform(corners, hom) - corners
    return int(mask.sum()), float(np.linalg.norm(moved.reshape(-1, 2), axis=1).mean())


def judge(
    frames: list[np.ndarray],
    *,
    previous_fingerprint: bytes | None,
    sharpness_baseline: float | None,
    reference: bytes | None,
    thresholds: Thresholds = Thresholds(),
) -> Verdict:
    """Judge a sample (at least two frames) against the camera's own history."""
    t = thresholds
    work = [working(f) for f in frames]
    last = work[-1]
    fp = fingerprint(last)
    mean = float(np.median([f.mean() for f in work]))
    std = float(np.median([f.std() for f in work]))
    m: dict[str, float | int | str | None] = {"mean": round(mean, 2), "std": round(std, 2)}

    def verdict(cause: Cause, sharp: float = 0.0) -> Verdict:
        return Verdict(cause=cause, measurement=m, fingerprint=fp, sharpness=sharp)

    if std < t.uniform_std_max or (mean < t.black_mean_max and std < t.black_std_max):
        return verdict(Cause.NO_PICTURE)
    change = sample_change(work)
    m["change"] = round(change, 3)
    if previous_fingerprint is not None:
        m["since_last"] = round(fingerprint_distance(fp, previous_fingerprint), 3)
    if change < t.frozen_change_max:
        since = m.get("since_last")
        if isinstance(since, float) and since < t.frozen_fingerprint_max:
            return verdict(Cause.FROZEN)
    sharp = float(np.median([sharpness(f) for f in work]))
    m["sharpness"] = round(sharp, 4)
    m["sharpness_baseline"] = round(sharpness_baseline, 4) if sharpness_baseline else None
    if sharpness_baseline and sharp < t.obscured_ratio * sharpness_baseline:
        return verdict(Cause.OBSCURED, sharp)
    if reference is not None:
        inliers, shift = view_match(work[len(work) // 2], reference)
        m["inliers"] = inliers
        m["shift_px"] = round(shift, 1) if shift is not None else None
        too_far = shift is None or shift > t.moved_max_shift_share * last.shape[1]
        if inliers < t.moved_min_inliers or too_far:
            return verdict(Cause.VIEW_MOVED, sharp)
    return verdict(Cause.OK, sharp)
