"""Intervals of a backtest's mean measures: a percentile bootstrap over origin days (pure).

The backtest gives one value per origin day with incidents to compare with; the mean over those
days is what its table shows. Resampling the days with replacement gives an interval for that
mean. Days whose forecast windows overlap (horizon longer than the step) are not independent, so
the interval is then too narrow: the results say so.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

N_RESAMPLES = 1000
LEVEL = 0.95
SEED = 146  # fixed: the same backtest gives the same interval


def bootstrap_interval(
    values: npt.ArrayLike,
    *,
    n_resamples: int = N_RESAMPLES,
    level: float = LEVEL,
    seed: int = SEED,
) -> tuple[float, float] | None:
    """(low, high) of a ``level`` percentile bootstrap interval of the mean of ``values``.

    Args:
        values: one measure per origin day, shape (n,); non-finite values are left out.
        n_resamples: bootstrap resamples.
        level: coverage, e.g. 0.95.
        seed: the generator's seed.

    Returns:
        The interval, or None with fewer than two finite values (no spread to resample).
    """
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size < 2:
        return None
    rng = np.random.default_rng(seed)
    means = v[rng.integers(0, v.size, size=(n_resamples, v.size))].mean(axis=1)
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(low), float(high)
