"""Auth, readiness and migrations on the real PostGIS."""

from typing import Any

import pytest
from fastapi import Depends
from fastapi.testclient import TestClient
from sqlalchemy import text

from services.assets.settings import AssetsSettings
from shared.app import build_app
from shared.auth import Principal, lookup, require, revoke_token
from shared.core.models import ApiToken
from shared.db import get_session
from tests.conftest import TEST_DB


@pytest.fixture()
def client(engine: Any, db_session: Any) -> TestClient:
    app = build_app(
        AssetsSettings(database_url=TEST_DB, log_json=False, celery_eager=True),
        title="t",
        description="t",
    )

    @app.get("/seg-only")
    def seg_only(p: Principal = Depends(require("seg"))) -> dict[str, str]:
        return {"who": p.name, "role": p.role}

    app.state.engine = engine
    app.dependency_overrides[get_session] = lambda: db_session
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def test_no_token_401(client: TestClient) -> None:
    r = client.get("/seg-only")
    assert r.status_code == 401
    assert r.headers["www-authenticate"].startswith("Bearer")
    assert r.headers["content-type"] == "application/problem+json"


def test_wrong_role_403_right_role_and_admin_200(client: TestClient, tokens: dict) -> None:
    assert client.get("/seg-only", headers=tokens["crew"]).status_code == 403
    assert client.get("/seg-only", headers=tokens["operator"]).status_code == 403
    r = client.get("/seg-only", headers=tokens["seg"])
    assert r.status_code == 200 and r.json()["role"] == "seg"
    assert client.get("/seg-only", headers=tokens["admin"]).status_code == 200


def test_revoked_and_malformed_tokens_401(
    client: TestClient, tokens: dict, db_session: Any
) -> None:
    clear = tokens["seg"]["Authorization"].split()[1]
    p = lookup(db_session, clear)
    assert p is not None
    revoke_token(db_session, token_id=p.token_id)
    db_session.flush()
    assert client.get("/seg-only", headers=tokens["seg"]).status_code == 401
    assert client.get("/seg-only", headers={"Authorization": "Bearer nonsense"}).status_code == 401
    assert client.get("/seg-only", headers={"Authorization": "Basic abc"}).status_code == 401
    assert (
        client.get("/seg-only", headers={"Authorization": "Bearer " + clear[:-1]}).status_code
        == 401
    )


def test_tokens_stored_hashed(tokens: dict, db_session: Any) -> None:
    clear = tokens["admin"]["Authorization"].split()[1]
    rows = db_session.query(ApiToken).all()
    assert rows and all(clear != r.token_hash and clear not in r.token_hash for r in rows)
    assert all(len(r.token_hash) == 64 for r in rows)


def test_healthz_and_readyz(client: TestClient) -> None:
    assert client.get("/healthz").json()["status"] == "ok"
    r = client.get("/readyz")
    assert r.status_code == 200, r.text
    assert r.json()["checks"]["database"]["ok"] is True


def test_readyz_fails_clearly_when_database_unreachable() -> None:
    settings = AssetsSettings(
        database_url="postgresql+psycopg2://csp:csp@127.0.0.1:1/none",
        log_json=False,
        celery_eager=True,
        db_connect_timeout_s=1,
    )
    app = build_app(settings, title="t", description="t")
    with TestClient(app) as c:
        r = c.get("/readyz")
    assert r.status_code == 503
    assert r.headers["content-type"] == "application/problem+json"
    assert "database unreachable" in r.json()["detail"]


def test_readyz_fails_when_broker_unreachable(engine: Any) -> None:
    settings = AssetsSettings(
        database_url=TEST_DB, redis_url="redis://127.0.0.1:1/0", log_json=False, celery_eager=False
    )
    app = build_app(settings, title="t", description="t")
    app.state.engine = engine
    with TestClient(app) as c:
        r = c.get("/readyz")
    assert r.status_code == 503 and "broker unreachable" in r.json()["detail"]


def test_security_headers_and_request_id(client: TestClient) -> None:
    r = client.get("/healthz", headers={"X-Request-ID": "abc-1"})
    assert r.headers["x-request-id"] == "abc-1"
    assert r.headers["x-content-type-options"] == "nosniff"


def test_migrations_match_models(engine: Any) -> None:
    """What `alembic upgrade head` built equals what the models declare (no drift)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    import csp.models  # noqa: F401  registers every service's models
    from shared.db import Base

    with engine.connect() as conn:
        ctx = MigrationContext.configure(
            conn,
            opts={
                "include_schemas": True,
                "include_name": _include_name,
                "include_object": _include_object,
                "compare_type": False,
            },
        )
        diff = compare_metadata(ctx, Base.metadata)
    assert diff == [], diff


def _include_name(name: str | None, type_: str, parent: object) -> bool:
    if type_ == "schema":
        return name in {"core", "incidents", "assets", "hotspots", "predictive"}
    return True


def _include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    from geoalchemy2 import alembic_helpers

    if type_ == "table" and name == "alembic_version":
        return False
    return bool(alembic_helpers.include_object(obj, name, type_, reflected, compare_to))


def test_postgis_present(engine: Any) -> None:
    with engine.connect() as conn:
        assert conn.execute(text("SELECT postgis_lib_version()")).scalar()


def test_pages_carry_a_content_security_policy(make_client: Any) -> None:
    """HTML pages get a CSP that forbids foreign scripts and framing, /docs included (its
    Swagger UI is the suite's own copy, no longer a CDN's)."""
    client = make_client("assets")
    page = client.get("/map")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self' 'unsafe-inline';" in csp and "frame-ancestors 'self'" in csp
    assert "object-src 'none'" in csp
    docs = client.get("/docs")
    assert docs.status_code == 200 and docs.headers["content-security-policy"] == csp
    assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in docs.text
    assert "cdn" not in docs.text.lower()
    assert "content-security-policy" not in client.get("/healthz").headers


def test_upload_limit_holds_with_and_without_content_length(
    make_client: Any, tokens: dict[str, dict[str, str]]
) -> None:
    """A body over the limit is refused with 413 problem+json, announced or streamed (chunked)."""
    client = make_client("assets", max_upload_bytes=2000)
    body = b"camera_id,location\r\n" + b"X-1,somewhere\r\n" * 300
    files = {"file": ("c.csv", body, "text/csv")}
    r = client.post("/cameras/import", headers=tokens["admin"], files=files)
    assert r.status_code == 413, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert "2000 bytes" in r.json()["detail"]

    boundary = "b0undary"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="c.csv"\r\n'
        "Content-Type: text/csv\r\n\r\n".encode(),
        *([b"X-1,somewhere\r\n" * 50] * 10),
        f"\r\n--{boundary}--\r\n".encode(),
    ]
    streamed = client.post(
        "/cameras/import",
        headers={**tokens["admin"], "Content-Type": f"multipart/form-data; boundary={boundary}"},
        content=iter(parts),
    )
    assert "content-length" not in {k.lower() for k in streamed.request.headers}
    assert streamed.status_code == 413, streamed.text
    assert streamed.json()["status"] == 413
    small = client.post(
        "/cameras/import",
        headers=tokens["admin"],
        files={"file": ("c.csv", b"camera_id,location\r\n", "text/csv")},
    )
    assert small.status_code != 413
