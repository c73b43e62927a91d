"""Read a short sample of frames from a camera's RTSP stream, bounded in time (PyAV / FFmpeg).

Pure of the web and the database. Every failure is a ``StreamFailure`` naming its cause
(refused, timed out, authentication failed, no stream) with a detail that never carries the
address or the credentials (FFmpeg's own messages name the URL, so they are not passed on).
``read_bounded`` enforces the bound from outside: the read runs in a worker thread and the
caller gets ``timed_out`` when the bound passes, whatever the stream does.
"""

from __future__ import annotations

import concurrent.futures
import threading
import time
from dataclasses import dataclass
from urllib.parse import quote, urlsplit, urlunsplit

import av
import av.error
import numpy as np

from services.assets.health.causes import Cause

av.logging.set_level(None)  # FFmpeg's log lines name the URL (and so the credentials)

# FFmpeg options: TCP interleaving (no UDP ports to open), a short probe so the first frame
# comes in well under a second from a healthy camera.
FFMPEG_OPTIONS = {
    "rtsp_transport": "tcp",
    "analyzeduration": "300000",
    "probesize": "65536",
    "fflags": "nobuffer",
}


class StreamFailure(Exception):
    """The stream could not be read: ``cause`` (a connection Cause) and a safe ``detail``."""

    def __init__(self, cause: Cause, detail: str) -> None:
        super().__init__(f"{cause.value}: {detail}")
        self.cause = cause
        self.detail = detail


@dataclass(frozen=True)
class Sample:
    """Grey frames (uint8, H x W) read from a stream, and how long the read took (s)."""

    frames: list[np.ndarray]
    elapsed_s: float
    width: int
    height: int


def with_credentials(rtsp_url: str, username: str | None, password: str | None) -> str:
    """The RTSP address with the user name and password in it (percent-encoded)."""
    if not username:
        return rtsp_url
    parts = urlsplit(rtsp_url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = quote(username, safe="")
    if password:
        netloc += ":" + quote(password, safe="")
    netloc += "@" + host + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _failure(exc: BaseException) -> StreamFailure:
    """The named cause of a PyAV / OS error (its message is dropped: it names the URL)."""
    if isinstance(exc, av.error.HTTPUnauthorizedError | av.error.HTTPForbiddenError):
        return StreamFailure(Cause.AUTH_FAILED, "the camera answered 401/403 to the credentials")
    if isinstance(exc, av.error.HTTPNotFoundError):
        return StreamFailure(Cause.NO_STREAM, "the camera answered 404: no stream at that path")
    if isinstance(exc, ConnectionRefusedError):
        return StreamFailure(Cause.REFUSED, "nothing accepts connections at that address")
    if isinstance(exc, TimeoutError | av.error.ExitError):
        return StreamFailure(Cause.TIMED_OUT, "the camera did not answer in time")
    if isinstance(exc, av.error.HTTPClientError | av.error.HTTPServerError):
        return StreamFailure(Cause.NO_STREAM, f"the camera refused the request ({_name(exc)})")
    if isinstance(exc, ConnectionError | OSError) and not isinstance(exc, av.error.FFmpegError):
        return StreamFailure(Cause.REFUSED, f"the connection failed ({_name(exc)})")
    return StreamFailure(Cause.NO_STREAM, f"the stream could not be decoded ({_name(exc)})")


def _name(exc: BaseException) -> str:
    return type(exc).__name__


def read_sample(
    url: str,
    *,
    frames: int = 6,
    step: int = 2,
    bound_s: float = 10.0,
    stop: threading.Event | None = None,
) -> Sample:
    """Decode ``frames`` frames (every ``step``-th) from ``url`` within about ``bound_s``."""
    start = time.monotonic()
    deadline = start + bound_s
    open_s = max(0.5, min(5.0, bound_s * 0.5))
    read_s = max(0.5, min(3.0, bound_s * 0.3))
    got: list[np.ndarray] = []
    try:
        container = av.open(url, options=FFMPEG_OPTIONS, timeout=(open_s, read_s))
    except Exception as exc:  # noqa: BLE001 - every error is named by _failure
        if time.monotonic() - start >= 0.9 * open_s:
            # Connected, but nothing to probe came before the open timeout (a hung encoder).
            raise StreamFailure(
                Cause.TIMED_OUT, f"connected, but no picture data came within {open_s:g} s"
            ) from None
        raise _failure(exc) from None
    try:
        if not container.streams.video:
            raise StreamFailure(Cause.NO_STREAM, "the address has no video stream")
        n = 0
        keyed = False
        for frame in container.decode(video=0):
            # Frames decoded before the first key frame are smeared (joined mid-group).
            keyed = keyed or bool(frame.key_frame)
            if keyed and n % step == 0:
                got.append(frame.to_ndarray(format="gray"))
                if len(got) >= frames:
                    break
            n += keyed
            if time.monotonic() > deadline or (stop is not None and stop.is_set()):
                raise StreamFailure(Cause.TIMED_OUT, f"fewer than {frames} frames in {bound_s} s")
    except StreamFailure:
        raise
    except Exception as exc:  # noqa: BLE001
        raise _failure(exc) from None
    finally:
        container.close()
    if not got:
        raise StreamFailure(Cause.NO_STREAM, "the stream ended before any frame")
    if len(got) < frames:
        raise StreamFailure(Cause.NO_STREAM, f"the stream ended after {len(got)} frames")
    h, w = got[0].shape[:2]
    return Sample(frames=got, elapsed_s=time.monotonic() - start, width=w, height=h)


_POOL = concurrent.futures.ThreadPoolExecutor(max_workers=64, thread_name_prefix="rtsp")


def read_bounded(url: str, *, bound_s: float = 10.0, frames: int = 6, step: int = 2) -> Sample:
    """``read_sample`` with a hard bound: after ``bound_s`` the caller gets ``timed_out``.

    The read's own timeouts end the thread soon after (it is told to stop); the caller does not
    wait for it.
    """
    stop = threading.Event()
    future = _POOL.submit(
        read_sample, url, frames=frames, step=step, bound_s=bound_s * 0.9, stop=stop
    )
    try:
        return future.result(timeout=bound_s)
    except concurrent.futures.TimeoutError:
        stop.set()
        raise StreamFailure(Cause.TIMED_OUT, f"no sample within {bound_s:g} s") from None
