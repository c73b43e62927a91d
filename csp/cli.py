"""The whole ``csp`` command line: the shared commands plus each service's, named here."""

from __future__ import annotations

import os
from pathlib import Path

import typer

import csp.models  # noqa: F401  (every model: backups and migrations cover every schema)
import services.assets.cli
import services.hotspots.cli
import services.predictive.cli
import shared.backup
import shared.boundaries.cli
import shared.incidents.cli
import shared.users_cli
from csp.services import SERVICES
from shared.cli import ROOT, _database, console, db_app, fail, run, token_app

app = typer.Typer(
    help="Medway CSP suite: CCTV assets, hotspots and predictive target boxes.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(db_app, name="db")
app.add_typer(token_app, name="token")
app.add_typer(shared.users_cli.app, name="user")
demo_app = typer.Typer(help="Demo data.", no_args_is_help=True)
app.add_typer(demo_app, name="demo")
app.add_typer(shared.incidents.cli.app, name="incidents")
app.add_typer(services.assets.cli.app, name="assets")
app.add_typer(services.hotspots.cli.app, name="hotspots")
app.add_typer(services.predictive.cli.app, name="predict")
app.add_typer(shared.backup.app, name="backup")
app.add_typer(shared.boundaries.cli.app, name="boundaries")


@app.command("serve")
def serve(
    service: str = typer.Argument(..., help="assets | hotspots | predictive"),
    host: str | None = typer.Option(None, help="Interface (default from settings)"),
    port: int | None = typer.Option(None, help="Port (default 8001/8002/8003)"),
    workers: int = typer.Option(1, help="Uvicorn worker processes"),
) -> None:
    """Run one service's HTTP server."""
    import uvicorn

    entry = SERVICES.get(service)
    if entry is None:
        fail(f"unknown service {service!r}; choose one of {', '.join(SERVICES)}")
        return
    s = entry.settings()
    # The app factory reads its settings again in each worker: pass the chosen host and port
    # through the environment, so links the service builds (OGC, when no public URL is set)
    # name the port it really listens on.
    prefix = service.upper()
    os.environ[f"{prefix}_HOST"] = host or s.host
    os.environ[f"{prefix}_PORT"] = str(port or s.port)
    uvicorn.run(
        entry.factory_path,
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
    """Run a Celery worker against the shared broker (every service's tasks)."""
    from csp.worker import celery_app

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
    """Run Celery beat (the nightly lists, the sweep of stale hotspot runs)."""
    from csp.worker import celery_app

    schedule.parent.mkdir(parents=True, exist_ok=True)
    celery_app.start(["beat", f"--schedule={schedule}", "--loglevel=INFO"])


@demo_app.command("load")
def demo_load(
    shared_data: Path = typer.Option(
        ROOT.parent / "shared" / "data", help="Folder of real Medway data, if present"
    ),
) -> None:
    """Load demo data: the real Medway files when present, plus the demo cameras."""
    import services.assets.demo
    import services.assets.health.demo
    import services.hotspots.demo
    import services.predictive.demo
    import shared.boundaries.demo
    import shared.demo_people
    import shared.incidents.demo

    loaders = (
        shared.demo_people,
        shared.boundaries.demo,
        shared.incidents.demo,
        services.assets.demo,
        services.assets.health.demo,
        services.hotspots.demo,
        services.predictive.demo,
    )
    with _database() as s:
        for m in loaders:
            msg = m.load_demo(s, shared_data=shared_data)
            s.commit()
            console.print(f"{m.__name__}: {msg}")


def main() -> None:
    """Entry point of the ``csp`` command (and ``python -m csp.cli``)."""
    run(app)


if __name__ == "__main__":
    main()
