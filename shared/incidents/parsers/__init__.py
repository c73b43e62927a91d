"""Pure parsers that turn incident files into validated rows and a list of rejected rows.

``parse_file`` reads a CSV or a zip of CSVs for any source in the registry
(``shared.incidents.registry``), with that source's reader. The package holds one module per
file layout (``police``: data.police.uk street-level crime; ``stats19``: DfT road collisions;
``generic``: the ``id,timestamp,longitude,latitude,category[,weight]`` CSV of the water, fire
and other sources), ``archives`` (zips), ``common`` (the steps every CSV goes through) and
``results`` (rows, rejected rows, limits). Text decoding is ``shared.textfiles``; the record
splitter ``shared.incidents.records``. No database here: persistence is ``store``.
"""

from __future__ import annotations

from pathlib import Path

from shared.extent import Extent
from shared.incidents.parsers.archives import parse_zip
from shared.incidents.parsers.results import DEFAULT_LIMITS, Limits, ParseResult, PathOrFile
from shared.incidents.registry import SOURCES, SourceRegistry


def parse_file(
    path: str | Path,
    *,
    source: str,
    limits: Limits | None = None,
    extent: Extent | None = None,
    sources: SourceRegistry = SOURCES,
) -> list[ParseResult]:
    """Parse a CSV or zip of CSVs for ``source``, a name in ``sources`` (the registry).

    Rows outside ``extent`` (default: the bundled partnership outline with its default margin)
    are reported; rows in its margin are kept with a warning. Raises FileRejected, before
    parsing anything, for a file over ``limits`` (default ``DEFAULT_LIMITS``), a zip bomb or an
    unreadable zip; ValueError for another file type or a source not in ``sources``.
    """
    p = Path(path)
    lim = limits or DEFAULT_LIMITS
    suffix = p.suffix.lower()
    if suffix not in (".csv", ".zip"):
        raise ValueError(f"unsupported file type {p.suffix!r}: expected .csv or .zip")
    reader = sources.reader(source)

    def parse(file: PathOrFile, name: str | None, max_bytes: int) -> ParseResult:
        return reader.parse_csv(file, source=source, name=name, max_bytes=max_bytes, extent=extent)

    if suffix == ".zip":
        return parse_zip(p, parse, reader.skip_member, lim)
    return [parse(p, None, lim.max_file_bytes)]
