"""Demo accounts, one per role, for `make demo` in development only.

Each load gives every demo account a new random password and writes them to
``.run/demo-accounts.txt`` (readable by the owner only), so no password is in the code or the
README. In test or production nothing is created.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from sqlalchemy.orm import Session

from shared import accounts
from shared.settings import CommonSettings

# (username, role, agency, full name)
PEOPLE = (
    ("demo.operator", "operator", None, "Olu Operator (control room)"),
    ("demo.seg", "seg", None, "Sam Member (SEG)"),
    ("demo.kfrs", "crew", "kfrs", "Kim Crew (KFRS)"),
    ("demo.police", "crew", "police", "Pat Crew (Kent Police)"),
    ("demo.analyst", "analyst", None, "Ash Analyst"),
    ("demo.admin", "admin", None, "Ada Admin"),
)
ACCOUNTS_FILE = Path(os.environ.get("CSP_RUN_DIR", ".run")) / "demo-accounts.txt"


def load_demo(session: Session, *, shared_data: Path) -> str:
    """Create (or reset) the demo accounts in development; returns where their passwords are."""
    if CommonSettings().environment != "development":
        return "no demo accounts outside development"
    lines = ["# Demo accounts (development only); passwords change at every `make demo`."]
    for username, role, agency, name in PEOPLE:
        password = secrets.token_urlsafe(12)
        if accounts.find_user(session, username) is None:
            accounts.create_user(
                session,
                username=username,
                role=role,
                agency=agency,
                full_name=name,
                password=password,
            )
        else:
            accounts.enable_user(session, username=username)
            accounts.set_password(session, username=username, password=password)
        lines.append(f"{username:<15} {password}  {role}{f' ({agency})' if agency else ''}")
    ACCOUNTS_FILE.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(ACCOUNTS_FILE, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write("\n".join(lines) + "\n")
    return f"{len(PEOPLE)} demo accounts; usernames and passwords in {ACCOUNTS_FILE}"
