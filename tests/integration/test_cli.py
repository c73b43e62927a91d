"""The csp command line on the real database: tokens, migrations, one-line errors."""

from typing import Any

import pytest
from typer.testing import CliRunner

from shared.auth import lookup
from shared.cli import app
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
