"""An Open311 GeoReport v2 client written from the specification (httpx + xml.etree), not from
the server's code, driven against the assets service: discovery, services, a fault filed in XML
with a photo link, read back in XML and JSON, its status changes seen after an operator moves it,
FixMyStreet's servicerequestupdates, errors in both formats, the jurisdiction and the roles."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from services.assets.models import Camera, Fault
from shared.auth import create_token
from tests.factories import make_camera

JURISDICTION = "cctv.medway.gov.uk"  # AssetsSettings.open311_jurisdiction's default
PHOTO = "https://photos.example.org/reports/cam-17.jpg?size=large&id=9"
# The elements of a GET service request as the GeoReport v2 spec lists them.
REQUEST_FIELDS = {
    "service_request_id", "status", "status_notes", "service_name", "service_code",
    "description", "agency_responsible", "service_notice", "requested_datetime",
    "updated_datetime", "expected_datetime", "address", "address_id", "zipcode", "lat", "long",
    "media_url",
}  # fmt: skip
UPDATE_FIELDS = {
    "update_id", "service_request_id", "status", "updated_datetime", "description", "media_url",
}  # fmt: skip


class GeoReportError(Exception):
    """An error answer: the HTTP status and the (code, description) pairs of its body."""

    def __init__(self, status: int, errors: list[tuple[int, str]]) -> None:
        super().__init__(f"{status}: {errors}")
        self.status, self.errors = status, errors


class Open311Client:
    """What a FixMyStreet-style integration does, per GeoReport v2 and FMS's extension."""

    def __init__(self, http: httpx.Client, root: str, api_key: str, jurisdiction: str) -> None:
        self.http, self.root, self.api_key, self.jurisdiction = http, root, api_key, jurisdiction
        self.endpoint = ""

    def _xml(self, r: httpx.Response) -> ET.Element:
        assert r.headers["content-type"].startswith("text/xml"), r.headers["content-type"]
        root = ET.fromstring(r.content)
        if r.status_code >= 400:
            assert root.tag == "errors"
            raise GeoReportError(
                r.status_code,
                [(int(e.findtext("code", "0")), e.findtext("description", "")) for e in root],
            )
        return root

    def _json(self, r: httpx.Response) -> Any:
        assert r.headers["content-type"].startswith("application/json")
        body = r.json()
        if r.status_code >= 400:
            raise GeoReportError(r.status_code, [(e["code"], e["description"]) for e in body])
        return body

    def discover(self) -> ET.Element:
        """Read the discovery document and take the GeoReport v2 endpoint's URL from it."""
        doc = self._xml(self.http.get(f"{self.root}/discovery.xml"))
        for ep in doc.iter("endpoint"):
            if ep.findtext("specification") == "http://wiki.open311.org/GeoReport_v2":
                self.endpoint = ep.findtext("url", "")
        assert self.endpoint
        return doc

    def _params(self, **extra: Any) -> dict[str, Any]:
        return {"jurisdiction_id": self.jurisdiction, "api_key": self.api_key, **extra}

    def services(self) -> list[dict[str, str]]:
        doc = self._xml(self.http.get(f"{self.endpoint}/services.xml", params=self._params()))
        assert doc.tag == "services"
        return [{c.tag: c.text or "" for c in s} for s in doc.findall("service")]

    def definition(self, code: str) -> ET.Element:
        url = f"{self.endpoint}/services/{code}.xml"
        return self._xml(self.http.get(url, params=self._params()))

    def post(self, fields: dict[str, str], headers: dict[str, str] | None = None) -> str:
        """POST a form-encoded request; the new service_request_id."""
        r = self.http.post(
            f"{self.endpoint}/requests.xml", data=self._params(**fields), headers=headers or {}
        )
        doc = self._xml(r)
        assert r.status_code == 201 and doc.tag == "service_requests"
        (req,) = doc.findall("request")
        return req.findtext("service_request_id", "")

    def request_xml(self, number: str) -> dict[str, str | None]:
        url = f"{self.endpoint}/requests/{number}.xml"
        doc = self._xml(self.http.get(url, params=self._params()))
        (req,) = doc.findall("request")
        return {c.tag: c.text for c in req}

    def request_json(self, number: str) -> dict[str, Any]:
        url = f"{self.endpoint}/requests/{number}.json"
        (req,) = self._json(self.http.get(url, params=self._params()))
        return dict(req)

    def requests_xml(self, **params: Any) -> list[dict[str, str | None]]:
        url = f"{self.endpoint}/requests.xml"
        doc = self._xml(self.http.get(url, params=self._params(**params)))
        return [{c.tag: c.text for c in req} for req in doc.findall("request")]

    def updates(self, start: datetime, end: datetime) -> list[dict[str, str | None]]:
        stamp = {"start_date": _iso(start), "end_date": _iso(end)}
        url = f"{self.endpoint}/servicerequestupdates.xml"
        doc = self._xml(self.http.get(url, params=self._params(**stamp)))
        assert doc.tag == "service_requests_updates"
        return [{c.tag: c.text for c in u} for u in doc.findall("request_update")]


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _key(headers: dict[str, str]) -> str:
    return headers["Authorization"].removeprefix("Bearer ")


@pytest.fixture()
def assets(make_client: Any) -> Any:
    return make_client("assets")


@pytest.fixture()
def camera(db_session: Any) -> Camera:
    return make_camera(
        db_session, asset_tag="O311-X1", name="High Street east", lon=0.5237, lat=51.3812
    )


def _client(assets: Any, key: str, jurisdiction: str = JURISDICTION) -> Open311Client:
    c = Open311Client(assets, "http://testserver/open311", key, jurisdiction)
    c.discover()
    return c


def _move(assets: Any, op: dict[str, str], number: str, status: str, note: str) -> None:
    items = assets.get("/faults", params={"q": number}, headers=op).json()["items"]
    (fault,) = [f for f in items if f["number"] == number]
    r = assets.patch(f"/faults/{fault['id']}", json={"status": status, "note": note}, headers=op)
    assert r.status_code == 200, r.text


def test_file_in_xml_read_back_and_follow_its_updates(
    assets: Any, camera: Camera, tokens: dict[str, dict[str, str]], db_session: Any
) -> None:
    """A crew's integration files a fault with a photo, reads it back in XML and JSON, and sees
    the operator's two moves as status changes and as request_updates (never the notes)."""
    before = datetime.now(UTC) - timedelta(minutes=1)
    crew = _client(assets, _key(tokens["crew"]))
    doc = crew.discover()
    formats = {f.text for f in doc.iter("format")}
    assert formats == {"text/xml", "application/json"} and doc.findtext("changeset")
    codes = [s["service_code"] for s in crew.services()]
    assert "vandalism" in codes
    attrs = crew.definition("vandalism").findall("attributes/attribute")
    assert [a.findtext("code") for a in attrs] == ["camera"]
    assert attrs[0].findtext("required") == "true"

    number = crew.post(
        {
            "service_code": "vandalism",
            "attribute[camera]": "O311-X1",
            "description": "Camera housing smashed, lens hanging",
            "address_string": "Outside 12 High Street, Chatham ME4",
            "media_url": PHOTO,
            "email": "someone@example.org",
        }
    )
    as_xml = crew.request_xml(number)
    as_json = crew.request_json(number)
    assert set(as_xml) == REQUEST_FIELDS == set(as_json)
    assert as_xml["media_url"] == PHOTO == as_json["media_url"]
    assert as_xml["status"] == "open" == as_json["status"]
    assert as_xml["address_id"] == "O311-X1" and as_xml["service_code"] == "vandalism"
    assert abs(float(as_xml["lat"] or 0) - 51.3812) < 1e-5 and as_json["long"] == 0.5237
    # Nothing says who reported it or how the camera is now; contact fields are not kept.
    text = str(as_xml) + str(as_json)
    assert "crew" not in text and "token" not in text and "someone@" not in text
    assert "offline" not in text and "health" not in text

    op = tokens["operator"]
    _move(assets, op, number, "in_progress", "Contractor Acme ticket 4471, key safe 1234")
    assert crew.request_xml(number)["status"] == "open"
    _move(assets, op, number, "fixed", "Replaced housing; invoice to ward budget")
    after = crew.request_xml(number)
    assert after["status"] == "closed"
    assert after["status_notes"] == "The fault has been fixed."
    assert (after["updated_datetime"] or "") > (after["requested_datetime"] or "")

    updates = [
        u
        for u in crew.updates(before, datetime.now(UTC) + timedelta(minutes=1))
        if u["service_request_id"] == number
    ]
    assert [u["status"] for u in updates] == ["in_progress", "fixed"]
    assert all(set(u) == UPDATE_FIELDS for u in updates)
    assert len({u["update_id"] for u in updates}) == 2
    assert "key safe" not in str(updates) and "invoice" not in str(updates)
    assert all(u["description"] for u in updates)

    # The operator sees what the reporter sent, in the JSON API the control room reads.
    (row,) = assets.get("/faults", params={"q": number}, headers=op).json()["items"]
    assert row["media_url"] == PHOTO
    assert row["address_string"] == "Outside 12 High Street, Chatham ME4"


def test_api_key_reads_own_requests_readers_read_all(
    assets: Any, camera: Camera, tokens: dict[str, dict[str, str]], db_session: Any
) -> None:
    _, other_crew = create_token(db_session, name="second crew", role="crew")
    db_session.flush()
    crew = _client(assets, _key(tokens["crew"]))
    mine = crew.post({"service_code": "power", "attribute[camera]": "O311-X1"})
    operator = _client(assets, _key(tokens["operator"]))
    theirs = operator.post({"service_code": "network", "attribute[camera]": "O311-X1"})
    _move(assets, tokens["operator"], theirs, "in_progress", "x")
    _move(assets, tokens["operator"], mine, "in_progress", "y")

    assert {r["service_request_id"] for r in crew.requests_xml()} == {mine}
    with pytest.raises(GeoReportError) as err:
        crew.request_xml(theirs)
    assert err.value.status == 404
    span = (datetime.now(UTC) - timedelta(hours=1), datetime.now(UTC) + timedelta(minutes=1))
    assert {u["service_request_id"] for u in crew.updates(*span)} == {mine}
    stranger = _client(assets, other_crew)
    assert stranger.requests_xml() == [] and stranger.updates(*span) == []
    for role in ("operator", "analyst", "seg", "admin"):
        reader = _client(assets, _key(tokens[role]))
        assert {mine, theirs} <= {r["service_request_id"] for r in reader.requests_xml()}
        assert {mine, theirs} <= {u["service_request_id"] for u in reader.updates(*span)}
    # The Bearer header works as api_key does.
    r = assets.get("/open311/v2/requests.json", headers=tokens["crew"])
    assert [x["service_request_id"] for x in r.json()] == [mine]


def test_errors_in_both_formats_and_nothing_logged(
    assets: Any, camera: Camera, tokens: dict[str, dict[str, str]], db_session: Any
) -> None:
    key = _key(tokens["operator"])
    base = "/open311/v2"
    ok = {"service_code": "power", "attribute[camera]": "O311-X1", "api_key": key}
    faults = db_session.scalar(select(func.count()).select_from(Fault))
    cases: list[tuple[str, str, dict[str, Any], int, str]] = [
        ("get", "services/nonsense", {}, 404, "nonsense"),
        ("get", "services", {"jurisdiction_id": "kent.gov.uk"}, 404, JURISDICTION),
        ("get", "requests", {"api_key": key, "jurisdiction_id": "x"}, 404, "jurisdiction_id"),
        ("get", "requests", {}, 401, "api_key"),
        ("get", "requests", {"api_key": "csp_wrong"}, 401, "api_key"),
        ("get", "requests", {"api_key": key, "status": "maybe"}, 400, "status"),
        ("get", "requests", {"api_key": key, "start_date": "yesterday"}, 400, "start_date"),
        (
            "get",
            "requests",
            {"api_key": key, "start_date": "2020-01-01T00:00:00Z", "end_date": "2024-01-01"},
            400,
            "366",
        ),
        (
            "get",
            "requests",
            {"api_key": key, "service_request_id": ",".join(["F"] * 101)},
            400,
            "at most 100",
        ),  # fmt: skip
        ("get", "requests/F-1999-000001", {"api_key": key}, 404, "F-1999-000001"),
        ("get", "servicerequestupdates", {"api_key": key, "end_date": "2025-13-01"}, 400, "end"),
        ("get", "servicerequestupdates", {"api_key": _key(tokens["crew"]) + "x"}, 401, "api_key"),
        ("post", "requests", ok | {"jurisdiction_id": "kent.gov.uk"}, 404, "jurisdiction_id"),
        ("post", "requests", ok | {"media_url": "javascript:alert(1)"}, 400, "http"),
        ("post", "requests", ok | {"media_url": "ftp://x.org/a.jpg"}, 400, "http"),
        ("post", "requests", ok | {"media_url": "https://" + "a" * 2050}, 400, "2048"),
        ("post", "requests", ok | {"media_url": "https://x.org/a b.jpg"}, 400, "spaces"),
        ("post", "requests", ok | {"description": "d" * 4001}, 400, "4000"),
        ("post", "requests", ok | {"address_string": "a" * 501}, 400, "500"),
        ("post", "requests", ok | {"lat": "north", "attribute[camera]": ""}, 400, "lat"),
        ("post", "requests", ok | {"service_code": ""}, 400, "service_code"),
        ("post", "requests", ok | {"service_code": "bogus"}, 404, "bogus"),
        ("post", "requests", ok | {"api_key": _key(tokens["analyst"])}, 403, "analyst"),
        ("post", "requests", {k: v for k, v in ok.items() if k != "api_key"}, 401, "api_key"),
    ]
    for method, path, params, status, says in cases:
        for fmt in ("xml", "json"):
            url = f"{base}/{path}.{fmt}"
            if method == "get":
                r = assets.get(url, params=params)
            else:
                r = assets.post(url, data=params)
            where = (method, path, params.get("jurisdiction_id"), fmt)
            assert r.status_code == status, (where, r.status_code, r.text[:300])
            if fmt == "xml":
                assert r.headers["content-type"].startswith("text/xml")
                root = ET.fromstring(r.content)
                assert root.tag == "errors", where
                (e,) = root.findall("error")
                code, text = int(e.findtext("code", "0")), e.findtext("description", "")
            else:
                assert r.headers["content-type"].startswith("application/json")
                ((code, text),) = [(x["code"], x["description"]) for x in r.json()]
            assert code == status and says in text, (where, text)
    assert db_session.scalar(select(func.count()).select_from(Fault)) == faults


def test_user_text_is_escaped_in_xml_and_round_trips(
    assets: Any, camera: Camera, tokens: dict[str, dict[str, str]]
) -> None:
    nasty = 'Sprayed "<b>BOO</b>" & </request><script>alert(1)</script> ]]> \u00e9'
    client = _client(assets, _key(tokens["operator"]))
    number = client.post(
        {
            "service_code": "vandalism",
            "attribute[camera]": "O311-X1",
            "description": nasty,
            "media_url": "http://x.example/a.jpg?a=1&b=<2>",
        }
    )
    raw = assets.get(f"/open311/v2/requests/{number}.xml", params={"api_key": client.api_key})
    assert b"<script>" not in raw.content and b"</request><script>" not in raw.content
    got = client.request_xml(number)
    assert got["description"] == nasty and got["media_url"] == "http://x.example/a.jpg?a=1&b=<2>"


def test_idempotency_key_and_jurisdiction_optional(
    assets: Any, camera: Camera, tokens: dict[str, dict[str, str]], db_session: Any
) -> None:
    form = {"service_code": "cabling", "attribute[camera]": "O311-X1", "media_url": PHOTO}
    crew = _client(assets, _key(tokens["crew"]))
    once = {"Idempotency-Key": "fms-report-881"}
    first, again = crew.post(form, once), crew.post(form, once)
    assert first == again
    n = db_session.scalar(select(func.count()).select_from(Fault).where(Fault.number == first))
    assert n == 1
    assert crew.post(form) != first  # without a key, a second report is a second fault
    # jurisdiction_id may be left out (one jurisdiction is served).
    r = assets.get("/open311/v2/services.json")
    assert r.status_code == 200 and r.json()[0]["service_code"]
    r = assets.get("/open311/discovery.json")
    (ep,) = r.json()["endpoints"]
    assert ep["url"].endswith("/open311/v2") and "text/xml" in ep["formats"]
