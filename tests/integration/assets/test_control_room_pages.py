"""The control room's pages as HTML: who may open the health board and the footage page, the
board's filters and its readable refusals, user text as data."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

ROW = re.compile(r'<tr data-testid="board-row" data-camera="(\d+)" data-health="(\w+)">')


def _text(page: str) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))


@pytest.fixture()
def board_cameras(client: Any, tokens: Any, new_camera: Any) -> dict[str, int]:
    """Three cameras named 'Board ...': one offline past its SLA, one degraded, one online."""
    cams = {
        "down": new_camera(name="Board <b>down</b> camera", ward="Gillingham North")["id"],
        "dim": new_camera(name="Board dim camera", ward="Chatham Central")["id"],
        "fine": new_camera(name="Board fine camera", ward="Chatham Central")["id"],
    }
    late = (datetime.now(UTC) - timedelta(hours=30)).isoformat()
    for cam, category, at in (("down", "no_picture", late), ("dim", "vandalism", None)):
        body = {"category": category, "description": f"{cam} fault"}
        if at:
            body["reported_at"] = at
        r = client.post(f"/cameras/{cams[cam]}/faults", json=body, headers=tokens["operator"])
        assert r.status_code == 201, r.text
    return cams


def _board(client: Any, tokens: Any, role: str = "seg", **params: Any) -> Any:
    return client.get("/health-board", params={"q": "Board", **params}, headers=tokens[role])


def test_the_board_shows_every_camera_worst_first(
    client: Any, tokens: Any, board_cameras: dict[str, int]
) -> None:
    r = _board(client, tokens)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    rows = [(int(c), h) for c, h in ROW.findall(r.text)]
    ours = [row for row in rows if row[0] in board_cameras.values()]
    assert ours == [
        (board_cameras["down"], "offline"),
        (board_cameras["dim"], "degraded"),
        (board_cameras["fine"], "online"),
    ]
    text = _text(r.text)
    assert "Board <b>down</b> camera" in text and "<b>down</b>" not in r.text  # as data
    assert "1 breached" in text and "no picture (open" in text
    assert 'data-testid="health-board"' in r.text


def test_the_filters_narrow_the_board(
    client: Any, tokens: Any, board_cameras: dict[str, int]
) -> None:
    def shown(**params: Any) -> set[int]:
        r = _board(client, tokens, **params)
        assert r.status_code == 200, r.text
        return {int(c) for c, _ in ROW.findall(r.text)} & set(board_cameras.values())

    assert shown(health="offline") == {board_cameras["down"]}
    assert shown(breached="1") == {board_cameras["down"]}
    assert shown(open="1") == {board_cameras["down"], board_cameras["dim"]}
    assert shown(ward="Chatham Central") == {board_cameras["dim"], board_cameras["fine"]}
    assert shown(ward="Chatham Central", health="online") == {board_cameras["fine"]}
    r = _board(client, tokens, q="no such camera name")
    assert "No camera matches these filters." in _text(r.text)


def test_an_unknown_filter_value_is_a_readable_422_naming_it(
    client: Any, tokens: Any, board_cameras: dict[str, int]
) -> None:
    r = _board(client, tokens, health="purple")
    assert r.status_code == 422 and r.headers["content-type"].startswith("text/html")
    text = _text(r.text)
    assert "There is no health \u201cpurple\u201d on the board" in text
    assert "online, degraded, offline" in text
    r = _board(client, tokens, ward="<script>x</script>")
    assert r.status_code == 422 and "<script>x</script>" not in r.text
    r = client.get("/health-board", params={"q": "x" * 101}, headers=tokens["seg"])
    assert r.status_code == 422 and "at most 100" in _text(r.text)


def test_who_may_open_the_board_and_the_footage_page(client: Any, tokens: Any) -> None:
    for path in ("/health-board", "/footage"):
        r = client.get(path)
        assert r.status_code == 401 and 'data-testid="signin-username"' in r.text, path
    for role in ("operator", "seg", "analyst", "admin"):
        assert client.get("/health-board", headers=tokens[role]).status_code == 200, role
    crew = client.get("/health-board", headers=tokens["crew"])
    assert crew.status_code == 403
    assert "The health board needs the role" in _text(crew.text)
    for role in ("operator", "admin"):
        r = client.get("/footage", headers=tokens[role])
        assert r.status_code == 200 and 'data-testid="footage-submit"' in r.text, role
    for role in ("seg", "analyst", "crew"):
        r = client.get("/footage", headers=tokens[role])
        assert r.status_code == 403 and "Footage requests needs the role" in _text(r.text), role


def test_the_control_room_offers_the_new_controls(client: Any, tokens: Any) -> None:
    r = client.get("/control-room", headers=tokens["operator"])
    assert r.status_code == 200
    for testid in (
        "fault-log",
        "fault-started",
        "duplicate-warning",
        "add-note-instead",
        "log-anyway",
        "move-note",
        "move-job",
        "closed-search",
        "closed-today",
        "live-status",
        "link-health-board",
        "link-footage",
    ):
        assert f'data-testid="{testid}"' in r.text, testid
    assert "/faults/changes" in r.text and "innerHTML" not in r.text
