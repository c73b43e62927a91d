"""Fixtures for the whole suite: the real PostGIS (migrated), rolled-back sessions, apps, tokens."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"
ARTIFACTS = ROOT / "test-artifacts"
BASE_TEST_DB = os.environ.get(
    "TEST_DATABASE_URL", "postgresql+psycopg2://csp:csp@127.0.0.1:5433/csp_test"
)
# Each pytest process gets its own database, so concurrent runs never trample each other.
TEST_DB = f"{BASE_TEST_DB}_{os.getpid()}"
ROLES = ("operator", "seg", "crew", "analyst", "admin")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark tests by folder so `-m "not browser"` and friends work."""
    for item in items:
        parts = Path(str(item.fspath)).parts
        if "integration" in parts:
            item.add_marker(pytest.mark.integration)
        if "browser" in parts:
            item.add_marker(pytest.mark.browser)


def _admin_engine(url: str) -> Any:
    from sqlalchemy import create_engine

    return create_engine(url.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")


def create_database(url: str) -> None:
    """Create the database named in ``url`` afresh; drop leftovers of dead test processes."""
    from sqlalchemy import text

    name = url.rsplit("/", 1)[1]
    base = name.rsplit("_", 1)[0]
    admin = _admin_engine(url)
    with admin.connect() as conn:
        for (other,) in conn.execute(
            text("SELECT datname FROM pg_database WHERE datname LIKE :p"), {"p": base + "_%"}
        ):
            pid = other.rsplit("_", 1)[1]
            if pid.isdigit() and not _alive(int(pid)):
                conn.execute(text(f'DROP DATABASE IF EXISTS "{other}" WITH (FORCE)'))
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()


def drop_database(url: str) -> None:
    """Drop the database named in ``url``."""
    from sqlalchemy import text

    admin = _admin_engine(url)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)'))
    admin.dispose()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _reset_database(url: str) -> None:
    """Drop our schemas and migrate from nothing with ``alembic upgrade head``."""
    from alembic import command
    from sqlalchemy import create_engine, text

    from shared.cli import alembic_config

    eng = create_engine(url)
    with eng.begin() as conn:
        for schema in ("predictive", "hotspots", "assets", "incidents", "core"):
            conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        conn.execute(text("DROP TABLE IF EXISTS public.alembic_version"))
    eng.dispose()
    command.upgrade(alembic_config(url), "head")


@pytest.fixture(scope="session")
def engine() -> Iterator[Any]:
    """The test database, migrated from scratch once per run."""
    from shared.db import make_engine

    create_database(TEST_DB)
    _reset_database(TEST_DB)
    eng = make_engine(TEST_DB)
    yield eng
    eng.dispose()
    drop_database(TEST_DB)


@pytest.fixture()
def db_session(engine: Any) -> Iterator[Any]:
    """A session inside an outer transaction that is rolled back after the test."""
    from sqlalchemy.orm import Session

    conn = engine.connect()
    outer = conn.begin()
    session = Session(bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False)
    try:
        yield session
    finally:
        session.close()
        outer.rollback()
        conn.close()


@pytest.fixture()
def make_client(engine: Any, db_session: Any) -> Iterator[Callable[..., Any]]:
    """Build a TestClient for a service whose requests share the rolled-back session."""
    from fastapi.testclient import TestClient

    from shared.db import get_session

    clients: list[Any] = []

    def build(service: str, **overrides: Any) -> Any:
        from tests.support import service_app

        app = service_app(service, TEST_DB, **overrides)
        app.state.engine = engine

        def _session() -> Iterator[Any]:
            yield db_session

        app.dependency_overrides[get_session] = _session
        client = TestClient(app, raise_server_exceptions=False)
        client.__enter__()
        clients.append(client)
        return client

    yield build
    for c in clients:
        c.__exit__(None, None, None)


@pytest.fixture()
def tokens(db_session: Any) -> dict[str, dict[str, str]]:
    """One token per role: ``tokens["operator"]`` is a ready Authorization header dict."""
    from shared.auth import create_token

    out = {}
    for role in ROLES:
        _, clear = create_token(db_session, name=f"test {role}", role=role)
        out[role] = {"Authorization": f"Bearer {clear}"}
    db_session.flush()
    return out


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Folder for screenshots and other test artifacts (kept after the run)."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
