"""The register's name sets, one StrEnum each, and the Literal and CHECK text derived from them.

Each set is written once here; the rule tables (``lifecycle``), the pydantic types
(``fields``), the OGC filters and the database ``CHECK`` constraints (``models``) are built from
these classes, in this order (the OpenAPI enums list the values in it). Pure: no framework.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Any, Literal


class CameraLifecycle(StrEnum):
    """Where a camera position stands in its life, from proposal to decommissioning."""

    PROPOSED = "proposed"
    APPROVED = "approved"
    REJECTED = "rejected"
    ACTIVE = "active"
    UNDER_REVIEW = "under_review"
    IN_STORE = "in_store"
    DECOMMISSIONING = "decommissioning"
    DECOMMISSIONED = "decommissioned"


class CameraHealth(StrEnum):
    """Whether a camera gives a picture, from its open faults."""

    ONLINE = "online"
    DEGRADED = "degraded"
    OFFLINE = "offline"


class Technology(StrEnum):
    """The kind of unit at a camera position."""

    ANALOGUE = "analogue"
    DIGITAL = "digital"


class Deployment(StrEnum):
    """A fixed camera or a rapid-deployment one (moved where it is needed)."""

    FIXED = "fixed"
    RAPID = "rapid"


class FaultCategory(StrEnum):
    """What is wrong with a camera (each with its SLA target in ``lifecycle.SLA_HOURS``)."""

    NO_PICTURE = "no_picture"
    INTERMITTENT_PICTURE = "intermittent_picture"
    CABLING = "cabling"
    POWER = "power"
    NETWORK = "network"
    VANDALISM = "vandalism"
    PAN_TILT_ZOOM = "pan_tilt_zoom"
    # What the health checks find (an operator may log them too).
    NO_CONNECTION = "no_connection"
    AUTHENTICATION_FAILED = "authentication_failed"
    FROZEN_PICTURE = "frozen_picture"
    OBSCURED = "obscured"
    VIEW_MOVED = "view_moved"
    OTHER = "other"


class FaultStatus(StrEnum):
    """Where a fault stands: open -> in_progress -> fixed/closed."""

    OPEN = "open"
    IN_PROGRESS = "in_progress"
    FIXED = "fixed"
    CLOSED = "closed"


class DecisionKind(StrEnum):
    """A decision of the Strategic Executive Group on a camera."""

    RETAIN = "retain"
    MAKE_PERMANENT = "make_permanent"
    REPLACE_WITH_DIGITAL = "replace_with_digital"
    RELOCATE = "relocate"
    DECOMMISSION = "decommission"
    WITHDRAW = "withdraw"


class FootageOutcome(StrEnum):
    """What came of a police footage request."""

    PENDING = "pending"
    PROVIDED = "provided"
    NO_RELEVANT_FOOTAGE = "no_relevant_footage"
    NOT_RECORDED = "not_recorded"
    REFUSED = "refused"


def literal_of(names: Iterable[str]) -> Any:
    """``Literal[...]`` of ``names`` as plain strings, in order.

    A StrEnum as a pydantic field type would become a ``$ref`` component and change the
    validation errors; a Literal of its values keeps the schema inline and the values ``str``.
    Type checkers cannot evaluate this, so the aliases are ``str`` to them (``fields``).
    """
    return Literal[tuple(str(n) for n in names)]


def check_in(column: str, names: Iterable[str]) -> str:
    """SQL ``CHECK`` text: ``column IN ('a','b',...)`` for ``names`` in order."""
    quoted = ",".join("'" + str(n).replace("'", "''") + "'" for n in names)
    return f"{column} IN ({quoted})"
