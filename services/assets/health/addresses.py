"""A camera's stream addresses: what an address may be (scheme, host, length, never
credentials: those are sent apart and encrypted), and the RTSP address an ONVIF device gives."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from services.assets.health import onvif as onvif_client
from services.assets.health.causes import SAID
from services.assets.health.stream import StreamFailure
from shared.errors import InvalidInput

URL_MAX_CHARS = 2000
SCHEMES = {"rtsp": ("rtsp", "rtsps"), "onvif": ("http", "https")}


def check_url(value: str | None, what: str) -> str | None:
    """``value`` stripped, or a 422 naming ``{what}_url``: scheme, host, length, no credentials."""
    if value is None:
        return None
    value = value.strip()
    parts = urlsplit(value)
    allowed = SCHEMES[what]
    if len(value) > URL_MAX_CHARS:
        raise InvalidInput(
            f"{what}_url is longer than {URL_MAX_CHARS} characters",
            errors=[{"field": f"{what}_url", "message": f"at most {URL_MAX_CHARS} characters"}],
        )
    if parts.scheme not in allowed or not parts.hostname:
        raise InvalidInput(
            f"{what}_url must be an address {' or '.join(s + '://host/...' for s in allowed)}",
            errors=[{"field": f"{what}_url", "message": f"scheme {', '.join(allowed)} and host"}],
        )
    if parts.username or parts.password:
        raise InvalidInput(
            f"{what}_url carries credentials; send them as username and password (they are "
            "encrypted; an address is not)",
            errors=[{"field": f"{what}_url", "message": "no user:password@ in the address"}],
        )
    return value


def discovered(onvif: str, username: str | None, password: str | None, bound_s: float) -> str:
    """The RTSP address the ONVIF device gives (credentials it may embed taken out), or a 422
    naming onvif_url and what went wrong."""
    try:
        got = onvif_client.stream_uri(onvif, username=username, password=password, bound_s=bound_s)
    except StreamFailure as failure:
        said = SAID[failure.cause]
        raise InvalidInput(
            f"The ONVIF device at {onvif} gave no stream address: {said} ({failure.detail})",
            errors=[{"field": "onvif_url", "message": f"{failure.cause.value}: {said}"}],
        ) from None
    parts = urlsplit(got)
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if parts.port:
        netloc += f":{parts.port}"
    clean = urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))
    checked = check_url(clean, "rtsp")
    assert checked is not None
    return checked
