"""The deployment files: docker-compose validates and has every part; the Makefile's promises."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


def _compose_cmd() -> list[str]:
    docker = shutil.which("docker")
    if (
        docker
        and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0
    ):
        return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    if legacy:
        return [legacy]
    pytest.fail(
        "neither `docker compose` nor `docker-compose` is installed (make test installs it)"
    )


def test_compose_config_validates() -> None:
    env = dict(os.environ, POSTGRES_PASSWORD="pw")
    out = subprocess.run(
        [*_compose_cmd(), "-f", str(ROOT / "docker-compose.yml"), "config"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
    )
    assert out.returncode == 0, out.stderr
    cfg = yaml.safe_load(out.stdout)
    services = cfg["services"]
    assert {"db", "redis", "migrate", "assets", "hotspots", "predictive", "worker", "beat"} <= set(
        services
    )
    assert services["migrate"]["command"] == ["csp", "db", "upgrade", "head"]
    for name in ("assets", "hotspots", "predictive", "worker", "beat"):
        deps = services[name]["depends_on"]
        assert deps["migrate"]["condition"] == "service_completed_successfully"
    # The worker scales: no fixed container name or host port.
    assert "container_name" not in services["worker"] and "ports" not in services["worker"]


def test_compose_refuses_missing_secrets() -> None:
    env = {k: v for k, v in os.environ.items() if k != "POSTGRES_PASSWORD"}
    out = subprocess.run(
        [*_compose_cmd(), "-f", str(ROOT / "docker-compose.yml"), "config"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
    )
    assert out.returncode != 0


def test_readme_starts_with_the_two_commands() -> None:
    head = (ROOT / "README.md").read_text().splitlines()[:15]
    text = "\n".join(head)
    assert "make demo" in text and "make test" in text


def test_ci_runs_make_test() -> None:
    assert "make test" in (ROOT / ".ci" / "run").read_text()
