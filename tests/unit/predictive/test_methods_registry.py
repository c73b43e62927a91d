"""The registry of forecast methods: what it names, how it makes scorers, what reads it."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from services.predictive.agencies.defaults import DEFAULTS
from services.predictive.compute.backtest import backtest_scorers
from services.predictive.compute.baselines import grid_counts
from services.predictive.compute.best_static import BestStaticScorer
from services.predictive.compute.etas_scorer import EtasScorer
from services.predictive.compute.events import Events
from services.predictive.compute.methods import (
    AUTO,
    Method,
    MethodRegistry,
    default_methods,
    make_scorer,
    rolling_backtest,
)
from services.predictive.compute.scorer import FitReport, FloatArray
from services.predictive.compute.selection import choose_method, forecast
from services.predictive.compute.sepp_scorer import SeppScorer
from services.predictive.compute.static_scorers import KdeScorer, NaiveScorer, ProspectiveScorer
from shared.grid import Grid

GRID = Grid.covering(0, 0, 2999, 2999, 150)
SCORER_CLASSES = (
    EtasScorer,
    NaiveScorer,
    KdeScorer,
    ProspectiveScorer,
    BestStaticScorer,
    SeppScorer,
)


def _events(seed: int = 3, days: float = 200.0, n: int = 3000) -> Events:
    """Uniform noise plus a few hot spots that come and go, over ``days`` days."""
    rng = np.random.default_rng(seed)
    xs = [rng.uniform(0, 3000, n)]
    ys = [rng.uniform(0, 3000, n)]
    ts = [rng.uniform(0, days, n)]
    for start in range(0, int(days), 20):
        cx, cy = rng.uniform(100, 2900, 2)
        xs.append(cx + rng.normal(0, 30, 60))
        ys.append(cy + rng.normal(0, 30, 60))
        ts.append(start + rng.uniform(0, 20, 60))
    return Events(np.concatenate(xs), np.concatenate(ys), np.concatenate(ts))


class Oracle:
    """A scorer that cheats: it scores each cell by the events that really follow ``as_of``."""

    def __init__(self) -> None:
        self._events: Events | None = None
        self._grid: Grid | None = None
        self._as_of = 0.0

    def fit(self, events: Events, grid: Grid, as_of_days: float) -> FitReport:
        """Keep every event, later ones included."""
        self._events, self._grid, self._as_of = events, grid, as_of_days
        return FitReport("oracle")

    def score(self, horizon_days: float) -> FloatArray:
        """Counts of the events in [as_of, as_of + horizon) per cell, shape (ny, nx)."""
        assert self._events is not None and self._grid is not None
        t = self._events.t_days
        later = self._events.select((t >= self._as_of) & (t < self._as_of + horizon_days))
        return grid_counts(later.x, later.y, self._grid)


def test_every_name_makes_the_scorer_that_calls_itself_by_it() -> None:
    for name in default_methods.names:
        scorer = make_scorer(name)
        assert isinstance(scorer, SCORER_CLASSES), name
        assert scorer.method == name, name


def test_temporal_methods_are_the_etas_ones_and_none_is_a_static_candidate() -> None:
    etas_like = {n for n in default_methods.names if isinstance(make_scorer(n), EtasScorer)}
    assert set(default_methods.temporal) == etas_like == {"etas", "etas_smooth"}
    candidates = default_methods.static_candidates
    assert candidates and not set(candidates) & set(default_methods.temporal)
    assert "best_static" not in candidates  # it would judge itself
    # The default candidate (kept unless clearly beaten) is the simplest: naive counts.
    assert isinstance(make_scorer(candidates[0]), NaiveScorer)


def test_choices_are_auto_and_every_method_and_agencies_start_with_one() -> None:
    assert default_methods.choices == (AUTO, *default_methods.names)
    assert all(d.method in default_methods.choices for d in DEFAULTS.values())


def test_aliases_resolve_and_unknown_names_are_refused_by_name() -> None:
    assert default_methods.canonical("naive") == "naive28"
    assert default_methods.canonical("kde") == "kde"
    with pytest.raises(ValueError, match="unknown method 'naive'; choose from etas, "):
        make_scorer("naive")  # an alias is for people typing; make takes method names
    with pytest.raises(ValueError, match=r"choose 'auto' or one of \('etas', "):
        choose_method(_events(), "excel")


def test_given_parameters_win_over_the_names_defaults() -> None:
    default, given = make_scorer("naive90"), make_scorer("naive90", window_days=7.0)
    assert isinstance(default, NaiveScorer) and default.window_days == 90.0
    assert isinstance(given, NaiveScorer) and given.window_days == 7.0
    smooth = make_scorer("etas_smooth")
    assert isinstance(smooth, EtasScorer) and smooth.smooth


def test_register_returns_a_new_registry_and_refuses_a_taken_name() -> None:
    oracle = Method("oracle", Oracle, static_candidate=True)
    more = default_methods.register(oracle)
    assert "oracle" in more and "oracle" not in default_methods
    assert more.static_candidates == (*default_methods.static_candidates, "oracle")
    with pytest.raises(ValueError, match="already registered: kde"):
        default_methods.register(Method("kde", Oracle))
    with pytest.raises(ValueError, match="already registered: naive"):
        default_methods.register(Method("naive", Oracle))  # the alias's name is taken too
    replaced = default_methods.register(Method("kde", Oracle), overwrite=True)
    assert isinstance(replaced.make("kde"), Oracle)
    with pytest.raises(ValueError, match="unknown methods: nothing"):
        MethodRegistry([oracle], aliases={"x": "nothing"})


def test_best_static_chooses_among_the_registrys_candidates() -> None:
    """A candidate registered later is judged too: the oracle wins the inner backtest."""
    more = default_methods.register(Method("oracle", Oracle, static_candidate=True))
    scorer = more.make("best_static", k_boxes=20)
    report = scorer.fit(_events(), GRID, as_of_days=180.0)
    assert set(report.params["inner_hit_rate_at_k"]) == set(more.static_candidates)
    assert report.params["chosen"] == "oracle"
    # The default registry has no oracle, so its choice is one of its own candidates.
    plain = make_scorer("best_static", k_boxes=20).fit(_events(), GRID, as_of_days=180.0)
    assert plain.params["chosen"] in default_methods.static_candidates


def test_rolling_backtest_by_name_is_the_backtest_of_those_scorers() -> None:
    ev = _events(days=120.0)
    window: dict[str, Any] = {
        "start_days": 90.0,
        "end_days": 118.0,
        "step_days": 7.0,
        "k_boxes": 10,
    }
    by_name = rolling_backtest(
        ev,
        GRID,
        methods=["naive28", "kde"],
        method_params={"naive28": {"window_days": 7.0}},
        **window,
    )
    direct = backtest_scorers(
        ev,
        GRID,
        scorers={"naive28": NaiveScorer(window_days=7.0), "kde": make_scorer("kde")},
        **window,
    )
    assert by_name.methods == direct.methods == ["naive28", "kde"]
    assert by_name.table == direct.table
    assert by_name.fit_params["naive28"]["window_days"] == 7.0


def test_forecast_reads_rate_or_relative_from_the_registry() -> None:
    ev = _events()
    naive = forecast(ev, GRID, requested="naive", as_of_days=180.0)
    assert naive.requested == "naive28" and naive.method == "naive28"
    assert naive.params["background_per_day"] == pytest.approx(
        float(np.sum(naive.scores))  # a one-day window: the daily rate is the scores' sum
    )
    prospective = forecast(ev, GRID, requested="prospective", as_of_days=180.0)
    assert prospective.params["background_per_day"] is None  # a relative score has no rate
