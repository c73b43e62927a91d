"""Idempotency-Key on faults, footage requests and visits: a retry returns the first record.

Each kind is posted through its service's API on the rolled-back session. The concurrency tests
use real sessions that commit: 20 threads post one key through the app, and a first insert held
open makes a repeat lose the race to the unique key deterministically.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from shared.idempotency import scoped_key
from tests.factories import (
    LIST_DAY,
    WITH_VIEW,
    delete_cameras,
    log_fault,
    make_camera,
    post_camera,
)
from tests.support import service_app

CELLS = ("150m_100_200", "150m_100_201")
THREADS = 20
PROBLEM = "application/problem+json"
# The stored key of caller "op" (an actor, as the service functions scope without a token id).
OP_K = scoped_key("op", "k")


@dataclass
class Kind:
    """One record-creating POST: where it goes, a valid body, and how to count its rows."""

    name: str
    client: Any
    path: str
    body: dict[str, Any]
    table: str
    where: str
    params: dict[str, Any]
    # Body changes that make a different record (same key: 409).
    others: list[dict[str, Any]] = field(default_factory=list)

    def post(self, headers: dict[str, Any], key: str | bytes | None = None, **change: Any) -> Any:
        """POST the body (with ``change``) and, when given, the Idempotency-Key."""
        h = dict(headers) if key is None else {**headers, "Idempotency-Key": key}
        return self.client.post(self.path, json=self.body | change, headers=h)

    def rows(self, session: Any) -> int:
        """How many rows of this kind the target (camera or list) has."""
        sql = f"SELECT count(*) FROM {self.table} WHERE {self.where}"
        return int(session.execute(text(sql), self.params).scalar_one())


def _camera(client: Any, tokens: dict[str, dict[str, str]], name: str = "Idem camera") -> int:
    return int(post_camera(client, tokens["admin"], name=name, **WITH_VIEW)["id"])


def _target_list(session: Any) -> int:
    """A kfrs list for LIST_DAY with two boxes, stored directly (no fitting needed here)."""
    from geoalchemy2.shape import from_shape
    from shapely.geometry import box

    from services.predictive.agencies import service as agencies
    from services.predictive.models import TargetBox, TargetList

    agency = agencies.get_agency(session, code="kfrs")
    start = datetime(2024, 5, 1, tzinfo=UTC)
    lst = TargetList(
        agency_id=agency.id,
        list_date=LIST_DAY,
        method="test",
        requested_method="test",
        params={},
        warnings=[],
        categories=[],
        cell_size_m=150.0,
        shift_start=start,
        shift_end=start + timedelta(days=1),
        trained_before=start,
        n_events=0,
        n_candidate_cells=2,
        generated_by="cli",
    )
    session.add(lst)
    session.flush()
    for rank, cell in enumerate(CELLS, start=1):
        x0, y0 = 575000.0 + 150 * rank, 168000.0
        session.add(
            TargetBox(
                list_id=lst.id,
                rank=rank,
                cell_id=cell,
                score=1.0 / rank,
                geom=from_shape(box(x0, y0, x0 + 150, y0 + 150), srid=27700),
            )
        )
    session.flush()
    return int(lst.id)


@pytest.fixture(params=["fault", "footage", "visit"])
def kind(
    request: Any,
    make_client: Callable[..., Any],
    tokens: dict[str, dict[str, str]],
    db_session: Any,
) -> Kind:
    """Each record-creating POST in turn, ready to send."""
    if request.param == "visit":
        lid = _target_list(db_session)
        return Kind(
            "visit",
            make_client("predictive"),
            f"/targets/{lid}/boxes/{CELLS[0]}/visits",
            {"visited_at": f"{LIST_DAY}T10:15:00+01:00", "crew": "Blue Watch", "notes": "bins"},
            "predictive.visits",
            "list_id = :t",
            {"t": lid},
            others=[
                {"crew": "Red Watch"},
                {"visited_at": f"{LIST_DAY}T10:16:00+01:00"},
                {"notes": None},
            ],
        )
    client = make_client("assets")
    cam = _camera(client, tokens)
    if request.param == "fault":
        return Kind(
            "fault",
            client,
            # The retries under test are the same report; a second report is insisted on
            # (without ?duplicate=allow a second open fault of a kind is a 409).
            f"/cameras/{cam}/faults?duplicate=allow",
            {"category": "no_picture", "description": "Black screen"},
            "assets.faults",
            "camera_id = :t",
            {"t": cam},
            others=[
                {"category": "power"},
                {"description": "Blank screen"},
                {"reported_at": "2024-05-01T09:00:00Z"},
            ],
        )
    return Kind(
        "footage",
        client,
        f"/cameras/{cam}/footage-requests",
        {"requested_on": "2024-05-02", "reference": "KENT/123", "note": "burglary"},
        "assets.footage_requests",
        "camera_id = :t",
        {"t": cam},
        others=[
            {"reference": "KENT/124"},
            {"requested_on": "2024-05-03"},
            {"outcome": "provided"},
            {"note": None},
        ],
    )


def _who(kind: Kind, tokens: dict[str, dict[str, str]]) -> dict[str, str]:
    return tokens["crew" if kind.name == "visit" else "operator"]


def test_a_repeat_returns_the_first_record_and_creates_nothing(
    kind: Kind, tokens: dict[str, dict[str, str]], db_session: Any
) -> None:
    who = _who(kind, tokens)
    first = kind.post(who, "retry-1")
    assert first.status_code == 201, first.text
    assert "idempotent-replayed" not in first.headers
    for _ in range(2):
        again = kind.post(who, "retry-1")
        assert again.status_code == 200, again.text
        assert again.headers["idempotent-replayed"] == "true"
        assert again.json() == first.json()
    assert kind.rows(db_session) == 1


def test_the_same_key_for_a_different_record_is_409(
    kind: Kind, tokens: dict[str, dict[str, str]], db_session: Any
) -> None:
    who = _who(kind, tokens)
    assert kind.post(who, "k-409").status_code == 201
    for change in kind.others:
        r = kind.post(who, "k-409", **change)
        assert r.status_code == 409, (change, r.text)
        assert r.headers["content-type"].startswith(PROBLEM)
        body = r.json()
        assert body["status"] == 409
        assert body["detail"].startswith("This Idempotency-Key was used for a different ")
    assert kind.rows(db_session) == 1


def test_keys_are_scoped_per_caller(
    kind: Kind, tokens: dict[str, dict[str, str]], db_session: Any
) -> None:
    mine = kind.post(_who(kind, tokens), "shared-key")
    theirs = kind.post(tokens["admin"], "shared-key")
    assert (mine.status_code, theirs.status_code) == (201, 201), theirs.text
    assert mine.json()["id"] != theirs.json()["id"]
    assert kind.rows(db_session) == 2


def test_long_keys_after_a_long_name_never_collide(kind: Kind, db_session: Any) -> None:
    """Issue 11, D10: actor:key was cut to 300 characters, so after a 120-character token name
    two 200-character keys that differ only at the end were one key (a replay or a 409)."""
    from shared.auth import create_token

    role = "crew" if kind.name == "visit" else "operator"
    _, clear = create_token(db_session, name="n" * 120, role=role)
    db_session.flush()
    who = {"Authorization": f"Bearer {clear}"}
    first, second = "k" * 199 + "1", "k" * 199 + "2"
    a, b = kind.post(who, first), kind.post(who, second)
    assert (a.status_code, b.status_code) == (201, 201), b.text
    assert a.json()["id"] != b.json()["id"]
    assert kind.rows(db_session) == 2
    assert kind.post(who, second).json()["id"] == b.json()["id"]


def test_stored_keys_are_fixed_length_digests_scoped_by_token_id() -> None:
    from shared.idempotency import KEY_COLUMN_LENGTH

    keys = ["a", "k" * 200, "k" * 199 + "x", "2:x", ":x"]
    seen = {}
    for caller in (1, 12, 2, "12", "op"):
        for key in keys:
            stored = scoped_key(caller, key)
            assert stored is not None and len(stored) == 64 <= KEY_COLUMN_LENGTH
            seen.setdefault(stored, []).append((caller, key))
    # Only the int and str spellings of one token id share a digest (the same caller).
    assert sorted(len(v) for v in seen.values()) == [1] * (3 * len(keys)) + [2] * len(keys)
    assert scoped_key(1, None) is None and scoped_key(1, "") is None


def test_fault_keys_are_scoped_by_token_id_not_name(db_session: Any) -> None:
    """Two tokens whose callers print the same (name, role) no longer share a key (S3/D10)."""
    from services.assets.faults.service import log_fault_once

    cam = make_camera(db_session, name="Scope")
    made = [
        log_fault_once(
            db_session,
            camera_id=cam.id,
            category="power",
            description="x",
            actor="same name (operator)",
            caller=token_id,
            idempotency_key="shared",
            allow_duplicate=True,  # the second caller's report is a second fault on purpose
        )
        for token_id in (101, 102, 101)
    ]
    assert [created for _, created in made] == [True, True, False]
    assert made[0][0].id != made[1][0].id and made[2][0].id == made[0][0].id


def test_without_a_key_every_post_creates(
    kind: Kind, tokens: dict[str, dict[str, str]], db_session: Any
) -> None:
    who = _who(kind, tokens)
    ids = {kind.post(who).json()["id"], kind.post(who).json()["id"]}
    assert len(ids) == 2
    assert kind.rows(db_session) == 2


@pytest.mark.parametrize(
    "key",
    ["x" * 201, "", "caf\xe9".encode("latin-1"), "tab\tinside"],
    ids=["201-chars", "empty", "latin-1", "control-char"],
)
def test_a_bad_key_is_422_and_creates_nothing(
    kind: Kind, tokens: dict[str, dict[str, str]], db_session: Any, key: Any
) -> None:
    r = kind.post(_who(kind, tokens), key)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith(PROBLEM)
    assert any(e["field"].lower().endswith("idempotency-key") for e in r.json()["errors"])
    assert kind.rows(db_session) == 0
    longest = kind.post(_who(kind, tokens), "~" * 200)
    assert longest.status_code == 201, longest.text


def _fault_trail(session: Any, camera_id: int) -> tuple[int, int, int]:
    """Audit rows, fault events and faults of a camera."""
    return (
        session.execute(
            text("SELECT count(*) FROM assets.audit_log WHERE camera_id=:c"), {"c": camera_id}
        ).scalar_one(),
        session.execute(
            text(
                "SELECT count(*) FROM assets.fault_events e JOIN assets.faults f "
                "ON f.id = e.fault_id WHERE f.camera_id=:c"
            ),
            {"c": camera_id},
        ).scalar_one(),
        session.execute(
            text("SELECT count(*) FROM assets.faults WHERE camera_id=:c"), {"c": camera_id}
        ).scalar_one(),
    )


def test_a_replayed_fault_leaves_no_trail(
    make_client: Callable[..., Any], tokens: dict[str, dict[str, str]], db_session: Any
) -> None:
    """No audit row, fault event, fault number, health change or camera version on a replay."""
    client = make_client("assets")
    cam = _camera(client, tokens)
    h = {**tokens["operator"], "Idempotency-Key": "no-trail"}
    first = client.post(
        f"/cameras/{cam}/faults", json={"category": "no_picture", "description": "Dark"}, headers=h
    )
    assert first.status_code == 201, first.text
    camera = client.get(f"/cameras/{cam}", headers=tokens["operator"])
    trail = _fault_trail(db_session, cam)
    # The fault itself, its opening event, its audit row and the health change.
    assert trail[1:] == (1, 1) and camera.json()["health"] == "offline"
    again = client.post(
        f"/cameras/{cam}/faults", json={"category": "no_picture", "description": "Dark"}, headers=h
    )
    assert again.status_code == 200 and again.json()["number"] == first.json()["number"]
    after = client.get(f"/cameras/{cam}", headers=tokens["operator"])
    assert _fault_trail(db_session, cam) == trail
    assert after.headers["etag"] == camera.headers["etag"]
    assert after.json()["health"] == camera.json()["health"]
    # No number was drawn for the replay: the sequence's next one follows the fault's.
    nxt = db_session.execute(text("SELECT nextval('assets.fault_number_seq')")).scalar_one()
    assert nxt == int(first.json()["number"].rsplit("-", 1)[1]) + 1


def test_a_fault_key_used_on_another_camera_is_409(
    make_client: Callable[..., Any], tokens: dict[str, dict[str, str]], db_session: Any
) -> None:
    client = make_client("assets")
    cams = [_camera(client, tokens, f"Idem {i}") for i in range(2)]
    h = {**tokens["operator"], "Idempotency-Key": "one-camera"}
    body = {"category": "power", "description": "No power"}
    assert client.post(f"/cameras/{cams[0]}/faults", json=body, headers=h).status_code == 201
    before = _fault_trail(db_session, cams[1])
    r = client.post(f"/cameras/{cams[1]}/faults", json=body, headers=h)
    assert r.status_code == 409 and r.headers["content-type"].startswith(PROBLEM)
    assert _fault_trail(db_session, cams[1]) == before and before[2] == 0


def test_a_repeated_visit_matches_across_both_routes(
    make_client: Callable[..., Any], tokens: dict[str, dict[str, str]], db_session: Any
) -> None:
    """The same visit sent by list id and box, then by agency, date and box, is one visit."""
    lid = _target_list(db_session)
    client = make_client("predictive")
    h = {**tokens["crew"], "Idempotency-Key": "both-routes"}
    visit = {"visited_at": f"{LIST_DAY}T10:15:00+01:00", "crew": "Blue Watch"}
    first = client.post(f"/targets/{lid}/boxes/{CELLS[0]}/visits", json=visit, headers=h)
    assert first.status_code == 201, first.text
    by_agency = {
        "agency": "kfrs",
        "date": LIST_DAY.isoformat(),
        "cell_id": CELLS[0],
        "visited_at": f"{LIST_DAY}T09:15:00Z",
        "crew": " Blue Watch ",
    }
    again = client.post("/visits", json=by_agency, headers=h)
    assert again.status_code == 200, again.text
    assert again.json()["id"] == first.json()["id"]
    other_box = client.post("/visits", json=by_agency | {"cell_id": CELLS[1]}, headers=h)
    assert other_box.status_code == 409
    assert (
        db_session.execute(
            text("SELECT count(*) FROM predictive.visits WHERE list_id=:l"), {"l": lid}
        ).scalar_one()
        == 1
    )


def test_a_clash_on_another_unique_constraint_is_not_taken_for_a_repeat(db_session: Any) -> None:
    from sqlalchemy.exc import IntegrityError

    from services.assets.faults.service import get_fault
    from services.assets.models import Fault
    from shared.idempotency import insert_once

    cam = make_camera(db_session, name="Clash")
    fault = log_fault(db_session, cam, category="power", description="x", actor="t")
    twin = Fault(
        number=fault.number,
        camera_id=cam.id,
        category="power",
        description="x",
        status="open",
        reported_at=fault.reported_at,
        reported_by="t",
        source="api",
        idempotency_key=scoped_key("t", "twin"),
    )
    with pytest.raises(IntegrityError):
        insert_once(db_session, twin, "uq_faults_idempotency_key")
    # The savepoint took the failed insert with it; the session goes on.
    assert get_fault(db_session, fault_id=fault.id).number == fault.number


# ------------------------------------------------------------------ concurrency, real sessions


@dataclass
class Committed:
    """A session factory on the test database that commits for real, a camera and a list."""

    factory: Any
    camera_id: int
    other_camera_id: int
    list_id: int


@pytest.fixture()
def committed(engine: Any) -> Iterator[Committed]:
    """Real sessions (one connection per thread); the camera, list and their rows go after."""
    from shared.db import make_engine, make_sessionmaker

    eng = make_engine(engine.url.render_as_string(hide_password=False), pool_size=THREADS)
    factory = make_sessionmaker(eng)
    with factory() as s:
        agencies = set(s.execute(text("SELECT id FROM predictive.agencies")).scalars())
        cams = [
            make_camera(s, name=f"Idem race {i}", asset_tag=f"IDEM-RACE-{i}").id for i in (1, 2)
        ]
        lid = _target_list(s)
        s.commit()
    try:
        yield Committed(factory, cams[0], cams[1], lid)
    finally:
        with eng.begin() as conn:
            delete_cameras(conn, cams)
            conn.execute(text("DELETE FROM predictive.visits WHERE list_id=:l"), {"l": lid})
            conn.execute(text("DELETE FROM predictive.target_lists WHERE id=:l"), {"l": lid})
            conn.execute(
                text("DELETE FROM predictive.agencies WHERE NOT id = ANY(:a)"),
                {"a": list(agencies)},
            )
        eng.dispose()


@pytest.fixture()
def live(committed: Committed) -> Iterator[tuple[Any, dict[str, str], int]]:
    """The assets app with a session per request that commits for real, and a token for it."""
    from fastapi.testclient import TestClient

    from shared.auth import create_token
    from tests.conftest import TEST_DB

    with committed.factory() as s:
        token, clear = create_token(s, name="idem race", role="operator")
        s.commit()
        token_id = token.id
    app = service_app("assets", TEST_DB)
    app.state.engine = committed.factory.kw["bind"]
    app.state.sessionmaker = committed.factory
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            yield client, {"Authorization": f"Bearer {clear}"}, committed.camera_id
    finally:
        with committed.factory() as s:
            s.execute(text("DELETE FROM core.api_tokens WHERE id=:t"), {"t": token_id})
            s.commit()


def _all_at_once(send: Callable[[], Any]) -> list[Any]:
    """``send()`` from THREADS threads released together by a barrier."""
    gate = threading.Barrier(THREADS)

    def go(_: int) -> Any:
        gate.wait()
        return send()

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        return list(pool.map(go, range(THREADS)))


def _count(client: Any, sql: str, cam: int) -> int:
    eng = client.app.state.engine
    with eng.connect() as conn:
        return int(conn.execute(text(sql), {"c": cam}).scalar_one())


@pytest.mark.parametrize("path", ["faults", "footage-requests"])
def test_twenty_concurrent_repeats_create_one_record(
    live: tuple[Any, dict[str, str], int], path: str
) -> None:
    """Faults wait on the camera lock; footage requests race to the unique key."""
    client, who, cam = live
    body = (
        {"category": "no_picture", "description": "Screen dark"}
        if path == "faults"
        else {"requested_on": "2024-05-02", "reference": "KENT/9"}
    )
    h = {**who, "Idempotency-Key": f"race-{path}"}
    answers = _all_at_once(lambda: client.post(f"/cameras/{cam}/{path}", json=body, headers=h))
    statuses = sorted(r.status_code for r in answers)
    assert statuses == [200] * (THREADS - 1) + [201], [r.text for r in answers]
    assert len({r.json()["id"] for r in answers}) == 1
    table = path.replace("-", "_")
    assert _count(client, f"SELECT count(*) FROM assets.{table} WHERE camera_id=:c", cam) == 1
    audited = _count(
        client,
        "SELECT count(*) FROM assets.audit_log WHERE camera_id=:c AND entity <> 'camera'",
        cam,
    )
    assert audited == 1
    if path == "faults":
        events = _count(
            client,
            "SELECT count(*) FROM assets.fault_events e JOIN assets.faults "
            "f ON f.id = e.fault_id WHERE f.camera_id=:c",
            cam,
        )
        assert events == 1


def _first_holds_the_key(c: Committed, kind: str) -> tuple[Any, Callable[[Any], Any]]:
    """The first request's row with caller "op"'s key "k" (not yet committed), and the repeat."""
    from services.assets.faults.service import log_fault_once
    from services.assets.footage.service import add_footage_request
    from services.assets.models import Fault, FootageRequest
    from services.predictive.models import TargetList, Visit
    from services.predictive.visits import service as visits

    at = datetime(2024, 5, 1, 9, tzinfo=UTC)
    if kind == "fault":
        # On another camera: on the same one the first request's camera lock would hold the
        # repeat before its lookup (the serialised case the other tests cover).
        row: Any = Fault(
            number="F-2024-999999",
            camera_id=c.other_camera_id,
            category="power",
            description="x",
            status="open",
            reported_at=at,
            reported_by="op",
            source="api",
            idempotency_key=OP_K,
        )
        return row, lambda s: log_fault_once(
            s,
            camera_id=c.camera_id,
            category="power",
            description="x",
            reported_at=at,
            actor="op",
            idempotency_key="k",
        )
    if kind == "footage":
        row = FootageRequest(
            camera_id=c.camera_id,
            requested_on=LIST_DAY,
            reference="R",
            outcome="pending",
            note=None,
            recorded_by="op",
            idempotency_key=OP_K,
        )
        return row, lambda s: add_footage_request(
            s,
            camera_id=c.camera_id,
            requested_on=LIST_DAY,
            reference="R",
            actor="op",
            idempotency_key="k",
        )
    with c.factory() as s:
        agency_id = s.get(TargetList, c.list_id).agency_id  # type: ignore[union-attr]
    row = Visit(
        agency_id=agency_id,
        list_id=c.list_id,
        list_date=LIST_DAY,
        cell_id=CELLS[0],
        visited_at=at,
        crew="Blue",
        notes=None,
        logged_by="op",
        idempotency_key=OP_K,
    )
    return row, lambda s: visits.log_visit_for_list(
        s,
        list_id=c.list_id,
        cell_id=CELLS[0],
        visited_at=at,
        crew="Blue",
        notes=None,
        actor="op",
        idempotency_key="k",
    )


def _wait_for_blocked_insert(c: Committed, table: str) -> None:
    """Until a backend waits on a lock inside an INSERT into ``table`` (the repeat's)."""
    deadline = time.monotonic() + 10
    with c.factory() as s:
        while time.monotonic() < deadline:
            waiting = s.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock' AND query LIKE :q"
                ),
                {"q": f"INSERT INTO {table}%"},
            ).scalar_one()
            if waiting:
                return
            s.rollback()
            time.sleep(0.01)
    raise AssertionError(f"the repeat never waited on the insert into {table}")


@pytest.mark.parametrize(
    "kind, table",
    [
        ("fault", "assets.faults"),
        ("footage", "assets.footage_requests"),
        ("visit", "predictive.visits"),
    ],
)
def test_a_repeat_that_loses_the_insert_race_answers_from_the_winner(
    committed: Committed, kind: str, table: str
) -> None:
    """A repeat blocked on the first's uncommitted key answers from it once it commits."""
    from shared.errors import Conflict

    row, repeat = _first_holds_the_key(committed, kind)
    first, second = committed.factory(), committed.factory()
    pool = ThreadPoolExecutor(max_workers=1)
    try:
        first.add(row)
        first.flush()
        answer = pool.submit(repeat, second)
        _wait_for_blocked_insert(committed, table)
        first.commit()
        if kind == "fault":
            with pytest.raises(Conflict):
                answer.result(timeout=10)
        else:
            found, created = answer.result(timeout=10)
            assert (found.id, created) == (row.id, False)
    finally:
        first.close()  # releases the repeat if the test failed before the commit
        pool.shutdown(wait=True)
        second.close()
    with committed.factory() as s:
        n = s.execute(text(f"SELECT count(*) FROM {table} WHERE idempotency_key = :k"), {"k": OP_K})
        assert n.scalar_one() == 1


def test_a_repeat_stuck_behind_a_held_camera_lock_gets_409_not_a_long_wait(
    committed: Committed, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 11, A2: waiting on another request's lock is bounded (then 409, retry), so a
    stuck first request cannot hold the repeats' pooled connections for long."""
    from services.assets.faults.service import log_fault_once
    from shared import idempotency
    from shared.errors import Conflict

    monkeypatch.setattr(idempotency, "LOCK_WAIT_MS", 300)
    holder, repeat = committed.factory(), committed.factory()
    try:
        holder.execute(
            text("SELECT id FROM assets.cameras WHERE id=:c FOR UPDATE"),
            {"c": committed.camera_id},
        )
        t0 = time.monotonic()
        with pytest.raises(Conflict) as caught:
            log_fault_once(
                repeat,
                camera_id=committed.camera_id,
                category="power",
                description="stuck",
                actor="op",
                caller=7,
                idempotency_key="stuck",
            )
        waited = time.monotonic() - t0
        assert 0.25 < waited < 2.0, waited
        assert "in progress" in caught.value.detail and caught.value.status == 409
        assert caught.value.headers["Retry-After"] == "1"
        # The repeat's transaction is over: its session works and holds no lock.
        assert repeat.execute(text("SELECT 1")).scalar_one() == 1
    finally:
        holder.close()
        repeat.close()
    with committed.factory() as s:
        n = s.execute(
            text("SELECT count(*) FROM assets.faults WHERE camera_id=:c"),
            {"c": committed.camera_id},
        ).scalar_one()
    assert n == 0
