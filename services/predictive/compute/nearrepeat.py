"""Near-repeat (Knox) analysis: pairs of incidents by distance and time band, Monte Carlo p (pure).

As in Ratcliffe's Near Repeat Calculator: every pair of incidents is counted in the cell of
its distance band and time band (bands are ``[edge_k, edge_{k+1})``, the first from 0); the
expected count of each cell is the mean over permutations of the times among the places (which
keeps where and when incidents happen, breaking only the link between them); the p-value of a
cell is ``(1 + permutations with at least the observed count) / (1 + permutations)``. Pairs
farther apart than the last distance edge or the last time edge are not counted. Pairs are
found with a k-d tree within the last distance edge, so the work is the number of near pairs
times the permutations; both are bounded before any work starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numba
import numpy as np
import numpy.typing as npt
from scipy.spatial import cKDTree

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

MAX_EVENTS = 50_000
MAX_PAIRS = 5_000_000
MAX_PERMUTATIONS = 999
MAX_BANDS = 20


class TooMuchWork(ValueError):
    """The analysis would be too large; the message names the bound."""


@dataclass(frozen=True)
class KnoxTable:
    """Observed and expected pairs per (distance band, time band), with Monte Carlo p-values."""

    distance_edges_m: tuple[float, ...]
    time_edges_days: tuple[float, ...]
    observed: IntArray  # (n_distance_bands, n_time_bands)
    expected: FloatArray
    p_value: FloatArray
    permutations: int
    n_events: int
    n_pairs: int

    @property
    def ratio(self) -> FloatArray:
        """Knox ratio observed / expected (nan where nothing was expected)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            out: FloatArray = np.where(self.expected > 0, self.observed / self.expected, np.nan)
        return out

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready rows: one per cell, with band labels, counts, ratio and p."""
        rows = []
        ratio = self.ratio
        d, t = self.distance_edges_m, self.time_edges_days
        for i in range(len(d) - 1):
            for j in range(len(t) - 1):
                r = float(ratio[i, j])
                rows.append(
                    {
                        "distance_m": [d[i], d[i + 1]],
                        "time_days": [t[j], t[j + 1]],
                        "observed": int(self.observed[i, j]),
                        "expected": float(self.expected[i, j]),
                        "ratio": r if np.isfinite(r) else None,
                        "p_value": float(self.p_value[i, j]),
                    }
                )
        return {
            "distance_edges_m": list(d),
            "time_edges_days": list(t),
            "permutations": self.permutations,
            "n_events": self.n_events,
            "n_pairs_within_reach": self.n_pairs,
            "cells": rows,
        }


def _check_edges(edges: tuple[float, ...], what: str) -> None:
    if not 2 <= len(edges) <= MAX_BANDS + 1:
        raise ValueError(f"{what}: give 2 to {MAX_BANDS + 1} band edges, got {len(edges)}")
    e = np.asarray(edges, dtype=np.float64)
    if not np.all(np.isfinite(e)) or e[0] < 0 or np.any(np.diff(e) <= 0):
        raise ValueError(f"{what}: edges must be finite, from 0 or more, strictly increasing")


@numba.njit(cache=True)
def _tabulate(
    pi: IntArray, pj: IntArray, dband: IntArray, t: FloatArray, t_edges: FloatArray, n_d: int
) -> IntArray:
    n_t = t_edges.size - 1
    out = np.zeros((n_d, n_t), dtype=np.int64)
    lo, hi = t_edges[0], t_edges[-1]
    for k in range(pi.size):
        gap = abs(t[pi[k]] - t[pj[k]])
        if gap < lo or gap >= hi:
            continue
        j = np.searchsorted(t_edges, gap, side="right") - 1
        out[dband[k], j] += 1
    return out


def knox(
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    t_days: npt.ArrayLike,
    *,
    distance_edges_m: tuple[float, ...] = (0.0, 100.0, 200.0, 400.0, 800.0),
    time_edges_days: tuple[float, ...] = (0.0, 7.0, 14.0, 28.0, 56.0),
    permutations: int = 99,
    seed: int = 0,
    max_events: int = MAX_EVENTS,
    max_pairs: int = MAX_PAIRS,
) -> KnoxTable:
    """The Knox table of the incidents at (x, y) in metres and t in days."""
    xa = np.asarray(x, dtype=np.float64).ravel()
    ya = np.asarray(y, dtype=np.float64).ravel()
    ta = np.asarray(t_days, dtype=np.float64).ravel()
    if not xa.size == ya.size == ta.size:
        raise ValueError("x, y and t_days must have the same length")
    if xa.size > max_events:
        raise TooMuchWork(f"{xa.size} incidents: the near-repeat analysis takes {max_events}")
    if not 1 <= permutations <= MAX_PERMUTATIONS:
        raise ValueError(f"permutations must be 1 to {MAX_PERMUTATIONS}")
    _check_edges(distance_edges_m, "distance bands")
    _check_edges(time_edges_days, "time bands")
    if not (np.all(np.isfinite(xa)) and np.all(np.isfinite(ya)) and np.all(np.isfinite(ta))):
        raise ValueError("coordinates and times must be finite")
    d_edges = np.asarray(distance_edges_m, dtype=np.float64)
    t_edges = np.asarray(time_edges_days, dtype=np.float64)
    reach = float(d_edges[-1])
    tree = cKDTree(np.column_stack([xa, ya])) if xa.size else None
    pairs = (
        np.zeros((0, 2), dtype=np.int64)
        if tree is None
        else tree.query_pairs(reach, output_type="ndarray")
    )
    # query_pairs includes distance == reach; bands are half-open, so drop those below.
    if pairs.shape[0] > max_pairs:
        raise TooMuchWork(
            f"{pairs.shape[0]} pairs within {reach:g} m: the analysis takes {max_pairs};"
            " use fewer incidents or a shorter last distance band"
        )
    pi = pairs[:, 0].astype(np.int64)
    pj = pairs[:, 1].astype(np.int64)
    dist = np.hypot(xa[pi] - xa[pj], ya[pi] - ya[pj])
    dband = np.searchsorted(d_edges, dist, side="right") - 1
    keep = (dist >= d_edges[0]) & (dist < reach)
    pi, pj, dband = pi[keep], pj[keep], dband[keep].astype(np.int64)
    n_d = d_edges.size - 1
    observed = _tabulate(pi, pj, dband, ta, t_edges, n_d)
    rng = np.random.default_rng(seed)
    total = np.zeros(observed.shape, dtype=np.float64)
    at_least = np.zeros(observed.shape, dtype=np.int64)
    for _ in range(permutations):
        perm = _tabulate(pi, pj, dband, rng.permutation(ta), t_edges, n_d)
        total += perm
        at_least += perm >= observed
    return KnoxTable(
        tuple(float(v) for v in d_edges),
        tuple(float(v) for v in t_edges),
        observed,
        total / permutations,
        np.asarray((1.0 + at_least) / (1.0 + permutations), dtype=np.float64),
        permutations,
        int(xa.size),
        int(pi.size),
    )
