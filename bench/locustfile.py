"""Locust users for ``bench/bench_load.py``: control room, crews, analysts, camera viewers.

Not meant to be run by hand: ``bench_load.py`` writes a JSON config (service URLs, tokens, camera
and surface ids, bboxes) and points ``BENCH_LOAD_CONFIG`` at it. Every request is named
``"<group> <METHOD> <path template>"``; each sample (start time, name, ms, ok, status) is written
to the config's ``samples`` file when locust quits, so the caller computes exact percentiles per
group and overall (locust's own CSVs only keep per-name percentiles).
"""

from __future__ import annotations

import json
import os
import random
import time
from typing import Any

import gevent
from load.support import CONFIG_ENV, Sample  # bench/ is on sys.path while locust loads this
from locust import constant, events, task
from locust.contrib.fasthttp import FastHttpUser
from locust.env import Environment


def _load_config() -> dict[str, Any]:
    path = os.environ.get(CONFIG_ENV)
    if not path:
        return {}
    with open(path, encoding="utf-8") as fh:
        data: dict[str, Any] = json.load(fh)
    return data


CFG = _load_config()
URLS: dict[str, str] = CFG.get("urls", {})
TOKENS: dict[str, str] = CFG.get("tokens", {})
THINK = tuple(CFG.get("think_s", (0.5, 2.0)))
MARKER = str(CFG.get("marker", "bench_load"))
SAMPLES: list[Sample] = []
TIMES: dict[str, float] = {}
OPEN_FAULTS: set[int] = set()
FAULT_CATEGORIES = ("intermittent_picture", "pan_tilt_zoom", "vandalism", "other", "power")


def think(_user: Any) -> float:
    """A person's pause between two actions, uniform in the configured range (seconds)."""
    return random.uniform(THINK[0], THINK[1])


@events.test_start.add_listener
def _on_start(environment: Environment, **_: Any) -> None:
    TIMES["test_start"] = time.time()


@events.spawning_complete.add_listener
def _on_spawned(user_count: int, **_: Any) -> None:
    TIMES.setdefault("spawned", time.time())


@events.request.add_listener
def _on_request(
    request_type: str,
    name: str,
    response_time: float,
    response: Any = None,
    exception: BaseException | None = None,
    start_time: float | None = None,
    **_: Any,
) -> None:
    status = int(getattr(response, "status_code", 0) or 0)
    started = start_time if start_time is not None else time.time() - response_time / 1000
    SAMPLES.append((started, name, float(response_time), exception is None, status))


@events.quitting.add_listener
def _on_quit(environment: Environment, **_: Any) -> None:
    path = CFG.get("samples")
    if not path:
        return
    with open(path, "w", encoding="utf-8") as fh:
        json.dump({"times": TIMES, "open_faults": sorted(OPEN_FAULTS), "samples": SAMPLES}, fh)


def _auth(role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[role]}"} if role in TOKENS else {}


def _bbox(bboxes: list[list[float]]) -> str:
    """One of the boxes, picked at random, as a ``bbox=`` value."""
    return ",".join(f"{v:.6f}" for v in random.choice(bboxes))


class ControlRoom(FastHttpUser):
    """A control-room operator: logs a fault, checks it, closes it; watches the open-fault board."""

    weight = 1
    wait_time = think
    host = URLS.get("assets", "http://127.0.0.1:8001")

    def on_start(self) -> None:
        """Operator token and the cameras faults may be logged on."""
        self.headers = _auth("operator")
        self.cameras: list[int] = CFG.get("camera_ids", [])

    @task(3)
    def fault_cycle(self) -> None:
        """POST /cameras/{id}/faults, a pause, then PATCH /faults/{id} to closed."""
        cam = random.choice(self.cameras)
        body = {"category": random.choice(FAULT_CATEGORIES), "description": f"{MARKER}: test"}
        with self.client.post(
            f"/cameras/{cam}/faults",
            json=body,
            headers=self.headers,
            name="control-room POST /cameras/{id}/faults",
            catch_response=True,
        ) as resp:
            if resp.status_code != 201:
                resp.failure(f"HTTP {resp.status_code}: {resp.text[:200] if resp.text else ''}")
                return
            fault_id = int(resp.json()["id"])
        OPEN_FAULTS.add(fault_id)
        gevent.sleep(think(self))
        close = {"status": "closed", "note": f"{MARKER}: closed"}
        with self.client.patch(
            f"/faults/{fault_id}",
            json=close,
            headers=self.headers,
            name="control-room PATCH /faults/{id}",
            catch_response=True,
        ) as resp:
            if resp.status_code == 200:
                OPEN_FAULTS.discard(fault_id)
            else:
                resp.failure(f"HTTP {resp.status_code}: {resp.text[:200] if resp.text else ''}")

    @task(2)
    def open_board(self) -> None:
        """GET /faults?open_only=true (the control-room board refreshing)."""
        self.client.get(
            "/faults?open_only=true", headers=self.headers, name="control-room GET /faults?open"
        )


class Crew(FastHttpUser):
    """A KFRS or police crew pulling its daily list as GeoJSON, CSV or the printable page."""

    weight = 3
    wait_time = think
    host = URLS.get("predictive", "http://127.0.0.1:8003")

    def on_start(self) -> None:
        """Crew token, agency and list date."""
        self.headers = _auth("crew")
        self.agency = random.choice(CFG.get("agencies", ["kfrs"]))
        day = CFG.get("list_date")
        self.query = f"agency={self.agency}" + (f"&date={day}" if day else "")

    @task(4)
    def geojson(self) -> None:
        """GET /targets (GeoJSON)."""
        self.client.get(f"/targets?{self.query}", headers=self.headers, name="crew GET /targets")

    @task(2)
    def csv(self) -> None:
        """GET /targets.csv."""
        self.client.get(
            f"/targets.csv?{self.query}", headers=self.headers, name="crew GET /targets.csv"
        )

    @task(1)
    def page(self) -> None:
        """GET /targets/page (HTML with the folium map)."""
        self.client.get(
            f"/targets/page?{self.query}", headers=self.headers, name="crew GET /targets/page"
        )


class Analyst(FastHttpUser):
    """An analyst browsing hotspot runs, their polygons and the road and water sites."""

    weight = 2
    wait_time = think
    host = URLS.get("hotspots", "http://127.0.0.1:8002")

    def on_start(self) -> None:
        """Analyst token and the finished surface runs."""
        self.headers = _auth("analyst")
        self.runs: list[int] = CFG.get("surface_ids", []) or [1]

    def _get(self, path: str, name: str) -> None:
        self.client.get(path, headers=self.headers, name=f"analyst {name}")

    @task(2)
    def surfaces(self) -> None:
        """GET /surfaces."""
        self._get("/surfaces", "GET /surfaces")

    @task(2)
    def surface(self) -> None:
        """GET /surfaces/{id}."""
        self._get(f"/surfaces/{random.choice(self.runs)}", "GET /surfaces/{id}")

    @task(2)
    def hotspots(self) -> None:
        """GET /ogc/collections/hotspots/items for a run."""
        run = random.choice(self.runs)
        self._get(
            f"/ogc/collections/hotspots/items?run={run}", "GET /ogc/collections/hotspots/items"
        )

    @task(1)
    def road_sites_ogc(self) -> None:
        """GET /ogc/collections/road-sites/items."""
        self._get("/ogc/collections/road-sites/items", "GET /ogc/collections/road-sites/items")

    @task(1)
    def road_sites(self) -> None:
        """GET /sites/road."""
        self._get("/sites/road", "GET /sites/road")

    @task(1)
    def water_sites(self) -> None:
        """GET /water/sites."""
        self._get("/water/sites", "GET /water/sites")


class CameraViewer(FastHttpUser):
    """Someone looking at cameras: the register (analyst token), the public map, OGC clients."""

    weight = 2
    wait_time = think
    host = URLS.get("assets", "http://127.0.0.1:8001")

    def on_start(self) -> None:
        """Analyst token and the bboxes to query."""
        self.headers = _auth("analyst")
        self.bboxes: list[list[float]] = CFG.get("bboxes", [])

    @task(2)
    def register(self) -> None:
        """GET /cameras (authenticated: every field)."""
        self.client.get("/cameras?limit=100", headers=self.headers, name="cameras GET /cameras")

    @task(2)
    def public_bbox(self) -> None:
        """GET /cameras?bbox= without a token (the public map)."""
        self.client.get(
            f"/cameras?bbox={_bbox(self.bboxes)}", name="cameras GET /cameras?bbox (public)"
        )

    @task(3)
    def ogc(self) -> None:
        """GET /ogc/collections/cameras/items?bbox= (an OGC client, no token)."""
        self.client.get(
            f"/ogc/collections/cameras/items?bbox={_bbox(self.bboxes)}&limit=100",
            name="cameras GET /ogc/collections/cameras/items?bbox",
        )


class OgcCompare(FastHttpUser):
    """Closed loop on one OGC API - Features items endpoint (ours or pygeoapi): no think time."""

    weight = 1  # bench_load.py names the classes it runs, so this one only runs when asked
    wait_time = constant(0)
    host = CFG.get("ogc_base", "http://127.0.0.1:8001/ogc")

    def on_start(self) -> None:
        """The bboxes, page size and any extra query parameters."""
        self.bboxes: list[list[float]] = CFG.get("bboxes", [])
        self.limit = int(CFG.get("ogc_limit", 100))
        extra: dict[str, str] = CFG.get("ogc_extra", {})
        self.extra = "".join(f"&{k}={v}" for k, v in extra.items())
        self.accept = {"Accept": "application/geo+json"}
        self.collection = str(CFG.get("ogc_collection", "cameras"))

    @task
    def items(self) -> None:
        """GET {base}/collections/cameras/items?bbox=...&limit=N&f=json."""
        bbox = _bbox(self.bboxes)
        self.client.get(
            f"{self.host}/collections/{self.collection}/items?bbox={bbox}&limit={self.limit}&f=json"
            + self.extra,
            headers=self.accept,
            name="ogc GET /collections/cameras/items?bbox",
        )
