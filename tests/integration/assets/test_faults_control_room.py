"""The control room's API: a second open fault of a kind is refused naming the first; a fault's
start before its report; notes on a fault (once per key, audited); status-change notes; search
of closed faults; the change stamp live pages poll."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from threading import Barrier
from typing import Any

from sqlalchemy import text

from tests.factories import delete_cameras, make_camera


def _log(client: Any, tokens: Any, cam_id: int, category: str, **kw: Any) -> Any:
    params = kw.pop("params", None)
    headers = tokens[kw.pop("role", "operator")] | kw.pop("headers", {})
    body = {"category": category, "description": kw.pop("description", f"{category} seen")} | kw
    return client.post(f"/cameras/{cam_id}/faults", json=body, headers=headers, params=params)


def _move(client: Any, tokens: Any, fault_id: int, status: str, **kw: Any) -> Any:
    return client.patch(
        f"/faults/{fault_id}", json={"status": status, **kw}, headers=tokens["operator"]
    )


def _note(client: Any, tokens: Any, fault_id: int, note: str, **kw: Any) -> Any:
    headers = tokens[kw.pop("role", "operator")] | kw.pop("headers", {})
    return client.post(f"/faults/{fault_id}/notes", json={"note": note, **kw}, headers=headers)


def _count(db_session: Any, sql: str, **params: Any) -> int:
    return int(db_session.scalar(text(sql), params))


def test_a_second_open_fault_of_a_kind_is_refused_naming_the_first(
    client: Any, tokens: Any, new_camera: Any, db_session: Any
) -> None:
    cam = new_camera(name="Duplicate camera")
    first = _log(client, tokens, cam["id"], "no_picture", description="Black screen")
    assert first.status_code == 201, first.text
    f = first.json()
    again = _log(client, tokens, cam["id"], "no_picture", description="Still black")
    assert again.status_code == 409
    assert again.headers["content-type"].startswith("application/problem+json")
    body = again.json()
    assert body["type"].endswith("/duplicate-fault")
    assert f["number"] in body["detail"] and "?duplicate=allow" in body["detail"]
    assert body["open_fault"]["id"] == f["id"] and body["open_fault"]["number"] == f["number"]
    assert body["open_fault"]["status"] == "open" and body["notes"] == f"/faults/{f['id']}/notes"
    faults = "SELECT count(*) FROM assets.faults WHERE camera_id = :c"
    assert _count(db_session, faults, c=cam["id"]) == 1
    # Another kind on the same camera goes in; so does the same kind when insisted on.
    assert _log(client, tokens, cam["id"], "vandalism").status_code == 201
    insisted = _log(client, tokens, cam["id"], "no_picture", params={"duplicate": "allow"})
    assert insisted.status_code == 201, insisted.text
    assert _count(db_session, faults, c=cam["id"]) == 3
    bad = _log(client, tokens, cam["id"], "no_picture", params={"duplicate": "maybe"})
    assert bad.status_code == 422 and "duplicate" in bad.text
    # Once the open ones are fixed, the kind can be logged again without a word.
    for fid in (f["id"], insisted.json()["id"]):
        assert _move(client, tokens, fid, "fixed").status_code == 200
    assert _log(client, tokens, cam["id"], "no_picture").status_code == 201


def test_a_retry_of_the_first_report_replays_it_rather_than_calling_it_a_duplicate(
    client: Any, tokens: Any, new_camera: Any
) -> None:
    cam = new_camera()
    key = {"Idempotency-Key": "desk-2-report-1"}
    first = _log(client, tokens, cam["id"], "power", headers=key)
    retry = _log(client, tokens, cam["id"], "power", headers=key)
    assert (first.status_code, retry.status_code) == (201, 200)
    assert retry.headers["idempotent-replayed"] == "true"
    assert retry.json()["id"] == first.json()["id"]


def test_two_desks_logging_the_same_fault_at_once_make_one(engine: Any) -> None:
    """Under the camera's lock, the second of two simultaneous reports sees the first."""
    from services.assets.faults.service import DuplicateFault, log_fault_once
    from shared.db import make_engine, make_sessionmaker

    eng = make_engine(str(engine.url.render_as_string(hide_password=False)), pool_size=4)
    factory = make_sessionmaker(eng)
    with factory() as s:
        cam_id = make_camera(s, name="Two desks", lon=0.551, lat=51.381, asset_tag="DESKS-1").id
    start = Barrier(2)

    def desk(i: int) -> str:
        with factory() as s:
            start.wait()
            try:
                log_fault_once(
                    s,
                    camera_id=cam_id,
                    category="no_picture",
                    description=f"desk {i}",
                    actor=f"desk {i}",
                    idempotency_key=None,
                )
            except DuplicateFault:
                return "refused"
            return "logged"

    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            outcomes = sorted(pool.map(desk, range(2)))
        assert outcomes == ["logged", "refused"]
        with factory() as s:
            n = s.scalar(
                text("SELECT count(*) FROM assets.faults WHERE camera_id = :c"), {"c": cam_id}
            )
        assert n == 1
    finally:
        with eng.begin() as conn:
            delete_cameras(conn, [cam_id])
        eng.dispose()


def test_started_at_is_kept_downtime_counts_from_it_and_the_sla_from_the_report(
    client: Any, tokens: Any, new_camera: Any
) -> None:
    cam = new_camera(installed_on="2020-01-01")
    reported = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    began = reported - timedelta(hours=6)
    r = _log(
        client,
        tokens,
        cam["id"],
        "no_picture",
        reported_at=reported.isoformat(),
        started_at=began.isoformat(),
    )
    assert r.status_code == 201, r.text
    f = r.json()
    assert datetime.fromisoformat(f["started_at"]) == began
    # SLA: 24 h for no picture, from the report, not from the start.
    assert datetime.fromisoformat(f["sla"]["due_at"]) == reported + timedelta(hours=24)
    fixed = reported + timedelta(hours=4)
    assert _move(client, tokens, f["id"], "fixed", at=fixed.isoformat()).status_code == 200
    window = {"start": (began - timedelta(hours=2)).isoformat(), "end": reported.isoformat()}
    a = client.get(f"/cameras/{cam['id']}/availability", params=window, headers=tokens["seg"])
    assert a.status_code == 200, a.text
    # Down from 03:00 to the 09:00 end of the window: 6 of 8 hours, though reported at 09:00.
    assert abs(a.json()["downtime_hours"] - 6.0) < 1e-6
    assert abs(a.json()["availability"] - 0.25) < 1e-6


def test_a_start_after_the_report_or_before_the_register_is_422_naming_started_at(
    client: Any, tokens: Any, new_camera: Any
) -> None:
    cam = new_camera()
    reported = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    late = _log(
        client,
        tokens,
        cam["id"],
        "power",
        reported_at=reported.isoformat(),
        started_at=(reported + timedelta(minutes=1)).isoformat(),
    )
    assert late.status_code == 422 and "started_at" in late.json()["detail"]
    early = _log(client, tokens, cam["id"], "power", started_at="1999-12-31T23:00:00Z")
    assert early.status_code == 422 and "started_at" in early.json()["detail"]
    assert "2000-01-01" in early.json()["detail"]


def test_a_note_keeps_the_status_is_audited_and_kept_once_per_key(
    client: Any, tokens: Any, new_camera: Any, db_session: Any
) -> None:
    cam = new_camera()
    f = _log(client, tokens, cam["id"], "network").json()
    key = {"Idempotency-Key": "note-1"}
    r = _note(client, tokens, f["id"], "Openreach job OR-77123 booked for 14:00", headers=key)
    assert r.status_code == 201, r.text
    got = r.json()
    assert got["status"] == "open" and r.headers["etag"] == 'W/"2"'
    assert [e["kind"] for e in got["events"]] == ["report", "note"]
    assert got["events"][1]["note"] == "Openreach job OR-77123 booked for 14:00"
    assert got["events"][1]["actor"].startswith("test operator")
    again = _note(client, tokens, f["id"], "Openreach job OR-77123 booked for 14:00", headers=key)
    assert again.status_code == 200 and again.headers["idempotent-replayed"] == "true"
    other = _note(client, tokens, f["id"], "Something else", headers=key)
    assert other.status_code == 409
    events = "SELECT count(*) FROM assets.fault_events WHERE fault_id = :f"
    assert _count(db_session, events, f=f["id"]) == 2
    audit = db_session.execute(
        text(
            "SELECT actor, reason, after FROM assets.audit_log "
            "WHERE entity = 'fault' AND entity_id = :f AND action = 'fault_note'"
        ),
        {"f": f["id"]},
    ).all()
    assert len(audit) == 1 and audit[0].reason == "Openreach job OR-77123 booked for 14:00"
    assert audit[0].after["number"] == f["number"] and audit[0].actor.startswith("test operator")
    # A stale If-Match now fails: the note moved the fault's ETag on.
    stale = client.patch(
        f"/faults/{f['id']}",
        json={"status": "in_progress"},
        headers=tokens["operator"] | {"If-Match": 'W/"1"'},
    )
    assert stale.status_code == 412


def test_notes_refuse_the_wrong_people_and_bad_input(
    client: Any, tokens: Any, new_camera: Any
) -> None:
    cam = new_camera()
    f = _log(client, tokens, cam["id"], "other").json()
    for role in ("analyst", "seg", "crew"):
        assert _note(client, tokens, f["id"], "x", role=role).status_code == 403, role
    assert client.post(f"/faults/{f['id']}/notes", json={"note": "x"}).status_code == 401
    assert _note(client, tokens, f["id"], "   ").status_code == 422
    assert _note(client, tokens, f["id"], "x" * 4001).status_code == 422
    assert _note(client, tokens, 987654321, "x").status_code == 404
    before = _note(client, tokens, f["id"], "too early", at="2001-01-01T00:00:00Z")
    assert before.status_code == 422 and before.json()["errors"][0]["field"] == "at"


def test_a_status_change_keeps_its_note_and_job_number(
    client: Any, tokens: Any, new_camera: Any
) -> None:
    cam = new_camera()
    f = _log(client, tokens, cam["id"], "cabling").json()
    note = "Cable re-terminated at the column\nContractor job: CJ-2291"
    r = _move(client, tokens, f["id"], "fixed", note=note)
    assert r.status_code == 200, r.text
    last = r.json()["events"][-1]
    assert (last["kind"], last["from_status"], last["to_status"]) == ("status", "open", "fixed")
    assert last["note"] == note
    hist = client.get(f"/cameras/{cam['id']}/history", headers=tokens["admin"]).json()
    assert any(h["action"] == "fault_status" and h["reason"] == note for h in hist)


def test_closed_faults_are_searched_as_plain_text_and_by_when_they_closed(
    client: Any, tokens: Any, new_camera: Any
) -> None:
    cam = new_camera(name="Search Street camera")
    now = datetime.now(UTC)
    old = _log(
        client, tokens, cam["id"], "power", reported_at=(now - timedelta(days=3)).isoformat()
    ).json()
    _move(client, tokens, old["id"], "closed", at=(now - timedelta(days=2)).isoformat())
    new = _log(client, tokens, cam["id"], "vandalism", description="Dome 100% sprayed").json()
    _move(client, tokens, new["id"], "fixed", note="Cleaned\nContractor job: ZX_881")
    _move(client, tokens, new["id"], "closed")

    def closed(**params: Any) -> list[int]:
        r = client.get(
            "/faults",
            params={"status": "closed", "sort": "resolved", **params},
            headers=tokens["operator"],
        )
        assert r.status_code == 200, r.text
        return [x["id"] for x in r.json()["items"] if x["camera_id"] == cam["id"]]

    assert closed() == [new["id"], old["id"]]  # newest closed first
    assert closed(q="zx_881") == [new["id"]]  # a job number in a note, any case
    assert closed(q=new["number"]) == [new["id"]]
    assert closed(q="search street") == [new["id"], old["id"]]  # the camera's name
    assert closed(q="100%") == [new["id"]]
    assert closed(q="1_0") == [] and closed(q="%") == [new["id"]]  # wildcards are literal
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    assert closed(resolved_since=midnight.isoformat()) == [new["id"]]
    assert closed(resolved_before=midnight.isoformat()) == [old["id"]]
    long = client.get("/faults", params={"q": "x" * 101}, headers=tokens["operator"])
    assert long.status_code == 422 and long.json()["errors"][0]["field"] == "query.q"
    assert (
        client.get("/faults", params={"sort": "x"}, headers=tokens["operator"]).status_code == 422
    )


def test_a_cameras_open_faults_of_a_kind(client: Any, tokens: Any, new_camera: Any) -> None:
    cam = new_camera()
    a = _log(client, tokens, cam["id"], "power").json()
    _log(client, tokens, cam["id"], "vandalism")
    _move(client, tokens, a["id"], "fixed")
    r = client.get(
        f"/cameras/{cam['id']}/faults",
        params={"open_only": True, "category": "power"},
        headers=tokens["operator"],
    )
    assert r.status_code == 200 and r.json()["total"] == 0
    r = client.get(
        f"/cameras/{cam['id']}/faults", params={"open_only": True}, headers=tokens["operator"]
    )
    assert [f["category"] for f in r.json()["items"]] == ["vandalism"]


def test_the_change_stamp_moves_with_every_write_and_never_with_a_read(
    client: Any, tokens: Any, new_camera: Any
) -> None:
    cam = new_camera()

    def stamp() -> tuple[str, int]:
        r = client.get("/faults/changes", headers=tokens["operator"])
        assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
        return r.json()["stamp"], r.json()["open"]

    s0, open0 = stamp()
    client.get("/faults", headers=tokens["operator"])
    assert stamp() == (s0, open0)
    f = _log(client, tokens, cam["id"], "power").json()
    s1, open1 = stamp()
    assert s1 != s0 and open1 == open0 + 1
    _note(client, tokens, f["id"], "seen again")
    s2, _ = stamp()
    _move(client, tokens, f["id"], "fixed")
    s3, open3 = stamp()
    assert len({s0, s1, s2, s3}) == 4 and open3 == open0
    assert client.get("/faults/changes", headers=tokens["crew"]).status_code == 403
    assert client.get("/faults/changes").status_code == 401
