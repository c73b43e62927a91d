"""The registry of incident sources: the one list the parsers, store, API and CLIs read (#12).

Expected values come from outside the registry: the OpenAPI document saved before the move,
the lists the CLIs kept by hand before it, migration 0001's CHECK text and the rows the
parsers actually produce.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from shared.incidents.models import PRECISION_CHECK
from shared.incidents.parsers import parse_file
from shared.incidents.parsers.generic import parse_generic_csv
from shared.incidents.registry import (
    NAME_MAX,
    SOURCES,
    Precision,
    Reader,
    SourceFormat,
    SourceRegistry,
    UnknownSource,
    default_sources,
)
from tests.fixtures.make_stats19 import make_collisions_csv

ROOT = Path(__file__).resolve().parents[3]
SAMPLE = ROOT / "tests" / "fixtures" / "incidents" / "water_incidents_sample.csv"
POLICE = ROOT.parent / "shared" / "data" / "police" / "2022-01-kent-street-medway.csv"
GENERIC = "shared.incidents.parsers.generic:READER"


def _saved_upload_enum() -> list[str]:
    doc = json.loads((ROOT / "tests" / "fixtures" / "openapi" / "hotspots.json").read_text())
    body = doc["paths"]["/incidents/imports"]["post"]["requestBody"]
    props = body["content"]["multipart/form-data"]["schema"]["properties"]
    return list(props["source"]["enum"])


def test_names_are_the_upload_enum_clients_were_given() -> None:
    assert (
        list(SOURCES) == _saved_upload_enum() == ["police", "stats19", "water", "fire", "generic"]
    )


def test_file_formats_are_the_lists_the_clis_kept_by_hand() -> None:
    # hotspots --format took police | stats19 | generic, predictive --format police | generic.
    assert SOURCES.file_formats() == ("police", "stats19", "generic")
    assert SOURCES.file_formats(forecast=True) == ("police", "generic")


def test_every_reader_loads() -> None:
    for name in SOURCES:
        reader = SOURCES.reader(name)
        assert isinstance(reader, Reader)
        assert callable(reader.parse_csv) and callable(reader.skip_member)
    assert SOURCES.reader("water") is SOURCES.reader("generic")


def test_unknown_source_names_the_choices() -> None:
    with pytest.raises(UnknownSource, match="unknown source 'graffiti'; choose one of police, "):
        SOURCES.lookup("graffiti")
    with pytest.raises(ValueError, match="unknown source"):
        parse_file(SAMPLE, source="graffiti")


def test_precision_check_is_the_migrations_text() -> None:
    migration = (ROOT / "shared" / "migrations" / "versions" / "0001_core.py").read_text()
    assert f'"{PRECISION_CHECK}"' in migration
    assert {p.value for p in Precision} == {"exact", "month"}


@pytest.mark.skipif(not POLICE.exists(), reason="real police files not found")
def test_month_only_matches_what_the_parsers_produce(tmp_path: Path) -> None:
    stats19 = make_collisions_csv(tmp_path / "c.csv", n=30, seed=3)
    for source, path in (("police", POLICE), ("stats19", stats19)):
        (result,) = parse_file(path, source=source)
        precisions = {r.time_precision for r in result.rows}
        assert result.rows and all(r.source == source for r in result.rows)
        assert precisions == ({"month"} if SOURCES[source].month_only else {"exact"}), source


def test_a_generic_source_gives_its_rows_its_own_name() -> None:
    for name in ("water", "fire", "generic"):
        (result,) = parse_file(SAMPLE, source=name)
        assert result.rows and {r.source for r in result.rows} == {name}


def test_the_generic_parser_refuses_sources_of_another_layout() -> None:
    for name in ("police", "stats19"):
        with pytest.raises(ValueError, match="bad source for a generic file"):
            parse_generic_csv(SAMPLE, source=name)


def test_register_returns_a_new_registry_that_parse_file_can_use() -> None:
    graffiti = SourceFormat("graffiti", "council graffiti reports", "generic", GENERIC)
    more = SOURCES.register(graffiti)
    assert list(more) == [*SOURCES, "graffiti"]
    assert "graffiti" not in SOURCES and "graffiti" not in default_sources
    (result,) = parse_file(SAMPLE, source="graffiti", sources=more)
    assert result.rows and {r.source for r in result.rows} == {"graffiti"}
    with pytest.raises(ValueError, match="already registered: graffiti"):
        more.register(graffiti)
    renamed = SourceFormat("graffiti", "graffiti v2", "generic", GENERIC)
    assert more.register(renamed, overwrite=True)["graffiti"].description == "graffiti v2"


@pytest.mark.parametrize(
    ("fmt", "reason"),
    [
        (SourceFormat("Graffiti", "upper case", "generic", GENERIC), "bad source name"),
        (SourceFormat("g" * (NAME_MAX + 1), "too long", "generic", GENERIC), "bad source name"),
        (SourceFormat("tags", "no such layout", "graffiti", GENERIC), "format 'graffiti'"),
        (SourceFormat("tags", "reader differs", "generic", "x.y:READER"), "file format 'generic'"),
    ],
)
def test_entries_the_suite_could_not_use_are_refused(fmt: SourceFormat, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        SOURCES.register(fmt)


def test_an_entry_under_another_name_is_refused() -> None:
    with pytest.raises(ValueError, match="registered under"):
        SourceRegistry({"other": SOURCES["police"]})


def test_reading_the_names_imports_no_parser() -> None:
    # The CLIs read the registry when they are imported: ``csp --help`` must not pay for numpy.
    code = (
        "import sys, shared.incidents.registry as r; r.SOURCES.file_formats(); "
        "print(sorted(m for m in ('numpy', 'pyproj', 'shared.incidents.parsers') "
        "if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"
