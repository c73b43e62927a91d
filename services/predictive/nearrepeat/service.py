"""Near-repeat analysis of stored incidents: checked and bounded before any work (a read).

Keyword-only, session first; nothing here writes. Every bound is checked on counts from the
database before a single incident is loaded: the categories must be held, the window must have
incident data (else "no incident data for this window", naming the period the data cover), each
category's incidents in the window at most ``MAX_EVENTS``, and pairs times permutations at most
``MAX_PAIR_WORK`` (the Knox table counts each near pair once per permutation).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.predictive.compute.nearrepeat import MAX_EVENTS, MAX_PAIRS, TooMuchWork, knox
from services.predictive.dates import local_midnight
from services.predictive.lists.period import incident_period
from services.predictive.nearrepeat.schemas import (
    NearRepeatRead,
    NearRepeatRequest,
    NearRepeatTable,
)
from shared.errors import InvalidInput
from shared.incidents.models import Incident
from shared.incidents.registry import Precision
from shared.incidents.store import load_points

MAX_PAIR_WORK = 200_000_000  # near pairs x (permutations + 1)
MAX_NAMED = 30  # categories named in a refusal
MAX_LISTED = 50  # categories a page offers, most incidents first
# A Monte Carlo p of (1 + k) / (1 + n) <= 0.05 has exactly that level, so "at most", not "under".
SIGNIFICANT = 0.05


def field_error(field: str, message: str, **extra: Any) -> InvalidInput:
    """A 422 about ``field``: detail ``"<field>: <message>"`` and one field-level error."""
    return InvalidInput(
        f"{field}: {message}", errors=[{"field": field, "message": message}], extra=extra
    )


def significant(observed: float, expected: float, p_value: float) -> bool:
    """A cell with more pairs than expected and a Monte Carlo p of at most ``SIGNIFICANT``."""
    return bool(observed > expected and p_value <= SIGNIFICANT)


def category_counts(
    session: Session, *, categories: list[str], limit: int = MAX_LISTED
) -> list[dict[str, Any]]:
    """The held categories of ``categories`` (all when empty), most incidents first, each with
    its count and how many are dated to the day (only those enter a near-repeat analysis)."""
    by_day = func.count().filter(Incident.time_precision != str(Precision.MONTH))
    q = select(Incident.category, func.count(), by_day).group_by(Incident.category)
    if categories:
        q = q.where(Incident.category.in_(list(categories)))
    rows = session.execute(q.order_by(by_day.desc(), func.count().desc(), Incident.category))
    return [
        {"name": name, "incidents": int(n), "by_day": int(d)}
        for name, n, d in rows.fetchmany(limit)
    ]


def _held_categories(session: Session) -> list[str]:
    return sorted(session.scalars(select(Incident.category).distinct()))


def _resolve(session: Session, wanted: list[str]) -> list[str]:
    """The held category names asked for (without regard to case), each once, in order."""
    held = _held_categories(session)
    by_lower = {c.lower(): c for c in held}
    unknown = [c for c in wanted if c.lower() not in by_lower]
    if unknown:
        named = ", ".join(held[:MAX_NAMED]) + (" ..." if len(held) > MAX_NAMED else "")
        raise field_error(
            "categories",
            f"no incidents of {', '.join(unknown)} are held; the categories held are: "
            f"{named or 'none (import incidents first)'}",
            held=held[:MAX_NAMED],
        )
    return list(dict.fromkeys(by_lower[c.lower()] for c in wanted))


def analyse(session: Session, *, body: NearRepeatRequest) -> NearRepeatRead:
    """One Knox table per category over the window, or a 422 saying what is wrong."""
    cats = _resolve(session, body.categories)
    start = local_midnight(body.date_from)
    end = local_midnight(body.date_to + timedelta(days=1))
    counts: dict[str, tuple[int, int]] = {}
    for cat in cats:
        total, by_month = session.execute(
            select(
                func.count(),
                func.count().filter(Incident.time_precision == str(Precision.MONTH)),
            ).where(
                Incident.category == cat, Incident.occurred_at >= start, Incident.occurred_at < end
            )
        ).one()
        counts[cat] = (int(total), int(by_month))
        if total - by_month > MAX_EVENTS:
            raise field_error(
                "from",
                f"{total - by_month} incidents of {cat} in this window: the analysis takes at "
                f"most {MAX_EVENTS}; shorten the period",
            )
    if all(total == 0 for total, _ in counts.values()):
        period = incident_period(session, categories=cats)
        held = (
            "there are none at all"
            if period.first is None or period.last is None
            else f"they run from {period.first.isoformat()} to {period.last.isoformat()}"
        )
        raise field_error("from", f"no incident data for this window: {held}")
    if all(total == by_month for total, by_month in counts.values()):
        raise field_error(
            "categories",
            "the incidents in this window are dated by month only (police files): a "
            "near-repeat analysis needs the day of each incident",
        )
    max_pairs = min(MAX_PAIRS, MAX_PAIR_WORK // (body.permutations + 1))
    tables = []
    for cat in cats:
        total, by_month = counts[cat]
        if total == 0:
            tables.append(
                NearRepeatTable(category=cat, n_events=0, note="no incident data for this window")
            )
            continue
        if total == by_month:
            why = "dated by month only: a near-repeat analysis needs the day of each incident"
            tables.append(NearRepeatTable(category=cat, n_events=0, note=why))
            continue
        pts = load_points(session, categories=[cat], start=start, end=end)
        keep = ~pts.month_only
        try:
            tab = knox(
                pts.x[keep],
                pts.y[keep],
                pts.t_days()[keep],
                distance_edges_m=tuple(body.distance_bands_m),
                time_edges_days=tuple(body.time_bands_days),
                permutations=body.permutations,
                max_pairs=max_pairs,
            )
        except TooMuchWork as exc:
            raise field_error(
                "distance_bands_m",
                f"{cat}: {exc} (with {body.permutations} permutations); shorten the period, "
                "the last distance band or the permutations",
            ) from exc
        note: str | None = None
        if by_month:
            note = f"{by_month} incidents dated by month only were left out"
        table = tab.as_dict()
        for cell in table["cells"]:
            cell["significant"] = significant(cell["observed"], cell["expected"], cell["p_value"])
        near = significant(tab.observed[0, 0], tab.expected[0, 0], tab.p_value[0, 0])
        tables.append(
            NearRepeatTable(
                category=cat, n_events=tab.n_events, note=note, near_repeat=near, table=table
            )
        )
    return NearRepeatRead(
        date_from=body.date_from,
        date_to=body.date_to,
        permutations=body.permutations,
        tables=tables,
    )
