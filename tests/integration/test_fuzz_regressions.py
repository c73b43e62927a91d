"""Regressions for the 5xx the OpenAPI fuzzer (test_fuzz.py, bench/bench_fuzz.py) found.

Each case was a 500 before its fix; now it is a 4xx problem+json (or a success where the input
is fine). The requests are the fuzzer's findings, shrunk by hand.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest

from tests.factories import camera_body, post_camera
from tests.support import problem, savepoint_per_request


@pytest.fixture()
def client_of(make_client: Callable[..., Any], db_session: Any) -> Callable[[str], Any]:
    """A service's client whose requests each get their own savepoint session, as in
    production each gets its own session: a request that fails in the database does not
    poison the next one (the shared test session would)."""

    def build(service: str) -> Any:
        client = make_client(service)
        savepoint_per_request(client.app, db_session.connection())
        return client

    return build


@pytest.fixture()
def assets(client_of: Callable[[str], Any]) -> Any:
    return client_of("assets")


@pytest.fixture()
def camera(assets: Any, tokens: dict[str, dict[str, str]]) -> dict[str, Any]:
    return post_camera(assets, tokens["admin"], name="Regression camera")


# ------------------------------------------------------------------ NUL characters (all services)


@pytest.mark.parametrize(
    ("method", "url", "kw"),
    [
        ("post", "/cameras", {"json": camera_body(name="a\x00b")}),
        ("get", "/cameras", {"params": {"ward": "a\x00"}}),
        ("get", "/open311/v2/requests.json", {"params": {"service_request_id": "F-\x00"}}),
    ],
)
def test_nul_in_text_is_422_not_500(
    assets: Any, tokens: dict[str, dict[str, str]], method: str, url: str, kw: dict[str, Any]
) -> None:
    r = getattr(assets, method)(url, headers=tokens["admin"], **kw)
    body = problem(r, 422)
    assert "NUL" in body["detail"]


def test_nul_in_jsonb_is_422_not_500(
    client_of: Callable[[str], Any], tokens: dict[str, dict[str, str]]
) -> None:
    """PostgreSQL refuses \\u0000 in JSONB with SQLSTATE 22P05 (a DataError, not a ValueError)."""
    client = client_of("predictive")
    r = client.patch("/agencies/kfrs", json={"categories": ["a\x00"]}, headers=tokens["admin"])
    assert "NUL" in problem(r, 422)["detail"]
    # The agency is untouched and the session still works.
    got = client.get("/agencies", headers=tokens["admin"])
    assert got.status_code == 200
    kfrs = next(a for a in got.json() if a["code"] == "kfrs")
    assert "a\x00" not in kfrs["categories"]


# ------------------------------------------------------------------ predictive: empty list page


def test_list_page_with_no_boxes_renders(
    client_of: Callable[[str], Any], tokens: dict[str, dict[str, str]], db_session: Any
) -> None:
    """No incidents before the date gives an empty list; its page was a 500 (folium tooltip)."""
    from tests.factories import load_medway, make_list

    load_medway(db_session)
    make_list(db_session, "police", date(2024, 5, 1))
    db_session.flush()
    client = client_of("predictive")
    r = client.get(
        "/targets/page", params={"agency": "police", "date": "2024-05-01"}, headers=tokens["admin"]
    )
    assert r.status_code == 200, r.text[:300]
    assert r.headers["content-type"].startswith("text/html")
    gj = client.get(
        "/targets", params={"agency": "police", "date": "2024-05-01"}, headers=tokens["admin"]
    ).json()
    assert gj["features"] == []  # the case really is the empty list


def test_camera_import_reports_a_nul_row_and_keeps_the_good_ones(
    assets: Any, tokens: dict[str, dict[str, str]]
) -> None:
    """A NUL in a register row failed the flush and rolled back every row (a 500)."""
    csv = (
        b"camera_id,location,lon,lat\n"
        b"NUL-1,Bad\x00name,0.55,51.39\n"
        b"NUL-2,Good name,0.551,51.39\n"
        b"NUL\x003,Bad tag,0.552,51.39\n"
    )
    r = assets.post(
        "/cameras/import", files={"file": ("reg.csv", csv, "text/csv")}, headers=tokens["admin"]
    )
    assert r.status_code == 200, r.text
    report = r.json()
    assert (report["rows_read"], report["added"], report["rejected"]) == (3, 1, 2)
    assert sorted(e["line"] for e in report["errors"]) == [2, 4]
    assert all("NUL" in e["reason"] for e in report["errors"])
    got = assets.get("/cameras", params={"q": "Good name"}, headers=tokens["admin"]).json()
    assert [c["asset_tag"] for c in got["items"]] == ["NUL-2"]


# ------------------------------------------------- assets: UTC offsets, extreme years, offsets


@pytest.mark.parametrize("offset", ["+20:41", "-18:51", "+16:00"])
def test_offsets_postgres_refuses_are_converted_to_utc(
    assets: Any, camera: dict[str, Any], tokens: dict[str, dict[str, str]], offset: str
) -> None:
    """ISO 8601 allows UTC offsets up to 23:59; PostgreSQL refuses beyond 15:59 (was a 500)."""
    from datetime import datetime

    cid = camera["id"]
    when = f"2024-01-01T10:00:00{offset}"
    r = assets.post(
        f"/cameras/{cid}/faults",
        json={"category": "power", "description": "x", "reported_at": when},
        headers=tokens["admin"],
    )
    assert r.status_code == 201, r.text
    got = datetime.fromisoformat(r.json()["reported_at"].replace("Z", "+00:00"))
    assert got == datetime.fromisoformat(when)  # the same instant
    q = {"start": f"2023-12-31T00:00:00{offset}", "end": f"2024-02-01T00:00:00{offset}"}
    r = assets.get(f"/cameras/{cid}/availability", params=q, headers=tokens["admin"])
    assert r.status_code == 200, r.text
    assert r.json()["downtime_hours"] > 0  # the fault above, found across the odd offsets
    for url, params in [
        ("/faults/sla-breaches", {"since": when}),
        ("/recommendations", {"as_of": when}),
        ("/open311/v2/requests.json", {"start_date": when}),
    ]:
        r = assets.get(url, params=params, headers=tokens["admin"])
        assert r.status_code == 200, (url, r.text)


@pytest.mark.parametrize(
    ("url", "params", "status"),
    [
        ("/recommendations", {"as_of": "0001-01-02T00:00:00"}, 422),  # window before year 1
        ("/recommendations", {"as_of": "0001-01-02T00:00:00+05:00"}, 422),
        ("/faults/sla-breaches", {"since": "9999-12-31T23:00:00-05:00"}, 422),
        ("/cameras", {"offset": str(10**19)}, 422),  # bigint OFFSET overflow
        ("/faults", {"offset": str(2**63)}, 422),
    ],
)
def test_out_of_range_times_and_offsets_are_client_errors(
    assets: Any, tokens: dict[str, dict[str, str]], url: str, params: dict[str, str], status: int
) -> None:
    problem(assets.get(url, params=params, headers=tokens["admin"]), status)


def test_open311_out_of_range_start_is_a_georeport_error(
    assets: Any, tokens: dict[str, dict[str, str]]
) -> None:
    r = assets.get(
        "/open311/v2/requests.json",
        params={"start_date": "0001-01-01T00:00:00+05:00"},
        headers=tokens["admin"],
    )
    # GeoReport v2 answers errors as [{code, description}] with the HTTP status.
    assert r.status_code == 400 and r.json()[0]["code"] == 400


# ------------------------------------------ predictive: UTC offsets, extreme dates, null settings


@pytest.fixture()
def predictive(client_of: Callable[[str], Any], db_session: Any) -> Any:
    """The predictive app with Medway's boundaries, the agencies and a little fire history."""
    from tests.factories import load_medway, make_list, store_incidents, synthetic_incidents

    load_medway(db_session)
    store_incidents(db_session, synthetic_incidents(), source="fire")
    make_list(db_session, "kfrs", date(2024, 5, 1))
    return client_of("predictive")


def test_visit_with_offset_postgres_refuses_is_stored_in_utc(
    predictive: Any, tokens: dict[str, dict[str, str]]
) -> None:
    from datetime import datetime

    gj = predictive.get(
        "/targets", params={"agency": "kfrs", "date": "2024-05-01"}, headers=tokens["admin"]
    ).json()
    cell = gj["features"][0]["properties"]["cell_id"]
    when = "2024-05-01T10:00:00+20:41"
    body = {
        "agency": "kfrs",
        "date": "2024-05-01",
        "cell_id": cell,
        "visited_at": when,
        "crew": "Blue watch",
    }
    r = predictive.post("/visits", json=body, headers=tokens["admin"])
    assert r.status_code == 201, r.text
    got = datetime.fromisoformat(r.json()["visited_at"].replace("Z", "+00:00"))
    assert got == datetime.fromisoformat(when)
    r = predictive.post(
        f"/targets/{gj['list_id']}/boxes/{cell}/visits",
        json={"visited_at": "2024-05-01T09:00:00-18:00", "crew": "Red watch"},
        headers=tokens["admin"],
    )
    assert r.status_code == 201, r.text


@pytest.mark.parametrize(
    ("method", "url", "kw"),
    [
        ("get", "/targets", {"params": {"agency": "kfrs", "date": "0001-01-01"}}),
        ("get", "/targets.csv", {"params": {"agency": "kfrs", "date": "0001-01-01"}}),
        ("get", "/targets/page", {"params": {"agency": "kfrs", "date": "0001-01-01"}}),
        ("get", "/visits", {"params": {"agency": "kfrs", "to": "0001-01-05"}}),
        (
            "post",
            "/visits",
            {
                "json": {
                    "agency": "kfrs",
                    "date": "2024-05-01",
                    "cell_id": "150m_1_1",
                    "visited_at": "0001-01-01T00:00:00+05:00",
                    "crew": "x",
                }
            },
        ),
        ("patch", "/agencies/kfrs", {"json": {"shift_start_hour": None}}),
        ("patch", "/agencies/kfrs", {"json": {"name": None, "categories": None}}),
    ],
)
def test_extreme_dates_and_null_settings_are_422(
    predictive: Any, tokens: dict[str, dict[str, str]], method: str, url: str, kw: dict[str, Any]
) -> None:
    problem(getattr(predictive, method)(url, headers=tokens["admin"], **kw), 422)


# ------------------------------------------------------ hotspots: extreme days, paging offsets


@pytest.mark.parametrize(
    ("method", "url", "kw"),
    [
        ("post", "/surfaces", {"json": {"from": "0001-01-01", "to": "9999-12-31"}}),
        ("post", "/surfaces", {"json": {"to": "9999-12-31"}}),
        ("post", "/surfaces/1/evaluate", {"json": {"from": "2022-01-01", "to": "9999-12-31"}}),
        ("get", "/sites/road", {"params": {"end": "9999-12-31"}}),
        ("get", "/surfaces", {"params": {"offset": str(10**19)}}),
    ],
)
def test_hotspots_extreme_days_and_offsets_are_422(
    client_of: Callable[[str], Any],
    tokens: dict[str, dict[str, str]],
    method: str,
    url: str,
    kw: dict[str, Any],
) -> None:
    client = client_of("hotspots")
    problem(getattr(client, method)(url, headers=tokens["admin"], **kw), 422)
