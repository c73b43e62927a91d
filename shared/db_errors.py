"""What a database error means: the database is down (retry) or the client sent a NUL (422)."""

from __future__ import annotations

from sqlalchemy import exc as sa_exc

# Errors that mean "the database cannot be reached or is restarting": transient, so a 503 the
# client may retry, not a 500. OperationalError covers refused and dropped connections, a server
# shutting down or starting up, and deadlocks; TimeoutError is the pool running out.
DATABASE_DOWN: tuple[type[Exception], ...] = (
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.TimeoutError,
)
DATABASE_RETRY_AFTER_S = 5


def is_database_down(exc: BaseException) -> bool:
    """True when ``exc`` means the database is unreachable or restarting (not a bug)."""
    return isinstance(exc, DATABASE_DOWN) or (
        isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated
    )


def is_nul_in_text(exc: BaseException) -> bool:
    """True when ``exc`` is PostgreSQL refusing a NUL (U+0000) that came in with the request.

    Text and JSONB cannot hold NUL: psycopg2 refuses such a string before sending it
    (ValueError) and the server refuses ``\\u0000`` in JSON (SQLSTATE 22P05). Stored data never
    holds one, so the NUL came from the client: a 422, not a 500.
    """
    if isinstance(exc, ValueError) and "NUL (0x00)" in str(exc):
        return True
    return isinstance(exc, sa_exc.DataError) and getattr(exc.orig, "pgcode", None) == "22P05"
