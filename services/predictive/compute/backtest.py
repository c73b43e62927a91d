"""Rolling-origin backtests of fitted-on-demand scorers: hit rate, PAI, selection, stability.

Pure. The backtest takes scorers, not method names, so it needs no registry: the registry
(``compute.methods.rolling_backtest``) builds the scorers by name and calls ``backtest_scorers``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from services.predictive.compute.baselines import grid_counts
from services.predictive.compute.events import Events
from services.predictive.compute.scorer import Scorer
from shared.grid import Grid
from shared.metrics import accuracy_at_area, accuracy_at_k, top_cells

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

CURVE_FRACTIONS = np.concatenate([np.linspace(0.0025, 0.05, 20), np.linspace(0.06, 0.5, 45)])


def _pct(f: float) -> str:
    return f"{100 * f:g}pct"


@dataclass
class BacktestResult:
    """Outcome of a rolling-origin backtest.

    Attributes:
        table: one row per method with mean hit rate and PAI at K cells and at each area share,
            and ``origins`` (origins with at least one later event, over which means are taken).
        selection_counts: per method, how often each flat cell (row-major over the candidate
            cells of the grid, shape (ny * nx,)) was in the top K.
        stability: per method, mean Jaccard overlap of consecutive top-K lists.
        curve_fractions: area shares of the hit-rate curve, shape (m,).
        curves: per method, mean hit rate at each of ``curve_fractions``, shape (m,).
        per_origin: per method, a list of dicts (origin day and the measures that day).
        fit_params: per method, the parameters fitted at the last origin.
        warnings: per method, distinct warnings raised by the fits.
    """

    methods: list[str]
    k_boxes: int
    fractions: tuple[float, ...]
    horizon_days: float
    table: list[dict[str, Any]]
    selection_counts: dict[str, IntArray]
    stability: dict[str, float]
    curve_fractions: FloatArray
    curves: dict[str, FloatArray]
    per_origin: dict[str, list[dict[str, float]]] = field(default_factory=dict)
    fit_params: dict[str, dict[str, Any]] = field(default_factory=dict)
    warnings: dict[str, list[str]] = field(default_factory=dict)

    def plot_png(self, path: str | Path) -> Path:
        """Write a PNG of mean hit rate against area share for every method."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(7, 4.5), dpi=110)
        for m in self.methods:
            ax.plot(100 * self.curve_fractions, 100 * self.curves[m], label=m)
        for f in self.fractions:
            ax.axvline(100 * f, color="0.8", lw=0.8, zorder=0)
        ax.set_xlabel("area searched (% of cells)")
        ax.set_ylabel("mean hit rate (% of later events)")
        ax.set_title(f"Rolling-origin backtest, horizon {self.horizon_days:g} d")
        ax.set_xlim(0, 100 * float(self.curve_fractions[-1]))
        ax.set_ylim(0, 100)
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right")
        fig.tight_layout()
        out = Path(path)
        fig.savefig(out, format="png")
        plt.close(fig)
        return out


def _hit_curve(scores: FloatArray, outcomes: FloatArray, fractions: FloatArray) -> FloatArray:
    """Hit rate when the best ceil(f * n) cells are chosen, for each f (same tie rule as K)."""
    n = scores.size
    order = top_cells(scores, n)
    cum = np.concatenate([[0.0], np.cumsum(outcomes[order])])
    k = np.maximum(1, np.ceil(fractions * n - 1e-9).astype(np.int64))
    total = cum[-1]
    return cum[np.minimum(k, n)] / total if total > 0 else np.zeros(fractions.size)


def _jaccard(a: set[int], b: set[int]) -> float:
    u = len(a | b)
    return len(a & b) / u if u else 1.0


def backtest_scorers(
    events: Events,
    grid: Grid,
    *,
    scorers: Mapping[str, Scorer],
    start_days: float,
    end_days: float,
    step_days: float = 1.0,
    horizon_days: float = 1.0,
    k_boxes: int = 20,
    fractions: tuple[float, ...] = (0.01, 0.05),
    mask: npt.NDArray[np.bool_] | None = None,
) -> BacktestResult:
    """Rolling-origin evaluation: fit before each origin, score, compare with what followed.

    Args:
        events: all events (EPSG:27700 metres, days since the epoch).
        grid: the forecast grid.
        scorers: the scorers by method name (each is refitted at every origin).
        start_days, end_days: origins run from ``start_days`` while ``origin < end_days``.
        step_days: days between origins.
        horizon_days: each forecast covers [origin, origin + horizon_days).
        k_boxes: number of cells chosen for the hit rate and PAI at K.
        fractions: area shares (of candidate cells) for hit rate and PAI.
        mask: optional (ny, nx) bool array of candidate cells (e.g. inside the district).

    Returns:
        BacktestResult with the table, selection counts, stability and hit-rate curves.
    """
    if step_days <= 0 or horizon_days <= 0:
        raise ValueError("step_days and horizon_days must be positive")
    n_cells = grid.nx * grid.ny
    cand = np.ones(n_cells, dtype=bool) if mask is None else np.asarray(mask, bool).ravel()
    if cand.size != n_cells or not cand.any():
        raise ValueError("mask must be (ny, nx) with at least one candidate cell")
    cand_idx = np.flatnonzero(cand)
    methods = list(scorers)
    origins = np.arange(start_days, end_days, step_days, dtype=np.float64)
    rows: dict[str, list[dict[str, float]]] = {m: [] for m in methods}
    sel = {m: np.zeros(n_cells, dtype=np.int64) for m in methods}
    jac: dict[str, list[float]] = {m: [] for m in methods}
    prev: dict[str, set[int] | None] = {m: None for m in methods}
    curves: dict[str, list[FloatArray]] = {m: [] for m in methods}
    params: dict[str, dict[str, Any]] = {}
    warns: dict[str, list[str]] = {m: [] for m in methods}
    for origin in origins:
        later = (events.t_days >= origin) & (events.t_days < origin + horizon_days)
        ev_out = events.select(later)
        outcome = grid_counts(ev_out.x, ev_out.y, grid, weights=ev_out.weights).ravel()[cand]
        for m, scorer in scorers.items():
            report = scorer.fit(events, grid, float(origin))
            params[m] = report.params
            warns[m].extend(w for w in report.warnings if w not in warns[m])
            scores = scorer.score(horizon_days).ravel()[cand]
            top = set(cand_idx[top_cells(scores, k_boxes)].tolist())
            sel[m][list(top)] += 1
            if prev[m] is not None:
                jac[m].append(_jaccard(prev[m], top))  # type: ignore[arg-type]
            prev[m] = top
            if outcome.sum() <= 0:
                continue  # nothing to hit: the day says nothing about accuracy
            row = {"origin_days": float(origin)}
            acc = accuracy_at_k(scores, outcome, k_boxes)
            row["hit_rate_at_k"], row["pai_at_k"] = acc.hit_rate, acc.pai
            for f in fractions:
                acc = accuracy_at_area(scores, outcome, f)
                row[f"hit_rate_at_{_pct(f)}"], row[f"pai_at_{_pct(f)}"] = acc.hit_rate, acc.pai
            rows[m].append(row)
            curves[m].append(_hit_curve(scores, outcome, CURVE_FRACTIONS))
    table = []
    for m in methods:
        r = rows[m]
        entry: dict[str, Any] = {"method": m, "origins": len(r)}
        keys = ["hit_rate_at_k", "pai_at_k"]
        for f in fractions:
            keys += [f"hit_rate_at_{_pct(f)}", f"pai_at_{_pct(f)}"]
        for key in keys:
            entry[key] = float(np.mean([x[key] for x in r])) if r else math.nan
        entry["stability"] = float(np.mean(jac[m])) if jac[m] else math.nan
        table.append(entry)
    return BacktestResult(
        methods=list(methods),
        k_boxes=k_boxes,
        fractions=tuple(fractions),
        horizon_days=horizon_days,
        table=table,
        selection_counts=sel,
        stability={m: float(np.mean(jac[m])) if jac[m] else math.nan for m in methods},
        curve_fractions=CURVE_FRACTIONS.copy(),
        curves={
            m: np.mean(curves[m], axis=0) if curves[m] else np.zeros(CURVE_FRACTIONS.size)
            for m in methods
        },
        per_origin=rows,
        fit_params=params,
        warnings=warns,
    )


def format_table(result: BacktestResult) -> str:
    """Plain-text table of the mean measures per method."""
    heads = ["method", "origins", f"hit@{result.k_boxes}", f"PAI@{result.k_boxes}"]
    keys = ["method", "origins", "hit_rate_at_k", "pai_at_k"]
    for f in result.fractions:
        heads += [f"hit@{100 * f:g}%", f"PAI@{100 * f:g}%"]
        keys += [f"hit_rate_at_{_pct(f)}", f"pai_at_{_pct(f)}"]
    heads.append("jaccard")
    keys.append("stability")
    lines = []
    for row in result.table:
        cells = []
        for k in keys:
            v = row[k]
            if isinstance(v, str):
                cells.append(v)
            elif k == "origins":
                cells.append(str(v))
            elif k.startswith("hit"):
                cells.append(f"{100 * v:.1f}%")
            else:
                cells.append(f"{v:.2f}")
        lines.append(cells)
    widths = [max(len(h), *(len(c[i]) for c in lines)) for i, h in enumerate(heads)]
    out = ["  ".join(h.ljust(w) for h, w in zip(heads, widths, strict=True))]
    out.append("  ".join("-" * w for w in widths))
    out += ["  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) for cells in lines]
    return "\n".join(out)
