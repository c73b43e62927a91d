"""`csp user`: accounts from the command line; the password never travels as an argument."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import delete
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from csp.cli import app
from shared import accounts
from shared.core.models import User
from shared.settings import CommonSettings
from tests.conftest import TEST_DB

runner = CliRunner()
NAMES = ("cli.kfrs", "cli.nopass")


@pytest.fixture()
def cli_env(engine: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("DATABASE_URL", TEST_DB)
    yield
    with Session(engine) as s:  # the command commits: clean up after it
        s.execute(delete(User).where(User.username.in_(NAMES)))
        s.commit()


def test_create_with_password_from_stdin_then_sign_in_disable_list(
    cli_env: None, engine: Any
) -> None:
    out = runner.invoke(
        app,
        [
            "user",
            "create",
            "--username",
            "CLI.KFRS",
            "--role",
            "crew",
            "--agency",
            "KFRS",
            "--name",
            "Cara Crew",
        ],
        input="a long enough password\n",
    )
    assert out.exit_code == 0, out.output
    assert "a long enough password" not in out.output
    settings = CommonSettings(environment="test", database_url=TEST_DB)
    with Session(engine) as s:
        user = accounts.find_user(s, "cli.kfrs")
        assert user is not None
        assert (user.role, user.agency_code, user.full_name) == ("crew", "kfrs", "Cara Crew")
        assert user.password_hash and user.password_hash.startswith("$argon2id$")
        ok = accounts.authenticate(
            s, username="cli.kfrs", password="a long enough password", settings=settings
        )
        assert isinstance(ok, User)
        s.rollback()
    listing = runner.invoke(app, ["user", "list"])
    assert "cli.kfrs" in listing.stdout and "active" in listing.stdout
    assert "argon2" not in listing.stdout
    assert runner.invoke(app, ["user", "disable", "cli.kfrs"]).exit_code == 0
    with Session(engine) as s:
        refused = accounts.authenticate(
            s, username="cli.kfrs", password="a long enough password", settings=settings
        )
        assert isinstance(refused, accounts.SignInRefused) and "disabled" in refused.message
    assert "disabled" in runner.invoke(app, ["user", "list"]).stdout


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["--username", "cli.nopass", "--role", "crew"], "a long enough password\n", "agency"),
        (["--username", "cli.nopass", "--role", "chief"], "a long enough password\n", "role"),
        (["--username", "bad name!", "--role", "seg"], "a long enough password\n", "username"),
        (["--username", "cli.nopass", "--role", "seg"], "short\n", "10 to 256"),
    ],
)
def test_bad_input_is_one_clear_line(
    cli_env: None, engine: Any, args: list[str], stdin: str, message: str
) -> None:
    out = runner.invoke(app, ["user", "create", *args], input=stdin)
    assert out.exit_code == 1, out.output
    assert message in out.output and "Traceback" not in out.output
    with Session(engine) as s:
        assert accounts.find_user(s, "cli.nopass") is None


def test_password_is_not_an_option() -> None:
    out = runner.invoke(
        app, ["user", "create", "--username", "x", "--role", "seg", "--password", "p"]
    )
    assert out.exit_code == 2  # no such option
