"""Register import from a real council CSV: counts, rejected rows (line + reason), re-import."""

from __future__ import annotations

import csv
import io
from typing import Any

from sqlalchemy import text

from tests.conftest import SHARED_DATA

TRAFFORD = SHARED_DATA / "cctv" / "trafford_cctv_cameras.csv"


def _upload(
    client: Any, tokens: Any, content: bytes, name: str = "cams.csv", role: str = "admin"
) -> Any:
    return client.post(
        "/cameras/import", headers=tokens[role], files={"file": (name, content, "text/csv")}
    )


def test_import_real_register_and_reimport(client: Any, tokens: Any, db_session: Any) -> None:
    content = TRAFFORD.read_bytes()
    rows = list(csv.DictReader(io.StringIO(content.decode("utf-8"))))
    r = _upload(client, tokens, content, "trafford_cctv_cameras.csv")
    assert r.status_code == 200, r.text
    rep = r.json()
    assert (rep["rows_read"], rep["added"], rep["rejected"]) == (len(rows), len(rows), 0)
    n = db_session.execute(
        text("SELECT count(*) FROM assets.cameras WHERE asset_tag = ANY(:t)"),
        {"t": [row["camera_id"] for row in rows]},
    ).scalar()
    assert n == len(rows)
    # spot-check one camera against the file
    first = rows[0]
    cam = client.get(
        "/cameras", params={"q": first["location"], "limit": 5}, headers=tokens["analyst"]
    ).json()["items"]
    match = next(c for c in cam if c["asset_tag"] == first["camera_id"])
    assert abs(match["lon"] - float(first["lon"])) < 1e-6
    assert abs(match["lat"] - float(first["lat"])) < 1e-6
    assert match["ward"] == first["area_name"] and match["ward_code"] == first["area_code"]
    rep2 = _upload(client, tokens, content).json()
    assert (rep2["added"], rep2["unchanged"], rep2["updated"]) == (0, len(rows), 0)
    n2 = db_session.execute(text("SELECT count(*) FROM assets.cameras")).scalar()
    assert n2 >= len(rows)
    assert db_session.execute(
        text("SELECT count(*) FROM assets.cameras WHERE asset_tag = ANY(:t)"),
        {"t": [row["camera_id"] for row in rows]},
    ).scalar() == len(rows)


def test_import_reports_rows_it_cannot_place(client: Any, tokens: Any) -> None:
    content = (
        b"camera_id,location,area_name,area_code,lon,lat\n"
        b"X1,Good Road,Ward A,E05000001,-2.28,53.46\n"  # line 2: fine
        b"X2,No Coordinates,Ward A,E05000001,,\n"  # line 3
        b"X3,Swapped,Ward A,E05000001,53.46,-2.28\n"  # line 4
        b"X4,Text,Ward A,E05000001,abc,53.4\n"  # line 5
        b"X1,Again,Ward A,E05000001,-2.28,53.46\n"  # line 6: duplicate id
        b",No Id,Ward A,E05000001,-2.28,53.46\n"  # line 7
        b'X5,"Quoted, with comma",Ward B,E05000002,-2.29,53.47\n'  # line 8: fine
    )
    rep = _upload(client, tokens, content).json()
    assert (rep["rows_read"], rep["added"], rep["rejected"]) == (7, 2, 5)
    lines = {e["line"]: e["reason"] for e in rep["errors"]}
    assert set(lines) == {3, 4, 5, 6, 7}
    assert "no coordinates" in lines[3]
    assert "outside Great Britain" in lines[4]
    assert "not numbers" in lines[5]
    assert "earlier" in lines[6]
    assert "camera_id" in lines[7]


def test_import_updates_a_moved_camera(client: Any, tokens: Any) -> None:
    head = "camera_id,location,area_name,area_code,lon,lat\n"
    _upload(client, tokens, (head + "Y1,Road,W,E1,-2.28,53.46\n").encode())
    rep = _upload(client, tokens, (head + "Y1,Road renamed,W,E1,-2.281,53.46\n").encode()).json()
    assert (rep["added"], rep["updated"]) == (0, 1)
    cam = client.get("/cameras", params={"q": "Road renamed"}, headers=tokens["admin"]).json()[
        "items"
    ][0]
    assert abs(cam["lon"] + 2.281) < 1e-6 and cam["version"] == 2
    hist = client.get(f"/cameras/{cam['id']}/history", headers=tokens["admin"]).json()
    assert [h["action"] for h in hist] == ["create", "import_update"]


def test_import_refuses_wrong_columns_and_roles(client: Any, tokens: Any) -> None:
    r = _upload(client, tokens, b"id,name\n1,x\n")
    assert r.status_code == 422 and "lon" in r.json()["detail"]
    assert _upload(client, tokens, b"x", role="seg").status_code == 403
    assert client.post("/cameras/import", files={"file": ("a.csv", b"x")}).status_code == 401


def test_cli_import_prints_warnings_and_each_bad_row(
    db_session: Any, tmp_path: Any, monkeypatch: Any
) -> None:
    """`csp assets import`: counts, file warnings and one line per refused value (D2, D3)."""
    from typer.testing import CliRunner

    from csp.cli import app
    from services.assets import cli
    from services.assets.settings import AssetsSettings

    monkeypatch.setattr(cli, "_session", lambda: (db_session, AssetsSettings()))
    path = tmp_path / "register.csv"
    path.write_text(
        "camera_id,location,area_name,area_code,lon,lat,notes\n"
        "C1,=1+2,Ward,E1,-2.28,53.46,x\n"
        f"C2,{'N' * 201},Ward,E1,-2.28,53.46,x\n"
        "C3,Fine,Ward,E1,-2.28_1,53.46,x\n",
        encoding="utf-8",
    )
    out = CliRunner().invoke(app, ["assets", "import", str(path)])
    assert out.exit_code == 2, out.output
    assert "warning: extra columns ignored: notes" in out.output
    assert "formula risk on export): lines 2" in out.output
    assert "line 3: location is 201 characters long; the limit is 200" in out.output
    assert "line 4: coordinates are not numbers: lon='-2.28_1'" in out.output
