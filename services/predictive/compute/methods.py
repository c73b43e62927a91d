"""The registry of forecast methods: each name with its scorer factory and properties (pure).

Modelled on titiler's algorithm registry (``default_algorithms`` plus ``register``): a
``MethodRegistry`` maps names to ``Method`` entries, ``register`` returns a new registry with
more, and ``default_methods`` holds the suite's. Whatever lists or tells methods apart reads it:
the agency setting's choices and the CLI help (``choices``), "auto"
(``temporal``), the candidates of ``best_static`` (``static_candidate``), the backtest by name
(``rolling_backtest``) and the CLI alias "naive".

The scorer modules are imported when a scorer is made, so that reading the registry (``csp
--help``, a settings check) does not load numba and scipy.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from services.predictive.compute.scorer import Scorer

if TYPE_CHECKING:
    from services.predictive.compute.backtest import BacktestResult
    from services.predictive.compute.events import Events
    from shared.grid import Grid

# Not a method: the setting that lets the selection choose one from the data.
AUTO = "auto"


@dataclass(frozen=True)
class Method:
    """A forecast method: how to make its scorer, and what the selection needs to know of it.

    Attributes:
        name: the name that agency settings, stored lists and the CLI use.
        factory: ``factory(**params)`` makes a fresh scorer.
        defaults: constructor parameters the name stands for (``naive90``: a 90-day window);
            parameters given to ``make`` win.
        temporal: scores a window from event times (needs exact, untied timestamps).
        static_candidate: ``best_static`` may choose it (in registration order; the first is
            kept unless another clearly beats it).
        gives_rate: scores are expected events, so a total daily rate can be reported (False:
            a relative score).
        takes_k_boxes: the scorer takes ``k_boxes``, the list length it is judged at.
        picks_static: the scorer chooses among the registry's static candidates, so it is made
            with the registry's ``make`` and ``static_candidates``.
    """

    name: str
    factory: Callable[..., Scorer]
    defaults: Mapping[str, Any] = field(default_factory=dict)
    temporal: bool = False
    static_candidate: bool = False
    gives_rate: bool = True
    takes_k_boxes: bool = False
    picks_static: bool = False


class MethodRegistry:
    """Forecast methods by name, with aliases; immutable (``register`` returns a new one)."""

    def __init__(
        self, methods: Sequence[Method] = (), aliases: Mapping[str, str] | None = None
    ) -> None:
        self._methods = {m.name: m for m in methods}
        self._aliases = dict(aliases or {})
        unknown = set(self._aliases.values()) - set(self._methods)
        if unknown:
            raise ValueError(f"aliases name unknown methods: {', '.join(sorted(unknown))}")

    def register(
        self, *methods: Method, aliases: Mapping[str, str] | None = None, overwrite: bool = False
    ) -> MethodRegistry:
        """A new registry with ``methods`` and ``aliases`` added; a taken name needs overwrite."""
        taken = [m.name for m in methods if m.name in self._methods or m.name in self._aliases]
        if taken and not overwrite:
            raise ValueError(f"methods already registered: {', '.join(taken)}")
        merged = {**self._methods, **{m.name: m for m in methods}}
        return MethodRegistry(list(merged.values()), {**self._aliases, **(aliases or {})})

    @property
    def names(self) -> tuple[str, ...]:
        """Every method name, in registration order."""
        return tuple(self._methods)

    @property
    def choices(self) -> tuple[str, ...]:
        """What a setting or the CLI may ask for: "auto" or a method name."""
        return (AUTO, *self._methods)

    @property
    def temporal(self) -> tuple[str, ...]:
        """The methods that score from event times."""
        return tuple(m.name for m in self._methods.values() if m.temporal)

    @property
    def static_candidates(self) -> tuple[str, ...]:
        """The methods ``best_static`` chooses among, the default first."""
        return tuple(m.name for m in self._methods.values() if m.static_candidate)

    def __contains__(self, name: object) -> bool:
        return name in self._methods

    def canonical(self, name: str) -> str:
        """``name`` with aliases resolved ("naive" is the 28-day count)."""
        return self._aliases.get(name, name)

    def get(self, name: str) -> Method:
        """The method called ``name`` (not an alias); ValueError naming the known ones."""
        try:
            return self._methods[name]
        except KeyError:
            raise ValueError(
                f"unknown method {name!r}; choose from {', '.join(self._methods)}"
            ) from None

    def make(self, name: str, **params: Any) -> Scorer:
        """A fresh scorer for the method ``name``; ``params`` go to its constructor."""
        method = self.get(name)
        if method.picks_static:
            params = {"make": self.make, "candidates": self.static_candidates, **params}
        return method.factory(**{**method.defaults, **params})


def _etas(**params: Any) -> Scorer:
    from services.predictive.compute.etas_scorer import EtasScorer

    return EtasScorer(**params)


def _naive(**params: Any) -> Scorer:
    from services.predictive.compute.static_scorers import NaiveScorer

    return NaiveScorer(**params)


def _months(**params: Any) -> Scorer:
    from services.predictive.compute.static_scorers import MonthsCountScorer

    return MonthsCountScorer(**params)


def _kde(**params: Any) -> Scorer:
    from services.predictive.compute.static_scorers import KdeScorer

    return KdeScorer(**params)


def _prospective(**params: Any) -> Scorer:
    from services.predictive.compute.static_scorers import ProspectiveScorer

    return ProspectiveScorer(**params)


def _sepp(**params: Any) -> Scorer:
    from services.predictive.compute.sepp_scorer import SeppScorer

    return SeppScorer(**params)


def _best_static(**params: Any) -> Scorer:
    from services.predictive.compute.best_static import BestStaticScorer

    return BestStaticScorer(**params)


default_methods = MethodRegistry(
    [
        Method("etas", _etas, {"smooth": False}, temporal=True),
        Method("etas_smooth", _etas, {"smooth": True}, temporal=True),
        Method("naive28", _naive, {"window_days": 28.0}),
        Method("naive3m", _months, {"months": 3}, static_candidate=True),
        Method("naive90", _naive, {"window_days": 90.0}, static_candidate=True),
        Method("kde", _kde, static_candidate=True),
        Method("prospective", _prospective, static_candidate=True, gives_rate=False),
        Method("best_static", _best_static, takes_k_boxes=True, picks_static=True),
        Method("sepp", _sepp, takes_k_boxes=True),
    ],
    aliases={"naive": "naive28"},
)


def make_scorer(method: str, **params: Any) -> Scorer:
    """A scorer of the default registry by name; ``params`` go to its constructor."""
    return default_methods.make(method, **params)


def rolling_backtest(
    events: Events,
    grid: Grid,
    *,
    methods: Sequence[str],
    method_params: Mapping[str, Mapping[str, Any]] | None = None,
    registry: MethodRegistry = default_methods,
    **options: Any,
) -> BacktestResult:
    """``backtest.backtest_scorers`` over methods named in ``registry``.

    Args:
        methods: method names; each is made once with its ``method_params`` (if any).
        options: the backtest's own (``start_days``, ``end_days``, ``step_days``,
            ``horizon_days``, ``k_boxes``, ``fractions``, ``mask``).
    """
    from services.predictive.compute.backtest import backtest_scorers

    params = method_params or {}
    scorers = {m: registry.make(m, **params.get(m, {})) for m in methods}
    return backtest_scorers(events, grid, scorers=scorers, **options)
