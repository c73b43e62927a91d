from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field

from shared.errors import Conflict
from shared.logs import RequestIdMiddleware
from shared.web.problems import PROBLEM_JSON, install_error_handlers


class Thing(BaseModel):
    name: str = Field(min_length=1)
    count: int


def make_app() -> FastAPI:
    app = FastAPI()
    app.add_middleware(RequestIdMiddleware, service="test")
    install_error_handlers(app)

    @app.post("/things")
    def create(thing: Thing) -> dict[str, Any]:
        return thing.model_dump()

    @app.get("/conflict")
    def conflict() -> None:
        raise Conflict(
            "Camera is decommissioned",
            internal="secret internal detail",
            extra={"allowed": ["active"]},
        )

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("database password is hunter2")

    return app


client = TestClient(make_app(), raise_server_exceptions=False)


def test_validation_error_is_problem_json_naming_fields() -> None:
    r = client.post("/things", json={"name": "", "count": "many"})
    assert r.status_code == 422
    assert r.headers["content-type"] == PROBLEM_JSON
    body = r.json()
    assert body["status"] == 422 and body["type"].endswith("validation-error")
    fields = {e["field"] for e in body["errors"]}
    assert fields == {"name", "count"}
    assert "name" in body["detail"] and "count" in body["detail"]
    assert body["instance"] == "/things"


def test_app_error_carries_status_and_safe_detail() -> None:
    r = client.get("/conflict")
    assert r.status_code == 409
    body = r.json()
    assert body["detail"] == "Camera is decommissioned"
    assert body["allowed"] == ["active"]
    assert "secret internal" not in r.text


def test_500_leaks_nothing_but_request_id() -> None:
    r = client.get("/boom", headers={"X-Request-ID": "req-123"})
    assert r.status_code == 500
    assert r.headers["content-type"] == PROBLEM_JSON
    assert "hunter2" not in r.text and "RuntimeError" not in r.text
    assert r.json()["request_id"] == "req-123"


def test_unknown_route_is_problem_json() -> None:
    r = client.get("/nope")
    assert r.status_code == 404
    assert r.headers["content-type"] == PROBLEM_JSON
    assert r.json()["detail"] == "No resource at /nope"


def test_method_not_allowed_is_problem_json() -> None:
    r = client.delete("/things")
    assert r.status_code == 405
    assert r.json()["status"] == 405
