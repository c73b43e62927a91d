"""The ``csp`` command line: database, tokens, servers, workers, demo data and service commands."""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(
    help="Medway CSP suite: CCTV assets, hotspots and predictive target boxes.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database migrations and backups.", no_args_is_help=True)
token_app = typer.Typer(
    help="API tokens (roles: operator, seg, crew, analyst, admin).", no_args_is_help=True
)
demo_app = typer.Typer(help="Demo data.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(token_app, name="token")
app.add_typer(demo_app, name="demo")

console = Console(stderr=True)
SERVICES = ("assets", "hotspots", "predictive")
ROOT = Path(__file__).resolve().parent.parent


def fail(message: str, code: int = 1) -> None:
    """Print one clear line and exit non-zero."""
    console.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _session():  # type: ignore[no-untyped-def]
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


def alembic_config(database_url: str | None = None):  # type: ignore[no-untyped-def]
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


@app.command("serve")
def serve(
    service: str = typer.Argument(..., help="assets | hotspots | predictive"),
    host: str | None = typer.Option(None, help="Interface (default from settings)"),
    port: int | None = typer.Option(None, help="Port (default 8001/8002/8003)"),
    workers: int = typer.Option(1, help="Uvicorn worker processes"),
) -> None:
    """Run one service's HTTP server."""
    import uvicorn

    if service not in SERVICES:
        fail(f"unknown service {service!r}; choose one of {', '.join(SERVICES)}")
    settings_cls = getattr(
        importlib.import_module("shared.settings"), f"{service.capitalize()}Settings"
    )
    s = settings_cls()
    # The app factory reads its settings again in each worker: pass the chosen host and port
    # through the environment, so links the service builds (OGC, when no public URL is set)
    # name the port it really listens on.
    prefix = service.upper()
    os.environ[f"{prefix}_HOST"] = host or s.host
    os.environ[f"{prefix}_PORT"] = str(port or s.port)
    uvicorn.run(
        f"services.{service}.main:create_app",
        factory=True,
        host=host or s.host,
        port=port or s.port,
        workers=workers,
        log_config=None,
        proxy_headers=True,
    )


@app.command("worker")
def worker(
    concurrency: int = typer.Option(2, help="Worker processes"),
    queues: str = typer.Option("celery", help="Comma-separated queues (e.g. one per area)"),
) -> None:
    """Run a Celery worker against the shared broker."""
    from shared.celery_app import celery_app

    celery_app.worker_main(
        [
            "worker",
            f"--concurrency={concurrency}",
            f"--queues={queues}",
            "--loglevel=INFO",
            "--without-gossip",
            "--without-mingle",
        ]
    )


@app.command("beat")
def beat(schedule: Path = typer.Option(Path(".run/celerybeat-schedule"))) -> None:
    """Run Celery beat (the nightly predictive refit)."""
    from shared.celery_app import celery_app

    schedule.parent.mkdir(parents=True, exist_ok=True)
    celery_app.start(["beat", f"--schedule={schedule}", "--loglevel=INFO"])


def _register_service_clis() -> None:
    """Mount each service's own commands (``csp assets ...``, ``csp hotspots ...``)."""
    for name, mod, attr in (
        ("incidents", "shared.incidents.cli", "app"),
        ("assets", "services.assets.cli", "app"),
        ("cameras", "services.assets.cli", "cameras_app"),
        ("hotspots", "services.hotspots.cli", "app"),
        ("predict", "services.predictive.cli", "app"),
        ("backup", "shared.backup", "app"),
    ):
        try:
            module = importlib.import_module(mod)
        except ModuleNotFoundError as exc:
            if exc.name and (exc.name == mod or mod.startswith(exc.name + ".")):
                continue
            raise
        sub = getattr(module, attr, None)
        if sub is not None:
            app.add_typer(sub, name=name)


@demo_app.command("load")
def demo_load(
    shared_data: Path = typer.Option(
        ROOT.parent / "shared" / "data", help="Folder of real Medway data, if present"
    ),
) -> None:
    """Load demo data: the real Medway files when present, plus the demo cameras."""
    loaders = []
    for mod in (
        "shared.incidents.demo",
        "services.assets.demo",
        "services.hotspots.demo",
        "services.predictive.demo",
    ):
        try:
            loaders.append(importlib.import_module(mod))
        except ModuleNotFoundError:
            continue
    with _database() as s:
        for m in loaders:
            msg = m.load_demo(s, shared_data=shared_data)
            s.commit()
            console.print(f"{m.__name__}: {msg}")


_register_service_clis()


def main() -> None:
    """Entry point used by ``python -m shared.cli``."""
    os.environ.setdefault("CSP_LOG_JSON", "false")
    app()


if __name__ == "__main__":
    main()
