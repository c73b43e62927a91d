"""SEG decisions on the review map: the hooks to record them (the SEG only), a redundant pair as
one row, decisions shown (rings, popups, the list, what is due) and their recommendations marked
decided, and the "recorded" notice after the form."""

from __future__ import annotations

import html
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.assets.decisions.apply import london_today
from shared import accounts
from shared.geometry import point_to_bng
from tests.factories import incident_row, store_incidents

ISLAND = re.compile(r'<script type="application/json" id="csp-map-data">(.*?)</script>', re.S)
REVIEW = re.compile(r'<script type="application/json" id="review-data">(.*?)</script>', re.S)
PASSWORD = "decisions-map-password"
LATER = london_today() + timedelta(days=44)


def _sign_in(client: Any, db_session: Any, role: str) -> None:
    username = f"decide.{role}"
    if accounts.find_user(db_session, username) is None:
        accounts.create_user(
            db_session,
            username=username,
            role=role,
            full_name=f"Decide {role.title()}",
            password=PASSWORD,
        )
        db_session.flush()
    client.cookies.clear()
    r = client.post(
        "/sign-in",
        data={"username": username, "password": PASSWORD, "next": "/map"},
        headers={"Origin": str(client.base_url)},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text


@pytest.fixture()
def pair(db_session: Any, new_camera: Any) -> dict[str, Any]:
    """Two analogue cameras side by side viewing the same car park, with incidents in view."""
    spot = {"lon": 0.6090, "lat": 51.3620, "bearing_deg": 160.0, "fov_deg": 60.0, "range_m": 50.0}
    north = new_camera(
        name="Car park north", technology="analogue", installed_on="2009-03-02", **spot
    )
    south = new_camera(
        name="Car park south", technology="analogue", installed_on="2009-09-14", **spot
    )
    x, y = point_to_bng(spot["lon"], spot["lat"])
    recent = datetime.now(UTC) - timedelta(days=20)
    rows = [
        incident_row(occurred_at=recent, xy=(x + 5.0, y - 20.0), source_id=f"cp-{i}")
        for i in range(5)
    ]
    store_incidents(db_session, rows, source="police")
    return {"remove": north, "keep": south}


def _page(client: Any, **params: str) -> tuple[str, dict[str, Any], dict[str, Any]]:
    r = client.get("/map", params=params)
    assert r.status_code == 200
    islands = ISLAND.search(r.text), REVIEW.search(r.text)
    assert islands[0] is not None
    review = json.loads(islands[1].group(1)) if islands[1] else {}
    return r.text, json.loads(islands[0].group(1)), review


def _decide(client: Any, tokens: Any, cam: dict[str, Any], **body: Any) -> dict[str, Any]:
    etag = client.get(f"/cameras/{cam['id']}", headers=tokens["seg"]).headers["etag"]
    base = {
        "meeting_date": london_today().isoformat(),
        "minute_ref": "SEG 2026/12 item 6",
        "reason": "agreed",
    }
    r = client.post(
        f"/cameras/{cam['id']}/decisions",
        json=base | body,
        headers=tokens["seg"] | {"If-Match": etag},
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


def _row(page: str, camera_id: int) -> str:
    m = re.search(
        rf'<li data-testid="rec-row"[^>]*data-camera="{camera_id}"[^>]*>.*?</li>', page, re.S
    )
    assert m, f"no row for camera {camera_id}"
    return m.group(0)


def test_the_seg_records_decisions_from_the_map_and_analysts_only_read(
    client: Any, db_session: Any, pair: dict[str, Any]
) -> None:
    remove, keep = pair["remove"], pair["keep"]
    _sign_in(client, db_session, "seg")
    page, data, review = _page(client)
    row = _row(page, remove["id"])
    # The pair is one row: remove the north camera, keep the south one and replace it.
    assert f'data-pair="{keep["id"]}"' in row and 'data-testid="record-decision"' in row
    assert 'remove <span class="cam-name">Car park north</span>' in row
    assert "(replace with digital)" in html.unescape(row)
    assert not re.search(rf'<li data-testid="rec-row"[^>]*data-camera="{keep["id"]}"', page)
    index = re.search(r'data-rec="(\d+)"', row)
    assert index is not None
    entry = review["recs"][index.group(1)]
    assert entry["pair"] is True
    assert [(p["camera"], p["action"]) for p in entry["parts"]] == [
        (remove["id"], "decommission"),
        (keep["id"], "replace_with_digital"),
    ]
    assert 'id="decision-dialog"' in page and 'data-testid="decision-submit"' in page
    popups = json.dumps(data["layers"])
    assert popups.count('"data-testid": "record-decision"') >= 2  # cameras and rings
    assert f"/map?decide={remove['id']}" in popups
    # A link opening the form (a popup's, without the script) is named in the page's data.
    _, _, opened = _page(client, decide=str(remove["id"]))
    assert opened["open"] == {"camera": remove["id"], "rec": None}
    # Analysts read the same advice but record nothing.
    _sign_in(client, db_session, "analyst")
    page, data, review = _page(client)
    assert f'data-pair="{keep["id"]}"' in _row(page, remove["id"])
    assert 'data-testid="record-decision"' not in page and "decision-dialog" not in page
    assert "record-decision" not in json.dumps(data["layers"])
    _, _, opened = _page(client, decide=str(remove["id"]))
    assert opened["open"] is None


def test_decisions_show_on_the_map_and_mark_their_recommendations_decided(
    client: Any, tokens: Any, db_session: Any, pair: dict[str, Any]
) -> None:
    remove, keep = pair["remove"], pair["keep"]
    answers = {"rule": "redundant_overlap"}
    first = _decide(
        client,
        tokens,
        remove,
        decision="decommission",
        related_camera_id=keep["id"],
        answers=answers | {"action": "decommission"},
    )
    second = _decide(
        client,
        tokens,
        keep,
        decision="replace_with_digital",
        effective_on=LATER.isoformat(),
        related_camera_id=remove["id"],
        answers=answers | {"action": "replace_with_digital"},
    )
    _sign_in(client, db_session, "seg")
    page, data, _ = _page(client, recorded=f"{first['id']},{second['id']},99999,x")
    text = html.unescape(re.sub(r"<[^>]+>", " ", page))
    due = f"replace with digital on {LATER.isoformat()}"
    # The notice names what was recorded (unknown ids are left out).
    notice = re.search(r'data-testid="decision-recorded".*?</div>\s*</div>', page, re.S)
    assert notice is not None
    said = html.unescape(notice.group(0))
    assert "Decommission (remove) for Car park north (in effect), minute SEG 2026/12 item 6" in said
    assert f"Replace with digital for Car park south (due: {due})" in said
    # The pair's row: decided, both halves said; nothing left to record on it.
    row = _row(page, remove["id"])
    assert 'data-decided="yes"' in row and row.count('data-testid="rec-decided"') == 2
    assert 'data-testid="record-decision"' not in row
    # The decisions list and what is due; rings on the map (recorded, due).
    assert page.count('data-testid="decision-row"') == 2
    assert f"Due: {due}" in text
    assert "csp-decision csp-decision-applied csp-decided-decommission" in page
    assert "csp-decision csp-decision-scheduled csp-decided-replace_with_digital" in page
    # The popups: what, when (the meeting), by whom and the minute.
    popups = json.dumps(data["layers"], ensure_ascii=False)
    assert "minute SEG 2026/12 item 6" in popups and "recorded by test seg" in popups
    assert f"Due: {due}" in popups
    # The south camera is still analogue until then; its one decision now is retain.
    got = client.get(f"/cameras/{keep['id']}", headers=tokens["seg"]).json()
    assert got["technology"] == "analogue" and got["allowed_decisions"] == ["retain"]


def test_a_decision_from_a_camera_marks_its_open_recommendation_decided(
    client: Any, tokens: Any, db_session: Any, new_camera: Any
) -> None:
    """A recommendation the decision did not make go away (a camera kept) is marked too."""
    cam = new_camera(name="Quiet corner")
    x, y = point_to_bng(cam["lon"], cam["lat"])
    far = incident_row(
        occurred_at=datetime.now(UTC) - timedelta(days=5), xy=(x + 4000.0, y), source_id="far-1"
    )
    store_incidents(db_session, [far], source="police")
    _sign_in(client, db_session, "seg")
    page, _, _ = _page(client)
    assert 'data-decided="no"' in _row(page, cam["id"])  # review: no evidence of use
    _decide(client, tokens, cam, decision="retain")
    page, _, _ = _page(client)
    row = _row(page, cam["id"])
    assert 'data-decided="yes"' in row and "Decided" in row and "Retain" in row


def test_a_minute_with_markup_or_template_text_is_shown_as_typed(
    client: Any, tokens: Any, db_session: Any, new_camera: Any
) -> None:
    cam = new_camera(name="Minute camera")
    minute = "SEG {{ 7*7 }} <b>bold</b> </script><script>x=1</script>"
    d = _decide(client, tokens, cam, decision="retain", minute_ref=minute)
    _sign_in(client, db_session, "seg")
    page, data, _ = _page(client, recorded=str(d["id"]))
    assert "SEG 49" not in page and "<b>bold</b>" not in page  # never compiled, nor markup
    assert "<script>x=1</script>" not in page
    assert html.escape(minute, quote=False) in page  # the lists and notice: escaped text
    assert minute in json.dumps(data["layers"], ensure_ascii=False)  # the popups: as data
