"""Broken files through the real entry points on PostGIS: the incidents store and CLI, the camera
register import API, and the CSV exports. Every case comes from tests/fixtures/bad_files.py.

What each test checks: bad lines are reported with their line and reason, good rows are kept,
a refused or failed import leaves no row behind (counts in PostGIS before/after), a re-import adds
nothing, and exported CSV cells that a spreadsheet would run as formulas are neutralised.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from shared.incidents.models import Incident, IncidentImport
from shared.incidents.store import import_file
from tests.fixtures import bad_files as bf

runner = CliRunner()
DANGEROUS = ("=", "+", "-", "@", "\t", "\r")


def _counts(s: Session) -> tuple[int, int]:
    """(incidents, import records) in PostGIS."""
    n = s.scalar(select(func.count()).select_from(Incident))
    m = s.scalar(select(func.count()).select_from(IncidentImport))
    return int(n or 0), int(m or 0)


def _errors(rec: IncidentImport) -> dict[int, str]:
    return {int(e["line"]): str(e["reason"]) for e in rec.errors}


def _check_bad(got: dict[int, str], case: bf.Case) -> None:
    assert got.keys() == case.bad.keys(), got
    for line, fragment in case.bad.items():
        assert fragment in got[line], (line, got[line])


# ------------------------------------------------------------------------------------------
# (a) incidents: store functions and the CLI
# ------------------------------------------------------------------------------------------

ROW_CASES = [
    bf.build_wrong_columns,
    bf.build_reordered_columns,
    bf.build_cp1252,
    bf.build_latin1,
    bf.build_utf16_le_bom,
    bf.build_utf16_be_bom,
    bf.build_utf16_le_no_bom,
    bf.build_utf8_bom,
    bf.build_bad_coordinates,
    bf.build_empty,
    bf.build_header_only,
    bf.build_duplicated_rows,
    bf.build_formula_cells,
    bf.build_line_separators,
    bf.build_nul_bytes,
    bf.build_png_as_csv,
    bf.build_pdf_as_csv,
    bf.build_xlsx_as_csv,
    bf.build_zip_as_csv,
    bf.build_random_bytes_as_csv,
    bf.build_html_as_csv,
]


@pytest.mark.parametrize("builder", ROW_CASES, ids=lambda b: b.__name__.removeprefix("build_"))
def test_police_csv_case_reports_lines_keeps_good_rows_reimports_nothing(
    builder: Callable[[Path], bf.Case], db_session: Any, tmp_path: Path
) -> None:
    case = builder(tmp_path)
    n0, m0 = _counts(db_session)
    (rec,) = import_file(db_session, case.path, source="police")
    assert rec.rows_added == case.good and rec.rows_rejected == len(case.bad)
    _check_bad(_errors(rec), case)
    stored = db_session.scalar(
        select(func.count()).select_from(Incident).where(Incident.import_id == rec.id)
    )
    assert stored == case.good and _counts(db_session) == (n0 + case.good, m0 + 1)
    (again,) = import_file(db_session, case.path, source="police")
    assert (again.rows_added, again.rows_existing) == (0, case.good)
    assert _counts(db_session) == (n0 + case.good, m0 + 2)


@pytest.mark.parametrize(
    ("builder", "codec"),
    [
        (bf.build_cp1252, "cp1252"),
        (bf.build_latin1, "latin-1"),
        (bf.build_utf16_le_bom, "utf-16"),
        (bf.build_utf16_be_bom, "utf-16"),
        (bf.build_utf16_le_no_bom, "utf-16-le"),
    ],
    ids=["cp1252", "latin1", "utf16le-bom", "utf16be-bom", "utf16le-nobom"],
)
def test_stored_text_matches_an_independent_decode(
    builder: Callable[[Path], bf.Case], codec: str, db_session: Any, tmp_path: Path
) -> None:
    case = builder(tmp_path)
    rows = list(csv.DictReader(io.StringIO(case.path.read_bytes().decode(codec).lstrip("\ufeff"))))
    (rec,) = import_file(db_session, case.path, source="police")
    got = dict(
        db_session.execute(
            text(
                "SELECT (attributes->>'line')::int, attributes->>'location' "
                "FROM incidents.incidents WHERE import_id = :i"
            ),
            {"i": rec.id},
        ).all()
    )
    assert len(got) == len(rows) == case.good
    assert {line: rows[line - 2]["Location"] for line in got} == got
    assert all(not set(got[line]).issubset(set("?\ufffd")) for line in case.lines)


def test_coordinates_projected_like_postgis_and_margin_rows_kept_with_a_warning(
    db_session: Any, tmp_path: Path
) -> None:
    case = bf.build_bad_coordinates(tmp_path)
    (rec,) = import_file(db_session, case.path, source="police")
    _check_bad(_errors(rec), case)
    rows = list(csv.DictReader(case.path.open(encoding="utf-8", newline="")))
    lonlat = {
        i + 2: (float(r["Longitude"]), float(r["Latitude"]))
        for i, r in enumerate(rows)
        if i + 2 not in case.bad
    }
    # PostGIS's own transform of the file's lon/lat is an independent check of the projection
    for line, (x, y) in lonlat.items():
        d = db_session.scalar(
            text(
                "SELECT ST_Distance(geom, ST_Transform(ST_SetSRID(ST_MakePoint(:x, :y), 4326), "
                "27700)) FROM incidents.incidents "
                "WHERE import_id = :i AND (attributes->>'line')::int = :line"
            ),
            {"i": rec.id, "line": line, "x": x, "y": y},
        )
        assert d is not None and d < 10.0, (line, d)
    # Maidstone lies outside Medway but inside the margin: kept, and the warning names its line
    (maidstone,) = case.lines
    assert maidstone in lonlat
    assert any(case.note in w for w in rec.warnings), rec.warnings
    inside = db_session.scalar(
        text(
            "SELECT count(*) FROM incidents.incidents WHERE import_id = :i AND "
            "ST_Intersects(geom, ST_MakeEnvelope(560000, 155000, 590000, 180000, 27700))"
        ),
        {"i": rec.id},
    )
    assert inside == case.good


def test_formula_text_stored_verbatim_and_flagged(db_session: Any, tmp_path: Path) -> None:
    case = bf.build_formula_cells(tmp_path)
    result_rows = list(csv.reader(case.path.open(encoding="utf-8", newline="")))
    header = result_rows[0]
    (rec,) = import_file(db_session, case.path, source="police")
    assert rec.rows_added == case.good
    for line in case.lines:
        raw = dict(zip(header, result_rows[line - 1], strict=True))
        loc, ctx = db_session.execute(
            text(
                "SELECT attributes->>'location', attributes->>'context' FROM incidents.incidents "
                "WHERE import_id = :i AND (attributes->>'line')::int = :line"
            ),
            {"i": rec.id, "line": line},
        ).one()
        assert (loc, ctx) == (raw["Location"].strip() or None, raw["Context"].strip() or None)
        assert (loc or "").startswith(DANGEROUS) or (ctx or "").startswith(DANGEROUS)


def test_large_but_allowed_file(db_session: Any, tmp_path: Path) -> None:
    case = bf.build_large_allowed(tmp_path, months=3)
    size = case.path.stat().st_size
    n0, _ = _counts(db_session)
    (rec,) = import_file(db_session, case.path, source="police")
    assert rec.rows_added == case.good > 8000 and rec.rows_rejected == 0
    assert _counts(db_session)[0] == n0 + case.good and size > 1_500_000


def test_generic_cases_on_the_store(db_session: Any, tmp_path: Path) -> None:
    for case in (bf.build_overlong_values(tmp_path), bf.build_generic_duplicates(tmp_path)):
        n0, _ = _counts(db_session)
        (rec,) = import_file(db_session, case.path, source="water")
        assert rec.rows_added == case.good
        _check_bad(_errors(rec), case)
        assert _counts(db_session)[0] == n0 + case.good
        (again,) = import_file(db_session, case.path, source="water")
        assert again.rows_added == 0 and _counts(db_session)[0] == n0 + case.good


@pytest.mark.parametrize(
    "builder",
    [bf.build_nested_zip, bf.build_path_traversal, bf.build_corrupt_member],
    ids=["nested", "traversal", "corrupt-member"],
)
def test_zip_members_reported_good_months_kept(
    builder: Callable[[Path], bf.Case], db_session: Any, tmp_path: Path
) -> None:
    case = builder(tmp_path)
    n0, m0 = _counts(db_session)
    records = import_file(db_session, case.path, source="police")
    assert sum(r.rows_added for r in records) == case.good
    refused = [r for r in records if r.rows_rejected]
    assert refused and all(case.note in r.errors[0]["reason"] for r in refused)
    assert all(r.errors[0]["line"] == 0 and r.rows_added == 0 for r in refused)
    assert _counts(db_session) == (n0 + case.good, m0 + len(records))
    again = import_file(db_session, case.path, source="police")
    assert sum(r.rows_added for r in again) == 0 and _counts(db_session)[0] == n0 + case.good
    assert not (tmp_path.parent / "2022-02").exists() and not Path("/tmp/2022-03").exists()


@pytest.fixture()
def cli(db_session: Any, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Any]:
    """Run ``csp incidents import`` with its session on the test's rolled-back connection."""
    import shared.cli

    conn = db_session.connection()

    def session() -> Session:
        return Session(bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False)

    monkeypatch.setattr(shared.cli, "_session", session)

    def run(*files: Path, source: str = "police") -> Any:
        args = ["incidents", "import", *map(str, files), "--source", source]
        import csp.cli

        return runner.invoke(csp.cli.app, args)

    return run


REFUSED = [
    bf.build_zip_bomb,
    bf.build_ratio_bomb,
    bf.build_many_members,
    bf.build_truncated_zip,
    bf.build_oversized,
]


@pytest.mark.parametrize("builder", REFUSED, ids=lambda b: b.__name__.removeprefix("build_"))
def test_cli_refuses_whole_file_in_one_line_and_writes_nothing(
    builder: Callable[[Path], bf.Case], cli: Callable[..., Any], db_session: Any, tmp_path: Path
) -> None:
    good = bf.build_header_only(tmp_path)
    case = builder(tmp_path)
    before = _counts(db_session)
    out = cli(good.path, case.path)
    assert out.exit_code == 1, out.output
    assert out.output.count("error:") == 1
    said = " ".join(out.output.split("error:", 1)[1].split())  # rich wraps long lines
    assert case.path.name in said and case.note in said and "FileRejected" in said, said
    assert "Traceback" not in out.output
    # the good file named first was committed on its own; the refused file left nothing
    assert _counts(db_session) == (before[0], before[1] + 1)


def test_cli_reports_bad_lines_and_keeps_good_rows(
    cli: Callable[..., Any], db_session: Any, tmp_path: Path
) -> None:
    case = bf.build_bad_coordinates(tmp_path)
    n0, _ = _counts(db_session)
    out = cli(case.path)
    assert out.exit_code == 0, out.output
    for line, fragment in case.bad.items():
        (shown,) = [s for s in out.output.splitlines() if f"{case.path.name}:{line}:" in s]
        assert fragment in shown
    assert f"{len(case.bad)} row(s) rejected" in out.output
    assert _counts(db_session)[0] == n0 + case.good
    again = cli(case.path)
    assert again.exit_code == 0 and _counts(db_session)[0] == n0 + case.good


def test_cli_failure_mid_zip_rolls_back_every_month(
    cli: Callable[..., Any], db_session: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database fails after the first month of a zip is written: nothing of the zip stays."""
    import shared.incidents.store as store

    case = bf.build_good_zip(tmp_path, months=3, rows=20)
    real_copy = store._copy_rows
    calls = {"n": 0}

    def copy_then_fail(session: Session, rows: Any, *, import_id: int) -> int:
        calls["n"] += 1
        added = real_copy(session, rows, import_id=import_id)
        if calls["n"] == 2:
            session.execute(text("SELECT 1/0"))  # a real database error, half-way through
        return added

    monkeypatch.setattr(store, "_copy_rows", copy_then_fail)
    before = _counts(db_session)
    out = cli(case.path)
    assert out.exit_code == 1 and "DivisionByZero" in out.output
    assert calls["n"] == 2 and _counts(db_session) == before
    monkeypatch.setattr(store, "_copy_rows", real_copy)
    ok = cli(case.path)
    assert ok.exit_code == 0 and _counts(db_session)[0] == before[0] + case.good


def test_cli_shows_file_warnings(cli: Callable[..., Any], tmp_path: Path) -> None:
    case = bf.build_formula_cells(tmp_path)
    out = cli(case.path)
    assert out.exit_code == 0 and "kept as text" in " ".join(out.output.split())


# ------------------------------------------------------------------------------------------
# (b) camera register: POST /cameras/import
# ------------------------------------------------------------------------------------------

UPLOAD_LIMIT = 4 * 1024


def _with_request_sessions(client: Any, db_session: Any) -> Any:
    """One session per request, closed after it, as ``shared.db.get_session`` does (so a failed
    request leaves nothing behind), on the test's rolled-back connection."""
    from shared.db import get_session

    conn = db_session.connection()

    def per_request() -> Iterator[Session]:
        with Session(bind=conn, join_transaction_mode="create_savepoint") as s:
            yield s

    client.app.dependency_overrides[get_session] = per_request
    return client


@pytest.fixture()
def assets(make_client: Callable[..., Any], db_session: Any) -> Any:
    """The assets app with real per-request sessions."""
    return _with_request_sessions(make_client("assets"), db_session)


@pytest.fixture()
def small_assets(make_client: Callable[..., Any], db_session: Any) -> Any:
    """The assets app with a 4 KiB upload limit."""
    return _with_request_sessions(make_client("assets", max_upload_bytes=UPLOAD_LIMIT), db_session)


def _cameras(s: Session) -> tuple[int, int]:
    """(cameras, import records) in PostGIS."""
    row = s.execute(
        text("SELECT (SELECT count(*) FROM assets.cameras), (SELECT count(*) FROM assets.imports)")
    ).one()
    return int(row[0]), int(row[1])


def _upload(client: Any, tokens: Any, content: bytes, name: str = "cams.csv") -> Any:
    return client.post(
        "/cameras/import", headers=tokens["admin"], files={"file": (name, content, "text/csv")}
    )


def test_camera_bad_rows_reported_good_kept_reimport_unchanged(
    assets: Any, tokens: Any, db_session: Any, tmp_path: Path
) -> None:
    case = bf.build_camera_bad_rows(tmp_path)
    before = _cameras(db_session)
    r = _upload(assets, tokens, case.path.read_bytes())
    assert r.status_code == 200, r.text
    rep = r.json()
    assert (rep["added"], rep["rejected"]) == (case.good, len(case.bad))
    _check_bad({e["line"]: e["reason"] for e in rep["errors"]}, case)
    assert _cameras(db_session) == (before[0] + case.good, before[1] + 1)
    rep2 = _upload(assets, tokens, case.path.read_bytes()).json()
    assert (rep2["added"], rep2["unchanged"], rep2["rejected"]) == (0, case.good, len(case.bad))
    assert _cameras(db_session)[0] == before[0] + case.good


def _camera_file(kind: str, tmp_path: Path) -> tuple[bytes, str]:
    rows = bf.camera_rows(8)
    rows[3][1] = "Café Corner – Stretford"
    if kind == "wrong-columns":
        rows[0] = ["id", "name", "ward", "code", "x", "y"]
        return bf.camera_csv(rows), "lacks columns"
    if kind == "utf16":
        return b"\xff\xfe" + bf.camera_csv(rows, "utf-16-le"), "not UTF-8"
    if kind == "empty":
        return b"", "lacks columns"
    builders = {
        "png": bf.build_png_as_csv,
        "xlsx": bf.build_xlsx_as_csv,
        "zip": bf.build_zip_as_csv,
    }
    return builders[kind](tmp_path).path.read_bytes(), "not UTF-8"


@pytest.mark.parametrize("kind", ["wrong-columns", "utf16", "empty", "png", "xlsx", "zip"])
def test_camera_file_refused_whole_with_a_clear_problem(
    kind: str, assets: Any, tokens: Any, db_session: Any, tmp_path: Path
) -> None:
    content, fragment = _camera_file(kind, tmp_path)
    before = _cameras(db_session)
    r = _upload(assets, tokens, content)
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem")
    assert fragment in r.json()["detail"]
    assert _cameras(db_session) == before


def test_camera_cp1252_register_is_read_with_a_warning(
    assets: Any, tokens: Any, db_session: Any
) -> None:
    """Excel's "CSV (Comma delimited)" on Windows writes cp1252: read, said, not refused."""
    rows = bf.camera_rows(4)
    rows[2][1] = "Caf\u00e9 Parade \u2013 \u00a31 shop"
    rows[4][1] = "Ch\u00e2teau Gardens"
    before = _cameras(db_session)
    r = _upload(assets, tokens, bf.camera_csv(rows, "cp1252"))
    assert r.status_code == 200, r.text
    rep = r.json()
    assert (rep["added"], rep["rejected"]) == (4, 0)
    assert rep["warnings"] == ["not UTF-8, decoded as cp1252: lines 3, 5"]
    names = db_session.scalars(
        text("SELECT name FROM assets.cameras WHERE asset_tag = ANY(:t) ORDER BY asset_tag"),
        {"t": [rows[2][0], rows[4][0]]},
    ).all()
    assert sorted(names) == sorted([rows[2][1].strip(), rows[4][1].strip()])
    assert _cameras(db_session)[0] == before[0] + 4
    stored = db_session.scalar(
        text("SELECT warnings FROM assets.imports WHERE id = :i"), {"i": rep["import_id"]}
    )
    assert stored == rep["warnings"]


def test_camera_bom_and_header_only(
    assets: Any, tokens: Any, db_session: Any, tmp_path: Path
) -> None:
    rows = bf.camera_rows(6)
    before = _cameras(db_session)
    rep = _upload(assets, tokens, b"\xef\xbb\xbf" + bf.camera_csv(rows)).json()
    assert (rep["added"], rep["rejected"]) == (6, 0)
    rep = _upload(assets, tokens, bf.camera_csv(rows[:1])).json()
    assert (rep["rows_read"], rep["added"], rep["rejected"]) == (0, 0, 0)
    assert _cameras(db_session) == (before[0] + 6, before[1] + 2)


def _many_cameras(n: int) -> bytes:
    lines = ["camera_id,location,area_name,area_code,lon,lat"]
    lines += [
        f"BIG{i:05d},Road {i},Ward,E05000001,0.5{i % 97:02d},51.3{i % 89:02d}" for i in range(n)
    ]
    return ("\n".join(lines) + "\n").encode()


def test_camera_upload_over_the_limit_refused_large_one_allowed(
    small_assets: Any, tokens: Any, db_session: Any
) -> None:
    assets = small_assets
    big = _many_cameras(120)
    assert len(big) > UPLOAD_LIMIT
    before = _cameras(db_session)
    r = _upload(assets, tokens, big)
    assert r.status_code == 413 and str(UPLOAD_LIMIT) in r.json()["detail"]
    # the same body streamed without Content-Length is refused too
    boundary = "b0undary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="c.csv"\r\n'
            "Content-Type: text/csv\r\n\r\n"
        ).encode()
        + big
        + f"\r\n--{boundary}--\r\n".encode()
    )
    chunked = assets.post(
        "/cameras/import",
        headers={**tokens["admin"], "Content-Type": f"multipart/form-data; boundary={boundary}"},
        content=(body[i : i + 8192] for i in range(0, len(body), 8192)),
    )
    assert chunked.status_code == 413
    assert _cameras(db_session) == before
    allowed = _many_cameras(72)
    assert UPLOAD_LIMIT * 0.8 < len(allowed) < UPLOAD_LIMIT - 512  # room for multipart framing
    rep = _upload(assets, tokens, allowed).json()
    assert (rep["added"], rep["rejected"]) == (72, 0)
    assert _cameras(db_session)[0] == before[0] + 72


def test_camera_formula_names_kept_as_text(assets: Any, tokens: Any, db_session: Any) -> None:
    rows = bf.camera_rows(len(bf.FORMULAS))
    for row, payload in zip(rows[1:], bf.FORMULAS, strict=True):
        row[1] = payload + " camera"
    rep = _upload(assets, tokens, bf.camera_csv(rows)).json()
    assert rep["added"] == len(bf.FORMULAS), rep
    names = db_session.scalars(
        text("SELECT name FROM assets.cameras WHERE asset_tag = ANY(:t) ORDER BY asset_tag"),
        {"t": [r[0] for r in rows[1:]]},
    ).all()
    expected = sorted((r[0], (r[1]).strip()) for r in rows[1:])
    assert names == [name for _, name in expected]


def test_camera_old_mac_line_endings(assets: Any, tokens: Any, db_session: Any) -> None:
    rows = bf.camera_rows(6)
    before = _cameras(db_session)
    r = _upload(assets, tokens, bf.camera_csv(rows).replace(b"\r\n", b"\r"))
    assert _cameras(db_session)[0] in (before[0], before[0] + 6)
    assert r.status_code == 200 and r.json()["added"] == 6


def _nul_file() -> bytes:
    rows = bf.camera_rows(5)
    rows[2][1] = "Market\x00Street"
    return bf.camera_csv(rows)


def test_camera_import_that_fails_in_the_database_leaves_nothing(
    assets: Any, tokens: Any, db_session: Any
) -> None:
    """Whatever the status, the outcome is consistent: all good rows, or none of them."""
    before = _cameras(db_session)
    r = _upload(assets, tokens, _nul_file())
    if r.status_code == 200:
        assert r.json()["added"] + r.json()["rejected"] == 5
        assert _cameras(db_session)[0] == before[0] + r.json()["added"]
    else:
        assert r.status_code >= 400 and _cameras(db_session) == before


def test_camera_nul_byte_is_a_reported_row(assets: Any, tokens: Any) -> None:
    r = _upload(assets, tokens, _nul_file())
    assert r.status_code == 200 and r.json()["added"] >= 4


def test_camera_overlong_ward_on_reimport_is_a_reported_row(
    assets: Any, tokens: Any, db_session: Any
) -> None:
    rows = bf.camera_rows(3)
    assert _upload(assets, tokens, bf.camera_csv(rows)).status_code == 200
    rows[2][2] = "W" * 200
    before = _cameras(db_session)
    r = _upload(assets, tokens, bf.camera_csv(rows))
    assert _cameras(db_session)[0] == before[0]
    assert r.status_code == 200 and [e["line"] for e in r.json()["errors"]] == [3]


# ------------------------------------------------------------------------------------------
# (c) CSV exports: GET /targets.csv and /targets/page.csv (predictive)
# ------------------------------------------------------------------------------------------


def _assert_neutralised(body: str, names: set[str]) -> int:
    rows = list(csv.reader(io.StringIO(body)))
    assert rows[0][0] == "rank" and len(rows) > 1
    formula_cells = 0
    for row in rows[1:]:
        for cell in row:
            assert not cell.startswith(DANGEROUS) or _is_number(cell), cell
        ward = row[rows[0].index("ward")]
        if ward:
            assert ward.startswith("'") and ward[1:] in names, ward
            formula_cells += 1
    return formula_cells


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


SAFE_TO_WRITE = tuple(f for f in bf.FORMULAS if "\r" not in f)


@pytest.fixture()
def formula_list(
    make_client: Callable[..., Any], tokens: Any, db_session: Any, tmp_path: Path
) -> tuple[Any, dict[str, str], int, set[str]]:
    """A kfrs list whose boxes lie in wards read from a boundaries file of formula names."""
    from tests.factories import (
        LIST_DAY,
        load_medway,
        make_list,
        store_incidents,
        synthetic_incidents,
    )

    wards, names = bf.formula_geojson(tmp_path, SAFE_TO_WRITE)
    load_medway(db_session, wards_path=wards)
    store_incidents(db_session, synthetic_incidents(), source="fire")
    make_list(db_session, "kfrs", LIST_DAY)  # GETs only read lists
    client = make_client("predictive")
    q = {"agency": "kfrs", "date": LIST_DAY.isoformat()}
    body = client.get("/targets", params=q, headers=tokens["crew"]).json()
    return client, q, int(body["list_id"]), set(names)


def _set_wards(db_session: Any, list_id: int, wards: tuple[str, ...]) -> None:
    for rank, ward in enumerate(wards, start=1):
        db_session.execute(
            text("UPDATE predictive.target_boxes SET ward = :w WHERE list_id = :l AND rank = :r"),
            {"w": ward, "l": list_id, "r": rank},
        )
    db_session.flush()


def test_csv_exports_neutralise_formula_ward_names(
    formula_list: tuple[Any, dict[str, str], int, set[str]], tokens: Any, db_session: Any
) -> None:
    client, q, list_id, names = formula_list
    api = client.get("/targets.csv", params=q, headers=tokens["crew"])
    assert api.status_code == 200 and api.headers["content-type"].startswith("text/csv")
    assert _assert_neutralised(api.text, names) > 0  # wards named by the boundaries file
    _set_wards(db_session, list_id, SAFE_TO_WRITE)  # every prefix, whichever wards boxes hit
    api = client.get("/targets.csv", params=q, headers=tokens["crew"])
    assert _assert_neutralised(api.text, names | set(SAFE_TO_WRITE)) >= len(SAFE_TO_WRITE)
    first = list(csv.DictReader(io.StringIO(api.text)))[: len(SAFE_TO_WRITE)]
    assert [r["ward"] for r in first] == ["'" + p for p in SAFE_TO_WRITE]
    # The page's CSV, as a KFRS crew member signed in on the page downloads it.
    from shared import accounts

    accounts.create_user(
        db_session, username="csv.crew", role="crew", agency="kfrs", password="csv-crew-password"
    )
    db_session.flush()
    signed = client.post(
        "/sign-in",
        data={"username": "csv.crew", "password": "csv-crew-password", "next": "/targets/page"},
        headers={"Origin": str(client.base_url)},
        follow_redirects=False,
    )
    assert signed.status_code == 303
    page = client.get("/targets/page.csv", params=q)
    assert page.status_code == 200, page.text
    assert page.text == api.text


def test_csv_export_quotes_carriage_returns(
    formula_list: tuple[Any, dict[str, str], int, set[str]], tokens: Any, db_session: Any
) -> None:
    client, q, list_id, names = formula_list
    crs = ("\r=1+1", 'Chatham\r=HYPERLINK("http://evil.example")')
    _set_wards(db_session, list_id, crs)
    api = client.get("/targets.csv", params=q, headers=tokens["crew"])
    # What a spreadsheet sees: any CR or LF outside quotes ends a row (newline="" keeps bare
    # CRs as row ends for the reader). Unquoted, the CR would start a row with the formula.
    rows = list(csv.reader(io.StringIO(api.text, newline="")))
    assert {len(r) for r in rows} == {len(rows[0])}, rows[:4]
    assert all(not cell.startswith(DANGEROUS) or _is_number(cell) for r in rows for cell in r)
    ward = rows[0].index("ward")
    # The first starts with a CR (a formula prefix): quoted and prefixed; the second starts
    # with text, so the spreadsheet keeps it as one text cell with a line break.
    assert [r[ward] for r in rows[1:3]] == ["'" + crs[0], crs[1]]


# ------------------------------------------------------------------------------------------
# POST /incidents/imports (hotspots): the same parse + store for analysts, over HTTP
# ------------------------------------------------------------------------------------------

HOTSPOTS_LIMIT = 1024 * 1024


@pytest.fixture()
def hotspots(make_client: Callable[..., Any], db_session: Any) -> Any:
    """The hotspots app with a 1 MiB upload limit and real per-request sessions."""
    client = make_client("hotspots", max_upload_bytes=HOTSPOTS_LIMIT)
    return _with_request_sessions(client, db_session)


def _post_incidents(
    client: Any, tokens: Any, path: Path, source: str = "police", role: str = "analyst"
) -> Any:
    return client.post(
        "/incidents/imports",
        headers=tokens[role],
        data={"source": source},
        files={"file": (path.name, path.read_bytes(), "application/octet-stream")},
    )


def test_upload_reports_lines_keeps_good_rows_reimports_nothing(
    hotspots: Any, tokens: Any, db_session: Any, tmp_path: Path
) -> None:
    case = bf.build_bad_coordinates(tmp_path)
    n0, m0 = _counts(db_session)
    r = _post_incidents(hotspots, tokens, case.path)
    assert r.status_code == 200, r.text
    rep = r.json()
    (f,) = rep["files"]
    assert (rep["added"], rep["rejected"]) == (case.good, len(case.bad))
    _check_bad({e["line"]: e["reason"] for e in f["errors"]}, case)
    assert _counts(db_session) == (n0 + case.good, m0 + 1)
    imported_by = db_session.scalar(
        select(IncidentImport.imported_by).where(IncidentImport.id == f["import_id"])
    )
    assert imported_by and "analyst" in imported_by
    again = _post_incidents(hotspots, tokens, case.path, role="admin").json()
    assert (again["added"], again["already_there"]) == (0, case.good)
    assert _counts(db_session)[0] == n0 + case.good


def test_upload_shows_warnings_and_zip_members(
    hotspots: Any, tokens: Any, db_session: Any, tmp_path: Path
) -> None:
    utf16 = bf.build_utf16_le_bom(tmp_path)
    rep = _post_incidents(hotspots, tokens, utf16.path).json()
    assert rep["added"] == utf16.good and any("UTF-16" in w for w in rep["files"][0]["warnings"])
    (tmp_path / "n").mkdir()
    nested = bf.build_nested_zip(tmp_path / "n")
    rep = _post_incidents(hotspots, tokens, nested.path).json()
    assert rep["added"] + rep["already_there"] == nested.good
    (refused,) = [f for f in rep["files"] if f["rejected"]]
    assert nested.note in refused["errors"][0]["reason"] and refused["errors"][0]["line"] == 0
    good = bf.build_good_zip(tmp_path, months=1, rows=5)
    rep = _post_incidents(hotspots, tokens, good.path).json()
    assert [s["reason"] for s in rep["skipped"]] == ["outcomes file"]


@pytest.mark.parametrize(
    ("builder", "status", "fragment"),
    [
        (bf.build_zip_bomb, 422, "zip bomb"),
        (bf.build_truncated_zip, 422, "not a readable zip"),
        (bf.build_many_members, 422, "entries"),
    ],
    ids=["bomb", "truncated", "many-members"],
)
def test_upload_refused_whole_leaves_nothing(
    builder: Callable[[Path], bf.Case],
    status: int,
    fragment: str,
    hotspots: Any,
    tokens: Any,
    db_session: Any,
    tmp_path: Path,
) -> None:
    case = builder(tmp_path)
    before = _counts(db_session)
    r = _post_incidents(hotspots, tokens, case.path)
    assert r.status_code == status and fragment in r.json()["detail"], r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert _counts(db_session) == before


def test_upload_over_the_limit_and_bad_requests(
    hotspots: Any, tokens: Any, db_session: Any, tmp_path: Path
) -> None:
    big = tmp_path / "big.csv"
    big.write_bytes(b"x" * (HOTSPOTS_LIMIT + 1))
    before = _counts(db_session)
    assert _post_incidents(hotspots, tokens, big).status_code == 413
    ok = bf.build_header_only(tmp_path).path
    assert _post_incidents(hotspots, tokens, ok, source="nonsense").status_code == 422
    xlsx = bf.build_xlsx_as_csv(tmp_path).path.rename(tmp_path / "book.xlsx")
    r = _post_incidents(hotspots, tokens, xlsx)
    assert r.status_code == 422 and ".csv or .zip" in r.json()["detail"]
    assert _post_incidents(hotspots, tokens, ok, role="operator").status_code == 403
    assert _post_incidents(hotspots, tokens, ok, role="crew").status_code == 403
    r = hotspots.post(
        "/incidents/imports", data={"source": "police"}, files={"file": ("a.csv", b"")}
    )
    assert r.status_code == 401
    assert _counts(db_session) == before


def test_upload_failing_mid_zip_leaves_nothing(
    hotspots: Any, tokens: Any, db_session: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shared.incidents.store as store

    case = bf.build_good_zip(tmp_path, months=3, rows=20)
    real_copy = store._copy_rows
    calls = {"n": 0}

    def copy_then_fail(session: Session, rows: Any, *, import_id: int) -> int:
        calls["n"] += 1
        added = real_copy(session, rows, import_id=import_id)
        if calls["n"] == 2:
            session.execute(text("SELECT 1/0"))
        return added

    monkeypatch.setattr(store, "_copy_rows", copy_then_fail)
    before = _counts(db_session)
    r = _post_incidents(hotspots, tokens, case.path)
    assert r.status_code == 500 and calls["n"] == 2
    assert _counts(db_session) == before


def test_safe_file_name() -> None:
    from services.hotspots.imports import safe_file_name

    assert safe_file_name("../../etc/passwd.csv") == "passwd.csv"
    assert safe_file_name("C:\\Users\\me\\Crime Jan 2022.csv") == "Crime_Jan_2022.csv"
    assert safe_file_name("..") == "upload.csv" and safe_file_name(None) == "upload.csv"


def test_upload_with_a_5000_character_file_name_is_imported_under_a_short_name(
    hotspots: Any, tokens: Any, db_session: Any, tmp_path: Path
) -> None:
    """U2: the name used to be refused as "Invalid multipart data" (a 400 saying nothing)."""
    case = bf.build_utf8_bom(tmp_path)
    long_name = "Crime " + "x" * 5000 + ".csv"
    r = hotspots.post(
        "/incidents/imports",
        headers=tokens["analyst"],
        data={"source": "police"},
        files={"file": (long_name, case.path.read_bytes(), "text/csv")},
    )
    assert r.status_code == 200, r.text[:300]
    rep = r.json()
    assert rep["added"] == case.good
    assert rep["file_name"].endswith(".csv") and len(rep["file_name"]) <= 100
    assert rep["file_name"].startswith("Crime_xxx")
    # A name too long for any part header is refused saying so, and nothing is stored
    before = _counts(db_session)
    r = hotspots.post(
        "/incidents/imports",
        headers=tokens["analyst"],
        data={"source": "police"},
        files={"file": ("y" * 70_000 + ".csv", case.path.read_bytes(), "text/csv")},
    )
    assert r.status_code == 422 and "file name" in r.json()["detail"], r.text[:300]
    assert r.headers["content-type"].startswith("application/problem+json")
    assert _counts(db_session) == before


def test_upload_missing_fields_and_not_multipart_are_clear_4xx(
    hotspots: Any, tokens: Any, tmp_path: Path
) -> None:
    r = hotspots.post(
        "/incidents/imports", headers=tokens["analyst"], files={"source": (None, "police")}
    )
    assert r.status_code == 422 and r.json()["errors"] == [{"field": "file", "message": "required"}]
    r = hotspots.post("/incidents/imports", headers=tokens["analyst"], data={"source": "police"})
    assert r.status_code == 422 and "multipart/form-data" in r.json()["detail"]
    r = hotspots.post(
        "/incidents/imports", headers=tokens["analyst"], files={"file": ("a.csv", b"x", "text/csv")}
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "source"
    r = hotspots.post("/incidents/imports", headers=tokens["analyst"], json={"source": "police"})
    assert r.status_code == 422 and "multipart/form-data" in r.json()["detail"]


def test_upload_with_a_field_over_the_csv_limit_keeps_the_good_rows(
    hotspots: Any, tokens: Any, db_session: Any, tmp_path: Path
) -> None:
    """A3: one field over 131,072 characters refused the whole file; now that row is reported
    with its line and the rest are stored."""
    header, rows = bf.police_header(), bf.police_rows(12, crimes_only=True)
    rows[4][bf._col("Context")] = "c" * 140_000
    rows[8][bf._col("Context")] = "q\n" * 70_000  # quoted across 70,000 line breaks
    path = tmp_path / "long-field.csv"
    path.write_text(bf._csv_text([header, *rows]), encoding="utf-8")
    r = _post_incidents(hotspots, tokens, path)
    assert r.status_code == 200, r.text[:300]
    rep = r.json()
    (f,) = rep["files"]
    assert (rep["added"], rep["rejected"]) == (10, 2)
    assert [(e["line"], "longer than 131,072 characters" in e["reason"]) for e in f["errors"]] == [
        (6, True),
        (10, True),
    ]
