"""What incident data a run can read: the period each source covers, and whether a window of days
holds any incident (with the same filters a run's check uses, so "no incidents" here is exactly
the 422 a POST would meet), and the window of the same length ending on the newest day with data.

Days are UTC days, as a run's ``from``/``to`` are. A month-only source (data.police.uk) dates
each incident on the 1st of its month, so its data cover up to the last day of its newest month
while the newest *day* with data is that month's 1st.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Date, cast, func, select
from sqlalchemy.orm import Session

from services.hotspots.compute.errors import field_error
from services.hotspots.compute.points import day_after, day_start
from shared.incidents.coverage import held, source_days
from shared.incidents.models import Incident
from shared.incidents.registry import SOURCES

Box = tuple[float, float, float, float]

# How a page names each source of the incident registry (a test holds it to the registry).
SOURCE_LABELS: dict[str, str] = {
    "police": "Crime and ASB",
    "stats19": "Road collisions",
    "water": "Water incidents",
    "fire": "Fires",
    "generic": "Other incidents",
}
# A suggested window when the chosen one has an open end: this many days.
DEFAULT_WINDOW_DAYS = 90


def source_label(source: str) -> str:
    """The plain name of an incident source ("Crime and ASB" for police)."""
    return SOURCE_LABELS.get(source, source)


def check_filters(*, sources: Sequence[str] | None, from_: date | None, to: date | None) -> None:
    """Refuse (422) a window ending before it starts and a source the registry does not know."""
    if from_ and to and to < from_:
        raise field_error("to", "must not be before from")
    for s in sources or []:
        if s not in SOURCES:
            raise field_error("sources", f"unknown source {s!r}; choose from {', '.join(SOURCES)}")


# How many of the held categories a refusal names.
NAMED_CATEGORIES = 30


def resolve_categories(
    session: Session, categories: Sequence[str] | None, *, strict: bool = True
) -> list[str] | None:
    """The held categories that ``categories`` name, matched without regard to case.

    "burglary" gives "Burglary" (and every other spelling held, such as "BURGLARY" from another
    source). A name matching nothing is a 422 naming the categories held when ``strict``, and
    kept as given otherwise (so it matches nothing). None or empty: no filter.
    """
    if not categories:
        return None
    wanted = {c.lower(): c for c in categories}
    held = session.scalars(
        select(Incident.category)
        .where(func.lower(Incident.category).in_(list(wanted)))
        .group_by(Incident.category)
        .order_by(Incident.category)
    ).all()
    found = {h.lower() for h in held}
    missing = [c for k, c in wanted.items() if k not in found]
    if missing and strict:
        names = session.scalars(
            select(Incident.category).group_by(Incident.category).order_by(Incident.category)
        ).all()
        shown = ", ".join(names[:NAMED_CATEGORIES])
        if len(names) > NAMED_CATEGORIES:
            shown += ", ..."
        raise field_error(
            "categories",
            f"no incidents of the category {missing[0]!r}; the categories held are: "
            f"{shown or 'none (no incidents imported)'}",
        )
    return sorted(set(held) | set(missing))


def incident_filters(
    *,
    sources: Sequence[str] | None,
    categories: Sequence[str] | None,
    from_: date | None,
    to: date | None,
    box: Box,
) -> list[ColumnElement[bool]]:
    """WHERE clauses over ``incidents.incidents`` for a run's filters (``to`` inclusive)."""
    out: list[ColumnElement[bool]] = [Incident.geom.intersects(func.ST_MakeEnvelope(*box, 27700))]
    if sources:
        out.append(Incident.source.in_(list(sources)))
    if categories:
        out.append(Incident.category.in_(list(categories)))
    if from_ is not None:
        out.append(Incident.occurred_at >= day_start(from_))
    if to is not None:
        out.append(Incident.occurred_at < day_after(to))
    return out


def sources_read(
    session: Session,
    *,
    sources: Sequence[str] | None,
    categories: Sequence[str] | None,
    from_: date | None,
    to: date | None,
    box: Box,
) -> list[str]:
    """The sources holding incidents that match these filters (what a run reads from)."""
    where = incident_filters(sources=sources, categories=categories, from_=from_, to=to, box=box)
    q = select(Incident.source).where(*where).group_by(Incident.source).order_by(Incident.source)
    return list(session.scalars(q))


@dataclass(frozen=True)
class SourcePeriod:
    """The days one source's incidents cover and how many there are."""

    source: str
    label: str
    first_day: date
    last_day: date  # the last day covered: a month-only source's newest month's last day
    newest_day: date  # the day the newest incident is dated on
    by_month: bool
    incidents: int


def _utc_day(column: Any) -> Any:
    return cast(func.timezone("UTC", column), Date)


def source_periods(session: Session, *, box: Box) -> list[SourcePeriod]:
    """Each source with incidents (inside ``box``), in the registry's order (UTC days)."""
    inside = Incident.geom.intersects(func.ST_MakeEnvelope(*box, 27700))
    order = {name: i for i, name in enumerate(SOURCES)}
    out = [
        SourcePeriod(
            source=d.source,
            label=source_label(d.source),
            first_day=d.first_day,
            last_day=d.last_day,
            newest_day=d.newest_day,
            by_month=d.by_month,
            incidents=d.count,
        )
        for d in source_days(held(session, where=[inside]), tz=UTC)
    ]
    return sorted(out, key=lambda p: (order.get(p.source, len(order)), p.source))


def category_counts(session: Session, *, box: Box) -> dict[str, list[tuple[str, int]]]:
    """Per source, its categories (crime types) with their counts, most frequent first.

    Spellings that differ only in case count as one category, named by its commonest spelling.
    """
    q = (
        select(Incident.source, Incident.category, func.count())
        .where(Incident.geom.intersects(func.ST_MakeEnvelope(*box, 27700)))
        .group_by(Incident.source, Incident.category)
        .order_by(Incident.source, func.count().desc(), Incident.category)
    )
    merged: dict[str, dict[str, list[tuple[str, int]]]] = {}
    for source, category, n in session.execute(q):
        merged.setdefault(source, {}).setdefault(category.lower(), []).append((category, int(n)))
    out: dict[str, list[tuple[str, int]]] = {}
    for source, groups in merged.items():
        rows = [(spellings[0][0], sum(n for _, n in spellings)) for spellings in groups.values()]
        out[source] = sorted(rows, key=lambda r: (-r[1], r[0]))
    return out


@dataclass(frozen=True)
class Window:
    """A window of days checked for incidents, and where the newest data are if it has none."""

    from_: date | None
    to: date | None
    incidents: int
    newest_day: date | None  # newest day with data for these sources and categories
    suggested_from: date | None  # the window's length ending on newest_day (when it has none)
    suggested_to: date | None


def check_window(
    session: Session,
    *,
    sources: Sequence[str] | None,
    categories: Sequence[str] | None,
    from_: date | None,
    to: date | None,
    box: Box,
) -> Window:
    """How many incidents the window holds; if none, the same-length window ending on the
    newest day with data for these sources and categories (90 days for an open-ended one)."""
    where = incident_filters(sources=sources, categories=categories, from_=from_, to=to, box=box)
    n = int(session.scalar(select(func.count()).select_from(Incident).where(*where)) or 0)
    any_time = incident_filters(
        sources=sources, categories=categories, from_=None, to=None, box=box
    )
    newest = session.scalar(select(func.max(_utc_day(Incident.occurred_at))).where(*any_time))
    s_from = s_to = None
    if n == 0 and newest is not None:
        s_from, s_to = suggest_window(from_, to, newest)
    return Window(from_, to, n, newest, s_from, s_to)


def suggest_window(from_: date | None, to: date | None, newest: date) -> tuple[date, date]:
    """The window of the same length as [from_, to] ending on ``newest`` (inclusive days)."""
    days = (to - from_).days + 1 if from_ is not None and to is not None else DEFAULT_WINDOW_DAYS
    days = max(days, 1)
    return newest - timedelta(days=days - 1), newest
