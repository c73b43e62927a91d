"""What a camera health check can find: one StrEnum, and the fault category each cause opens.

Pure: no framework. Each cause opens a fault of its own category: the three ways a connection
is lost without a password problem (refused, timed out, no stream at the address) share "no
connection", and which of them it was is written in the fault's description and kept in the
check's record; a refused password is "authentication failed" (an admin's job, not the
contractor's).
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

# The fault category each cause opens (see the module docstring).
FAULT_CATEGORY: dict[Cause, FaultCategory] = {
    Cause.REFUSED: FaultCategory.NO_CONNECTION,
    Cause.TIMED_OUT: FaultCategory.NO_CONNECTION,
    Cause.AUTH_FAILED: FaultCategory.AUTHENTICATION_FAILED,
    Cause.NO_STREAM: FaultCategory.NO_CONNECTION,
    Cause.NO_PICTURE: FaultCategory.NO_PICTURE,
    Cause.FROZEN: FaultCategory.FROZEN_PICTURE,
    Cause.OBSCURED: FaultCategory.OBSCURED,
    Cause.VIEW_MOVED: FaultCategory.VIEW_MOVED,
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
