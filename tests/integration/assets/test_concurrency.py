"""50 writers at once on the same cameras and faults: no lost update, every change audited."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import text

from services.assets.cameras.schemas import CameraPatch
from services.assets.cameras.service import get_camera, update_camera
from services.assets.faults.service import update_fault_status
from shared.errors import Conflict, PreconditionFailed
from tests.factories import delete_cameras, log_fault, make_camera

WRITERS = 50


@pytest.fixture()
def committed(engine: Any) -> Iterator[tuple[Callable[[], Any], list[int]]]:
    """A session factory that commits for real (50 connections), and cleanup of its cameras."""
    from shared.db import make_engine, make_sessionmaker

    eng = make_engine(engine.url.render_as_string(hide_password=False), pool_size=WRITERS)
    cameras: list[int] = []
    yield make_sessionmaker(eng), cameras
    with eng.begin() as conn:
        delete_cameras(conn, cameras)
    eng.dispose()


def _camera(factory: Callable[[], Any], cameras: list[int], tag: str) -> int:
    with factory() as s:
        cam = make_camera(s, name=tag, lon=0.52, lat=51.38, asset_tag=tag, actor="setup")
        cameras.append(cam.id)
        return int(cam.id)


def _run_all(work: Callable[[int], Any]) -> list[Any]:
    """Run ``work(i)`` for every writer, released together by a barrier."""
    gate = threading.Barrier(WRITERS)

    def go(i: int) -> Any:
        gate.wait()
        try:
            return work(i)
        except Exception as exc:  # noqa: BLE001 - the outcome is the result
            return exc

    with ThreadPoolExecutor(max_workers=WRITERS) as pool:
        return list(pool.map(go, range(WRITERS)))


def _audit(factory: Callable[[], Any], cam: int, action: str) -> list[Any]:
    with factory() as s:
        return list(
            s.execute(
                text(
                    "SELECT actor, before, after FROM assets.audit_log WHERE camera_id=:c "
                    "AND action=:a "
                    "ORDER BY id"
                ),
                {"c": cam, "a": action},
            )
        )


def test_same_version_edits_one_wins_the_rest_are_refused(committed: Any) -> None:
    factory, cameras = committed
    cam = _camera(factory, cameras, "CONC-EDIT")
    with factory() as s:
        v0 = get_camera(s, camera_id=cam).version

    def edit(i: int) -> int:
        with factory() as s:
            return int(
                update_camera(
                    s,
                    camera_id=cam,
                    patch=CameraPatch(owner=f"w{i}"),
                    expected_version=v0,
                    actor=f"w{i}",
                ).version
            )

    results = _run_all(edit)
    wins = [r for r in results if isinstance(r, int)]
    refused = [r for r in results if isinstance(r, PreconditionFailed)]
    assert (len(wins), len(refused)) == (1, WRITERS - 1), [type(r) for r in results]
    rows = [r for r in _audit(factory, cam, "update") if "owner" in (r.after or {})]
    with factory() as s:
        final = get_camera(s, camera_id=cam)
    assert final.version == v0 + 1 and len(rows) == 1
    assert rows[0].actor == final.owner and rows[0].after["owner"] == final.owner


def test_retrying_writers_lose_no_update_and_the_audit_chains(committed: Any) -> None:
    """Each writer appends its mark by read-modify-write with If-Match, retrying on 412."""
    factory, cameras = committed
    cam = _camera(factory, cameras, "CONC-RMW")

    def append(i: int) -> int:
        tries = 0
        while True:
            tries += 1
            with factory() as s:
                current = get_camera(s, camera_id=cam)
                marks = f"{current.purpose or ''} w{i}".strip()
                try:
                    update_camera(
                        s,
                        camera_id=cam,
                        patch=CameraPatch(purpose=marks),
                        expected_version=current.version,
                        actor=f"w{i}",
                    )
                    return tries
                except PreconditionFailed:
                    s.rollback()

    results = _run_all(append)
    assert all(isinstance(r, int) for r in results), [r for r in results if not isinstance(r, int)]
    assert max(results) > 1, "no writer ever collided; the test did not exercise the race"
    with factory() as s:
        final = get_camera(s, camera_id=cam)
    assert sorted(final.purpose.split()) == sorted(f"w{i}" for i in range(WRITERS))
    rows = [r for r in _audit(factory, cam, "update") if "purpose" in (r.after or {})]
    assert len(rows) == WRITERS
    # Every change starts from the previous one's result: a chain with no gap.
    for prev, nxt in zip(rows, rows[1:], strict=False):
        assert nxt.before["purpose"] == prev.after["purpose"]


def test_fifty_operators_closing_one_fault_close_it_once(committed: Any) -> None:
    factory, cameras = committed
    cam = _camera(factory, cameras, "CONC-FAULT")
    with factory() as s:
        fault_id = log_fault(s, cam, description="x", actor="op").id

    def close(i: int) -> str:
        with factory() as s:
            return str(
                update_fault_status(s, fault_id=fault_id, status="fixed", actor=f"w{i}").status
            )

    results = _run_all(close)
    assert results.count("fixed") == 1
    assert sum(isinstance(r, Conflict) for r in results) == WRITERS - 1
    with factory() as s:
        events = s.execute(
            text(
                "SELECT count(*) FROM assets.fault_events WHERE fault_id=:f AND to_status='fixed'"
            ),
            {"f": fault_id},
        ).scalar_one()
        health = get_camera(s, camera_id=cam).health
    assert events == 1 and health == "online"
    assert len(_audit(factory, cam, "fault_status")) == 1


def test_fifty_faults_on_five_cameras_all_numbered_and_audited(committed: Any) -> None:
    factory, cameras = committed
    cams = [_camera(factory, cameras, f"CONC-MANY-{k}") for k in range(5)]

    def log(i: int) -> str:
        with factory() as s:
            return str(log_fault(s, cams[i % 5], description=f"w{i}", actor=f"w{i}").number)

    numbers = _run_all(log)
    assert all(isinstance(n, str) for n in numbers), numbers
    assert len(set(numbers)) == WRITERS
    with factory() as s:
        logged = s.execute(
            text(
                "SELECT count(*) FROM assets.audit_log WHERE camera_id = ANY(:c) AND "
                "entity='fault' "
                "AND action <> 'fault_status'"
            ),
            {"c": cams},
        ).scalar_one()
    assert logged == WRITERS
