"""Test support: free ports, polling, service apps and live servers, and the shared coordinates."""

from __future__ import annotations

import contextlib
import importlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

# Gillingham High Street (lon, lat, WGS84): inside Medway, where most test cameras stand.
GILLINGHAM = (0.5466, 51.3887)
# A WGS84 ring (GeoJSON Polygon coordinates[0]) around Chatham and Gillingham, inside Medway.
CHATHAM = [[0.50, 51.36], [0.58, 51.36], [0.58, 51.40], [0.50, 51.40], [0.50, 51.36]]


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(check: Callable[[], bool], timeout_s: float, what: str, every_s: float = 0.1) -> None:
    """Poll ``check`` (exceptions count as not yet) until true; fail after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if check():
                return
        time.sleep(every_s)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")


def service_settings(service: str, database_url: str, **overrides: Any) -> Any:
    """The settings of ``service`` for tests: test environment, plain logs, eager Celery."""
    cls = importlib.import_module("csp.services").SERVICES[service].settings
    return cls(
        database_url=database_url,
        environment="test",
        log_json=False,
        celery_eager=True,
        **overrides,
    )


def service_app(service: str, database_url: str, **overrides: Any) -> Any:
    """``services.<service>.main.create_app`` on the test settings (``overrides`` win)."""
    settings = service_settings(service, database_url, **overrides)
    return importlib.import_module(f"services.{service}.main").create_app(settings)


def savepoint_per_request(app: Any, conn: Any) -> None:
    """Give ``app`` one savepoint session per request on ``conn`` (the test's connection).

    As in production each request gets its own session, so a request that fails in the database
    does not poison the next one (one shared test session would); all is rolled back with
    the test's outer transaction.
    """
    from sqlalchemy.orm import Session

    from shared.db import get_session

    def _session() -> Iterator[Session]:
        s = Session(bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False)
        try:
            yield s
        finally:
            s.close()

    app.dependency_overrides[get_session] = _session


@contextlib.contextmanager
def serving(app: Any, *, port: int | None = None, timeout_s: float = 20.0) -> Iterator[str]:
    """Serve ``app`` (its lifespan run) with uvicorn in a thread; yields its base URL once up."""
    import uvicorn

    port = port or free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", log_config=None, lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_for(lambda: bool(server.started), timeout_s, f"a server on port {port}", every_s=0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


PROBLEM = "application/problem+json"


def problem(r: Any, *statuses: int) -> dict[str, Any]:
    """Assert ``r`` is an RFC 9457 problem with one of ``statuses``; return its body."""
    assert r.status_code in statuses, (r.status_code, r.text[:400])
    assert r.headers["content-type"].startswith(PROBLEM), r.headers["content-type"]
    body: dict[str, Any] = r.json()
    assert body["status"] == r.status_code and body["type"] and body["title"]
    return body
