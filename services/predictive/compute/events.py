"""The events every forecast method reads: EPSG:27700 points with times in days (pure)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Events:
    """Events in EPSG:27700 metres with times in days since 1970-01-01 UTC.

    Attributes:
        x, y: eastings and northings in metres, float64, shape (n,).
        t_days: float64 days since the epoch, shape (n,).
        weights: optional weight per event (used by the baselines; ETAS counts events).
    """

    x: FloatArray
    y: FloatArray
    t_days: FloatArray
    weights: FloatArray | None = None

    def __post_init__(self) -> None:
        for name in ("x", "y", "t_days"):
            object.__setattr__(self, name, np.asarray(getattr(self, name), dtype=np.float64))
        if self.weights is not None:
            object.__setattr__(self, "weights", np.asarray(self.weights, dtype=np.float64))
        n = self.x.size
        if self.y.size != n or self.t_days.size != n:
            raise ValueError("x, y and t_days must have the same length")
        if self.weights is not None and self.weights.size != n:
            raise ValueError("weights must have one value per event")

    def __len__(self) -> int:
        return int(self.x.size)

    def select(self, mask: npt.NDArray[np.bool_]) -> Events:
        """The events where ``mask`` is true."""
        w = None if self.weights is None else self.weights[mask]
        return Events(self.x[mask], self.y[mask], self.t_days[mask], w)
