"""Camera register import: nothing changed silently (issue 11, D2-D5).

Over-long values are rows reported with their field and limit (they were truncated); unknown
columns are a warning and rows of the wrong width are rows reported (extra fields were dropped);
numbers are plain finite decimals (``0.5_3`` was read as 0.53); formula-like text is a warning;
an unterminated quote costs its own row, named by its own line (it swallowed the next row); a
decommissioned camera's record is read-only to the import as it is to PATCH.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from services.assets.models import Camera

HEAD = "camera_id,location,area_name,area_code,lon,lat\n"
GOOD = "-2.2813,53.4614"  # Trafford, inside Great Britain


def _upload(client: Any, tokens: Any, body: str, role: str = "admin") -> dict[str, Any]:
    r = client.post(
        "/cameras/import",
        headers=tokens[role],
        files={"file": ("cams.csv", body.encode("utf-8"), "text/csv")},
    )
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


def _stored_errors(db_session: Any, import_id: int) -> list[dict[str, Any]]:
    sql = text("SELECT errors FROM assets.imports WHERE id = :i")
    return list(db_session.execute(sql, {"i": import_id}).scalar_one())


def _camera(db_session: Any, tag: str) -> dict[str, Any] | None:
    row = (
        db_session.execute(
            text(
                "SELECT name, ward, ward_code, lifecycle FROM assets.cameras WHERE asset_tag = :t"
            ),
            {"t": tag},
        )
        .mappings()
        .first()
    )
    return dict(row) if row is not None else None


def _limit(attr: str) -> int:
    return int(Camera.__table__.c[attr].type.length)  # type: ignore[attr-defined]


# ---------------------------------------------------------------------------------------- D2


def test_over_long_values_are_reported_with_field_and_limit_not_cut(
    client: Any, tokens: Any, db_session: Any
) -> None:
    name_max, code_max, ward_max, tag_max = (
        _limit("name"),
        _limit("ward_code"),
        _limit("ward"),
        _limit("asset_tag"),
    )
    long_name, long_code = "N" * (name_max + 1), "E" * (code_max + 1)
    body = HEAD + "".join(
        [
            f"L1,{long_name},Ward,E05000001,{GOOD}\n",  # line 2
            f"L2,Fits,Ward,{long_code},{GOOD}\n",  # line 3
            f"L3,Fits,{'W' * (ward_max + 1)},E1,{GOOD}\n",  # line 4
            f"{'T' * (tag_max + 1)},Fits,Ward,E1,{GOOD}\n",  # line 5
            f"L4,{'n' * name_max},{'w' * ward_max},{'e' * code_max},{GOOD}\n",  # line 6: fits
            f"L5,{long_name},Ward,{long_code},{GOOD}\n",  # line 7: two fields over
        ]
    )
    rep = _upload(client, tokens, body)
    assert (rep["rows_read"], rep["added"], rep["rejected"]) == (6, 1, 5)
    stored = _stored_errors(db_session, rep["import_id"])
    got = {(e["line"], e["field"], e["limit"]) for e in stored}
    assert got == {
        (2, "location", name_max),
        (3, "area_code", code_max),
        (4, "area_name", ward_max),
        (5, "camera_id", tag_max),
        (7, "location", name_max),
        (7, "area_code", code_max),
    }
    reasons = {e["line"]: e["reason"] for e in rep["errors"]}
    assert f"{name_max + 1} characters long; the limit is {name_max}" in reasons[2]
    assert f"the limit is {code_max}" in reasons[3]
    for tag in ("L1", "L2", "L3", "L5"):
        assert _camera(db_session, tag) is None, tag
    kept = _camera(db_session, "L4")
    assert kept is not None and kept["name"] == "n" * name_max
    assert kept["ward_code"] == "e" * code_max


def test_over_long_values_on_re_import_leave_the_camera_as_it_was(
    client: Any, tokens: Any, db_session: Any
) -> None:
    _upload(client, tokens, HEAD + f"R1,Old name,Ward,E05000001,{GOOD}\n")
    longer = "Old name" + "x" * _limit("name")
    rep = _upload(client, tokens, HEAD + f"R1,{longer},Ward,E05000001,{GOOD}\n")
    assert (rep["updated"], rep["unchanged"], rep["rejected"]) == (0, 0, 1)
    assert _camera(db_session, "R1") == {
        "name": "Old name",
        "ward": "Ward",
        "ward_code": "E05000001",
        "lifecycle": "active",
    }


def test_extra_columns_are_a_warning_and_wrong_width_rows_are_reported(
    client: Any, tokens: Any, db_session: Any
) -> None:
    body = (
        "camera_id,location,area_name,area_code,lon,lat,installed,notes\n"
        f"W1,Width one,Ward,E1,{GOOD},2019,kept aside\n"  # line 2: fine
        f"W2,Width two,Ward,E1,{GOOD},2019,notes,surplus\n"  # line 3: a field too many
        f"W3,Width three,Ward,E1,{GOOD}\n"  # line 4: two fields short
    )
    rep = _upload(client, tokens, body)
    assert "extra columns ignored: installed, notes" in rep["warnings"]
    assert (rep["rows_read"], rep["added"], rep["rejected"]) == (3, 1, 2)
    reasons = {e["line"]: e["reason"] for e in rep["errors"]}
    assert reasons == {3: "expected 8 fields, found 9", 4: "expected 8 fields, found 6"}
    assert _camera(db_session, "W2") is None and _camera(db_session, "W3") is None


def test_a_row_with_an_unquoted_comma_is_not_shifted_into_the_register(
    client: Any, tokens: Any, db_session: Any
) -> None:
    """Seven fields under a six-column header: the extra one was dropped, lat read from lon."""
    rep = _upload(client, tokens, HEAD + "S1,High Street, Sale,Ward,E1,-2.3188,53.4246\n")
    assert rep["rejected"] == 1 and rep["errors"][0]["reason"] == "expected 6 fields, found 7"
    assert _camera(db_session, "S1") is None


@pytest.mark.parametrize(
    ("lon", "lat"),
    [
        ("-2.28_13", "53.46"),  # Python's float() reads this as -2.2813
        ("-2.2813", "5_3.46"),
        ('"-2,281.3"', "53.46"),  # thousands separator
        ("-2.2813", "1e999"),  # overflows to infinity
        ("inf", "53.46"),
        ("nan", "53.46"),
        ("-2.2813", "٥٣.٤٦"),  # Arabic-Indic digits, which float() also takes
        ("-2.2813°", "53.46"),
        ("0x1p1", "53.46"),
    ],
)
def test_coordinates_must_be_plain_finite_decimals(
    client: Any, tokens: Any, db_session: Any, lon: str, lat: str
) -> None:
    rep = _upload(client, tokens, HEAD + f"P1,Strict,Ward,E1,{lon},{lat}\n")
    assert (rep["added"], rep["rejected"]) == (0, 1), rep
    assert "not numbers" in rep["errors"][0]["reason"]
    assert _camera(db_session, "P1") is None


def test_plain_decimals_in_every_spelling_are_taken(
    client: Any, tokens: Any, db_session: Any
) -> None:
    body = HEAD + (
        "Q1,Exponent,Ward,E1,-2.2813e0,5.346e1\n"
        "Q2,Leading point,Ward,E1,-2.2813, +53.46 \n"
        "Q3,Integer lat,Ward,E1,-2.2813,53\n"
    )
    rep = _upload(client, tokens, body)
    assert (rep["added"], rep["rejected"]) == (3, 0), rep["errors"]


# ---------------------------------------------------------------------------------------- D3


def test_formula_like_text_is_kept_and_warned_with_its_lines(
    client: Any, tokens: Any, db_session: Any
) -> None:
    body = HEAD + (
        f'F1,"=HYPERLINK(""http://x.example"",""cam"")",Ward,E1,{GOOD}\n'  # line 2
        f"F2,Plain road,Ward,E1,{GOOD}\n"  # line 3: negative lon is not a formula
        f"F3,Market,@SUM(A1),E1,{GOOD}\n"  # line 4
        f"F4,Bridge,Ward,+A1*2,{GOOD}\n"  # line 5
        f"-F5,Quay,Ward,E1,{GOOD}\n"  # line 6
        f"F6,-5,Ward,E1,{GOOD}\n"  # line 7: a plain number shows as a number
    )
    rep = _upload(client, tokens, body)
    assert rep["rejected"] == 0, rep["errors"]
    formula = [w for w in rep["warnings"] if "formula" in w]
    assert formula == [
        "text starting with = + - @ kept as text (spreadsheet formula risk on export): "
        "lines 2, 4, 5, 6"
    ]
    kept = _camera(db_session, "F1")
    assert kept is not None and kept["name"] == '=HYPERLINK("http://x.example","cam")'


# ---------------------------------------------------------------------------------------- D4


def test_an_unterminated_quote_costs_its_own_row_and_names_its_line(
    client: Any, tokens: Any, db_session: Any
) -> None:
    body = HEAD + (
        f"U1,Before,Ward,E1,{GOOD}\n"  # line 2
        f'U2,"Broken name,Ward,E1,{GOOD}\n'  # line 3: the quote never closes
        f"U3,After,Ward,E1,{GOOD}\n"  # line 4: must be kept
        f"U4,Last,Ward,E1,{GOOD}\n"  # line 5
    )
    rep = _upload(client, tokens, body)
    assert (rep["rows_read"], rep["added"], rep["rejected"]) == (4, 3, 1), rep
    assert [e["line"] for e in rep["errors"]] == [3]
    assert "quote" in rep["errors"][0]["reason"]
    for tag in ("U1", "U3", "U4"):
        assert _camera(db_session, tag) is not None, tag
    assert _camera(db_session, "U2") is None


def test_an_unterminated_quote_on_the_last_line_is_that_line(client: Any, tokens: Any) -> None:
    body = HEAD + f"V1,Fine,Ward,E1,{GOOD}\n" + f'V2,"Open,Ward,E1,{GOOD}\n'
    rep = _upload(client, tokens, body)
    assert (rep["added"], [e["line"] for e in rep["errors"]]) == (1, [3])


def test_a_quoted_line_break_is_one_row_and_the_next_line_number_is_right(
    client: Any, tokens: Any
) -> None:
    body = HEAD + (
        f'M1,"Two\nline name",Ward,E1,{GOOD}\n'  # lines 2-3
        f"M2,Bad,Ward,E1,east,53.46\n"  # line 4
    )
    rep = _upload(client, tokens, body)
    assert (rep["added"], [e["line"] for e in rep["errors"]]) == (1, [4])
    assert "records with quoted line breaks: lines 2" in rep["warnings"]


# ---------------------------------------------------------------------------------------- D5


def _decommission(client: Any, tokens: Any, tag: str) -> int:
    cams = client.get("/cameras", params={"q": tag}, headers=tokens["admin"]).json()["items"]
    cam_id = int(next(c["id"] for c in cams if c["asset_tag"] == tag))
    for to in ("decommissioning", "decommissioned"):
        etag = client.get(f"/cameras/{cam_id}", headers=tokens["admin"]).headers["etag"]
        r = client.post(
            f"/cameras/{cam_id}/transitions",
            json={"to": to, "reason": "removed from the street"},
            headers=tokens["admin"] | {"If-Match": etag},
        )
        assert r.status_code == 200, r.text
    return cam_id


def test_a_decommissioned_camera_is_read_only_to_the_import_as_to_patch(
    client: Any, tokens: Any, db_session: Any
) -> None:
    _upload(client, tokens, HEAD + f"D1,Old Market,Ward,E1,{GOOD}\nD2,Keep,Ward,E1,{GOOD}\n")
    cam_id = _decommission(client, tokens, "D1")
    etag = client.get(f"/cameras/{cam_id}", headers=tokens["admin"]).headers["etag"]
    patch = client.patch(
        f"/cameras/{cam_id}",
        json={"name": "New Market"},
        headers=tokens["admin"] | {"If-Match": etag},
    )
    assert patch.status_code == 409  # the rule the import must follow too
    history_before = client.get(f"/cameras/{cam_id}/history", headers=tokens["admin"]).json()

    rep = _upload(
        client,
        tokens,
        HEAD + f"D1,New Market,Ward,E1,-2.2900,53.4700\nD2,Keep renamed,Ward,E1,{GOOD}\n",
    )
    assert (rep["updated"], rep["rejected"]) == (1, 1), rep
    (err,) = rep["errors"]
    assert err["line"] == 2
    assert "D1" in err["reason"] and f"id {cam_id}" in err["reason"]
    assert "decommissioned" in err["reason"]
    got = _camera(db_session, "D1")
    assert got is not None and (got["name"], got["lifecycle"]) == ("Old Market", "decommissioned")
    cam = client.get(f"/cameras/{cam_id}", headers=tokens["admin"]).json()
    assert abs(cam["lon"] - -2.2813) < 1e-6 and abs(cam["lat"] - 53.4614) < 1e-6
    history_after = client.get(f"/cameras/{cam_id}/history", headers=tokens["admin"]).json()
    assert history_after == history_before

    # The register as it stands re-imported: nothing to change, so nothing refused.
    same = _upload(client, tokens, HEAD + f"D1,Old Market,Ward,E1,{GOOD}\n")
    assert (same["unchanged"], same["rejected"]) == (1, 0)
