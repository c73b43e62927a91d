"""``csp user``: people's accounts (create, disable, enable, set a password, list).

A password is never an argument (it would sit in the shell's history and the process list): it
is read from standard input when that is not a terminal, else prompted for twice.
"""

from __future__ import annotations

import sys

import typer
from rich.console import Console
from rich.table import Table

from shared.cli import _database, console, fail

app = typer.Typer(
    help="People's accounts (roles: operator, seg, crew, analyst, admin).", no_args_is_help=True
)


def _read_password(allow_none: bool) -> str | None:
    """The password from standard input (first line) or a prompt; None for an SSO-only account."""
    if not sys.stdin.isatty():
        line = sys.stdin.readline().rstrip("\r\n")
        if not line and allow_none:
            return None
        return line
    value: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return value


@app.command("create")
def user_create(
    username: str = typer.Option(..., "--username", help="Sign-in name (letters, digits, . _ @ -)"),
    role: str = typer.Option(..., "--role", help="operator | seg | crew | analyst | admin"),
    agency: str | None = typer.Option(None, "--agency", help="Agency code (crew: kfrs, police)"),
    name: str | None = typer.Option(None, "--name", help="Full name, as pages and audits show"),
    sso_only: bool = typer.Option(False, "--sso-only", help="No password: signs in by SSO only"),
) -> None:
    """Create an account; the password comes from standard input or a prompt."""
    from shared import accounts
    from shared.errors import AppError

    try:
        accounts.check_username(username)
        accounts.check_role(role, agency)
        if name:
            accounts.check_full_name(name)
        password = None if sso_only else _read_password(allow_none=False)
        if password is not None:
            accounts.check_password(password)
    except AppError as exc:
        fail(exc.detail)
    with _database() as s:
        row = accounts.create_user(
            s, username=username, role=role, full_name=name, agency=agency, password=password
        )
        s.commit()
        where = f", {row.agency_code}" if row.agency_code else ""
        console.print(
            f"account {row.username} ({row.full_name}, {row.role}{where}) created", highlight=False
        )


@app.command("set-password")
def user_set_password(username: str = typer.Argument(..., help="The account")) -> None:
    """Give an account a new password (from standard input or a prompt); its sessions end."""
    from shared import accounts
    from shared.errors import AppError

    password = _read_password(allow_none=False) or ""
    try:
        accounts.check_password(password)
    except AppError as exc:
        fail(exc.detail)
    with _database() as s:
        row = accounts.set_password(s, username=username, password=password)
        s.commit()
        console.print(f"new password set for {row.username}", highlight=False)


@app.command("disable")
def user_disable(username: str = typer.Argument(..., help="The account")) -> None:
    """Disable an account: no sign-in (password or SSO), and its open sessions end now."""
    from shared import accounts

    with _database() as s:
        row = accounts.disable_user(s, username=username)
        s.commit()
        console.print(f"account {row.username} disabled; its sessions ended", highlight=False)


@app.command("enable")
def user_enable(username: str = typer.Argument(..., help="The account")) -> None:
    """Enable a disabled or locked account again."""
    from shared import accounts

    with _database() as s:
        row = accounts.enable_user(s, username=username)
        s.commit()
        console.print(f"account {row.username} enabled", highlight=False)


@app.command("list")
def user_list() -> None:
    """List accounts: role, agency, how they sign in, state."""
    from datetime import UTC, datetime

    from shared import accounts

    table = Table("username", "name", "role", "agency", "sign-in", "state", "last sign-in")
    now = datetime.now(UTC)
    with _database() as s:
        for u in accounts.list_users(s):
            how = "+".join(
                k for k, v in (("password", u.password_hash), ("sso", u.sso_subject)) if v
            )
            if u.disabled_at is not None:
                state = "disabled"
            elif u.locked_until is not None and u.locked_until > now:
                state = f"locked until {u.locked_until:%H:%M}"
            else:
                state = "active"
            table.add_row(
                u.username,
                u.full_name,
                u.role,
                u.agency_code or "",
                how or "none",
                state,
                str(u.last_sign_in_at or "")[:16],
            )
    Console().print(table)
