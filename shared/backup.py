"""Backups with pg_dump/pg_restore, driven by ``csp backup``; plus a table-by-table check."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import typer
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url


def schemas() -> list[str]:
    """The suite's Postgres schemas: those of every ORM model imported (the root imports all)."""
    from shared.db import Base

    found = sorted({t.schema for t in Base.metadata.tables.values() if t.schema})
    if not found:
        raise RuntimeError("no models are imported: run through the csp command (csp.models)")
    return found


app = typer.Typer(
    help="Backup and restore the whole database (pg_dump custom format).", no_args_is_help=True
)


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """Turn a SQLAlchemy URL into a libpq URL without the password, plus PGPASSWORD env."""
    u = make_url(url)
    env = {"PGPASSWORD": u.password or ""}
    dsn = f"postgresql://{u.username or ''}@{u.host or '127.0.0.1'}:{u.port or 5432}/{u.database}"
    return dsn, env


def _tool(name: str) -> str:
    for cand in (f"/usr/lib/postgresql/15/bin/{name}", shutil.which(name)):
        if cand and Path(cand).exists():
            return cand
    raise FileNotFoundError(f"{name} not found; install postgresql-client")


def _run(args: list[str], env: dict[str, str]) -> None:
    import os

    proc = subprocess.run(args, env={**os.environ, **env}, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.strip().splitlines()[-1] if proc.stderr else "failed")


def create_backup(url: str, out: Path) -> Path:
    """Dump the whole database (schema and data, our schemas and the migration table) to ``out``."""
    dsn, env = _libpq(url)
    out.parent.mkdir(parents=True, exist_ok=True)
    args = [_tool("pg_dump"), "--format=custom", "--no-owner", "--file", str(out)]
    for s in schemas():
        args += ["--schema", s]
    # -t would switch -n off, so the migration table comes with the public schema.
    args += ["--schema", "public", "--exclude-table", "public.spatial_ref_sys", dsn]
    _run(args, env)
    return out


def restore_backup(url: str, dump: Path) -> None:
    """Restore ``dump`` into the database at ``url``, replacing our schemas there."""
    dsn, env = _libpq(url)
    eng = create_engine(url)
    with eng.begin() as conn:
        conn.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
        for s in schemas():
            conn.execute(text(f"DROP SCHEMA IF EXISTS {s} CASCADE"))
        conn.execute(text("DROP TABLE IF EXISTS public.alembic_version"))
    eng.dispose()
    # The public schema already exists (PostGIS lives there): leave its own entries out.
    listing = subprocess.run(
        [_tool("pg_restore"), "--list", str(dump)], capture_output=True, text=True, check=True
    ).stdout
    keep = [ln for ln in listing.splitlines() if not _is_public_schema_entry(ln)]
    toc = dump.with_suffix(dump.suffix + ".toc")
    toc.write_text("\n".join(keep) + "\n")
    try:
        _run(
            [
                _tool("pg_restore"),
                "--no-owner",
                "--exit-on-error",
                "--single-transaction",
                "--use-list",
                str(toc),
                "--dbname",
                dsn,
                str(dump),
            ],
            env,
        )
    finally:
        toc.unlink(missing_ok=True)


def _is_public_schema_entry(line: str) -> bool:
    parts = line.split()
    return ("SCHEMA - public" in line) or (
        len(parts) > 4 and parts[3:6] == ["COMMENT", "-", "SCHEMA"] and "public" in parts
    )


def table_counts(url: str) -> dict[str, int]:
    """Row count of every table in our schemas (and the migration table)."""
    eng = create_engine(url)
    out: dict[str, int] = {}
    with eng.connect() as conn:
        names = (
            conn.execute(
                text(
                    "SELECT table_schema || '.' || table_name FROM information_schema.tables "
                    "WHERE table_type = 'BASE TABLE' AND (table_schema = ANY(:s) "
                    "OR (table_schema = 'public' AND table_name = 'alembic_version')) ORDER BY 1"
                ),
                {"s": schemas()},
            )
            .scalars()
            .all()
        )
        for n in names:
            out[n] = int(conn.execute(text(f"SELECT count(*) FROM {n}")).scalar_one())
    eng.dispose()
    return out


@app.command("create")
def create_cmd(out: Path = typer.Option(..., "--out", help="Backup file (.dump)")) -> None:
    """Back up the database named by DATABASE_URL."""
    from shared.cli import console, fail
    from shared.settings import CommonSettings

    try:
        create_backup(CommonSettings().database_url, out)
    except Exception as exc:  # noqa: BLE001
        fail(f"backup failed: {exc}")
    console.print(f"backup written to {out} ({out.stat().st_size} bytes)")


@app.command("restore")
def restore_cmd(
    dump: Path = typer.Argument(..., exists=True, dir_okay=False),
    yes: bool = typer.Option(False, "--yes", help="Confirm: replaces the database's contents"),
) -> None:
    """Restore a backup into the database named by DATABASE_URL (replaces its contents)."""
    from shared.cli import console, fail
    from shared.settings import CommonSettings

    if not yes:
        fail("restore replaces every table; run again with --yes to confirm")
    try:
        restore_backup(CommonSettings().database_url, dump)
    except Exception as exc:  # noqa: BLE001
        fail(f"restore failed: {exc}")
    console.print(f"restored {dump}")
