"""The partnership's minutes, end to end through the API, and the idempotent demo loader."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import text

from services.assets import demo
from tests.conftest import SHARED_DATA

SEG_MEETING = date.today() - timedelta(days=5)


def _register(client: Any, tokens: Any) -> dict[str, dict[str, Any]]:
    out = {}
    for c in demo.CAMERAS:
        body = demo.camera_body(c).model_dump(mode="json", exclude_none=True)
        r = client.post("/cameras", json=body, headers=tokens["admin"])
        assert r.status_code == 201, r.text
        out[c.tag] = r.json()
    return out


def _cam(client: Any, tokens: Any, cam_id: int) -> tuple[dict[str, Any], str]:
    r = client.get(f"/cameras/{cam_id}", headers=tokens["seg"])
    return r.json(), r.headers["etag"]


def _recs(client: Any, tokens: Any, ids: dict[str, int]) -> dict[str, list[tuple[str, str]]]:
    body = client.get("/recommendations", headers=tokens["seg"]).json()
    back = {v: k for k, v in ids.items()}
    out: dict[str, list[tuple[str, str]]] = {}
    for r in body["items"]:
        if r["camera_id"] in back:
            out.setdefault(back[r["camera_id"]], []).append((r["action"], r["rule"]))
    return out


def _decide(client: Any, tokens: Any, cam_id: int, decision: str, **extra: Any) -> Any:
    _, etag = _cam(client, tokens, cam_id)
    body = {
        "decision": decision,
        "meeting_date": SEG_MEETING.isoformat(),
        "minute_ref": "SEG minutes item 6",
        "reason": "Agreed by the SEG",
    } | extra
    return client.post(
        f"/cameras/{cam_id}/decisions", json=body, headers=tokens["seg"] | {"If-Match": etag}
    )


def test_minutes_play_through_the_api(client: Any, tokens: Any, db_session: Any) -> None:
    cams = _register(client, tokens)
    ids = {tag: c["id"] for tag, c in cams.items()}
    op = tokens["operator"]

    # The control room reports two faults.
    now = datetime.now(UTC)
    gil = client.post(
        f"/cameras/{ids['MED-GIL-001']}/faults",
        headers=op,
        json={
            "category": "intermittent_picture",
            "description": "Intermittent loss of picture",
            "reported_at": (now - timedelta(days=3)).isoformat(),
        },
    )
    station = client.post(
        f"/cameras/{ids['MED-ROC-001']}/faults",
        headers=op,
        json={
            "category": "cabling",
            "description": "Cabling problem",
            "reported_at": (now - timedelta(days=3)).isoformat(),
        },
    )
    high = client.post(
        f"/cameras/{ids['MED-ROC-002']}/faults",
        headers=op,
        json={
            "category": "no_picture",
            "description": "No picture",
            "reported_at": (now - timedelta(days=2)).isoformat(),
        },
    )
    assert gil.status_code == station.status_code == high.status_code == 201
    assert _cam(client, tokens, ids["MED-GIL-001"])[0]["health"] == "degraded"
    assert _cam(client, tokens, ids["MED-ROC-001"])[0]["health"] == "offline"
    # Later several Rochester cameras are fixed and back online.
    for f in (station.json(), high.json()):
        r = client.patch(
            f"/faults/{f['id']}", headers=op, json={"status": "fixed", "note": "back online"}
        )
        assert r.status_code == 200
    for tag in ("MED-ROC-001", "MED-ROC-002"):
        assert _cam(client, tokens, ids[tag])[0]["health"] == "online"
    assert _cam(client, tokens, ids["MED-GIL-001"])[0]["health"] == "degraded"

    # Before any incidents: the Cricketers pair is redundant; the Recreation Ground pair is not
    # judged on its use (no incident data for this window, #14).
    recs = _recs(client, tokens, ids)
    assert recs["MED-RAI-CP1"] == [("decommission", "redundant_overlap")]
    assert ("replace_with_digital", "redundant_overlap") in recs["MED-RAI-CP2"]
    for tag in ("MED-RAI-RG1", "MED-RAI-RG2"):
        assert tag not in recs

    # The SEG removes one and replaces the other with a digital camera.
    assert _decide(client, tokens, ids["MED-RAI-CP1"], "decommission").status_code == 201
    r = _decide(client, tokens, ids["MED-RAI-CP2"], "replace_with_digital")
    assert r.status_code == 201, r.text
    cp1, etag = _cam(client, tokens, ids["MED-RAI-CP1"])
    r = client.post(
        f"/cameras/{cp1['id']}/transitions",
        headers=tokens["admin"] | {"If-Match": etag},
        json={"to": "decommissioned", "reason": "Removed by contractor"},
    )
    assert r.status_code == 200
    cp2, _ = _cam(client, tokens, ids["MED-RAI-CP2"])
    assert cp2["technology"] == "digital" and cp2["lifecycle"] == "active"
    devices = client.get(f"/cameras/{cp2['id']}/devices", headers=tokens["seg"]).json()
    assert [d["technology"] for d in devices] == ["analogue", "digital"]
    assert devices[1]["replaces_id"] == devices[0]["id"]
    public = {c["id"] for c in client.get("/cameras?limit=1000").json()["items"]}
    assert cp1["id"] not in public and cp2["id"] in public

    # Recreation Ground: kept in place under review (no footage requests yet).
    for tag in ("MED-RAI-RG1", "MED-RAI-RG2"):
        r = _decide(
            client,
            tokens,
            ids[tag],
            "retain",
            keep_under_review=True,
            next_review_due=(SEG_MEETING + timedelta(days=90)).isoformat(),
        )
        assert r.status_code == 201 and r.json()["lifecycle_after"] == "under_review"
    due = client.get("/reviews/due", params={"within_days": 120}, headers=tokens["seg"]).json()
    assert {ids["MED-RAI-RG1"], ids["MED-RAI-RG2"]} <= {d["camera_id"] for d in due}

    # Further incidents in view, and police footage requests: make them permanent.
    by_tag = {c.tag: c for c in demo.CAMERAS}
    for tag in ("MED-RAI-RG1", "MED-RAI-RG2"):
        demo.add_incidents(
            db_session,
            camera=by_tag[tag],
            count=4,
            category="Anti-social behaviour",
            days_ago=[2, 9, 20, 40],
            key=f"scenario-{tag}",
            today=date.today(),
        )
        client.post(
            f"/cameras/{ids[tag]}/footage-requests",
            headers=op,
            json={
                "requested_on": (date.today() - timedelta(days=2)).isoformat(),
                "reference": f"KENT/{tag}",
                "outcome": "provided",
            },
        )
    recs = _recs(client, tokens, ids)
    for tag in ("MED-RAI-RG1", "MED-RAI-RG2"):
        assert recs[tag] == [("make_permanent", "rapid_in_use")]
        r = _decide(client, tokens, ids[tag], "make_permanent")
        assert r.status_code == 201, r.text
        cam, _ = _cam(client, tokens, ids[tag])
        assert (cam["deployment"], cam["lifecycle"]) == ("fixed", "active")

    # Every step is in the audit trail.
    hist = client.get(f"/cameras/{ids['MED-RAI-RG1']}/history", headers=tokens["admin"]).json()
    actions = [h["action"] for h in hist]
    assert actions[0] == "create" and "decision:retain" in actions
    assert actions.index("decision:retain") < actions.index("decision:make_permanent")
    assert "footage_request" in actions


def test_demo_loader_is_idempotent_and_gives_the_advice(
    client: Any, tokens: Any, db_session: Any
) -> None:
    before = db_session.execute(text("SELECT count(*) FROM assets.cameras")).scalar()
    msg = demo.load_demo(db_session, shared_data=SHARED_DATA)
    assert "10 cameras" in msg
    counts = db_session.execute(
        text(
            "SELECT (SELECT count(*) FROM assets.cameras), (SELECT count(*) FROM assets.faults), "
            "(SELECT count(*) FROM incidents.incidents WHERE source='assets_demo')"
        )
    ).one()
    assert counts[0] == before + 10
    msg2 = demo.load_demo(db_session, shared_data=SHARED_DATA)
    assert "nothing added" in msg2
    again = db_session.execute(
        text(
            "SELECT (SELECT count(*) FROM assets.cameras), (SELECT count(*) FROM assets.faults), "
            "(SELECT count(*) FROM incidents.incidents WHERE source='assets_demo')"
        )
    ).one()
    assert tuple(again) == tuple(counts)
    ids = dict(
        db_session.execute(
            text("SELECT asset_tag, id FROM assets.cameras WHERE asset_tag LIKE 'MED-%'")
        ).all()
    )
    recs = _recs(client, tokens, ids)
    assert recs["MED-RAI-CP1"] == [("decommission", "redundant_overlap")]
    assert ("replace_with_digital", "redundant_overlap") in recs["MED-RAI-CP2"]
    for tag in ("MED-RAI-RG1", "MED-RAI-RG2"):
        assert recs[tag] == [("make_permanent", "rapid_in_use")]
    health = dict(
        db_session.execute(
            text("SELECT asset_tag, health FROM assets.cameras WHERE asset_tag LIKE 'MED-%'")
        ).all()
    )
    assert health["MED-GIL-001"] == "degraded" and health["MED-ROC-001"] == "online"
    breaches = client.get("/faults/sla-breaches", headers=tokens["operator"]).json()
    assert ids["MED-GIL-001"] in {b["fault"]["camera_id"] for b in breaches}
