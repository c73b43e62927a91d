"""Regression: queueing a task with Redis down fails within seconds; the visibility timeout is set.

Before the fix ``.delay()`` first subscribed to the Redis result store, which retried 20 times a
second apart, so ``POST /surfaces`` hung for 20 s before its 503 (and the result consumer then
asked for the whole application to be restarted). Nobody reads Celery results: runs record their
state in PostGIS.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from celery import Celery

from tests.support import free_port


@pytest.fixture()
def app_without_broker(monkeypatch: pytest.MonkeyPatch) -> Iterator[Celery]:
    from shared.celery_app import make_celery
    from shared.settings import common_settings

    monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")
    monkeypatch.setenv("CSP_CELERY_EAGER", "false")
    monkeypatch.setenv("CSP_BROKER_VISIBILITY_TIMEOUT_S", "17")
    common_settings.cache_clear()
    app = make_celery()
    yield app
    app.close()
    common_settings.cache_clear()


def test_visibility_timeout_follows_the_setting(app_without_broker: Celery) -> None:
    assert app_without_broker.conf.broker_transport_options["visibility_timeout"] == 17
    assert app_without_broker.conf.task_acks_late is True


def test_send_with_broker_down_fails_fast(app_without_broker: Celery) -> None:
    @app_without_broker.task(name="faults.noop")
    def noop() -> None:
        """Never runs: there is no broker."""

    start = time.monotonic()
    with pytest.raises(Exception) as err:  # noqa: B017 - kombu raises its OperationalError
        noop.delay()
    took = time.monotonic() - start
    assert "refused" in str(err.value).lower() or "connect" in str(err.value).lower()
    assert took < 5.0, f"queueing with the broker down took {took:.1f} s"
