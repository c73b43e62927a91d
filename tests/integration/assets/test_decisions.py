"""SEG decisions: each applied as a lifecycle change, recorded with the minute, If-Match needed."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

MEETING = "2026-09-15"


def _decide(
    client: Any,
    tokens: Any,
    cam: dict[str, Any],
    decision: str,
    etag: str | None = None,
    role: str = "seg",
    **extra: Any,
) -> Any:
    body = {
        "decision": decision,
        "meeting_date": MEETING,
        "minute_ref": "SEG 2026/09 item 4",
        "reason": "test",
        "dpia_ref": "DPIA-22",
    } | extra
    headers = dict(tokens[role])
    if etag != "":
        headers["If-Match"] = etag or cam["_etag"]
    return client.post(f"/cameras/{cam['id']}/decisions", json=body, headers=headers)


def _get(client: Any, tokens: Any, cam_id: int) -> dict[str, Any]:
    return dict(client.get(f"/cameras/{cam_id}", headers=tokens["seg"]).json())


def test_decommission(client: Any, tokens: Any, new_camera: Any) -> None:
    cam = new_camera()
    r = _decide(client, tokens, cam, "decommission")
    assert r.status_code == 201, r.text
    d = r.json()
    assert (d["lifecycle_before"], d["lifecycle_after"]) == ("active", "decommissioning")
    got = _get(client, tokens, cam["id"])
    assert got["lifecycle"] == "decommissioning" and got["dpia_ref"] == "DPIA-22"
    assert r.headers["etag"] == f'W/"{got["version"]}"'


def test_make_permanent_sets_fixed_and_review(client: Any, tokens: Any, new_camera: Any) -> None:
    cam = new_camera(deployment="rapid")
    r = _decide(client, tokens, cam, "make_permanent")
    assert r.status_code == 201, r.text
    got = _get(client, tokens, cam["id"])
    assert got["deployment"] == "fixed" and got["lifecycle"] == "active"
    assert got["next_review_due"] == (date.fromisoformat(MEETING) + timedelta(days=365)).isoformat()
    again = _decide(client, tokens, got | {"_etag": f'W/"{got["version"]}"'}, "make_permanent")
    assert again.status_code == 409


def test_replace_with_digital_links_devices(client: Any, tokens: Any, new_camera: Any) -> None:
    cam = new_camera(technology="analogue", installed_on="2009-04-01", expected_life_years=10)
    r = _decide(client, tokens, cam, "replace_with_digital", installed_on="2026-10-01")
    assert r.status_code == 201, r.text
    got = _get(client, tokens, cam["id"])
    assert got["technology"] == "digital" and got["installed_on"] == "2026-10-01"
    assert got["id"] == cam["id"] and got["lon"] == cam["lon"]
    devices = client.get(f"/cameras/{cam['id']}/devices", headers=tokens["seg"]).json()
    assert [d["technology"] for d in devices] == ["analogue", "digital"]
    assert devices[1]["replaces_id"] == devices[0]["id"]
    assert devices[0]["removed_on"] == "2026-10-01" and devices[1]["removed_on"] is None
    etag = f'W/"{got["version"]}"'
    assert _decide(client, tokens, cam, "replace_with_digital", etag=etag).status_code == 409


def test_relocate_keeps_position_history(client: Any, tokens: Any, new_camera: Any) -> None:
    cam = new_camera(lon=0.5466, lat=51.3887)
    r = _decide(client, tokens, cam, "relocate", lon=0.5480, lat=51.3890, bearing_deg=200.0)
    assert r.status_code == 201, r.text
    got = _get(client, tokens, cam["id"])
    assert abs(got["lon"] - 0.5480) < 1e-6 and got["bearing_deg"] == 200.0
    pos = client.get(f"/cameras/{cam['id']}/positions", headers=tokens["seg"]).json()
    assert len(pos) == 2 and pos[0]["valid_to"] == MEETING and pos[1]["valid_to"] is None
    assert abs(pos[0]["lon"] - 0.5466) < 1e-6
    assert _decide(client, tokens, cam, "relocate", etag=f'W/"{got["version"]}"').status_code == 422


def test_retain_back_to_active_or_kept_under_review(
    client: Any, tokens: Any, new_camera: Any
) -> None:
    cam = new_camera()
    r = client.post(
        f"/cameras/{cam['id']}/transitions",
        json={"to": "under_review", "reason": "annual"},
        headers=tokens["admin"] | {"If-Match": cam["_etag"]},
    )
    etag = r.headers["etag"]
    r = _decide(
        client,
        tokens,
        cam,
        "retain",
        etag=etag,
        keep_under_review=True,
        next_review_due="2026-12-15",
    )
    assert r.status_code == 201 and r.json()["lifecycle_after"] == "under_review"
    got = _get(client, tokens, cam["id"])
    assert got["next_review_due"] == "2026-12-15"
    r = _decide(client, tokens, cam, "retain", etag=f'W/"{got["version"]}"')
    assert r.json()["lifecycle_after"] == "active"
    assert _get(client, tokens, cam["id"])["next_review_due"] == "2027-09-15"


def test_withdraw_only_for_rapid(client: Any, tokens: Any, new_camera: Any) -> None:
    rapid = new_camera(deployment="rapid")
    assert _decide(client, tokens, rapid, "withdraw").json()["lifecycle_after"] == "in_store"
    fixed = new_camera()
    r = _decide(client, tokens, fixed, "withdraw")
    # What this camera can take instead: every decision but the rapid-only ones.
    assert r.status_code == 409 and r.json()["allowed"] == ["retain", "relocate", "decommission"]
    assert "only rapid-deployment cameras" in r.json()["detail"]


def test_decision_refused_in_wrong_state(client: Any, tokens: Any, new_camera: Any) -> None:
    cam = new_camera(lifecycle="proposed")
    r = _decide(client, tokens, cam, "retain")
    assert r.status_code == 409 and r.json()["allowed"] == []
    assert "it is proposed (needs one of: active, under_review)" in r.json()["detail"]
    assert _get(client, tokens, cam["id"])["lifecycle"] == "proposed"
    assert client.get(f"/cameras/{cam['id']}/decisions", headers=tokens["seg"]).json() == []


def test_decision_preconditions_and_roles(client: Any, tokens: Any, new_camera: Any) -> None:
    cam = new_camera()
    assert _decide(client, tokens, cam, "decommission", etag="").status_code == 428
    assert _decide(client, tokens, cam, "decommission", etag='W/"99"').status_code == 412
    assert _decide(client, tokens, cam, "decommission", role="operator").status_code == 403
    assert _decide(client, tokens, cam, "decommission", role="analyst").status_code == 403
    r = client.post(f"/cameras/{cam['id']}/decisions", json={})
    assert r.status_code == 401
    assert _get(client, tokens, cam["id"])["lifecycle"] == "active"
    r = _decide(client, tokens, cam, "decommission")
    assert r.status_code == 201
    listed = client.get(f"/cameras/{cam['id']}/decisions", headers=tokens["analyst"]).json()
    assert [(d["decision"], d["minute_ref"]) for d in listed] == [
        ("decommission", "SEG 2026/09 item 4")
    ]
    hist = client.get(f"/cameras/{cam['id']}/history", headers=tokens["admin"]).json()
    assert hist[-1]["action"] == "decision:decommission"
    assert hist[-1]["actor"].startswith("test seg (seg")


def test_reviews_due(client: Any, tokens: Any, new_camera: Any) -> None:
    soon = new_camera()
    later = new_camera()
    h = tokens["admin"]
    client.patch(
        f"/cameras/{soon['id']}",
        json={"next_review_due": "2026-12-01"},
        headers=h | {"If-Match": soon["_etag"]},
    )
    client.patch(
        f"/cameras/{later['id']}",
        json={"next_review_due": "2027-06-01"},
        headers=h | {"If-Match": later["_etag"]},
    )
    r = client.get(
        "/reviews/due", params={"within_days": 30, "today": "2026-11-20"}, headers=tokens["seg"]
    ).json()
    ids = {x["camera_id"]: x for x in r}
    assert soon["id"] in ids and later["id"] not in ids
    assert ids[soon["id"]]["days_until_due"] == 11 and not ids[soon["id"]]["overdue"]
    r = client.get(
        "/reviews/due", params={"within_days": 0, "today": "2026-12-05"}, headers=tokens["seg"]
    ).json()
    assert {x["camera_id"]: x["overdue"] for x in r}[soon["id"]] is True


def test_a_retry_with_the_same_idempotency_key_records_one_decision(
    client: Any, tokens: Any, new_camera: Any
) -> None:
    cam = new_camera(deployment="rapid")
    key = {"Idempotency-Key": "seg-form-7f3a"}
    body = {
        "decision": "make_permanent",
        "meeting_date": MEETING,
        "minute_ref": "SEG 2026/09 item 5",
        "reason": "In use",
    }
    h = tokens["seg"] | key | {"If-Match": cam["_etag"]}
    first = client.post(f"/cameras/{cam['id']}/decisions", json=body, headers=h)
    assert first.status_code == 201, first.text
    # The answer was lost; the page sends the same request again, with its now stale ETag.
    again = client.post(f"/cameras/{cam['id']}/decisions", json=body, headers=h)
    assert again.status_code == 200 and again.headers["idempotent-replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["etag"] == first.headers["etag"]
    listed = client.get(f"/cameras/{cam['id']}/decisions", headers=tokens["seg"]).json()
    assert len(listed) == 1
    hist = client.get(f"/cameras/{cam['id']}/history", headers=tokens["admin"]).json()
    assert [x["action"] for x in hist].count("decision:make_permanent") == 1
    # The same key for another decision: 409, nothing recorded.
    other = client.post(
        f"/cameras/{cam['id']}/decisions", json=body | {"decision": "retain"}, headers=h
    )
    assert other.status_code == 409 and "different decision" in other.json()["detail"]
    # Another caller's same key is theirs: a new decision (here refused only by its ETag).
    theirs = tokens["admin"] | key | {"If-Match": cam["_etag"]}
    stale = client.post(f"/cameras/{cam['id']}/decisions", json=body, headers=theirs)
    assert stale.status_code == 412


def test_a_pair_is_recorded_with_its_other_camera_and_the_advice_it_answers(
    client: Any, tokens: Any, new_camera: Any
) -> None:
    drop = new_camera(technology="analogue")
    keep = new_camera(technology="analogue")
    answers = {"action": "decommission", "rule": "redundant_overlap"}
    r = _decide(client, tokens, drop, "decommission", related_camera_id=keep["id"], answers=answers)
    assert r.status_code == 201, r.text
    assert r.json()["related_camera_id"] == keep["id"] and r.json()["answers"] == answers
    for bad, word in (
        ({"related_camera_id": keep["id"]}, "related_camera_id is this camera"),
        ({"related_camera_id": 987654}, "no camera with id 987654"),
        ({"answers": {"action": "Drop; table", "rule": "x"}}, "answers.action"),
    ):
        got = _decide(client, tokens, keep, "retain", **bad)
        assert got.status_code == 422 and word in got.text, (bad, got.text)
