"""The shared part of the ``csp`` command line: database, tokens, backups, incidents, helpers.

``csp.cli`` adds the service commands (serve, worker, beat, demo load, each service's own).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.table import Table

db_app = typer.Typer(help="Database migrations and backups.", no_args_is_help=True)
token_app = typer.Typer(
    help="API tokens (roles: operator, seg, crew, analyst, admin).", no_args_is_help=True
)

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy.orm import Session

console = Console(stderr=True)
ROOT = Path(__file__).resolve().parent.parent


def fail(message: str, code: int = 1) -> None:
    """Print one clear line and exit non-zero."""
    console.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _session() -> Session:
    from shared.db import make_engine, make_sessionmaker
    from shared.settings import CommonSettings

    return make_sessionmaker(make_engine(CommonSettings().database_url))()


def database_error_line(exc: BaseException) -> str:
    """One line saying what went wrong with the database: unreachable, or what it refused."""
    from sqlalchemy.exc import DBAPIError

    if isinstance(exc, DBAPIError):
        reason = (str(exc.orig).strip().splitlines() or [type(exc.orig).__name__])[0]
        # No statement: the failure came while connecting, before anything was sent.
        if exc.statement is None:
            return f"cannot reach the database: {reason}"
        return f"the database refused this ({type(exc.orig).__name__}): {reason}"
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0] if lines else 'no detail'}"


@contextmanager
def _database() -> Iterator[Any]:
    """A session whose failures end the command with one clear line (never a traceback)."""
    from sqlalchemy.exc import SQLAlchemyError

    from shared.errors import AppError

    try:
        with _session() as s:
            yield s
    except AppError as exc:
        fail(exc.detail)
    except SQLAlchemyError as exc:
        fail(database_error_line(exc))


def alembic_config(database_url: str | None = None) -> Config:
    """Alembic config pointing at the project's one migration history."""
    from alembic.config import Config

    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "shared" / "migrations"))
    if database_url:
        cfg.attributes["database_url"] = database_url
    return cfg


@db_app.command("upgrade")
def db_upgrade(revision: str = typer.Argument("head", help="Target revision")) -> None:
    """Apply migrations up to REVISION (default: head)."""
    from alembic import command

    try:
        command.upgrade(alembic_config(), revision)
    except Exception as exc:  # noqa: BLE001 - one clear line for the operator
        fail(f"migration failed: {type(exc).__name__}: {str(exc).splitlines()[0]}")
    console.print(f"database at {revision}")


@db_app.command("current")
def db_current() -> None:
    """Show the database's migration revision."""
    from alembic import command

    command.current(alembic_config())


@token_app.command("create")
def token_create(
    role: str = typer.Option(..., "--role", help="operator | seg | crew | analyst | admin"),
    name: str = typer.Option(..., "--name", help="Who holds the token"),
) -> None:
    """Create a token and print it once; only its hash is stored."""
    from shared.auth import ROLES, check_token_name, create_token
    from shared.errors import AppError

    # Checked before the database, so a bad name or role says so whatever the database's state.
    try:
        if role not in ROLES:
            fail(f"Unknown role {role!r}; choose one of {', '.join(ROLES)}")
        check_token_name(name)
    except AppError as exc:
        fail(exc.detail)
    with _database() as s:
        row, clear = create_token(s, name=name, role=role)
        s.commit()
        console.print(
            f"token #{row.id} for {row.name} ({row.role}); it is shown only once:", highlight=False
        )
    typer.echo(clear)


@token_app.command("revoke")
def token_revoke(
    token_id: int | None = typer.Argument(None, help="Token id"),
    name: str | None = typer.Option(
        None, "--name", help="The active token with this name (names are unique, any case)"
    ),
) -> None:
    """Revoke one token, by id or by name."""
    from shared.auth import revoke_token

    with _database() as s:
        row = revoke_token(s, token_id=token_id, name=name)
        s.commit()
        console.print(f"revoked token #{row.id} ({row.name}, {row.role})", highlight=False)


@token_app.command("list")
def token_list() -> None:
    """List tokens (never the tokens themselves)."""
    from shared.auth import list_tokens

    table = Table("id", "name", "role", "prefix", "created", "revoked")
    with _database() as s:
        for t in list_tokens(s):
            table.add_row(
                str(t.id),
                t.name,
                t.role,
                t.prefix + "...",
                str(t.created_at)[:19],
                str(t.revoked_at or "")[:19],
            )
    Console().print(table)


def run(root: typer.Typer) -> None:
    """Run ``root`` (the whole command line, put together by ``csp.cli``) with plain logs."""
    os.environ.setdefault("CSP_LOG_JSON", "false")
    root()
