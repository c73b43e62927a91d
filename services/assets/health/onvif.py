"""Ask a camera's ONVIF device service for its stream address (Profile S: GetServices, then the
media service's GetProfiles and GetStreamUri), bounded in time, through ``onvif-zeep-async``.

Used when an admin gives a camera an ONVIF device address instead of (or as well as) an RTSP
address: the suite keeps the address the device gives for its first profile. Failures are named
as the stream's are (refused, timed out, authentication failed, no stream), with a detail safe
to show: never the password.
"""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import urlsplit

from services.assets.health.causes import Cause
from services.assets.health.stream import StreamFailure

log = logging.getLogger("csp.assets.health")
# The RTSP stream over unicast, as every Profile S camera serves it.
STREAM_SETUP = {"Stream": "RTP-Unicast", "Transport": {"Protocol": "RTSP"}}


async def _ask(host: str, port: int, username: str | None, password: str | None) -> str:
    from onvif import ONVIFCamera

    camera = ONVIFCamera(host, port, username or "", password or "", adjust_time=False)
    try:
        await camera.update_xaddrs()
        media = await camera.create_media_service()
        profiles = await media.GetProfiles()
        if not profiles:
            raise StreamFailure(Cause.NO_STREAM, "the device has no media profile")
        token = profiles[0].token
        answer = await media.GetStreamUri({"StreamSetup": STREAM_SETUP, "ProfileToken": token})
        uri = str(getattr(answer, "Uri", "") or "")
        if not uri.lower().startswith(("rtsp://", "rtsps://")):
            raise StreamFailure(Cause.NO_STREAM, "the device gave no RTSP address")
        return uri
    finally:
        await camera.close()


def _named(exc: BaseException) -> StreamFailure:
    """The failure a person can act on, from what the client raised (no secrets in it)."""
    if isinstance(exc, StreamFailure):
        return exc
    text = f"{type(exc).__name__}: {exc}".lower()
    if any(w in text for w in ("notauthorized", "not authorized", "unauthorized", "401")):
        return StreamFailure(Cause.AUTH_FAILED, "the device refused the credentials")
    if any(w in text for w in ("refused", "cannot connect", "connect call failed")):
        return StreamFailure(Cause.REFUSED, "the device refused the connection")
    if isinstance(exc, TimeoutError) or "timeout" in text or "timed out" in text:
        return StreamFailure(Cause.TIMED_OUT, "the device did not answer in time")
    kind = type(exc).__name__
    return StreamFailure(Cause.NO_STREAM, f"the device's answer was not usable ({kind})")


def stream_uri(
    onvif_url: str, *, username: str | None, password: str | None, bound_s: float
) -> str:
    """The RTSP address the ONVIF device at ``onvif_url`` gives for its first profile."""
    parts = urlsplit(onvif_url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)

    async def bounded() -> str:
        return await asyncio.wait_for(_ask(host, port, username, password), timeout=bound_s)

    try:
        return asyncio.run(bounded())
    except Exception as exc:  # noqa: BLE001 - every failure is named for the admin
        failure = _named(exc)
        log.info("onvif %s:%s: %s", host, port, failure.cause.value)
        raise failure from None
