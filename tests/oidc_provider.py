"""A real OpenID provider for the SSO tests: ``node tests/node/provider.mjs`` on a loopback port.

``running_provider(clients=..., accounts=...)`` starts it (the certified ``oidc-provider``
package from ``tests/node/node_modules``), waits until its discovery document answers, yields
the issuer URL and stops it. Nothing here is a mock: the suite talks to it over HTTP.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from tests.support import free_port

NODE_DIR = Path(__file__).resolve().parent / "node"
SCRIPT = NODE_DIR / "provider.mjs"
NODE = os.environ.get("NODE", shutil.which("node") or "/usr/bin/node")
# Every test account's password at the provider (not the suite's: SSO accounts have none).
IDP_PASSWORD = "idp-test-password"  # noqa: S105 - a test provider's


def client(
    client_id: str, secret: str, redirect_uris: list[str], *, auth: str = "client_secret_basic"
) -> dict[str, Any]:
    """One client registration at the provider (authorization code only)."""
    return {
        "client_id": client_id,
        "client_secret": secret,
        "redirect_uris": redirect_uris,
        "token_endpoint_auth_method": auth,
        "grant_types": ["authorization_code"],
        "response_types": ["code"],
    }


def account(
    login: str,
    *,
    name: str | None = None,
    groups: list[str] | None = None,
    email: str | None = None,
    preferred_username: str | None = None,
    **claims: Any,
) -> tuple[str, dict[str, Any]]:
    """A test account at the provider: its login (the subject) and its password and claims."""
    body: dict[str, Any] = {"groups": groups or [], **claims}
    if name is not None:
        body["name"] = name
    if email is not None:
        body["email"] = email
    if preferred_username is not None:
        body["preferred_username"] = preferred_username
    return login, {"password": IDP_PASSWORD, "claims": body}


def _wait_for_discovery(issuer: str, proc: subprocess.Popen[bytes], timeout_s: float) -> None:
    """Return once the discovery document names ``issuer``; fail if node exits or is slow."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the test provider exited with {proc.returncode}")
        with contextlib.suppress(httpx.HTTPError, ValueError):
            r = httpx.get(f"{issuer}/.well-known/openid-configuration", timeout=1.0)
            if r.status_code == 200 and r.json().get("issuer") == issuer:
                return
        time.sleep(0.05)
    raise RuntimeError(f"the test provider did not answer within {timeout_s} s")


@contextlib.contextmanager
def running_provider(
    *,
    clients: list[dict[str, Any]],
    accounts: dict[str, dict[str, Any]],
    claims_in_id_token: bool = False,
    basic_refused_for: tuple[str, ...] = (),
    port: int | None = None,
) -> Iterator[str]:
    """Run the provider until the block ends; yields its issuer URL (http://127.0.0.1:port)."""
    if not (NODE_DIR / "node_modules" / "oidc-provider").is_dir():
        raise RuntimeError(
            "tests/node/node_modules is missing: bash deploy/scripts/stack.sh test-env"
        )
    port = port or free_port()
    issuer = f"http://127.0.0.1:{port}"
    config = {
        "port": port,
        "clients": clients,
        "accounts": accounts,
        "claims_in_id_token": claims_in_id_token,
        "basic_refused_for": list(basic_refused_for),
    }
    env = {**os.environ, "OIDC_TEST_CONFIG": json.dumps(config), "NODE_ENV": "test"}
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(  # noqa: S603 - our own script, fixed arguments
            [NODE, str(SCRIPT)], cwd=NODE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            try:
                _wait_for_discovery(issuer, proc, 20.0)
            except RuntimeError as exc:
                log.seek(0)
                raise RuntimeError(f"{exc}: {log.read()[-2000:].decode(errors='replace')}") from exc
            yield issuer
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
