"""The registry of incident sources: each name with its reader, description and time precision.

The one list of incident sources. ``parse_file`` dispatches through it, the store imports only
its names, and the upload API's ``source`` enum and the CLIs' ``--source`` and ``--format``
choices are read from it; ``Precision`` gives the ``time_precision`` CHECK. Modelled on
titiler's algorithm registry (a ``default_sources`` dict and an immutable registry whose
``register`` returns a new one) and pygeoapi's ``PLUGINS`` (each reader is named by its dotted
path and imported on first use, so reading the names costs nothing and ``csp --help`` stays
fast). Pure: standard library only.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from types import MappingProxyType
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from shared.extent import Extent
    from shared.incidents.parsers.results import ParseResult, PathOrFile

# Width of the ``source`` columns of incidents.incidents and incidents.imports.
NAME_MAX = 20
SOURCE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


class Precision(StrEnum):
    """How exactly an incident's ``occurred_at`` is known (``incidents.time_precision``)."""

    EXACT = "exact"
    MONTH = "month"


class ParseCsv(Protocol):
    """A CSV parser of one file layout, giving its rows the ``source`` name."""

    def __call__(
        self,
        path_or_fileobj: PathOrFile,
        /,
        *,
        source: str,
        name: str | None = None,
        max_bytes: int | None = None,
        extent: Extent | None = None,
    ) -> ParseResult:
        """Parse one CSV file (or stream) into rows for ``source`` and rejected rows."""
        ...


@dataclass(frozen=True)
class Reader:
    """How files of one layout are read: the CSV parser, and why a zip member is not read."""

    parse_csv: ParseCsv
    skip_member: Callable[[str], str | None]


@dataclass(frozen=True)
class SourceFormat:
    """One incident source: its name, what its files hold and how they are read.

    ``file_format`` is the layout its files follow: its own name for a source that defines one
    (police, stats19, generic), else the source whose layout it shares (water and fire files are
    generic CSVs). ``reader`` is the ``"module:attribute"`` of that layout's ``Reader``.
    ``month_only``: every time is a month (data.police.uk gives no days); otherwise times are
    exact, and a row that knows less says so (a STATS19 row without a time, a generic YYYY-MM).
    ``forecast``: daily target lists may be forecast from it (crime, ASB, fires).
    """

    name: str
    description: str
    file_format: str
    reader: str
    month_only: bool = False
    forecast: bool = False


class UnknownSource(ValueError):
    """A source name that is not in the registry."""


class SourceRegistry(Mapping[str, SourceFormat]):
    """An immutable registry of incident sources, in registration order (name -> SourceFormat)."""

    def __init__(self, formats: Mapping[str, SourceFormat]) -> None:
        for key, fmt in formats.items():
            _check(key, fmt, formats)
        self._data = MappingProxyType(dict(formats))

    def __getitem__(self, name: str) -> SourceFormat:
        return self._data[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"SourceRegistry({', '.join(self)})"

    def lookup(self, name: str) -> SourceFormat:
        """The source called ``name``; UnknownSource (a ValueError) naming the choices if none."""
        try:
            return self._data[name]
        except KeyError:
            raise UnknownSource(
                f"unknown source {name!r}; choose one of {', '.join(self)}"
            ) from None

    def file_formats(self, *, forecast: bool | None = None) -> tuple[str, ...]:
        """The file layouts, in registration order (for ``forecast``: of such sources only)."""
        chosen = (f for f in self._data.values() if forecast is None or f.forecast == forecast)
        return tuple(dict.fromkeys(f.file_format for f in chosen))

    def reader(self, name: str) -> Reader:
        """The reader of source ``name``'s files, imported on first use."""
        return _load_reader(self.lookup(name).reader)

    def register(self, *formats: SourceFormat, overwrite: bool = False) -> SourceRegistry:
        """A new registry with ``formats`` added; this one is unchanged (titiler's ``register``).

        A name already registered is refused unless ``overwrite``.
        """
        taken = [f.name for f in formats if f.name in self._data]
        if taken and not overwrite:
            raise ValueError(f"sources already registered: {', '.join(taken)}")
        return SourceRegistry({**self._data, **{f.name: f for f in formats}})


def _check(key: str, fmt: SourceFormat, formats: Mapping[str, SourceFormat]) -> None:
    """Refuse an entry whose name or file format the rest of the suite could not use."""
    if key != fmt.name:
        raise ValueError(f"source {fmt.name!r} registered under {key!r}")
    if not SOURCE_NAME.match(fmt.name) or len(fmt.name) > NAME_MAX:
        raise ValueError(f"bad source name {fmt.name!r} (a-z, 0-9, _; at most {NAME_MAX})")
    owner = formats.get(fmt.file_format)
    if owner is None or owner.file_format != fmt.file_format or owner.reader != fmt.reader:
        # parse_file(source=<file format>) must read that layout with the same reader.
        raise ValueError(
            f"source {fmt.name!r}: file format {fmt.file_format!r} is not a source that "
            f"defines it with reader {fmt.reader!r}"
        )


@cache
def _load_reader(path: str) -> Reader:
    module, _, attribute = path.partition(":")
    reader = getattr(importlib.import_module(module), attribute)
    if not isinstance(reader, Reader):
        raise TypeError(f"{path} is not a Reader")
    return reader


_PARSERS = "shared.incidents.parsers"
_GENERIC = f"{_PARSERS}.generic:READER"

default_sources: dict[str, SourceFormat] = {
    f.name: f
    for f in (
        SourceFormat(
            "police",
            "data.police.uk street-level crime and ASB: a monthly CSV or the zip of months",
            file_format="police",
            reader=f"{_PARSERS}.police:READER",
            month_only=True,
            forecast=True,
        ),
        SourceFormat(
            "stats19",
            "DfT STATS19 road collisions, weighted by the chance of a killed or serious injury",
            file_format="stats19",
            reader=f"{_PARSERS}.stats19:READER",
        ),
        SourceFormat("water", "water incidents, as a generic CSV", "generic", _GENERIC),
        SourceFormat(
            "fire", "fire-service incidents, as a generic CSV", "generic", _GENERIC, forecast=True
        ),
        SourceFormat(
            "generic",
            "other incidents: id,timestamp,longitude,latitude,category[,weight] CSV",
            file_format="generic",
            reader=_GENERIC,
            forecast=True,
        ),
    )
}

SOURCES = SourceRegistry(default_sources)
