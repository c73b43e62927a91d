"""Fixtures for the assets integration tests: a client and a helper that registers cameras."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest

from tests.factories import WITH_VIEW, post_camera


@pytest.fixture()
def client(make_client: Callable[..., Any]) -> Any:
    return make_client("assets")


@pytest.fixture()
def new_camera(client: Any, tokens: dict[str, dict[str, str]]) -> Callable[..., dict[str, Any]]:
    """POST a camera with a view as admin and return the JSON body (its ETag under ``_etag``)."""
    numbers = itertools.count(1)

    def make(**kw: Any) -> dict[str, Any]:
        return post_camera(
            client, tokens["admin"], **(WITH_VIEW | {"name": f"Test camera {next(numbers)}"} | kw)
        )

    return make
