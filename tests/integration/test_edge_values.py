"""Edge values through every numeric, date, bbox, id and geometry input: never a 5xx.

Where ``test_fuzz`` draws random cases, this sweep is exhaustive and deterministic: for every
operation of each service's OpenAPI document, every path, query and header parameter gets each
edge value of its kind (NaN, infinities, 1e308, 5,000-digit ids, Unicode digits, year 1 and
9999 dates, world, inverted and NaN bboxes, 4,301-digit If-Match) with the other required
parameters set to ordinary values; and the bodies that take numbers, times or geometries get
the same treatment field by field. Each request goes with an admin token and with none. Every
answer must be below 500, and every 4xx a problem+json document.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import pytest

from tests.factories import WITH_VIEW, camera_body
from tests.integration.test_fuzz import check_response
from tests.support import service_app

SERVICES = ("assets", "hotspots", "predictive")
BIG = "9" * 5000
NUMBERS = [
    "NaN",
    "nan",
    "inf",
    "-inf",
    "Infinity",
    "1e308",
    "-1e308",
    "1e309",
    BIG,
    "-" + BIG,
    "2147483648",
    "9223372036854775808",
    "-1",
    "0",
    "²",
    "٣٣",
    "1_000",
    " 1",
    "0x10",
    "true",
    "",
]
DATES = [
    "0001-01-01",
    "9999-12-31",
    "1899-12-31",
    "2201-01-01",
    "2022-02-30",
    "-2022-01-01",
    "2022-06-01T00:00:00+23:59",
    "99999-01-01",
    "123",
    "true",
    "",
    "2022-06-01/..",
    "../2022-06-01",
    "2022-06-01T25:00:00Z",
]
BBOXES = [
    "-200,-100,200,100",
    "-180,-90,180,90",
    "-90,0,90,80",
    "NaN,51,0.6,51.5",
    "inf,-inf,inf,-inf",
    "1e308,1e308,1e308,1e308",
    "0.6,51.5,0.4,51.3",
    "0.5,51.3",
    "0.5,51.3,0.6,51.4,0,1",
    "a,b,c,d",
    ",,,",
    "0.5,51.3,0.5,51.3",
    "-10000000,-10000000,10000000,10000000",
]
STRINGS = ["", " ", "%%%", "_", "\\", "x" * 5000, BIG, "{{ 7*7 }}", "²", "٣٣", "\u202e", "null"]
ETAGS = ['"' + "9" * 4301 + '"', "9" * 4301, '"-1"', '"NaN"', "*", 'W/"1"', '""']
DEFAULTS = {
    "agency": "kfrs",
    "source": "police",
    "sources": "police",
    "date": "2022-06-01",
    "from": "2022-01-01",
    "to": "2022-06-30",
    "code": "kfrs",
    "format": "json",
    "collection_id": "cameras",
    "collectionId": "cameras",
    "service_code": "cctv",
}


def _kind(name: str, schema: dict[str, Any]) -> str:
    types = {schema.get("type")} | {s.get("type") for s in schema.get("anyOf", [])}
    fmts = {schema.get("format")} | {s.get("format") for s in schema.get("anyOf", [])}
    low = name.lower()
    if "bbox" in low:
        return "bbox"
    if low in ("if-match", "if-none-match"):
        return "etag"
    if fmts & {"date", "date-time"} or low in ("date", "from", "to", "today", "datetime"):
        return "date"
    if types & {"integer", "number"}:
        return "number"
    return "string"


EDGES = {"number": NUMBERS, "date": DATES, "bbox": BBOXES, "string": STRINGS, "etag": ETAGS}


def _default(name: str, schema: dict[str, Any]) -> str:
    if name in DEFAULTS:
        return DEFAULTS[name]
    if "enum" in schema:
        return str(schema["enum"][0])
    return {"number": "1", "date": "2022-06-01", "bbox": "0.5,51.35,0.6,51.42"}.get(
        _kind(name, schema), "x"
    )


def _cases(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any], dict[str, Any]]]:
    """(method, path with values, query, headers) for every parameter x edge value."""
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method not in ("get", "delete", "post", "patch", "put"):
                continue
            params = [p for p in op.get("parameters", []) if p["in"] in ("path", "query", "header")]
            for target in params:
                kind = _kind(target["name"], target.get("schema", {}))
                for value in EDGES[kind]:
                    url, query, headers = path, {}, {}
                    for p in params:
                        v = value if p is target else _default(p["name"], p.get("schema", {}))
                        if p is not target and not p.get("required") and p["in"] != "path":
                            continue
                        if p["in"] == "path":
                            url = url.replace("{" + p["name"] + "}", v or "1")
                        elif p["in"] == "query":
                            query[p["name"]] = v
                        else:
                            headers[p["name"]] = v
                    yield method.upper(), url, query, headers


@pytest.fixture(scope="module")
def edge_db() -> Iterator[str]:
    """A database of its own: every request gets a real session, as in production, so one
    request's database error cannot poison the next (a shared rolled-back session would)."""
    from tests.conftest import BASE_TEST_DB, _reset_database, create_database, drop_database

    url = f"{BASE_TEST_DB}_edge_{os.getpid()}"
    create_database(url)
    _reset_database(url)
    yield url
    drop_database(url)


class _Clients(dict[str, Any]):
    """A TestClient per service, each built on first use."""

    def __init__(self, db: str) -> None:
        super().__init__()
        self.db = db

    def __missing__(self, service: str) -> Any:
        from fastapi.testclient import TestClient

        app = service_app(service, self.db)
        client = TestClient(app, raise_server_exceptions=False).__enter__()
        self[service] = client
        return client


@pytest.fixture(scope="module")
def clients(edge_db: str) -> Iterator[dict[str, Any]]:
    out = _Clients(edge_db)
    yield out
    for c in out.values():
        c.__exit__(None, None, None)


@pytest.fixture(scope="module")
def tokens(edge_db: str) -> dict[str, dict[str, str]]:
    from shared.auth import create_token
    from shared.db import make_engine, make_sessionmaker

    eng = make_engine(edge_db)
    with make_sessionmaker(eng)() as s:
        _, clear = create_token(s, name="edge admin", role="admin")
        s.commit()
    eng.dispose()
    return {"admin": {"Authorization": f"Bearer {clear}"}}


def _short(text: str, n: int = 90) -> str:
    return text if len(text) <= n else f"{text[: n // 2]}...({len(text)} chars)...{text[-20:]}"


def _check(resp: Any, what: str, findings: list[str]) -> None:
    ctype = resp.headers.get("content-type", "")
    page = "text/html" in ctype
    georeport = "/open311/" in what.split(" {", 1)[0]
    kind, why = check_response(resp.status_code, ctype, resp.text, page=page, georeport=georeport)
    if kind:
        findings.append(f"{what} -> {resp.status_code} {kind}: {why[:160]}")


@pytest.mark.parametrize("service", SERVICES)
def test_every_parameter_takes_edge_values(
    clients: dict[str, Any], tokens: dict[str, dict[str, str]], service: str
) -> None:
    client = clients[service]
    doc = client.get("/openapi.json").json()
    findings: list[str] = []
    sent = 0
    for method, url, query, headers in _cases(doc):
        for auth in (tokens["admin"], {}):
            if method in ("POST", "PATCH", "PUT") and not auth:
                continue
            try:
                # Header values as UTF-8 bytes: what a raw client can put on the wire.
                raw = {k: v.encode("utf-8") for k, v in headers.items()}
                r = client.request(
                    method,
                    url,
                    params=query,
                    headers={**raw, **auth},
                    json={} if method in ("POST", "PATCH", "PUT") else None,
                )
            except Exception as exc:  # noqa: BLE001 - an escaping exception is a 500
                sent_as = f"{_short(url)} {_short(str(query))} {_short(str(headers))}"
                findings.append(f"{method} {sent_as}: {type(exc).__name__}: {_short(str(exc))}")
                continue
            sent += 1
            _check(
                r,
                f"{method} {_short(url)} {_short(str(query))} {_short(str(headers))} "
                f"auth={bool(auth)}",
                findings,
            )
    assert sent > 100
    assert not findings, f"{len(findings)} of {sent}:\n" + "\n".join(findings[:40])


BAD_FLOATS: list[Any] = [
    float("nan"),
    float("inf"),
    float("-inf"),
    1e308,
    -1e308,
    True,
    "1",
    None,
    10**400,
]


def _raw(body: dict[str, Any]) -> str:
    # json.dumps writes NaN/Infinity and huge ints, which the services' JSON parser accepts.
    return json.dumps(body)


CAMERA = camera_body(name="Edge camera", **WITH_VIEW)
SQUARE = [[0.52, 51.37], [0.56, 51.37], [0.56, 51.40], [0.52, 51.40], [0.52, 51.37]]
BODIES: list[tuple[str, str, str, dict[str, Any], list[str]]] = [
    ("assets", "POST", "/cameras", CAMERA, ["lon", "lat", "bearing_deg", "fov_deg", "range_m"]),
    ("predictive", "PATCH", "/agencies/kfrs", {"n_boxes": 20}, ["n_boxes"]),
]
AREAS: list[Any] = [
    {"type": "Polygon", "coordinates": [[[float("nan"), 51.3], *SQUARE[1:]]]},
    {
        "type": "Polygon",
        "coordinates": [[[-8.0, 49.9], [1.8, 49.9], [1.8, 60.9], [-8.0, 60.9], [-8.0, 49.9]]],
    },
    {
        "type": "Polygon",
        "coordinates": [
            [[0.52, 51.37], [0.56, 51.40], [0.56, 51.37], [0.52, 51.40], [0.52, 51.37]]
        ],
    },
    {"type": "Polygon", "coordinates": []},
    {
        "type": "Polygon",
        "coordinates": [[[1.8587, 50.95], [1.87, 50.95], [1.87, 50.96], [1.8587, 50.95]]],
    },
    {"type": "Point", "coordinates": [0.5, 51.3]},
    {"type": "Polygon", "coordinates": [[[1e308, 1e308], [1e308, -1e308], [0, 0], [1e308, 1e308]]]},
]


def test_bodies_take_edge_values(
    clients: dict[str, Any], tokens: dict[str, dict[str, str]]
) -> None:
    findings: list[str] = []
    for service, method, path, base, fields in BODIES:
        for name in fields:
            for value in BAD_FLOATS:
                body = {**base, name: value}
                r = clients[service].request(
                    method,
                    path,
                    content=_raw(body),
                    headers={**tokens["admin"], "Content-Type": "application/json"},
                )
                _check(r, f"{method} {path} {name}={value!r}", findings)
    for area in AREAS:
        r = clients["predictive"].patch(
            "/agencies/kfrs",
            content=_raw({"area": area}),
            headers={**tokens["admin"], "Content-Type": "application/json"},
        )
        _check(r, f"PATCH /agencies/kfrs area={json.dumps(area)[:60]}", findings)
        if r.status_code < 300:
            findings.append(f"area accepted: {json.dumps(area)[:80]}")
    assert not findings, "\n".join(findings[:40])
