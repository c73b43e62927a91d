"""Scheduled changes: a replacement or relocation decided for a later day keeps today's facts
in the register and shows what is due, until ``apply_due`` applies it on its day (a camera
change in the audit trail) or, when the camera no longer allows it, records that it lapsed."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from services.assets.decisions.apply import apply_due, london_today

TODAY = london_today()
MEETING = (TODAY - timedelta(days=3)).isoformat()
LATER = TODAY + timedelta(days=44)


def _decide(client: Any, tokens: Any, cam: dict[str, Any], etag: str, **body: Any) -> Any:
    base = {"meeting_date": MEETING, "minute_ref": "SEG 2026/12 item 6", "reason": "agreed"}
    return client.post(
        f"/cameras/{cam['id']}/decisions",
        json=base | body,
        headers=tokens["seg"] | {"If-Match": etag},
    )


def _get(client: Any, tokens: Any, cam_id: int) -> tuple[dict[str, Any], str]:
    r = client.get(f"/cameras/{cam_id}", headers=tokens["operator"])
    return dict(r.json()), r.headers["etag"]


def _history(client: Any, tokens: Any, cam_id: int) -> list[dict[str, Any]]:
    return list(client.get(f"/cameras/{cam_id}/history", headers=tokens["admin"]).json())


def test_a_replacement_for_a_later_day_keeps_todays_facts_until_it_is_applied(
    client: Any, tokens: Any, new_camera: Any, db_session: Any
) -> None:
    cam = new_camera(technology="analogue", installed_on="2009-03-02", expected_life_years=10)
    r = _decide(
        client, tokens, cam, cam["_etag"], decision="replace_with_digital", effective_on=str(LATER)
    )
    assert r.status_code == 201, r.text
    d = r.json()
    due = f"replace with digital on {LATER.isoformat()}"
    assert (d["status"], d["effective_on"], d["due"]) == ("scheduled", LATER.isoformat(), due)
    assert d["lifecycle_before"] == d["lifecycle_after"] == "active"
    got, etag = _get(client, tokens, cam["id"])
    # Today's facts: still analogue, one device; what is due is said; the ETag moved on.
    assert got["technology"] == "analogue" and got["installed_on"] == "2009-03-02"
    assert [s["due"] for s in got["scheduled_changes"]] == [due]
    assert etag != cam["_etag"] and r.headers["etag"] == etag
    assert "replace_with_digital" not in got["allowed_decisions"]
    assert got["allowed_decisions"] == ["retain"]  # nothing else while a change is due
    devices = client.get(f"/cameras/{cam['id']}/devices", headers=tokens["seg"]).json()
    assert [x["technology"] for x in devices] == ["analogue"]
    assert _history(client, tokens, cam["id"])[-1]["action"] == (
        "decision_scheduled:replace_with_digital"
    )
    # A second change, or a removal, is refused while one is due (saying what is due).
    again = _decide(client, tokens, cam, etag, decision="decommission")
    assert again.status_code == 409 and due in again.json()["detail"]
    assert again.json()["allowed"] == ["retain"]

    # The day before: nothing happens. On the day: applied, once.
    assert apply_due(db_session, today=LATER - timedelta(days=1)) == []
    assert apply_due(db_session, today=LATER) == [(d["id"], "applied")]
    assert apply_due(db_session, today=LATER + timedelta(days=1)) == []
    got, _ = _get(client, tokens, cam["id"])
    assert got["technology"] == "digital" and got["installed_on"] == LATER.isoformat()
    assert got["scheduled_changes"] == []
    devices = client.get(f"/cameras/{cam['id']}/devices", headers=tokens["seg"]).json()
    assert [(x["technology"], x["removed_on"]) for x in devices] == [
        ("analogue", LATER.isoformat()),
        ("digital", None),
    ]
    applied = _history(client, tokens, cam["id"])[-1]
    assert applied["action"] == "decision_applied:replace_with_digital"
    assert applied["actor"].startswith("scheduled change of test seg")
    assert applied["before"]["technology"] == "analogue"
    assert applied["after"]["technology"] == "digital"
    assert "SEG 2026/12 item 6" in applied["reason"]
    listed = client.get(f"/cameras/{cam['id']}/decisions", headers=tokens["seg"]).json()
    assert [(x["status"], x["due"]) for x in listed] == [("applied", None)]
    assert listed[0]["lifecycle_after"] == "active" and listed[0]["applied_at"]


def test_scheduling_is_in_the_audit_trail(client: Any, tokens: Any, new_camera: Any) -> None:
    cam = new_camera(technology="analogue")
    r = _decide(
        client, tokens, cam, cam["_etag"], decision="replace_with_digital", effective_on=str(LATER)
    )
    assert r.status_code == 201, r.text
    entry = _history(client, tokens, cam["id"])[-1]
    assert entry["action"] == "decision_scheduled:replace_with_digital"
    assert entry["after"]["due"] == f"replace with digital on {LATER.isoformat()}"
    assert entry["actor"].startswith("test seg") and entry["reason"].startswith("SEG 2026/12")


def test_a_relocation_for_a_later_day_moves_the_camera_on_that_day(
    client: Any, tokens: Any, new_camera: Any, db_session: Any
) -> None:
    cam = new_camera(lon=0.5466, lat=51.3887)
    r = _decide(
        client,
        tokens,
        cam,
        cam["_etag"],
        decision="relocate",
        effective_on=str(LATER),
        lon=0.5480,
        lat=51.3890,
        bearing_deg=200.0,
    )
    assert r.status_code == 201, r.text
    got, _ = _get(client, tokens, cam["id"])
    assert abs(got["lon"] - 0.5466) < 1e-6  # still where it stands today
    assert got["scheduled_changes"][0]["due"] == f"relocate on {LATER.isoformat()}"
    apply_due(db_session, today=LATER)
    got, _ = _get(client, tokens, cam["id"])
    assert abs(got["lon"] - 0.5480) < 1e-6 and got["bearing_deg"] == 200.0
    pos = client.get(f"/cameras/{cam['id']}/positions", headers=tokens["seg"]).json()
    assert [p["valid_to"] for p in pos] == [LATER.isoformat(), None]
    assert pos[1]["valid_from"] == LATER.isoformat()


def test_a_change_the_camera_no_longer_allows_lapses_and_says_so(
    client: Any, tokens: Any, new_camera: Any, db_session: Any
) -> None:
    cam = new_camera(technology="analogue")
    r = _decide(
        client, tokens, cam, cam["_etag"], decision="replace_with_digital", effective_on=str(LATER)
    )
    assert r.status_code == 201
    _, etag = _get(client, tokens, cam["id"])
    # An administrator takes the camera out meanwhile (a transition, not an SEG decision).
    t = client.post(
        f"/cameras/{cam['id']}/transitions",
        json={"to": "in_store", "reason": "pole taken down for road works"},
        headers=tokens["admin"] | {"If-Match": etag},
    )
    assert t.status_code == 200, t.text
    assert apply_due(db_session, today=LATER) == [(r.json()["id"], "lapsed")]
    got, _ = _get(client, tokens, cam["id"])
    assert got["technology"] == "analogue" and got["scheduled_changes"] == []
    lapsed = _history(client, tokens, cam["id"])[-1]
    assert lapsed["action"] == "decision_lapsed:replace_with_digital"
    assert "not applied: it is in store" in lapsed["reason"]


def test_only_a_replacement_or_relocation_takes_a_later_day(
    client: Any, tokens: Any, new_camera: Any
) -> None:
    cam = new_camera()
    r = _decide(client, tokens, cam, cam["_etag"], decision="decommission", effective_on=str(LATER))
    assert r.status_code == 422
    assert "Only a replacement or relocation can take effect on a later day" in r.json()["detail"]
    # A day before the meeting, years ahead, or a meeting not yet held: refused, said which.
    early = (date.fromisoformat(MEETING) - timedelta(days=1)).isoformat()
    far = (date.fromisoformat(MEETING) + timedelta(days=5 * 366 + 1)).isoformat()
    for body, word in (
        ({"effective_on": early}, "effective_on is before the meeting_date"),
        ({"effective_on": far}, "more than 1830 days after"),
        ({"meeting_date": (TODAY + timedelta(days=1)).isoformat()}, "is after today"),
    ):
        r = _decide(client, tokens, cam, cam["_etag"], decision="retain", **body)
        assert r.status_code == 422 and word in r.text, (body, r.text)
    got, etag = _get(client, tokens, cam["id"])
    assert etag == cam["_etag"] and got["lifecycle"] == "active"  # nothing was changed
    # Today, or empty: takes effect now.
    r = _decide(client, tokens, cam, cam["_etag"], decision="retain", effective_on=str(TODAY))
    assert r.status_code == 201 and r.json()["status"] == "applied"


def test_the_beat_task_applies_what_is_due_on_its_day(
    client: Any, tokens: Any, new_camera: Any, db_session: Any
) -> None:
    from services.assets.decisions.tasks import apply_scheduled_changes as task
    from services.assets.decisions.tasks import apply_scheduled_changes_run as body

    assert task.name == "assets.apply_scheduled_changes"
    assert task.acks_late is True and task.time_limit and task.max_retries >= 3
    cam = new_camera(technology="analogue")
    r = _decide(
        client, tokens, cam, cam["_etag"], decision="replace_with_digital", effective_on=str(LATER)
    )
    assert r.status_code == 201
    # What the task runs, given this test's session (the task opens its own).
    assert body(db_session, day=LATER - timedelta(days=1)) == []
    assert body(db_session, day=LATER) == [[r.json()["id"], "applied"]]
    assert _get(client, tokens, cam["id"])[0]["technology"] == "digital"


def test_a_change_the_register_refuses_on_its_day_lapses_and_the_others_go_on(
    client: Any, tokens: Any, new_camera: Any, db_session: Any, monkeypatch: Any
) -> None:
    from services.assets.decisions import apply
    from shared.errors import Conflict

    first, second = new_camera(technology="analogue"), new_camera(technology="analogue")
    ids = []
    for cam in (first, second):
        r = _decide(
            client,
            tokens,
            cam,
            cam["_etag"],
            decision="replace_with_digital",
            effective_on=str(LATER),
        )
        ids.append(r.json()["id"])
    real = apply.apply_now

    def refuse_the_first(session: Any, camera: Any, data: Any, days: int) -> Any:
        if camera.id == first["id"]:
            raise Conflict("the contractor's unit is not on the register")
        return real(session, camera, data, days)

    monkeypatch.setattr(apply, "apply_now", refuse_the_first)
    assert apply_due(db_session, today=LATER) == [(ids[0], "lapsed"), (ids[1], "applied")]
    assert _get(client, tokens, first["id"])[0]["technology"] == "analogue"
    assert _get(client, tokens, second["id"])[0]["technology"] == "digital"
    lapsed = _history(client, tokens, first["id"])[-1]
    assert lapsed["action"] == "decision_lapsed:replace_with_digital"
    assert lapsed["reason"].endswith("not applied: the contractor's unit is not on the register")
