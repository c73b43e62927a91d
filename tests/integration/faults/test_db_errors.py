"""Regression: a database outage is a 503 problem+json, and a dropped connection never cuts a reply.

Before the fix an unreachable database gave a 500 with a logged traceback, and a connection
PostGIS dropped mid-request made closing the request's session raise, so the client got no
response at all ("Server disconnected").
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import exc as sa_exc
from sqlalchemy import text

from shared.db import SessionDep, make_engine, make_sessionmaker
from shared.web.problems import PROBLEM_JSON, install_error_handlers
from tests.integration.faults.conftest import FaultStack
from tests.support import free_port


def _app(engine: Any) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    app.state.engine = engine
    app.state.sessionmaker = make_sessionmaker(engine)

    @app.get("/query")
    def query(session: SessionDep) -> dict[str, int]:
        return {"one": int(session.scalar(text("SELECT 1")) or 0)}

    @app.get("/dropped-after-read")
    def dropped_after_read(session: SessionDep) -> dict[str, int]:
        # Read inside a transaction, then lose the connection before the session is closed.
        pid = int(session.scalar(text("SELECT pg_backend_pid()")) or 0)
        with engine.connect() as other:
            other.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
        return {"pid": pid}

    @app.get("/dropped-mid-request")
    def dropped_mid_request(session: SessionDep) -> dict[str, int]:
        pid = int(session.scalar(text("SELECT pg_backend_pid()")) or 0)
        with engine.connect() as other:
            other.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
        return {"again": int(session.scalar(text("SELECT 1")) or 0)}

    @app.get("/integrity")
    def integrity() -> None:
        raise sa_exc.IntegrityError("INSERT ...", {}, Exception("duplicate key"))

    return app


@pytest.fixture()
def unreachable() -> Iterator[TestClient]:
    engine = make_engine(f"postgresql+psycopg2://csp:csp@127.0.0.1:{free_port()}/none")
    with TestClient(_app(engine), raise_server_exceptions=False) as client:
        yield client
    engine.dispose()


def test_unreachable_database_is_503_problem_with_retry_after(unreachable: TestClient) -> None:
    r = unreachable.get("/query")
    assert r.status_code == 503, r.text
    assert r.headers["content-type"] == PROBLEM_JSON
    assert int(r.headers["retry-after"]) > 0
    body = r.json()
    assert body["status"] == 503 and body["type"].endswith("/database-unavailable")
    assert "127.0.0.1" not in r.text and "psycopg2" not in r.text


def test_other_database_errors_stay_500(unreachable: TestClient) -> None:
    r = unreachable.get("/integrity")
    assert r.status_code == 500 and r.headers["content-type"] == PROBLEM_JSON
    assert "duplicate" not in r.text


def test_connection_dropped_mid_request(stack: FaultStack) -> None:
    engine = make_engine(stack.db_url, pool_size=2)
    try:
        with TestClient(_app(engine), raise_server_exceptions=False) as client:
            # The answer was ready; losing the connection afterwards must not cut it off.
            r = client.get("/dropped-after-read")
            assert r.status_code == 200, r.text
            # Losing it before the answer is a 503, and the next request gets a fresh one.
            r = client.get("/dropped-mid-request")
            assert r.status_code == 503 and r.headers["content-type"] == PROBLEM_JSON, r.text
            assert client.get("/query").json() == {"one": 1}
    finally:
        engine.dispose()
