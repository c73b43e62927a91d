"""Database engine, sessions and the declarative base shared by every service."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import MetaData, create_engine, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

log = logging.getLogger("csp.db")

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base: one metadata for the one database, each service in its own schema."""

    metadata = MetaData(naming_convention=NAMING)


def make_engine(url: str, *, connect_timeout_s: int = 3, pool_size: int = 10) -> Engine:
    """Create an engine that checks connections before use, so a restarted PostGIS recovers."""
    connect_args: dict[str, object] = {}
    if url.startswith("postgresql"):
        connect_args = {"connect_timeout": connect_timeout_s, "application_name": "csp"}
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=pool_size,
        max_overflow=20,
        pool_recycle=1800,
        connect_args=connect_args,
    )


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """A session factory whose objects stay readable after commit."""
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def task_session(url: str) -> Iterator[Session]:
    """A session on a one-connection engine for one Celery task, disposed when it ends."""
    engine = make_engine(url, pool_size=1)
    try:
        with make_sessionmaker(engine)() as session:
            yield session
    finally:
        engine.dispose()


def get_session(request: Request) -> Iterator[Session]:
    """FastAPI dependency: one session per request from the app's session factory."""
    factory: sessionmaker[Session] = request.app.state.sessionmaker
    session = factory()
    try:
        yield session
    finally:
        close_session(session)


def close_session(session: Session) -> None:
    """Close ``session``; a connection the server dropped has nothing to roll back, so let it go.

    Closing rolls back an open transaction. When PostGIS restarted mid-request that rollback
    fails on the dead socket; raising then would replace the request's own answer (or, once the
    response is on its way, cut it off), so the dead connection is discarded instead.
    """
    try:
        session.close()
    except DBAPIError as exc:
        if not exc.connection_invalidated:
            raise
        log.warning("discarded a connection the database dropped: %s", type(exc.orig).__name__)
        session.invalidate()


SessionDep = Annotated[Session, Depends(get_session)]


def database_ready(engine: Engine) -> tuple[bool, str]:
    """Return (ok, detail) after a trivial query and a PostGIS check."""
    try:
        with engine.connect() as conn:
            version = conn.execute(text("SELECT postgis_lib_version()")).scalar_one()
        return True, f"postgis {version}"
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        return False, type(exc).__name__
