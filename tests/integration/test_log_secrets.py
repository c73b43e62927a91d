"""No token, cookie or password reaches the logs, whatever the request does with it."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from shared.logs import JsonFormatter
from tests.conftest import TEST_DB


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.setFormatter(JsonFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture()
def captured() -> Any:
    """Every log line written after ``install()``, rendered as the services render it.

    Installed after the apps are built: building one resets the root logger's handlers.
    """
    handler = _Capture()
    root = logging.getLogger()
    old_level = root.level

    def install() -> _Capture:
        root.addHandler(handler)
        root.setLevel(logging.DEBUG)
        return handler

    yield install
    root.removeHandler(handler)
    root.setLevel(old_level)


def test_tokens_and_passwords_stay_out_of_logs(
    make_client: Any, tokens: dict[str, dict[str, str]], captured: Any, db_session: Any
) -> None:
    from shared import accounts

    person_password = "Pa55word-kept-out-of-logs"
    accounts.create_user(db_session, username="log.seg", role="seg", password=person_password)
    db_session.flush()
    secrets = {role: h["Authorization"].split(" ", 1)[1] for role, h in tokens.items()}
    wrong = "csp_" + "x" * 40
    assets = make_client("assets")
    predictive = make_client("predictive")
    hotspots = make_client("hotspots")
    log = captured()
    # Good, wrong and forbidden tokens, in headers, cookies and sign-in forms.
    assert assets.get("/cameras", headers=tokens["operator"]).status_code == 200
    assert assets.get("/cameras", headers={"Authorization": f"Bearer {wrong}"}).status_code == 401
    assert hotspots.get("/surfaces", headers=tokens["crew"]).status_code < 500
    assert predictive.get("/targets?agency=kfrs", headers=tokens["crew"]).status_code < 500
    form = {"username": "log.seg", "password": person_password, "next": "/map"}
    r = assets.post("/sign-in", data=form, follow_redirects=False)
    assert r.status_code == 303
    session_cookie = r.cookies.get("csp_session")
    assert session_cookie and assets.get("/map").status_code == 200
    predictive.post("/sign-in", data={**form, "password": "wrong " + person_password})
    predictive.post("/sign-in", data={"username": secrets["crew"], "password": secrets["admin"]})
    secrets = {**secrets, "password": person_password, "session": session_cookie}
    # A token pasted where an id belongs, and into a JSON body that fails validation.
    assets.get(f"/cameras/{secrets['admin']}", headers=tokens["admin"])
    assets.post("/cameras", headers=tokens["admin"], json={"camera_id": secrets["analyst"]})
    assets.get("/cameras", headers={"Authorization": secrets["operator"]})  # no "Bearer"
    assert log.lines, "the request log wrote nothing; the test would prove nothing"
    text = "\n".join(log.lines)
    leaked = [role for role, clear in {**secrets, "wrong": wrong}.items() if clear in text]
    assert not leaked, f"tokens in logs for: {leaked}"
    password = TEST_DB.split("://", 1)[1].split("@", 1)[0].split(":", 1)[1]
    assert f":{password}@" not in text


def test_scrub_masks_tokens_and_url_passwords_only() -> None:
    from shared.auth import TOKEN_PREFIX
    from shared.logs import scrub

    token = TOKEN_PREFIX + "A1b2_C3d4-E5f6G7h8I9j0"
    line = (
        f"GET /x/{token} postgresql://csp:s3cr#t@db:5432/csp redis://:pw@r:6379/0 http://h:80/a@b"
    )
    out = scrub(line)
    assert token not in out and "s3cr#t" not in out and ":pw@" not in out
    assert "postgresql://csp:***@db:5432/csp" in out and "http://h:80/a@b" in out
    assert scrub("csp_short camera csp_cam_001") == "csp_short camera csp_cam_001"
