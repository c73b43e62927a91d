"""The load mix: bench tokens, what the users act on, the locust run and its tables."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from .cpu import service_pids
from .locust_run import HEADER, figures, fmt, in_window, run_locust
from .support import RUN, Sample, csp, get_json, http, make_bboxes

LOAD_CLASSES = ("ControlRoom", "Crew", "Analyst", "CameraViewer")
GROUPS = ("control-room", "crew", "analyst", "cameras")
ROLES = ("operator", "crew", "analyst")
FAULTABLE = ("approved", "active", "under_review", "in_store", "decommissioning")


def create_tokens(stamp: str) -> dict[str, str]:
    """One token per role, named ``bench-load-<stamp>-<role>``; the clear token is the last line."""
    tokens = {}
    for role in ROLES:
        out = csp("token", "create", "--role", role, "--name", f"bench-load-{stamp}-{role}")
        tokens[role] = out.strip().splitlines()[-1].strip()
    return tokens


def revoke_tokens(stamp: str) -> None:
    """Revoke the tokens made by ``create_tokens``."""
    for role in ROLES:
        try:
            csp("token", "revoke", "--name", f"bench-load-{stamp}-{role}")
        except RuntimeError as exc:
            print(f"warning: {exc}")


def latest_list_date(database_url: str) -> str | None:
    """The latest daily list date that has boxes (the demo data ends years before today)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            day = conn.execute(
                text(
                    "SELECT max(l.list_date) FROM predictive.target_lists l WHERE EXISTS "
                    "(SELECT 1 FROM predictive.target_boxes b WHERE b.list_id = l.id)"
                )
            ).scalar()
    finally:
        engine.dispose()
    return None if day is None else day.isoformat()


@dataclass
class Targets:
    """What the users act on: cameras, bboxes, surface runs, list date."""

    camera_ids: list[int]
    bboxes: list[list[float]]
    surface_ids: list[int]
    list_date: str | None
    n_cameras: int


def discover(urls: dict[str, str], tokens: dict[str, str], list_date: str | None) -> Targets:
    """Read camera ids and positions, finished surface runs and the list date from the suite."""
    page = get_json(f"{urls['assets']}/cameras?limit=1000", tokens["analyst"])
    cams = page["items"]
    if not cams:
        raise RuntimeError("no cameras in the register: run `make demo` to load the demo data")
    faultable = [int(c["id"]) for c in cams if c["lifecycle"] in FAULTABLE]
    runs = get_json(f"{urls['hotspots']}/surfaces?limit=500", tokens["analyst"])["items"]
    surface_ids = [int(r["id"]) for r in runs if r.get("status") in ("done", "succeeded")]
    if list_date == "today":
        list_date = None  # no date parameter: the service's today in Medway
    elif list_date is None:
        from shared.settings import CommonSettings

        list_date = latest_list_date(CommonSettings().database_url)
    return Targets(
        camera_ids=faultable,
        bboxes=make_bboxes([c["lon"] for c in cams], [c["lat"] for c in cams]),
        surface_ids=surface_ids or [int(r["id"]) for r in runs],
        list_date=list_date,
        n_cameras=int(page["total"]),
    )


def close_left_open(urls: dict[str, str], token: str, fault_ids: Iterable[int], marker: str) -> int:
    """Close the faults this run opened and did not close (a user stopped mid-task)."""
    n = 0
    for fid in fault_ids:
        status, _ = http(
            f"{urls['assets']}/faults/{fid}",
            token=token,
            method="PATCH",
            body={"status": "closed", "note": f"{marker}: closed after the run"},
        )
        n += status == 200
    return n


def print_load_table(rows: list[Sample], seconds: float) -> None:
    """Per endpoint within each group, then per group, then overall."""
    print(HEADER)
    for group in GROUPS:
        grows = [r for r in rows if r[1].split(" ", 1)[0] == group]
        names = sorted({r[1] for r in grows})
        for name in names:
            print(
                fmt(
                    "  " + name.split(" ", 1)[1],
                    figures([r for r in grows if r[1] == name], seconds),
                )
            )
        print(fmt(f"{group} (all)", figures(grows, seconds)))
    print(fmt("OVERALL", figures(rows, seconds)))


def server_error_lines(rows: Sequence[Sample], since: float) -> None:
    """For endpoints that answered 5xx, print each distinct ERROR logged since ``since``."""
    failing = sorted({r[1] for r in rows if r[4] >= 500})
    if not failing:
        return
    print("\n5xx answers (see .run/logs):")
    for name in failing:
        count = sum(1 for r in rows if r[1] == name and r[4] >= 500)
        print(f"  {name}: {count} x 5xx")
    after = datetime.fromtimestamp(since, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    for svc in ("assets", "hotspots", "predictive"):
        log = RUN / "logs" / f"{svc}.log"
        if not log.exists():
            continue
        seen: dict[str, int] = {}
        for line in log.read_text(errors="replace").splitlines()[-20000:]:
            if '"level": "ERROR"' not in line:
                continue
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if str(rec.get("ts", "")) < after:
                continue
            last = (rec.get("exc") or "").strip().splitlines()[-1:] or [""]
            key = f"{rec.get('msg')} | {last[0]}"
            if key not in seen:
                print(
                    f"  {svc}.log {rec.get('ts')} request_id {rec.get('request_id')}: {key[:300]}"
                )
            seen[key] = seen.get(key, 0) + 1
        for key, n in seen.items():
            print(f"  {svc}.log: {n} x {key[:80]}")


def run_mix(
    args: argparse.Namespace,
    urls: dict[str, str],
    tokens: dict[str, str],
    targets: Targets,
    marker: str,
    think: tuple[float, float],
) -> None:
    """Hold the mix for ``--duration``, print its tables and close faults left open."""
    lo, hi = think
    print(
        f"\n== Mix: {args.users} users (control room 1 : crews 3 : analysts 2 : camera "
        f"viewers 2), {lo:g}-{hi:g} s think time, {args.duration:.0f} s; "
        f"{len(targets.camera_ids)} cameras take faults, surfaces {targets.surface_ids}, "
        f"lists of {targets.list_date or 'today'} for {args.agencies}"
    )
    config = {
        "urls": urls,
        "tokens": tokens,
        "think_s": [lo, hi],
        "marker": marker,
        "camera_ids": targets.camera_ids,
        "surface_ids": targets.surface_ids,
        "bboxes": targets.bboxes,
        "list_date": targets.list_date,
        "agencies": args.agencies.split(","),
    }
    run = run_locust(
        config,
        LOAD_CLASSES,
        users=args.users,
        spawn_rate=args.spawn_rate,
        duration_s=args.duration,
        tag="load",
        pids=service_pids(),
    )
    rows = in_window(run)
    seconds = run.window[1] - run.window[0]
    print(
        f"steady window {seconds:.0f} s (after the {args.users / args.spawn_rate:.0f} s "
        f"ramp); {len(run.samples) - len(rows)} requests outside it not counted"
    )
    print_load_table(rows, seconds)
    print(run.cpu.line())
    per_req = 1000 * run.cpu.server_seconds() / max(len(run.samples), 1)
    print(
        f"server CPU per request of this mix: {per_req:.1f} ms (3 services + their "
        f"PostgreSQL backends), so about {1000 / per_req:.0f} req/s per free core"
    )
    server_error_lines(rows, run.window[0])
    if run.open_faults:
        n = close_left_open(urls, tokens["operator"], run.open_faults, marker)
        print(f"closed {n} of {len(run.open_faults)} faults left open by stopped users")
    print(
        f"faults written by this run carry '{marker}' in their description "
        f"(locust CSVs: .run/bench/load_stats.csv)"
    )
