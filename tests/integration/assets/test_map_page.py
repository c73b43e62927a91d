"""The assets pages on the suite's one sign-in: the review map by role, the control room for
operators, the incident data's period and the evidence window, ward and grid reference in lists.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared import accounts
from shared.geometry import point_to_bng
from tests.factories import incident_row, store_incidents

ISLAND = re.compile(r'<script type="application/json" id="csp-map-data">(.*?)</script>', re.S)
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')
PASSWORD = "map-page-password"


@pytest.fixture()
def person(db_session: Any) -> Callable[..., str]:
    """Make an account for a role; returns its username."""

    def make(role: str, agency: str | None = None) -> str:
        username = f"map.{role}"
        if accounts.find_user(db_session, username) is None:
            accounts.create_user(
                db_session,
                username=username,
                role=role,
                agency=agency,
                full_name=f"Map {role.title()}",
                password=PASSWORD,
            )
            db_session.flush()
        return username

    return make


def sign_in(client: Any, username: str, next_path: str = "/map") -> None:
    """Sign in through the shared form as a browser on this site would."""
    client.cookies.clear()
    r = client.post(
        "/sign-in",
        data={"username": username, "password": PASSWORD, "next": next_path},
        headers={"Origin": str(client.base_url)},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    assert r.headers["location"] == next_path


def _island(page: str) -> tuple[str, dict[str, Any]]:
    m = ISLAND.search(page)
    assert m is not None
    return m.group(0), json.loads(m.group(1))


def _text(page: str) -> str:
    """The page's text without tags (entities decoded), to find sentences in it."""
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))


def _grid_ref_by_hand(lon: float, lat: float) -> str:
    """Medway lies in the 100 km square TQ (E 500-600 km, N 100-200 km): 4+4 figures."""
    x, y = point_to_bng(lon, lat)
    assert 500_000 <= x < 600_000 and 100_000 <= y < 200_000
    return f"TQ {int(x) % 100_000 // 10:04d} {int(y) % 100_000 // 10:04d}"


@pytest.mark.parametrize(
    ("role", "sees_faults", "sees_recs"),
    [
        (None, False, False),
        ("crew", False, False),
        ("operator", True, False),
        ("seg", True, True),
        ("analyst", True, True),
        ("admin", True, True),
    ],
)
def test_the_map_by_role_with_the_shared_session(
    client: Any,
    tokens: dict[str, dict[str, str]],
    new_camera: Callable[..., dict[str, Any]],
    person: Callable[..., str],
    role: str | None,
    sees_faults: bool,
    sees_recs: bool,
) -> None:
    cam = new_camera(name="Map role camera")
    r = client.post(
        f"/cameras/{cam['id']}/faults",
        json={"category": "no_picture", "description": "Secret fault text"},
        headers=tokens["operator"],
    )
    assert r.status_code == 201, r.text
    if role:
        sign_in(client, person(role, "kfrs" if role == "crew" else None))
    page = client.get("/map")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    block, data = _island(page.text)
    assert ("Secret fault text" in json.dumps(data)) is sees_faults
    assert ('id="fault-list"' in page.text) is sees_faults
    assert ('id="rec-list"' in page.text) is sees_recs
    assert "Secret fault text" not in page.text.replace(block, "")  # only ever as data
    # The base template's header: the person and sign-out, or a sign-in link back to /map.
    if role:
        assert f"Map {role.title()}" in page.text and 'data-testid="signout"' in page.text
        assert CSRF_META.search(page.text)
    else:
        assert 'data-testid="signin-link"' in page.text and "next=%2Fmap" in page.text
        assert 'data-testid="public-note"' in page.text


def test_the_old_token_sign_in_is_gone(client: Any, tokens: dict[str, dict[str, str]]) -> None:
    token = tokens["seg"]["Authorization"].removeprefix("Bearer ")
    for path in ("/map/sign-in", "/map/sign-out"):
        r = client.post(path, data={"token": token}, headers={"Origin": str(client.base_url)})
        assert r.status_code in (404, 405), (path, r.status_code)
    # The old cookie opens nothing any more: the map stays public.
    client.cookies.set("csp_map_token", token)
    page = client.get("/map")
    assert 'data-testid="public-note"' in page.text and 'id="rec-list"' not in page.text
    assert 'name="token"' not in page.text and 'type="password"' not in page.text


def test_control_room_needs_an_operator(client: Any, person: Callable[..., str]) -> None:
    r = client.get("/control-room")
    assert r.status_code == 401 and r.headers["content-type"].startswith("text/html")
    assert 'data-testid="signin-username"' in r.text and "next=%2Fcontrol-room" in r.text
    sign_in(client, person("crew", "kfrs"), "/control-room")
    r = client.get("/control-room")
    assert r.status_code == 403 and r.headers["content-type"].startswith("text/html")
    reason = _text(r.text)
    assert "The control room needs the role admin or operator" in reason
    for role in ("operator", "admin"):
        sign_in(client, person(role), "/control-room")
        r = client.get("/control-room")
        assert r.status_code == 200, role
        assert CSRF_META.search(r.text) and 'data-testid="log-fault"' in r.text
        # No token box and no token kept in the browser; its calls go through the suite's API
        # client, with the session cookie.
        assert "localStorage" not in r.text and "Authorization" not in r.text
        assert 'type="password"' not in r.text and '<script src="/static/csp/api.js">' in r.text
    client_js = client.get("/static/csp/api.js")
    assert client_js.status_code == 200
    assert "localStorage" not in client_js.text and "Authorization" not in client_js.text
    assert "credentials: 'same-origin'" in client_js.text


def test_control_room_api_calls_go_with_the_session_and_its_csrf_token(
    client: Any, new_camera: Callable[..., dict[str, Any]], person: Callable[..., str]
) -> None:
    """What the page's script sends: the cookie and X-CSRF-Token from the meta tag."""
    cam = new_camera(name="Session fault camera")
    sign_in(client, person("operator"), "/control-room")
    m = CSRF_META.search(client.get("/control-room").text)
    assert m is not None
    body = {"category": "power", "description": "Logged with the session"}
    origin = {"Origin": str(client.base_url)}
    # Without the page's token, the cookie alone changes nothing.
    assert client.post(f"/cameras/{cam['id']}/faults", json=body, headers=origin).status_code == 403
    r = client.post(
        f"/cameras/{cam['id']}/faults", json=body, headers=origin | {"X-CSRF-Token": m.group(1)}
    )
    assert r.status_code == 201, r.text
    assert r.json()["events"][0]["actor"] == "Map Operator (map.operator, operator)"


def test_lists_show_ward_and_grid_reference(
    client: Any,
    db_session: Any,
    tokens: dict[str, dict[str, str]],
    new_camera: Callable[..., dict[str, Any]],
    person: Callable[..., str],
) -> None:
    lon, lat = 0.5466, 51.3887
    cam = new_camera(name="Grid camera", ward="Gillingham North", lon=lon, lat=lat)
    expected = _grid_ref_by_hand(lon, lat)
    assert cam["grid_ref"] == expected
    public = client.get("/cameras").json()["items"]
    assert next(c for c in public if c["id"] == cam["id"])["grid_ref"] == expected
    client.post(
        f"/cameras/{cam['id']}/faults",
        json={"category": "no_picture", "description": "Grid fault"},
        headers=tokens["operator"],
    )
    # Incident data in the window (not near the camera), so its lack of use can be judged.
    x, y = point_to_bng(lon, lat)
    recent = datetime.now(UTC) - timedelta(days=20)
    far = incident_row(occurred_at=recent, xy=(x + 3000.0, y), source_id="grid-far")
    store_incidents(db_session, [far], source="police")
    sign_in(client, person("seg"))
    page = client.get("/map").text
    place = f"Gillingham North \u00b7 {expected}"
    fault_list = page[page.index('id="fault-list"') : page.index("</ul>", page.index("fault-list"))]
    assert place in html.unescape(fault_list)
    rec_list = page[page.index('id="rec-list"') : page.index("</ul>", page.index("rec-list"))]
    assert place in html.unescape(rec_list)  # no incidents: "no evidence of use" for it
    _, data = _island(page)
    assert place in json.dumps(data, ensure_ascii=False)  # popups, as text data


MONTHS_2022 = [datetime(2022, m, 1, tzinfo=UTC) for m in range(1, 10)]


@pytest.fixture()
def rapid_with_2022_incidents(
    db_session: Any, new_camera: Callable[..., dict[str, Any]]
) -> dict[str, Any]:
    """A rapid-deployment camera with 9 police incidents (one a month, 2022-01 to 2022-09)
    a few metres in front of it, and nothing since."""
    cam = new_camera(name="Rapid camera", deployment="rapid", installed_on="2021-06-01")
    x, y = point_to_bng(cam["lon"], cam["lat"])
    rows = [
        incident_row(
            occurred_at=when,
            xy=(x + 20.0, y),  # bearing 90: 20 m east, inside the 80 m view
            source="police",
            source_id=f"map-page-{i}",
            category="Anti-social behaviour",
            time_precision="month",
        )
        for i, when in enumerate(MONTHS_2022)
    ]
    store_incidents(db_session, rows, source="police")
    return cam


def test_map_says_what_the_incident_data_cover_and_offers_a_window_with_data(
    client: Any, person: Callable[..., str], rapid_with_2022_incidents: dict[str, Any]
) -> None:
    cam = rapid_with_2022_incidents
    sign_in(client, person("seg"))
    page = client.get("/map").text
    text = _text(page)
    assert "Incidents up to 30 September 2022 (from 1 January 2022)." in text
    # The window ending today holds none of it: said plainly, with the newest day offered.
    assert 'data-testid="window-no-data"' in page
    assert "No incident data for this window (the incident data end on 30 September 2022" in text
    assert 'href="/map?as_of=2022-09-30"' in page
    # No camera is judged on its use where there are no data: never "no evidence of use".
    rows = _rec_rows(page)
    assert ("review", cam["id"]) not in rows and ("make permanent", cam["id"]) not in rows
    assert "no evidence of use" not in text.lower()
    _, island = _island(page)
    assert "no incident data for this window" in json.dumps(island)
    # The window ending on the newest day: all 9 incidents counted, so the camera is in use.
    page = client.get("/map?as_of=2022-09-30").text
    text = _text(page)
    assert 'data-testid="window-no-data"' not in page
    assert "12 months: the 365 days from 1 October 2021 to 30 September 2022" in text
    assert "Incident data cover 273 of the window\u2019s 365 days." in text  # from 1 January
    assert 'href="/map"' in page and 'data-testid="window-today-link"' in page
    rows = _rec_rows(page)
    assert ("make permanent", cam["id"]) in rows, rows
    assert "9 incidents in view" in text


def _rec_rows(page: str) -> list[tuple[str, int]]:
    """(action, camera id) of each row in the recommendations list."""
    found = re.findall(
        r'data-testid="rec-row" data-rec="\d+" data-camera="(\d+)"[^>]*>\s*<button[^>]*>\s*'
        r'<span class="rec-action">([^<]+)</span>',
        page,
    )
    return [(action, int(cid)) for cid, action in found]


def test_a_window_that_ends_before_the_data_begin(
    client: Any, person: Callable[..., str], rapid_with_2022_incidents: dict[str, Any]
) -> None:
    sign_in(client, person("analyst"))
    text = _text(client.get("/map?as_of=2020-06-30").text)
    assert "the incident data begin on 1 January 2022, after it" in text
    # 12 months back from the end of 30 June 2020: 366 days (February 2020 had 29).
    assert "12 months: the 366 days from 1 July 2019 to 30 June 2020" in text
    assert "No incident data for this window." in text


def test_part_of_the_data_ending_inside_the_window_is_said(
    client: Any,
    db_session: Any,
    person: Callable[..., str],
    rapid_with_2022_incidents: dict[str, Any],
) -> None:
    cam = rapid_with_2022_incidents
    x, y = point_to_bng(cam["lon"], cam["lat"])
    late = incident_row(
        occurred_at=datetime(2022, 12, 20, 21, 30, tzinfo=UTC), xy=(x + 10, y), source_id="f-1"
    )
    store_incidents(db_session, [late], source="fire")
    sign_in(client, person("seg"))
    text = _text(client.get("/map?as_of=2022-12-31").text)
    assert "Incidents up to 20 December 2022 (from 1 January 2022)." in text
    # Police end three months before the window; fire 11 days before, as data normally do.
    assert (
        "Some incident data end well before this window does: police (up to 30 September 2022)."
        in text
    )
    # A window ending within a month of each source's last day says nothing of the kind.
    text = _text(client.get("/map?as_of=2022-10-15").text)
    assert "end well before" not in text


@pytest.mark.parametrize(
    "raw", ["2022-13-01", "yesterday", "20220930", "<script>alert(1)</script>", "0001-01-01"]
)
def test_a_bad_as_of_is_said_and_the_window_ends_today(
    client: Any, person: Callable[..., str], raw: str
) -> None:
    sign_in(client, person("seg"))
    r = client.get("/map", params={"as_of": raw})
    assert r.status_code == 200
    assert 'data-testid="as-of-error"' in r.text and "showing the 12 months ending today" in r.text
    assert "<script>alert(1)</script>" not in r.text
    assert "to today," in _text(r.text)


@pytest.mark.parametrize("role", [None, "crew"])
def test_the_public_and_crews_see_where_cameras_are_not_which_are_down(
    client: Any,
    tokens: dict[str, dict[str, str]],
    new_camera: Callable[..., dict[str, Any]],
    person: Callable[..., str],
    role: str | None,
) -> None:
    cam = new_camera(name="Down camera", purpose="Station forecourt")
    r = client.post(
        f"/cameras/{cam['id']}/faults",
        json={"category": "no_picture", "description": "Dead"},
        headers=tokens["operator"],
    )
    assert r.status_code == 201
    assert client.get(f"/cameras/{cam['id']}", headers=tokens["operator"]).json()["health"] == (
        "offline"
    )
    if role:
        sign_in(client, person(role, "kfrs"))
    page = client.get("/map").text
    block, data = _island(page)
    popup = json.dumps(data["layers"])
    assert "Down camera" in popup and "Purpose: Station forecourt" in popup
    assert "Digital, fixed" in popup
    for word in ("offline", "online", "degraded", "health", "fault"):
        assert word not in popup.lower(), word
    assert "csp-health" not in page and "Border = health" not in page
    assert "offline" not in page.replace(block, "")
    # Signed in as an operator, the same camera is drawn offline.
    sign_in(client, person("operator"))
    page = client.get("/map").text
    assert "csp-health-offline" in page and "Border = health" in page


def _window_text(client: Any, **params: str) -> str:
    r = client.get("/map", params=params)
    assert r.status_code == 200
    return _text(r.text)


def test_the_window_is_6_12_or_24_months_or_between_dates(
    client: Any, person: Callable[..., str], rapid_with_2022_incidents: dict[str, Any]
) -> None:
    sign_in(client, person("seg"))
    # Worked out by hand: months back from the end of 30 September 2022 (London days).
    for months, first, days in (("6", "1 April 2022", 183), ("24", "1 October 2020", 730)):
        text = _window_text(client, months=months, as_of="2022-09-30")
        assert f"{months} months: the {days} days from {first} to 30 September 2022" in text
    # 24 months: data from 1 January 2022 cover 273 of its 730 days.
    assert "Incident data cover 273 of the window\u2019s 730 days." in _window_text(
        client, months="24", as_of="2022-09-30"
    )
    text = _window_text(client, months="dates", **{"from": "2022-03-01"}, as_of="2022-05-31")
    assert "over the dates chosen: the 92 days from 1 March 2022 to 31 May 2022" in text
    assert "Incident data cover the whole window." in text
    page = client.get("/map", params={"months": "6", "as_of": "2022-09-30"}).text
    assert '<option value="6" selected>' in page and 'value="2022-09-30"' in page


@pytest.mark.parametrize(
    ("params", "said"),
    [
        ({"months": "7"}, "\u201c7\u201d is not a window: choose 6, 12 or 24 months, or dates"),
        ({"months": "dates"}, "Between dates needs a first day (From)"),
        (
            {"months": "dates", "from": "2022-06-01", "as_of": "2022-05-01"},
            "The window starts on 1 June 2022, after it ends (1 May 2022)",
        ),
        (
            {"months": "dates", "from": "2010-01-01", "as_of": "2022-05-01"},
            "A window of 4504 days is longer than the 1830 days allowed",
        ),
        ({"months": "dates", "from": "1 May"}, "\u201c1 May\u201d is not a date (YYYY-MM-DD)"),
        # Any length: cut short before the work and said in words (no JSON error on a page).
        ({"months": "6" * 5000}, "\u201c66666666666666666666\u201d is not a window"),
        (
            {"as_of": "2022-09-30" + "0" * 5000},
            "\u201c2022-09-30000000000000000000000000000000\u201d",
        ),
    ],
)
def test_a_window_that_cannot_be_is_said_and_the_12_months_shown(
    client: Any, person: Callable[..., str], params: dict[str, str], said: str
) -> None:
    sign_in(client, person("analyst"))
    r = client.get("/map", params=params)
    assert r.status_code == 200 and 'data-testid="as-of-error"' in r.text
    text = _text(r.text)
    assert said in text, text[:2000]
    assert "showing the 12 months ending" in text and "Evidence is counted over 12 months" in text
