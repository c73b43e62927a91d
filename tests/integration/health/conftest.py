"""Fixtures for the camera health tests: a real RTSP server on loopback, cameras with streams."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.integration.health.rtsp import RtspServer, SilentServer, server_available

MOUNTS = 10


@pytest.fixture(scope="module")
def rtsp() -> Iterator[RtspServer]:
    """One GStreamer RTSP server process for the module (``/cam0``.. and ``/secure``)."""
    why = server_available()
    if why:
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(why)
    server = RtspServer(mounts=MOUNTS)
    yield server
    server.stop()


@pytest.fixture()
def silent() -> Iterator[SilentServer]:
    """A listener that accepts and never answers."""
    s = SilentServer()
    yield s
    s.stop()


@pytest.fixture()
def health_settings() -> Any:
    """Assets settings with a credentials key and a bound of 8 s for the tests."""
    from services.assets.health.credentials import new_key
    from services.assets.settings import AssetsSettings

    return AssetsSettings(
        health_credentials_key=new_key(), health_check_bound_s=8.0, health_concurrency=16
    )


@pytest.fixture()
def client(make_client: Callable[..., Any], health_settings: Any) -> Any:
    return make_client("assets", health_credentials_key=health_settings.health_credentials_key)
