"""Issue 11, S6: OGC API links are built on the configured public URL, never on ``Host``.

A client that sends ``Host: evil.example`` got links to evil.example in every OGC document
(landing page, collections, items, paging, single features) of the assets and hotspots
services, so a cache or a proxy in front of the suite could hand them to everyone.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.factories import make_camera

PUBLIC_URL = "https://cctv.medway.example/assets"
EVIL = {"Host": "evil.example", "X-Forwarded-Host": "evil.example"}


def _hrefs(doc: Any) -> Iterator[str]:
    """Every ``href`` anywhere in a JSON document."""
    if isinstance(doc, dict):
        for k, v in doc.items():
            if k == "href" and isinstance(v, str):
                yield v
            else:
                yield from _hrefs(v)
    elif isinstance(doc, list):
        for v in doc:
            yield from _hrefs(v)


def _documents(client: Any, headers: dict[str, str], collection: str) -> list[Any]:
    docs = []
    for path in (
        "/ogc",
        "/ogc/collections",
        f"/ogc/collections/{collection}",
        f"/ogc/collections/{collection}/items?limit=1",
    ):
        r = client.get(path, headers=headers)
        assert r.status_code == 200, (path, r.text)
        docs.append(r.json())
    return docs


@pytest.fixture()
def camera(db_session: Any) -> int:
    cams = [make_camera(db_session, name=f"Link camera {i}", commit=False) for i in range(2)]
    db_session.flush()
    return int(cams[0].id)


@pytest.mark.parametrize("public_url", [PUBLIC_URL, None])
def test_assets_ogc_links_ignore_the_host_header(
    make_client: Any, camera: int, public_url: str | None
) -> None:
    client = make_client("assets", public_url=public_url)
    settings = client.app.state.settings
    expected = settings.base_url()
    assert expected == (public_url or f"http://{settings.host}:{settings.port}")
    docs = _documents(client, EVIL, "cameras")
    one = client.get(f"/ogc/collections/cameras/items/{camera}", headers=EVIL)
    assert one.status_code == 200, one.text
    docs.append(one.json())
    hrefs = [h for d in docs for h in _hrefs(d)]
    # self, service-desc, conformance, data, items, next (two cameras, limit=1), collection.
    assert len(hrefs) >= 10
    assert any("offset=1" in h for h in hrefs)
    for href in hrefs:
        assert href.startswith(expected + "/"), href
        assert "evil.example" not in href


def test_hotspots_ogc_links_ignore_the_host_header(
    make_client: Any, tokens: dict[str, dict[str, str]]
) -> None:
    client = make_client("hotspots", public_url="https://maps.medway.example")
    hrefs = [
        h for d in _documents(client, EVIL | tokens["analyst"], "water-sites") for h in _hrefs(d)
    ]
    assert len(hrefs) >= 6
    for href in hrefs:
        assert href.startswith("https://maps.medway.example/"), href
    # The shared OGC layer clips world boxes for every service (A4): no 500 here either.
    for collection in ("hotspots", "water-sites", "road-sites"):
        r = client.get(
            f"/ogc/collections/{collection}/items?bbox=-180,-90,180,90", headers=tokens["analyst"]
        )
        assert r.status_code == 200, (collection, r.text[:300])
