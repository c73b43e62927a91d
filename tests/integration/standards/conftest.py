"""Fixtures for standards clients (GDAL, OWSLib, geopandas, QGIS, Open311): live services.

Each service is served over real HTTP (``tests.support.serving``) on the test's rolled-back
session, its public URL pointed at the port so the links the clients follow lead back here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.support import free_port, serving


@pytest.fixture()
def live(make_client: Callable[..., Any]) -> Iterator[Callable[[str], tuple[str, Any]]]:
    """``live("assets")`` -> (base URL, TestClient) of that service served over HTTP."""
    stack: list[Any] = []

    def start(service: str) -> tuple[str, Any]:
        port = free_port()
        client = make_client(service, public_url=f"http://127.0.0.1:{port}")
        cm = serving(client.app, port=port)
        url = cm.__enter__()
        stack.append(cm)
        return url, client

    yield start
    for cm in reversed(stack):
        cm.__exit__(None, None, None)
