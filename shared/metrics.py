"""Hotspot accuracy measures shared by hotspots and predictive: hit rate and PAI."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True)
class Accuracy:
    """Hit rate and Predictive Accuracy Index for one selection of cells."""

    cells_selected: int
    area_fraction: float
    hits: float
    total: float
    hit_rate: float
    pai: float


def top_cells(scores: npt.ArrayLike, k: int) -> npt.NDArray[np.int64]:
    """Indices of the ``k`` highest scores; ties broken by lower index so results are stable."""
    s = np.asarray(scores, dtype=np.float64).ravel()
    k = max(0, min(int(k), s.size))
    order = np.lexsort((np.arange(s.size), -s))
    return order[:k].astype(np.int64)


def accuracy_at_k(scores: npt.ArrayLike, outcomes: npt.ArrayLike, k: int) -> Accuracy:
    """Hit rate and PAI when the ``k`` best-scored cells are chosen.

    Args:
        scores: score per cell, any shape; higher is hotter.
        outcomes: later incident count (or weight) per cell, same shape as ``scores``.
        k: number of cells chosen.

    Returns:
        hit rate = share of later incidents in the chosen cells; PAI = hit rate / area share.
    """
    s = np.asarray(scores, dtype=np.float64).ravel()
    o = np.asarray(outcomes, dtype=np.float64).ravel()
    if s.shape != o.shape:
        raise ValueError("scores and outcomes must have the same number of cells")
    n = s.size
    chosen = top_cells(s, k)
    total = float(o.sum())
    hits = float(o[chosen].sum())
    frac = len(chosen) / n if n else 0.0
    hit_rate = hits / total if total > 0 else 0.0
    pai = hit_rate / frac if frac > 0 else 0.0
    return Accuracy(len(chosen), frac, hits, total, hit_rate, pai)


def accuracy_at_area(
    scores: npt.ArrayLike, outcomes: npt.ArrayLike, area_fraction: float
) -> Accuracy:
    """Hit rate and PAI when the best cells making up ``area_fraction`` of all cells are chosen."""
    if not 0 < area_fraction <= 1:
        raise ValueError("area_fraction must be in (0, 1]")
    n = np.asarray(scores).size
    k = max(1, math.ceil(area_fraction * n - 1e-9))
    return accuracy_at_k(scores, outcomes, k)
