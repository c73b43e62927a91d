"""Names of the hotspots service's state sets: each one ``StrEnum`` that feeds the schemas, the
tuples and the database ``CHECK`` constraints (so they cannot drift apart)."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class RunStatus(StrEnum):
    """Where a surface run is: waiting for a worker, computing, finished, or failed."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class Change(StrEnum):
    """What became of a hotspot between two periods (a comparison's areas)."""

    APPEARED = "appeared"
    GREW = "grew"
    SHRANK = "shrank"
    GONE = "gone"
    STAYED = "stayed"


# A finished run is never computed again.
FINISHED = (RunStatus.DONE, RunStatus.FAILED)


def check_in(column: str, names: Iterable[str]) -> str:
    """A ``CHECK`` constraint's text: ``column IN ('a','b',...)`` over ``names`` (an enum too)."""
    quoted = ",".join(f"'{n}'" for n in names)
    return f"{column} IN ({quoted})"
