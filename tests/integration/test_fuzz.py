"""Schemathesis fuzz of each service's OpenAPI document: no 5xx; every error is problem+json.

Every operation of ``/openapi.json`` gets positive (schema-valid) and negative (schema-breaking)
cases with a fixed seed (Hypothesis ``derandomize``). Each case is sent with an admin token, a
crew token or no token, and some cases have their ids and codes swapped for ones that exist
(seeded through the API), so the fuzzer reaches the handlers and not only 401s and 404s.

Checks on every response: the status is below 500 (an exception escaping the app counts as a
500); a 4xx is ``application/problem+json`` with ``type``, ``title`` and a ``status`` equal to
the HTTP status; a JSON success parses. Pages for people (HTML, own sign-in) are only checked
for "no 5xx". ``bench/bench_fuzz.py`` runs the same fuzzer with thousands of cases per service.
"""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SHARED_DATA
from tests.factories import WITH_VIEW, post_camera
from tests.support import GILLINGHAM, savepoint_per_request

SERVICES = ("assets", "hotspots", "predictive")
PROBLEM_JSON = "application/problem+json"
# Pages for people: their errors may be HTML (sign-in form), so only "no 5xx" is checked.
PAGES = {("GET", "/targets/page")}
# Who sends each case: mostly admin (reaches every handler), sometimes a low role or nobody.
AUTH_CHOICES = ("admin", "admin", "none", "admin", "crew")
# Cases per service in the test (the bench sends thousands): split over the operations.
TEST_CASES = 180
# Time bound per service (seconds); the test fails if the fuzzer did not finish, because then
# it would silently cover less than it claims.
TEST_BUDGET_S = 25.0


@dataclass
class Finding:
    """One response that broke a rule: what was sent, what came back."""

    service: str
    operation: str
    kind: str  # "5xx" | "exception" | "not-problem-json" | "bad-json"
    status: int
    detail: str

    def __str__(self) -> str:
        return f"[{self.service}] {self.operation} -> {self.status} {self.kind}: {self.detail}"


@dataclass
class Report:
    """What one fuzz run of one service did."""

    service: str
    requests: int = 0
    server_errors: int = 0
    bad_errors: int = 0
    seconds: float = 0.0
    operations: int = 0
    per_operation: dict[str, int] = field(default_factory=dict)
    seconds_per_operation: dict[str, float] = field(default_factory=dict)
    statuses: dict[int, int] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    timed_out: bool = False


@dataclass
class Known:
    """Values that exist in the database, swapped into some cases by parameter name."""

    values: dict[str, list[Any]] = field(default_factory=dict)
    # Returns the current If-Match value for a case's path parameters (None: leave it).
    etag: Callable[[dict[str, Any]], str | None] | None = None

    def add(self, name: str, value: Any) -> None:
        """Remember ``value`` as an existing ``name`` (path, query or form field)."""
        if value is not None and value not in self.values.setdefault(name, []):
            self.values[name].append(value)


class _Stop(Exception):
    """The time budget ran out."""


def examples_for(n_operations: int, total: int) -> dict[str, int]:
    """Cases per operation and mode so that about ``total`` are sent over the operations."""
    per_op = max(3, round(total / max(n_operations, 1)))
    coverage = max(1, per_op * 3 // 10)
    negative = max(1, per_op // 4)
    return {
        "positive": max(1, per_op - coverage - negative),
        "coverage": coverage,
        "negative": negative,
    }


def _problem_ok(status: int, content_type: str, text: str) -> str | None:
    """Why an error response is not an RFC 9457 problem (None when it is one)."""
    if not content_type.startswith(PROBLEM_JSON):
        return f"content-type {content_type!r}: {text[:200]!r}"
    try:
        body = json.loads(text)
    except ValueError:
        return f"body is not JSON: {text[:200]!r}"
    if not isinstance(body, dict):
        return f"body is not an object: {text[:200]!r}"
    if not isinstance(body.get("type"), str) or not isinstance(body.get("title"), str):
        return f"type/title missing: {text[:200]!r}"
    if body.get("status") != status:
        return f"body status {body.get('status')!r} != HTTP {status}"
    return None


def _georeport_error_ok(status: int, content_type: str, text: str) -> str:
    """Why a GeoReport v2 (Open311) error body is not one ("" when it is)."""
    kind = content_type.split(";")[0].strip()
    if kind in ("application/xml", "text/xml"):
        import xml.etree.ElementTree as ET

        try:
            root = ET.fromstring(text)
        except ET.ParseError:
            return "unparsable XML error"
        code = root.findtext("error/code")
        return "" if root.tag == "errors" and code == str(status) else "not <errors><error>"
    try:
        body = json.loads(text)
    except ValueError:
        return "error body is not JSON"
    ok = isinstance(body, list) and body and body[0].get("code") == status
    return "" if ok and body[0].get("description") else "not [{code, description}]"


def check_response(
    status: int, content_type: str, text: str, *, page: bool, georeport: bool = False
) -> tuple[str, str]:
    """Classify a response: ("", "") when it is fine, else (kind, detail).

    Open311 routes (``georeport``) answer errors in GeoReport v2's own form, as its clients read.
    """
    if status >= 500:
        return "5xx", text[:300]
    if page:
        return "", ""
    if status >= 400 and georeport:
        why = _georeport_error_ok(status, content_type, text)
        return ("not-georeport-error", why) if why else ("", "")
    if status >= 400:
        why = _problem_ok(status, content_type, text)
        return ("not-problem-json", why) if why else ("", "")
    if status < 300 and content_type.split(";")[0].strip() in (
        "application/json",
        "application/geo+json",
    ):
        try:
            json.loads(text)
        except ValueError:
            return "bad-json", text[:200]
    return "", ""


class Fuzzer:
    """Fuzz one app's OpenAPI operations through schemathesis' in-process ASGI client."""

    def __init__(
        self,
        service: str,
        app: Any,
        tokens: dict[str, str],
        known: Known,
        *,
        max_seconds: float,
    ) -> None:
        import schemathesis
        from schemathesis.python import asgi

        self.service = service
        self.schema = schemathesis.openapi.from_asgi("/openapi.json", app)
        self.client = asgi.get_client(app)
        self.tokens = tokens
        self.known = known
        self.report = Report(service)
        self.deadline = time.monotonic() + max_seconds

    def operations(self) -> Iterator[Any]:
        """Every operation of the document, in document order."""
        from schemathesis.core.result import Ok

        for result in self.schema.get_all_operations():
            if isinstance(result, Ok):
                yield result.ok()
            else:
                self.report.skipped.append(f"unloadable operation: {result.err()!r}")

    def count_operations(self, *, with_inputs: bool = False) -> int:
        """How many operations the document has (only those taking input: ``with_inputs``)."""
        n = sum(1 for op in self.operations() if not with_inputs or _has_inputs(op))
        self.report.skipped.clear()
        return n

    def run(self, examples: dict[str, int], *, seed: int | None = None) -> Report:
        """Send ``examples[mode]`` cases per operation and mode; returns the report.

        Modes: ``positive`` and ``negative`` are Hypothesis draws (schema-valid and
        schema-breaking); ``coverage`` is schemathesis' deterministic boundary cases (limits,
        wrong types, missing fields, unexpected methods), evenly thinned to the number given.
        Hypothesis runs derandomized, or from ``seed`` (another fixed stream of cases).
        Calling ``run`` again adds to the same report.
        """
        t0 = time.perf_counter()
        ops = list(self.operations())
        self.report.operations = len(ops)
        with self.client:
            try:
                # Mode by mode over every operation, so that running out of time still leaves
                # each operation fuzzed (the first mode is the most useful one).
                for mode, n in examples.items():
                    for op in ops:
                        if n <= 0:
                            continue
                        if mode == "coverage":
                            self._cover_operation(op, n)
                        else:
                            self._fuzz_operation(op, mode, n, seed)
            except _Stop:
                self.report.timed_out = True
        self.report.seconds += time.perf_counter() - t0
        return self.report

    def _cover_operation(self, op: Any, n: int) -> None:
        from schemathesis import GenerationMode

        schema = self.schema
        try:
            cases = list(
                schema.iter_coverage_cases(
                    op,
                    generation_modes=list(GenerationMode),
                    generation_config=schema.config.generation_for(operation=op),
                )
            )
        except Exception as exc:  # noqa: BLE001 - report, keep fuzzing the rest
            self.report.skipped.append(f"{op.label} coverage: {type(exc).__name__}: {exc}")
            return
        step = max(1, -(-len(cases) // n))
        for i, case in enumerate(cases[::step][:n]):
            self.send(op, case, who=AUTH_CHOICES[i % len(AUTH_CHOICES)], swap=i % 4)

    def _fuzz_operation(self, op: Any, mode: str, n: int, seed: int | None) -> None:
        from hypothesis import HealthCheck, Phase, Verbosity, given, settings
        from hypothesis import seed as hypothesis_seed
        from hypothesis import strategies as st
        from hypothesis.errors import HypothesisException, Unsatisfiable
        from schemathesis import GenerationMode

        if mode == "negative" and not _has_inputs(op):
            return  # nothing to break: Hypothesis would only report Unsatisfiable
        try:
            cases = op.as_strategy(generation_mode=GenerationMode(mode))
        except Exception as exc:  # noqa: BLE001 - some operations have no negative space
            self.report.skipped.append(f"{op.label} {mode}: {type(exc).__name__}: {exc}")
            return
        drawn = st.tuples(cases, st.sampled_from(AUTH_CHOICES), st.integers(0, 3))

        @settings(
            max_examples=n,
            derandomize=seed is None,
            database=None,
            deadline=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
            verbosity=Verbosity.quiet,
            report_multiple_bugs=False,
        )
        @given(drawn)
        def fuzz(args: tuple[Any, str, int]) -> None:
            case, who, swap = args
            self.send(op, case, who=who, swap=swap)

        if seed is not None:
            fuzz = hypothesis_seed(seed)(fuzz)

        try:
            fuzz()
        except _Stop:
            raise
        except Unsatisfiable:
            # Every input of this operation can only be valid (an enum path parameter, say).
            self.report.skipped.append(f"{op.label} {mode}: no cases to generate")
        except HypothesisException as exc:
            self.report.skipped.append(f"{op.label} {mode}: {type(exc).__name__}: {exc}")

    def _swap(self, case: Any, pick: int) -> None:
        """Put existing ids and codes into the case, so it gets past the 404s."""
        k = self.known.values
        for container in (case.path_parameters, case.query):
            if isinstance(container, dict):
                for name in list(container):
                    if k.get(name):
                        container[name] = k[name][pick % len(k[name])]
        if isinstance(case.body, dict):
            for name in list(case.body):
                if k.get(name):
                    case.body[name] = k[name][pick % len(k[name])]
        if case.headers and "If-Match" in case.headers and self.known.etag:
            tag = self.known.etag(dict(case.path_parameters or {}))
            if tag:
                case.headers["If-Match"] = tag

    def send(self, op: Any, case: Any, *, who: str, swap: int) -> None:
        """Send one case and check the response against the rules."""
        if time.monotonic() > self.deadline:
            raise _Stop
        if swap:
            self._swap(case, swap - 1)
        if case.headers:
            for name in [h for h in case.headers if h.lower() == "authorization"]:
                del case.headers[name]
        auth = {} if who == "none" else {"Authorization": self.tokens[who]}
        rep = self.report
        rep.requests += 1
        rep.per_operation[op.label] = rep.per_operation.get(op.label, 0) + 1
        page = (op.method.upper(), op.path) in PAGES
        t0 = time.perf_counter()
        try:
            resp = case.call(session=self.client, headers=auth)
        except Exception as exc:  # noqa: BLE001 - an exception out of the app is a 500
            rep.server_errors += 1
            rep.statuses[500] = rep.statuses.get(500, 0) + 1
            detail = f"{type(exc).__name__}: {exc} | {_describe(case, auth)}"
            rep.findings.append(Finding(self.service, op.label, "exception", 500, detail))
            return
        finally:
            spent = time.perf_counter() - t0
            rep.seconds_per_operation[op.label] = rep.seconds_per_operation.get(op.label, 0) + spent
        status = resp.status_code
        rep.statuses[status] = rep.statuses.get(status, 0) + 1
        ctype = (resp.headers.get("content-type") or [""])[0]
        text = resp.content.decode("utf-8", "replace")
        georeport = op.label.split(" ", 1)[-1].startswith("/open311/")
        kind, why = check_response(status, ctype, text, page=page, georeport=georeport)
        if not kind:
            return
        if kind == "5xx":
            rep.server_errors += 1
        else:
            rep.bad_errors += 1
        rep.findings.append(
            Finding(self.service, op.label, kind, status, f"{why} | {_describe(case, auth)}")
        )


def _has_inputs(op: Any) -> bool:
    """Whether an operation takes any parameter or a body (else it has no negative cases)."""
    return bool(list(op.iter_parameters())) or bool(getattr(op, "body", None))


def _describe(case: Any, auth: dict[str, str]) -> str:
    who = "token" if auth else "no token"
    return (
        f"{case.method} {case.formatted_path} query={case.query!r} "
        f"headers={dict(case.headers or {})!r} body={case.body!r} ({who})"
    )[:800]


# ------------------------------------------------------------------------------------------
# Seed data through the API (and the incident store), the same way in the test and the bench
# ------------------------------------------------------------------------------------------


def _feature_ids(client: Any, auth: dict[str, str], collections: tuple[str, ...], k: Known) -> None:
    for c in collections:
        r = client.get(f"/ogc/collections/{c}/items", params={"limit": 3}, headers=auth)
        if r.status_code == 200:
            for f in r.json().get("features", []):
                k.add("feature_id", str(f.get("id")))


def seed_assets(client: Any, session: Any, auth: dict[str, str]) -> Known:
    """Two cameras, a fault and a footage request; returns their ids and the ETag reader."""
    k = Known()
    for i in range(2):
        cam = post_camera(
            client, auth, name=f"Fuzz camera {i}", lon=GILLINGHAM[0] + i / 100, **WITH_VIEW
        )
        k.add("camera_id", cam["id"])
        k.add("attribute[camera]", cam["asset_tag"])
        k.add("address_id", cam["asset_tag"])
    cid = k.values["camera_id"][0]
    r = client.post(
        f"/cameras/{cid}/faults", json={"category": "power", "description": "fuzz"}, headers=auth
    )
    assert r.status_code == 201, r.text
    k.add("fault_id", r.json()["id"])
    k.add("service_request_id", r.json()["number"])
    r = client.post(
        f"/cameras/{cid}/footage-requests",
        json={"requested_on": "2024-05-01", "reference": "KP/1"},
        headers=auth,
    )
    assert r.status_code == 201, r.text
    for code in ("no_picture", "power"):
        k.add("service_code", code)
    _feature_ids(client, auth, ("cameras", "camera-views"), k)

    def etag(path: dict[str, Any]) -> str | None:
        cam_id = path.get("camera_id")
        if cam_id is None:
            return None
        got = client.get(f"/cameras/{cam_id}", headers=auth)
        return got.headers.get("etag") if got.status_code == 200 else None

    k.etag = etag
    return k


def seed_hotspots(client: Any, session: Any, auth: dict[str, str]) -> Known:
    """A month of police crimes, one finished surface run and a water site."""
    from shared.incidents.store import import_file

    import_file(session, SHARED_DATA / "police" / "2022-01-kent-street-medway.csv", source="police")
    session.commit()
    k = Known()
    r = client.post(
        "/surfaces", json={"method": "fast", "radius_m": 400, "cell_m": 100}, headers=auth
    )
    assert r.status_code == 202, r.text
    k.add("run_id", r.json()["id"])
    site = {
        "name": "Fuzz pier",
        "kind": "access_point",
        "geometry": {"type": "Point", "coordinates": list(GILLINGHAM)},
    }
    r = client.post("/water/sites", json=site, headers=auth)
    assert r.status_code == 201, r.text
    k.add("site_id", r.json()["id"])
    k.add("run", k.values["run_id"][0])
    _feature_ids(client, auth, ("hotspots", "road-sites", "water-sites"), k)
    return k


def seed_predictive(client: Any, session: Any, auth: dict[str, str]) -> Known:
    """Medway boundaries, both agencies, synthetic incidents and one stored list."""
    from tests.factories import (
        LIST_DAY,
        load_medway,
        make_list,
        store_incidents,
        synthetic_incidents,
    )

    load_medway(session)
    store_incidents(session, synthetic_incidents(), source="fire")
    session.commit()
    # Lists are made by the nightly job (GETs only read), so make the one the fuzzer reads.
    make_list(session, "kfrs", LIST_DAY)
    session.commit()
    k = Known()
    for code in ("kfrs", "police"):
        k.add("agency", code)
        k.add("code", code)
    r = client.get(
        "/targets", params={"agency": "kfrs", "date": LIST_DAY.isoformat()}, headers=auth
    )
    assert r.status_code == 200, r.text
    gj = r.json()
    k.add("date", LIST_DAY.isoformat())
    list_id = gj.get("properties", {}).get("list_id") or gj.get("list_id")
    k.add("list_id", list_id)
    for f in gj.get("features", [])[:3]:
        k.add("cell_id", f["properties"]["cell_id"])
    return k


SEEDERS: dict[str, Callable[[Any, Any, dict[str, str]], Known]] = {
    "assets": seed_assets,
    "hotspots": seed_hotspots,
    "predictive": seed_predictive,
}


# ------------------------------------------------------------------------------------------
# The test: the real PostGIS, every request on a savepoint inside a rolled-back transaction
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("service", SERVICES)
def test_fuzz_openapi(
    service: str,
    make_client: Callable[..., Any],
    tokens: dict[str, dict[str, str]],
    db_session: Any,
    tmp_path: Path,
) -> None:
    overrides = {"output_dir": tmp_path} if service == "hotspots" else {}
    client = make_client(service, **overrides)
    savepoint_per_request(client.app, db_session.connection())
    known = SEEDERS[service](client, db_session, tokens["admin"])
    bearer = {role: h["Authorization"] for role, h in tokens.items()}
    fuzzer = Fuzzer(service, client.app, bearer, known, max_seconds=TEST_BUDGET_S)
    report = fuzzer.run(examples_for(fuzzer.count_operations(), TEST_CASES))
    if report.timed_out:  # a loaded machine: fewer cases, but every operation had its share
        warnings.warn(
            f"fuzzing {service} stopped at {TEST_BUDGET_S} s after {report.requests} requests",
            stacklevel=1,
        )
    assert report.operations >= 10, report.operations
    unfuzzed = [op for op in fuzzer.operations() if op.label not in report.per_operation]
    assert not unfuzzed, f"operations never sent: {[op.label for op in unfuzzed]}"
    # Guard against a vacuous run: handlers were reached with and without success.
    assert sum(n for s, n in report.statuses.items() if s < 300) > report.operations // 2
    assert report.statuses.get(401, 0) > 0 and report.statuses.get(422, 0) > 0
    assert not report.findings, "\n".join(str(f) for f in report.findings[:20])


def test_checks_tell_problems_from_other_errors() -> None:
    """The rules themselves, on hand-made responses."""
    good = json.dumps({"type": "https://x/p", "title": "Not found", "status": 404})
    assert check_response(404, PROBLEM_JSON, good, page=False) == ("", "")
    assert check_response(404, "application/json", good, page=False)[0] == "not-problem-json"
    assert check_response(409, PROBLEM_JSON, good, page=False)[0] == "not-problem-json"
    assert check_response(422, PROBLEM_JSON, '{"title": "x", "status": 422}', page=False)[0]
    assert check_response(400, PROBLEM_JSON, "<html>", page=False)[0] == "not-problem-json"
    assert check_response(500, PROBLEM_JSON, good, page=True)[0] == "5xx"
    assert check_response(401, "text/html", "<form>", page=True) == ("", "")
    assert check_response(200, "application/geo+json", "{", page=False)[0] == "bad-json"


def test_fuzzer_finds_planted_bugs() -> None:
    """The whole pipeline on a tiny app with a crash and a non-problem 404 planted in it."""
    from fastapi import FastAPI
    from fastapi.responses import JSONResponse

    from shared.web.problems import install_error_handlers

    app = FastAPI()
    install_error_handlers(app)

    @app.get("/items/{item_id}")
    def item(item_id: int) -> Any:
        if item_id > 1000:
            raise RuntimeError("planted crash")
        if 0 <= item_id < 10:
            return JSONResponse({"detail": "planted plain 404"}, status_code=404)
        return {"id": item_id}

    tokens = {"admin": "Bearer a", "crew": "Bearer c"}
    report = Fuzzer("planted", app, tokens, Known(), max_seconds=30).run(
        {"positive": 20, "coverage": 5}
    )
    kinds = {f.kind for f in report.findings}
    assert kinds & {"5xx", "exception"}, report.statuses
    assert "not-problem-json" in kinds, report.statuses
    assert report.statuses.get(200, 0) > 0
