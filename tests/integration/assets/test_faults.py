"""Faults: numbering, status history, health, availability, SLA breaches, roles, concurrency."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text

from tests.factories import delete_cameras, log_fault, make_camera


def _log(
    client: Any,
    tokens: Any,
    cam_id: int,
    category: str,
    at: datetime | None = None,
    role: str = "operator",
    duplicate: str | None = None,
) -> Any:
    body: dict[str, Any] = {"category": category, "description": f"{category} reported"}
    if at is not None:
        body["reported_at"] = at.isoformat()
    params = {"duplicate": duplicate} if duplicate else None
    return client.post(f"/cameras/{cam_id}/faults", json=body, headers=tokens[role], params=params)


def _status(
    client: Any, tokens: Any, fault_id: int, status: str, at: datetime | None = None
) -> Any:
    body: dict[str, Any] = {"status": status}
    if at is not None:
        body["at"] = at.isoformat()
    return client.patch(f"/faults/{fault_id}", json=body, headers=tokens["operator"])


def _health(client: Any, tokens: Any, cam_id: int) -> str:
    return str(client.get(f"/cameras/{cam_id}", headers=tokens["operator"]).json()["health"])


def test_fault_numbers_are_formatted_and_increasing(
    client: Any, tokens: Any, new_camera: Any
) -> None:
    cam = new_camera()
    nums = [
        _log(client, tokens, cam["id"], "other", duplicate="allow").json()["number"]
        for _ in range(3)
    ]
    year = datetime.now(UTC).year
    seqs = []
    for n in nums:
        m = re.fullmatch(rf"F-{year}-(\d{{6}})", n)
        assert m, n
        seqs.append(int(m.group(1)))
    assert seqs == sorted(seqs) and len(set(seqs)) == 3


def test_health_follows_faults(client: Any, tokens: Any, new_camera: Any) -> None:
    cam = new_camera()
    assert _health(client, tokens, cam["id"]) == "online"
    f1 = _log(client, tokens, cam["id"], "intermittent_picture").json()
    assert _health(client, tokens, cam["id"]) == "degraded"
    f2 = _log(client, tokens, cam["id"], "no_picture").json()
    assert _health(client, tokens, cam["id"]) == "offline"
    assert _status(client, tokens, f2["id"], "in_progress").status_code == 200
    assert _health(client, tokens, cam["id"]) == "offline"
    assert _status(client, tokens, f2["id"], "fixed").status_code == 200
    assert _health(client, tokens, cam["id"]) == "degraded"
    assert _status(client, tokens, f1["id"], "closed").status_code == 200
    assert _health(client, tokens, cam["id"]) == "online"
    hist = client.get(f"/cameras/{cam['id']}/history", headers=tokens["admin"]).json()
    health_moves = [
        (h["before"]["health"], h["after"]["health"]) for h in hist if h["action"] == "health"
    ]
    assert health_moves == [
        ("online", "degraded"),
        ("degraded", "offline"),
        ("offline", "degraded"),
        ("degraded", "online"),
    ]


def test_fault_history_and_refused_status_changes(
    client: Any, tokens: Any, new_camera: Any
) -> None:
    cam = new_camera()
    f = _log(client, tokens, cam["id"], "cabling").json()
    assert f["status"] == "open" and f["events"][0]["to_status"] == "open"
    assert _status(client, tokens, f["id"], "in_progress").status_code == 200
    assert _status(client, tokens, f["id"], "fixed").status_code == 200
    r = _status(client, tokens, f["id"], "in_progress")
    assert r.status_code == 409 and set(r.json()["allowed"]) == {"closed", "open"}
    assert _status(client, tokens, f["id"], "closed").status_code == 200
    r = _status(client, tokens, f["id"], "open")
    assert r.status_code == 409 and r.json()["allowed"] == []
    got = client.get(f"/faults/{f['id']}", headers=tokens["analyst"]).json()
    assert [e["to_status"] for e in got["events"]] == ["open", "in_progress", "fixed", "closed"]
    assert got["resolved_at"] is not None


def test_fault_etag_and_if_match(
    client: Any, tokens: Any, new_camera: Any, db_session: Any
) -> None:
    """ETag counts status changes; a stale If-Match is 412 and changes nothing."""
    cam = new_camera()
    logged = _log(client, tokens, cam["id"], "power")
    f = logged.json()
    assert logged.headers["etag"] == 'W/"1"'
    got = client.get(f"/faults/{f['id']}", headers=tokens["analyst"])
    assert got.headers["etag"] == 'W/"1"'
    op = tokens["operator"]
    r = client.patch(
        f"/faults/{f['id']}",
        json={"status": "in_progress"},
        headers={**op, "If-Match": got.headers["etag"]},
    )
    assert r.status_code == 200 and r.headers["etag"] == 'W/"2"', r.text

    def counts() -> tuple[int, int]:
        events = db_session.scalar(
            text("SELECT count(*) FROM assets.fault_events WHERE fault_id = :f"), {"f": f["id"]}
        )
        audits = db_session.scalar(
            text("SELECT count(*) FROM assets.audit_log WHERE entity = 'fault' AND entity_id = :f"),
            {"f": f["id"]},
        )
        return int(events), int(audits)

    before = counts()
    for stale in ('W/"1"', '"1"', 'W/"99"', "garbage"):
        r = client.patch(
            f"/faults/{f['id']}", json={"status": "closed"}, headers={**op, "If-Match": stale}
        )
        assert r.status_code == 412, (stale, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        assert "changed since you read it" in r.json()["detail"]
        assert r.json()["current"] == "in_progress"
    assert counts() == before
    assert _health(client, tokens, cam["id"]) == "offline"  # the power fault is still open
    # Without If-Match the change goes through (the control room's one-press path).
    assert _status(client, tokens, f["id"], "fixed").status_code == 200
    r = client.patch(
        f"/faults/{f['id']}", json={"status": "closed"}, headers={**op, "If-Match": 'W/"3"'}
    )
    assert r.status_code == 200 and r.headers["etag"] == 'W/"4"'


def test_availability_merges_overlapping_faults(client: Any, tokens: Any, new_camera: Any) -> None:
    cam = new_camera()
    t0 = datetime(2026, 6, 1, tzinfo=UTC)
    h = timedelta(hours=1)
    # no-picture faults [2h, 10h) and [6h, 14h) overlap: 12 h down; a degraded-only fault
    # [20h, 30h) adds 10 h of degraded time but no downtime.
    a = _log(client, tokens, cam["id"], "no_picture", t0 + 2 * h).json()
    b = _log(client, tokens, cam["id"], "power", t0 + 6 * h).json()
    c = _log(client, tokens, cam["id"], "intermittent_picture", t0 + 20 * h).json()
    _status(client, tokens, a["id"], "fixed", t0 + 10 * h)
    _status(client, tokens, b["id"], "fixed", t0 + 14 * h)
    _status(client, tokens, c["id"], "fixed", t0 + 30 * h)
    r = client.get(
        f"/cameras/{cam['id']}/availability",
        headers=tokens["analyst"],
        params={"start": t0.isoformat(), "end": (t0 + 48 * h).isoformat()},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert abs(body["downtime_hours"] - 12.0) < 1e-6
    assert abs(body["degraded_hours"] - 22.0) < 1e-6
    assert abs(body["availability"] - (1 - 12 / 48)) < 1e-6
    # a window cutting the first fault in half
    r = client.get(
        f"/cameras/{cam['id']}/availability",
        headers=tokens["analyst"],
        params={"start": (t0 + 8 * h).isoformat(), "end": (t0 + 12 * h).isoformat()},
    )
    assert abs(r.json()["downtime_hours"] - 4.0) < 1e-6


def test_sla_breaches_list_open_faults_past_target(
    client: Any, tokens: Any, new_camera: Any
) -> None:
    cam = new_camera()
    now = datetime.now(UTC)
    late = _log(client, tokens, cam["id"], "no_picture", now - timedelta(hours=30)).json()
    fresh = _log(client, tokens, cam["id"], "power", now - timedelta(hours=2)).json()
    slow_ok = _log(client, tokens, cam["id"], "pan_tilt_zoom", now - timedelta(hours=30)).json()
    assert late["sla"]["breached"] and late["sla"]["target_hours"] == 24
    r = client.get("/faults/sla-breaches", headers=tokens["operator"])
    ids = {b["fault"]["id"] for b in r.json()}
    assert late["id"] in ids and fresh["id"] not in ids and slow_ok["id"] not in ids
    _status(client, tokens, late["id"], "fixed")
    ids = {
        b["fault"]["id"]
        for b in client.get("/faults/sla-breaches", headers=tokens["operator"]).json()
    }
    assert late["id"] not in ids
    ids = {
        b["fault"]["id"]
        for b in client.get(
            "/faults/sla-breaches", params={"include_resolved": True}, headers=tokens["operator"]
        ).json()
    }
    assert late["id"] in ids


def test_fault_roles(client: Any, tokens: Any, new_camera: Any) -> None:
    cam = new_camera()
    assert (
        client.post(
            f"/cameras/{cam['id']}/faults", json={"category": "other", "description": "x"}
        ).status_code
        == 401
    )
    for role in ("analyst", "seg", "crew"):
        assert _log(client, tokens, cam["id"], "other", role=role).status_code == 403
    assert _log(client, tokens, cam["id"], "other", role="admin").status_code == 201
    assert (
        client.get(f"/cameras/{cam['id']}/faults", headers=tokens["analyst"]).json()["total"] == 1
    )
    r = client.post(
        f"/cameras/{cam['id']}/faults",
        json={"category": "meteor", "description": "x"},
        headers=tokens["operator"],
    )
    assert r.status_code == 422


def test_footage_requests(client: Any, tokens: Any, new_camera: Any) -> None:
    cam = new_camera()
    url = f"/cameras/{cam['id']}/footage-requests"
    body = {"requested_on": "2026-05-02", "reference": "KP/2026/123", "outcome": "provided"}
    assert client.post(url, json=body, headers=tokens["analyst"]).status_code == 403
    r = client.post(url, json=body, headers=tokens["operator"])
    assert r.status_code == 201 and r.json()["reference"] == "KP/2026/123"
    # Police references: operators (and admins) read them, SEG does not (issue 11, S7).
    assert client.get(url, headers=tokens["seg"]).status_code == 403
    rows = client.get(url, headers=tokens["operator"]).json()
    assert [(x["requested_on"], x["outcome"]) for x in rows] == [("2026-05-02", "provided")]


def test_fifty_concurrent_fault_writers_never_share_a_number(engine: Any) -> None:
    """50 sessions log faults on one camera at once; numbers stay unique and the camera's
    version rises by exactly the number of health changes (no lost update, no error)."""
    from shared.db import make_engine, make_sessionmaker

    eng = make_engine(str(engine.url.render_as_string(hide_password=False)), pool_size=50)
    factory = make_sessionmaker(eng)
    with factory() as s:
        cam_id = make_camera(s, name="Concurrency", lon=0.55, lat=51.38, asset_tag="CONC-1").id

    def write(i: int) -> str:
        with factory() as s:
            return str(log_fault(s, cam_id, description=f"w{i}", actor=f"w{i}").number)

    try:
        with ThreadPoolExecutor(max_workers=50) as pool:
            numbers = list(pool.map(write, range(50)))
        assert len(set(numbers)) == 50
        with factory() as s:
            stored = s.execute(
                text(
                    "SELECT count(DISTINCT number), count(*) FROM assets.faults WHERE camera_id=:c"
                ),
                {"c": cam_id},
            ).one()
            version, health = s.execute(
                text("SELECT version, health FROM assets.cameras WHERE id=:c"), {"c": cam_id}
            ).one()
        assert tuple(stored) == (50, 50)
        assert health == "degraded" and version == 2
    finally:
        with eng.begin() as conn:
            delete_cameras(conn, [cam_id])
        eng.dispose()
