"""Issue #15: does ``auto`` beat simple counting on real incident times? And how fast is it?

Run: PYTHONPATH=. .venv/bin/python bench/bench_predictive_real.py [--days 63] [--sets a,b]
     [--skip-last N: tune on the earlier part] [--no-scale] [--no-police]

For each real exact-timed set in ../shared/data/real/ (moved onto Medway) the last ``--days``
days are the reported period (nothing was chosen on them: the model's choices are made inside
each fit, on the weeks before each day). Every day is forecast from the two years before it
(150 m boxes over the set's extent) and judged on that day's incidents. Methods: ``auto`` and
the three simple rankings on the same training data: counts of the last 28 days, counts of the
whole training window and a quartic KDE over the whole window. Printed: hit rate and PAI at 20
boxes and at 1% of the area with 95% bootstrap intervals over days, and auto's ratio to the
best simple ranking (the best in hindsight, on the reported days) with its interval; the goal
is 1.10. The Medway police months: ``auto`` against counting the last three months (hit rate at
20 boxes, PAI at 5%), monthly origins. Then the boxes per ward (exposure) and the scale figures.
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from services.predictive.compute.backtest import BacktestResult, backtest_scorers
from services.predictive.compute.baselines import grid_counts
from services.predictive.compute.events import Events
from services.predictive.compute.methods import default_methods
from services.predictive.compute.scorer import FitReport, Scorer
from services.predictive.compute.selection import resolve_method
from services.predictive.compute.static_scorers import KdeScorer, NaiveScorer
from services.predictive.dates import epoch_days, local_midnight
from shared.grid import Grid

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
REAL = {
    "vancouver thefts (minute)": "real/vancouver_thefts_2020_moved_to_medway.csv",
    "cincinnati burglary (day)": "real/cincinnati_burglary_2016_2018_moved_to_medway.csv",
    "toronto fires (second)": "real/toronto_fire_incidents_2011_2022_moved_to_medway.csv",
}
WARDS = DATA / "boundaries" / "medway_wards_martinjc.geojson"
TRAIN_DAYS = 730.0
K = 20
GOAL = 1.10
SIMPLE = ("counts_28d", "counts_window", "kde_window")


class HindsightCounts:
    """Not a method: counts of the year before and the year after the day (a diagnostic).

    The training window's length, centred on the forecast day and leaving the day itself out:
    each box's rate around that day as well as hindsight can know it (ties by index, like the
    counts). It shows how far a ranking by each box's current rate could get above the simple
    ones; what would be left above it can come only from short-term structure (repeats).
    """

    def __init__(self, events: Events) -> None:
        self.events = events
        self._counts: np.ndarray | None = None

    def fit(self, events: Events, grid: Grid, as_of_days: float) -> FitReport:
        """Count the events within 365 days either side of [as_of, as_of + 1 day), not in it."""
        ev, half = self.events, TRAIN_DAYS / 2
        before = (ev.t_days < as_of_days) & (ev.t_days >= as_of_days - half)
        other = before | ((ev.t_days >= as_of_days + 1.0) & (ev.t_days < as_of_days + 1 + half))
        self._counts = grid_counts(ev.x[other], ev.y[other], grid)
        return FitReport("hindsight", {}, [])

    def score(self, horizon_days: float) -> np.ndarray:
        """The counts (a relative score)."""
        assert self._counts is not None
        return self._counts


def load(path: Path, fmt: str) -> Events:
    """Events of one incident file, through the CLI's reader."""
    from services.predictive.event_files import read_events

    return read_events([path], fmt, None)


def boot(values: dict[str, np.ndarray], n: int = 2000, seed: int = 15) -> dict[str, Any]:
    """Means and 95% intervals over days resampled together (paired), for each method."""
    rng = np.random.default_rng(seed)
    days = next(iter(values.values())).size
    idx = rng.integers(0, days, size=(n, days))
    return {m: (float(v.mean()), *np.percentile(v[idx].mean(1), [2.5, 97.5])) for m, v in
            values.items()}  # fmt: skip


def ratio_interval(
    a: np.ndarray, b: np.ndarray, n: int = 2000, seed: int = 15
) -> tuple[float, ...]:
    """Ratio of means a/b and its paired bootstrap 95% interval over days."""
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, a.size, size=(n, a.size))
    r = a[idx].mean(1) / np.maximum(b[idx].mean(1), 1e-12)
    return float(a.mean() / max(b.mean(), 1e-12)), *np.percentile(r, [2.5, 97.5])


def report(result: BacktestResult, labels: dict[str, str], keys: list[tuple[str, str]]) -> None:
    """The table with intervals, and auto's ratio to the best simple ranking per measure."""
    print(f"  {'method':<28}" + "".join(f"{lab:>26}" for _, lab in keys))
    per = {m: result.per_origin[m] for m in result.methods}
    for m in result.methods:
        cells = []
        for key, _ in keys:
            mean, lo, hi = boot({m: np.array([r[key] for r in per[m]])})[m]
            scale = 100.0 if key.startswith("hit") else 1.0
            cells.append(f"{scale * mean:8.2f} [{scale * lo:6.2f},{scale * hi:6.2f}]")
        print(f"  {labels.get(m, m):<28}" + "".join(f"{c:>26}" for c in cells))
    for key, lab in keys:
        if "auto" not in per:
            continue
        simple = [m for m in result.methods if m in SIMPLE or m == "counts_3m"]
        best = max(simple, key=lambda m: np.mean([r[key] for r in per[m]]))
        a = np.array([r[key] for r in per["auto"]])
        b = np.array([r[key] for r in per[best]])
        r, lo, hi = ratio_interval(a, b)
        goal = GOAL if best in SIMPLE else 1.0
        verdict = "MET" if r >= goal else "NOT MET"
        print(
            f"  auto / best simple ({best}) {lab}: {r:.3f}x [{lo:.3f}, {hi:.3f}]"
            f"  goal >= {goal:.2f}x: {verdict}"
        )
        if "hindsight" in per:
            h = np.array([r[key] for r in per["hindsight"]])
            r, lo, hi = ratio_interval(h, b)
            print(f"    hindsight / best simple {lab}: {r:.3f}x [{lo:.3f}, {hi:.3f}] (not a method:"
                  " counts of the year before and after the day)")  # fmt: skip


def real_set(name: str, rel: str, days: int, skip_last: int = 0) -> None:
    """Backtest one real set over its last ``days`` days (ending ``skip_last`` days earlier:
    the earlier part of a set, to tune on without touching the reported days)."""
    t0 = time.perf_counter()
    ev = load(DATA / rel, "generic")
    grid = Grid.covering(ev.x.min(), ev.y.min(), ev.x.max(), ev.y.max(), 150.0)
    last = (date(1970, 1, 1) + timedelta(days=math.floor(float(ev.t_days.max())))).isoformat()
    end_day = date.fromisoformat(last) - timedelta(days=skip_last)
    first_day = end_day - timedelta(days=days)
    start, end = epoch_days(local_midnight(first_day)), epoch_days(local_midnight(end_day))
    method, warns = resolve_method(ev.select(ev.t_days < start), grid, requested="auto")
    scorers: dict[str, Scorer] = {
        "counts_28d": NaiveScorer(28.0),
        "counts_window": NaiveScorer(TRAIN_DAYS),
        "kde_window": KdeScorer(radius_m=300.0, window_days=TRAIN_DAYS),
        "auto": default_methods.make(method, k_boxes=K)
        if default_methods.get(method).takes_k_boxes
        else default_methods.make(method),
        "hindsight": HindsightCounts(ev),
    }
    result = backtest_scorers(
        ev, grid, scorers=scorers, start_days=start, end_days=end, k_boxes=K, fractions=(0.01,)
    )
    took = time.perf_counter() - t0
    print(
        f"\n== {name}: {len(ev)} events, grid {grid.ny} x {grid.nx} boxes of 150 m, "
        f"{first_day} to {end_day - timedelta(days=1)} ({result.table[0]['origins']} days with "
        f"incidents), train {TRAIN_DAYS:g} d, auto = {method} ({took:.0f} s)"
    )
    for w in warns:
        print(f"  warning: {w}")
    keys = [("hit_rate_at_k", "hit@20 %"), ("pai_at_k", "PAI@20"),
            ("hit_rate_at_1pct", "hit@1% %"), ("pai_at_1pct", "PAI@1%")]  # fmt: skip
    labels = {"auto": f"auto ({method})", "hindsight": "(hindsight: day +-365 d)"}
    report(result, labels, keys)
    p = result.fit_params["auto"]
    shown = {k: p.get(k) for k in ("choice", "choice_reason", "theta", "trigger_sigma_m_cells",
             "trigger_tau_days", "background_weight", "background_sigma_cells",
             "heldout_loglik", "heldout_hit_rate_at_k")}  # fmt: skip
    print(f"  last fit: {shown}")
    near_repeat_evidence(ev, end, days=180)
    wards_exposure(result, grid)


def near_repeat_evidence(ev: Events, end_days: float, days: int) -> None:
    """What a forecast of the next day could gain from near repeats: the Knox excess of pairs
    within 200 m on the same day (useless to a daily list: the day is over) and one to seven days
    apart (what a self-exciting model can use), over the ``days`` before the reported end."""
    from services.predictive.compute.nearrepeat import knox

    part = ev.select((ev.t_days >= end_days - days) & (ev.t_days < end_days))
    table = knox(part.x, part.y, np.floor(part.t_days), distance_edges_m=(0.0, 200.0, 800.0),
                 time_edges_days=(0.0, 1.0, 8.0, 57.0), permutations=99)  # fmt: skip
    obs, exp, p = table.observed[0], table.expected[0], table.p_value[0]
    words = [f"{lab} {int(o)}/{e:.1f} (x{o / e:.2f}, p={q:.2f})" if e > 0 else f"{lab} none"
             for lab, o, e, q in zip(("same day", "1-7 days", "8-56 days"), obs, exp, p,
                                     strict=True)]  # fmt: skip
    extra = max(0.0, float(obs[1] - exp[1])) / days
    print(
        f"  near repeats within 200 m, last {days} days ({len(part)} incidents; pairs observed/"
        f"expected): {'; '.join(words)}; next-week excess {extra:.2f} pairs a day"
    )


def wards_exposure(result: BacktestResult, grid: Grid) -> None:
    """Boxes chosen per ward by auto over the reported days (the exposure of each ward)."""
    from services.predictive.compute.areas import read_areas, ward_selection_counts

    counts = ward_selection_counts(result.selection_counts["auto"], grid, read_areas(WARDS))
    top = ", ".join(f"{n} {c}" for n, c in list(counts.items())[:8])
    print(f"  boxes per ward (auto, all days): {top}{' ...' if len(counts) > 8 else ''}")


def police_months() -> None:
    """Month-only Medway police data: auto against the last three months' counts."""
    ev = load(DATA / "police", "police")
    grid = Grid.covering(ev.x.min(), ev.y.min(), ev.x.max(), ev.y.max(), 150.0)
    months = sorted({float(t) for t in np.unique(ev.t_days)})
    method, warns = resolve_method(ev.select(ev.t_days < months[3]), grid, requested="auto")
    rows: dict[str, list[dict[str, float]]] = {"auto": [], "counts_3m": []}
    for i in range(3, len(months)):
        o = months[i]
        h = (months[i + 1] if i + 1 < len(months) else o + 30.0) - o
        scorers: dict[str, Scorer] = {
            "auto": default_methods.make(method, k_boxes=K)
            if default_methods.get(method).takes_k_boxes
            else default_methods.make(method),
            "counts_3m": NaiveScorer(o - months[i - 3]),
        }
        r = backtest_scorers(ev, grid, scorers=scorers, start_days=o, end_days=o + 1,
                             horizon_days=h, k_boxes=K, fractions=(0.05,))  # fmt: skip
        for m in rows:
            rows[m] += r.per_origin[m]
    res = BacktestResult(["auto", "counts_3m"], K, (0.05,), 30.0, [], {}, {},
                         np.zeros(0), {}, per_origin=rows)  # fmt: skip
    print(f"\n== Medway police months (month-only): {len(ev)} events, {len(rows['auto'])} "
          f"monthly origins, auto = {method}")  # fmt: skip
    report(res, {"auto": f"auto ({method})"}, [("hit_rate_at_k", "hit@20 %"),
                                                ("pai_at_5pct", "PAI@5%")])  # fmt: skip


def scale_child(which: str) -> None:
    """One scale case in this process (so its peak memory is its own)."""
    from services.predictive.compute.sepp_scorer import SeppScorer

    rng = np.random.default_rng(5)
    if which == "200k":
        nx = ny = 150
        days, n = 1460.0, 200_000
    else:
        nx, ny = 500, 310  # 155,000 boxes of 150 m: about 3,500 km2
        days, n = 1826.0, 1_000_000
    cell = 150.0
    hot = rng.gamma(0.3, 1.0, nx * ny)
    cells = rng.choice(nx * ny, size=n, p=hot / hot.sum())
    t = np.sort(rng.random(n) * days)
    x = 499_950 + (cells % nx + rng.random(n)) * cell
    y = 100_050 + ny * cell - (cells // nx + rng.random(n)) * cell
    ev = Events(x, y, t)
    grid = Grid(cell, 499_950.0, 100_050.0, nx, ny)
    warm = SeppScorer(window_days=60.0, choose=False)
    warm.fit(ev.select(t < 60), grid, 60.0)
    t0 = time.perf_counter()
    sc = SeppScorer(window_days=days, choose=True)
    rep = sc.fit(ev, grid, days)
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    rates = sc.score(1.0)
    masks = [np.zeros(grid.shape, bool) for _ in range(4)]
    for i, m in enumerate(masks):  # four agencies' areas: quarters of the force
        m[:, i * nx // 4 : (i + 1) * nx // 4] = True
    for m in masks:
        flat = np.where(m, rates, -np.inf).ravel()
        np.argpartition(-flat, 20)[:20]
    lists_s = time.perf_counter() - t0
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    print(f"{which}: {n} events, {nx * ny} boxes, {days:g} days: fit {fit_s:.1f} s "
          f"(with held-out choice, choice={rep.params['choice']}), lists of 4 agencies "
          f"{lists_s:.3f} s, peak memory {peak_gb:.2f} GB")  # fmt: skip


def scale() -> None:
    """Both scale cases, each in its own process."""
    goals = {"200k": "fit <= 5 s", "force": "fit <= 60 s, <= 4 GB, lists <= 1 s"}
    print("\n== scale (sepp, simulated events; numba compiled first)")
    for which, goal in goals.items():
        out = subprocess.run(
            [sys.executable, __file__, "--scale-child", which],
            capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)},
        )  # fmt: skip
        print(f"  {out.stdout.strip() or out.stderr.strip()[-400:]}  (goal {goal})")


def main() -> None:
    """Run the chosen parts."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--days", type=int, default=63)
    ap.add_argument("--sets", default="")
    ap.add_argument("--skip-last", type=int, default=0, help="tune: end this many days early")
    ap.add_argument("--no-scale", action="store_true")
    ap.add_argument("--no-police", action="store_true")
    ap.add_argument("--scale-child", default="")
    a = ap.parse_args()
    if a.scale_child:
        scale_child(a.scale_child)
        return
    print(f"{os.cpu_count()} cores; goal: auto >= {GOAL:.2f}x the best simple ranking")
    for name, rel in REAL.items():
        if not a.sets or any(s in name for s in a.sets.split(",")):
            real_set(name, rel, a.days, a.skip_last)
    if not a.no_police:
        police_months()
    if not a.no_scale:
        scale()


if __name__ == "__main__":
    main()
