"""What a camera health check can find: one StrEnum, and the fault category each cause opens.

Pure: no framework. The register's fault categories have no "frozen", "obscured", "view moved"
or "authentication failed"; each cause maps to the nearest category there is, and the cause
itself is written in the fault's description and kept in the check's record.
"""

from __future__ import annotations

from enum import StrEnum

from services.assets.enums import FaultCategory


class Cause(StrEnum):
    """The outcome of one check: ``ok`` or the first thing found wrong."""

    OK = "ok"
    # No connection, each named.
    REFUSED = "refused"
    TIMED_OUT = "timed_out"
    AUTH_FAILED = "auth_failed"
    NO_STREAM = "no_stream"
    # A picture, but a bad one.
    NO_PICTURE = "no_picture"
    FROZEN = "frozen"
    OBSCURED = "obscured"
    VIEW_MOVED = "view_moved"


CONNECTION_CAUSES = (Cause.REFUSED, Cause.TIMED_OUT, Cause.AUTH_FAILED, Cause.NO_STREAM)

# The nearest fault category of the register for each cause (see the module docstring).
FAULT_CATEGORY: dict[Cause, FaultCategory] = {
    Cause.REFUSED: FaultCategory.NETWORK,
    Cause.TIMED_OUT: FaultCategory.NETWORK,
    Cause.AUTH_FAILED: FaultCategory.NETWORK,
    Cause.NO_STREAM: FaultCategory.NETWORK,
    Cause.NO_PICTURE: FaultCategory.NO_PICTURE,
    Cause.FROZEN: FaultCategory.INTERMITTENT_PICTURE,
    Cause.OBSCURED: FaultCategory.OTHER,
    Cause.VIEW_MOVED: FaultCategory.PAN_TILT_ZOOM,
}

# Words for a person (fault descriptions, pages).
SAID: dict[Cause, str] = {
    Cause.OK: "picture good",
    Cause.REFUSED: "connection refused",
    Cause.TIMED_OUT: "connection timed out",
    Cause.AUTH_FAILED: "authentication failed (the camera refused the stream's credentials)",
    Cause.NO_STREAM: "no video stream at the address",
    Cause.NO_PICTURE: "no picture (black or uniform frames)",
    Cause.FROZEN: "frozen picture (no change across the sample and since the last check)",
    Cause.OBSCURED: "obscured or out of focus (sharpness far below the camera's baseline)",
    Cause.VIEW_MOVED: "view moved (the scene no longer matches the reference view)",
}
