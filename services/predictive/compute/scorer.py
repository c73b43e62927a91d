"""What a forecast method is: the ``Scorer`` protocol, its ``FitReport`` and the training cut.

Pure: numpy and the grid only. The methods themselves live in ``etas_scorer``,
``static_scorers`` and ``best_static``; ``methods`` is the registry that names them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from services.predictive.compute.events import Events
from shared.grid import Grid

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass
class FitReport:
    """What a scorer fitted: JSON-serialisable parameters and warnings for people."""

    method: str
    params: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


class Scorer(Protocol):
    """A forecast method: fit on events before ``as_of_days``, then score the cells."""

    def fit(self, events: Events, grid: Grid, as_of_days: float) -> FitReport:
        """Fit on the events strictly before ``as_of_days``."""
        ...

    def score(self, horizon_days: float) -> FloatArray:
        """Scores per cell for [as_of, as_of + horizon_days), shape (ny, nx); higher is hotter."""
        ...


# A method by name with constructor parameters: ``make("naive28")``, ``make("kde", radius_m=200)``.
ScorerFactory = Callable[..., Scorer]


def training_cells(
    events: Events, grid: Grid, as_of_days: float, window_days: float | None
) -> tuple[Events, IntArray, list[str]]:
    """Events before ``as_of`` (within the window) inside the grid, their flat cells, warnings."""
    keep = events.t_days < as_of_days
    if window_days is not None:
        keep &= events.t_days >= as_of_days - window_days
    ev = events.select(keep)
    row, col, inside = grid.cell_index(ev.x, ev.y)
    warnings = []
    if not inside.all():
        n = int((~inside).sum())
        what = "1 event outside the grid was" if n == 1 else f"{n} events outside the grid were"
        warnings.append(f"{what} left out")
    ev = ev.select(inside)
    return ev, grid.flat_index(row[inside], col[inside]), warnings
