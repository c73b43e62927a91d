"""The csp command line on the real database: tokens, migrations, one-line errors."""

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from csp.cli import app
from shared.auth import lookup
from tests.conftest import TEST_DB

runner = CliRunner()


@pytest.fixture()
def cli_env(engine: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", TEST_DB)


def test_token_create_prints_once_then_revoke(cli_env: None, engine: Any) -> None:
    from sqlalchemy.orm import Session

    out = runner.invoke(app, ["token", "create", "--role", "crew", "--name", "Watch Red"])
    assert out.exit_code == 0, out.output
    clear = out.stdout.strip().splitlines()[-1]
    assert clear.startswith("csp_") and len(clear) > 40
    with Session(engine) as s:
        who = lookup(s, clear)
        assert who is not None and who.role == "crew" and who.name == "Watch Red"
    listing = runner.invoke(app, ["token", "list"])
    assert "Watch Red" in listing.stdout and clear not in listing.stdout
    revoked = runner.invoke(app, ["token", "revoke", "--name", "Watch Red"])
    assert revoked.exit_code == 0
    with Session(engine) as s:
        assert lookup(s, clear) is None


def test_bad_role_is_one_clear_line_and_non_zero(cli_env: None) -> None:
    out = runner.invoke(app, ["token", "create", "--role", "chief", "--name", "x"])
    assert out.exit_code == 1
    assert "Unknown role 'chief'" in out.output
    assert "Traceback" not in out.output


def test_revoke_unknown_token_fails_clearly(cli_env: None) -> None:
    out = runner.invoke(app, ["token", "revoke", "999999"])
    assert out.exit_code == 1 and "No active token" in out.output


def test_db_upgrade_is_idempotent(cli_env: None) -> None:
    out = runner.invoke(app, ["db", "upgrade"])
    assert out.exit_code == 0, out.output


def test_unreachable_database_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg2://csp:csp@127.0.0.1:1/none")
    out = runner.invoke(app, ["token", "create", "--role", "crew", "--name", "x"])
    assert out.exit_code == 1 and "cannot reach the database" in out.output


def test_a_long_name_says_so_even_without_a_database(monkeypatch: pytest.MonkeyPatch) -> None:
    """U1: a 121-character name printed 'cannot reach the database'; it is checked first."""
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg2://csp:csp@127.0.0.1:1/none")
    out = runner.invoke(app, ["token", "create", "--role", "crew", "--name", "n" * 121])
    assert out.exit_code == 1
    assert "121 characters long; the limit is 120" in out.output
    assert "database" not in out.output


def test_a_long_name_is_refused_on_a_real_database(cli_env: None, engine: Any) -> None:
    out = runner.invoke(app, ["token", "create", "--role", "crew", "--name", "n" * 121])
    assert out.exit_code == 1 and "the limit is 120" in out.output
    with engine.connect() as conn:
        n = conn.execute(text("SELECT count(*) FROM core.api_tokens WHERE name LIKE 'nnn%'"))
        assert n.scalar() == 0


def test_a_control_character_in_a_name_is_refused(cli_env: None) -> None:
    out = runner.invoke(app, ["token", "create", "--role", "crew", "--name", "Desk\x1b[2J"])
    assert out.exit_code == 1 and "U+001B" in out.output


def test_duplicate_name_is_refused_and_revoke_by_name_takes_one(cli_env: None, engine: Any) -> None:
    """S3: an operator's and an admin's token of one name were both revoked by --name."""
    from sqlalchemy.orm import Session

    made = runner.invoke(app, ["token", "create", "--role", "operator", "--name", "Desk 7"])
    assert made.exit_code == 0, made.output
    op_clear = made.stdout.strip().splitlines()[-1]
    again = runner.invoke(app, ["token", "create", "--role", "admin", "--name", "desk 7"])
    assert again.exit_code == 1
    assert "already named 'Desk 7'" in again.output and "cannot reach" not in again.output
    admin = runner.invoke(app, ["token", "create", "--role", "admin", "--name", "Desk 7 admin"])
    admin_clear = admin.stdout.strip().splitlines()[-1]
    with Session(engine) as s:
        op = lookup(s, op_clear)
        assert op is not None
    revoked = runner.invoke(app, ["token", "revoke", "--name", "Desk 7"])
    assert revoked.exit_code == 0, revoked.output
    assert f"revoked token #{op.token_id} (Desk 7, operator)" in revoked.output
    with Session(engine) as s:
        assert lookup(s, op_clear) is None
        assert lookup(s, admin_clear) is not None
    runner.invoke(app, ["token", "revoke", "--name", "Desk 7 admin"])


def test_a_database_that_refuses_is_not_called_unreachable(monkeypatch: pytest.MonkeyPatch) -> None:
    """A reachable database without the tables: the error says what it refused."""
    monkeypatch.setenv("DATABASE_URL", TEST_DB.rsplit("/", 1)[0] + "/postgres")
    out = runner.invoke(app, ["token", "create", "--role", "crew", "--name", "Refused"])
    assert out.exit_code == 1
    assert "cannot reach" not in out.output
    assert "refused" in out.output and "api_tokens" in out.output
    assert "Traceback" not in out.output


@pytest.mark.parametrize("args", [["token", "list"], ["token", "revoke", "3"]])
def test_other_token_commands_fail_in_one_line_without_a_database(
    monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg2://csp:csp@127.0.0.1:1/none")
    out = runner.invoke(app, args)
    assert out.exit_code == 1, out.output
    assert "cannot reach the database" in out.output
    assert out.exception is None or isinstance(out.exception, SystemExit)


# ------------------------------------------------------------ make demo's process starter (U3)

STACK = Path(__file__).resolve().parents[2] / "deploy" / "scripts" / "stack.sh"


def _stack(run_dir: Path, script: str) -> str:
    """Run ``script`` in bash with stack.sh's functions loaded and its run folder in ``run_dir``."""
    env = {**os.environ, "CSP_RUN_DIR": str(run_dir)}
    done = subprocess.run(
        ["bash", "-c", f'source "{STACK}"; {script}'],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return done.stdout + done.stderr


def test_a_restarted_process_keeps_its_crash_in_the_log(tmp_path: Path) -> None:
    """U3: restarting a crashed process truncated its log, losing the traceback."""
    wait_gone = "for _ in $(seq 100); do alive svc || break; sleep 0.05; done"
    out = _stack(
        tmp_path,
        "start_bg svc bash -c 'echo \"Traceback: boom\" >&2; exit 3'; "
        f"{wait_gone}; state svc; "
        "start_bg svc bash -c 'echo second run'; "
        f"{wait_gone}",
    )
    assert "exited" in out and "had exited; restarting it" in out
    log = (tmp_path / "logs" / "svc.log").read_text()
    crash, marker, second = (
        log.find("Traceback: boom"),
        log.find("had exited; restarted"),
        log.find("second run"),
    )
    assert -1 < crash < marker < second, log


def test_a_process_started_after_a_clean_stop_is_marked_started(tmp_path: Path) -> None:
    out = _stack(
        tmp_path,
        "start_bg svc sleep 30; stop_bg svc; state svc; start_bg svc sleep 30; state svc; "
        "stop_bg svc",
    )
    assert "stopped\nrunning" in out and "had exited" not in out
    log = (tmp_path / "logs" / "svc.log").read_text()
    assert log.count("svc started") == 2 and "had exited" not in log
