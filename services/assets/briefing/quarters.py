"""Calendar quarters of the briefing: ``2026Q3`` parsed, bounded and turned into London days.

Pure: no database or web framework. A quarter runs from London midnight on its first day to
London midnight after its last, so a fault logged at 00:30 BST on 1 April is in Q2.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

from services.assets.clock import london_midnight

# "2026Q3", "2026-Q3", "2026 q3"; anything longer than this is no quarter.
MAX_QUARTER_TEXT = 12
# No fault, decision or footage request in this register predates 2000 (faults.service says so
# for faults); a stray older date elsewhere does not stretch the picker back to year 1.
EARLIEST_YEAR = 2000
_QUARTER = re.compile(r"(\d{4})[ -]?[Qq]([1-4])")
_MONTHS = (
    "January February March April May June July August September October November December"
).split()


class QuarterError(ValueError):
    """The quarter asked for is not one the briefing can show (the message says why)."""


@dataclass(frozen=True, order=True)
class Quarter:
    """One calendar quarter: ``year`` and ``number`` (1 = January to March)."""

    year: int
    number: int

    @property
    def code(self) -> str:
        """``2026Q3``: the form the page's links and picker use."""
        return f"{self.year}Q{self.number}"

    @property
    def label(self) -> str:
        """``2026 Q3``."""
        return f"{self.year} Q{self.number}"

    @property
    def months(self) -> str:
        """``July to September 2026``."""
        first = _MONTHS[3 * (self.number - 1)]
        last = _MONTHS[3 * (self.number - 1) + 2]
        return f"{first} to {last} {self.year}"

    @property
    def first_day(self) -> date:
        """The quarter's first day."""
        return date(self.year, 3 * (self.number - 1) + 1, 1)

    @property
    def last_day(self) -> date:
        """The quarter's last day."""
        nxt = self.next().first_day
        return date.fromordinal(nxt.toordinal() - 1)

    @property
    def start(self) -> datetime:
        """London midnight at the start of the first day (aware, UTC)."""
        return london_midnight(self.first_day)

    @property
    def end(self) -> datetime:
        """London midnight after the last day (aware, UTC): the quarter is [start, end)."""
        return london_midnight(self.next().first_day)

    def next(self) -> Quarter:
        """The quarter after this one."""
        return (
            Quarter(self.year + 1, 1) if self.number == 4 else Quarter(self.year, self.number + 1)
        )

    def previous(self) -> Quarter:
        """The quarter before this one."""
        return (
            Quarter(self.year - 1, 4) if self.number == 1 else Quarter(self.year, self.number - 1)
        )

    @classmethod
    def containing(cls, day: date) -> Quarter:
        """The quarter holding ``day``."""
        return cls(day.year, (day.month - 1) // 3 + 1)


def parse_quarter(raw: str) -> Quarter:
    """``2026Q3`` (or ``2026-Q3``, ``2026 q3``) as a Quarter; QuarterError naming the problem."""
    text = raw.strip()
    match = _QUARTER.fullmatch(text) if len(text) <= MAX_QUARTER_TEXT else None
    if match is None:
        shown = text if len(text) <= 40 else text[:40] + "\u2026"
        raise QuarterError(
            f"\u201c{shown}\u201d is not a quarter: write the year and the quarter, e.g. 2026Q3"
        )
    return Quarter(int(match.group(1)), int(match.group(2)))


@dataclass(frozen=True)
class QuarterRange:
    """The quarters the briefing can show: from ``first`` to ``last`` (the current one)."""

    first: Quarter
    last: Quarter

    def check(self, quarter: Quarter) -> Quarter:
        """``quarter`` when inside the range, else QuarterError saying which end it passed."""
        if quarter > self.last:
            raise QuarterError(
                f"{quarter.label} has not begun: the latest quarter is {self.last.label}"
            )
        if quarter < self.first:
            raise QuarterError(
                f"{quarter.label} is before the register's records begin "
                f"(the earliest quarter is {self.first.label})"
            )
        return quarter

    def quarters(self) -> list[Quarter]:
        """Every quarter in the range, newest first."""
        out, q = [], self.last
        while q >= self.first:
            out.append(q)
            q = q.previous()
        return out


def quarter_range(*, first_year: int | None, today: date) -> QuarterRange:
    """From January of ``first_year`` (the data's first year; capped at the default quarter's
    year) to the quarter holding ``today``."""
    current = Quarter.containing(today)
    default = current.previous()
    year = min(first_year, default.year) if first_year is not None else default.year
    return QuarterRange(Quarter(max(year, EARLIEST_YEAR), 1), current)


def default_quarter(today: date) -> Quarter:
    """The last full quarter before ``today``."""
    return Quarter.containing(today).previous()
