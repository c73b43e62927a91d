"""shared.tasks.background_task: a named task with its own session, retry policy and task id."""

from __future__ import annotations

from typing import Annotated, Any

import pytest
from fastapi import Depends

from shared.web.params import MAX_OFFSET, Page, paging


def test_background_task_opens_a_session_and_passes_the_task_id(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import shared.tasks as st

    opened: list[str] = []

    class FakeCtx:
        def __init__(self, url: str) -> None:
            opened.append(url)

        def __enter__(self) -> str:
            return "SESSION"

        def __exit__(self, *exc: Any) -> None:
            opened.append("closed")

    monkeypatch.setattr(st, "task_session", FakeCtx)

    @st.background_task("tests.echo", time_limit_s=60)
    def echo(session: Any, x: int, *, y: int = 0, task_id: str | None = None) -> tuple[Any, ...]:
        return session, x, y, task_id

    assert echo.name == "tests.echo"
    assert echo.acks_late and echo.time_limit == 60 and echo.soft_time_limit == 54
    assert echo.autoretry_for and echo.max_retries == 5
    out = echo.apply(args=(3,), kwargs={"y": 4}, task_id="abc").get()
    assert tuple(out) == ("SESSION", 3, 4, "abc")
    assert opened[-1] == "closed" and len(opened) == 2
    with pytest.raises(TypeError):
        echo.apply(args=(1, 2, 3), throw=True).get()  # Celery checks the arguments


PageDep = Annotated[Page, Depends(paging(default=7, maximum=50))]


def test_paging_dependency_bounds_limit_and_offset() -> None:
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    app = FastAPI()

    @app.get("/x")
    def x(p: PageDep) -> dict[str, int]:
        return {"limit": p.limit, "offset": p.offset}

    c = TestClient(app)
    assert c.get("/x").json() == {"limit": 7, "offset": 0}
    assert c.get("/x", params={"limit": 51}).status_code == 422
    assert c.get("/x", params={"offset": MAX_OFFSET + 1}).status_code == 422
    assert c.get("/openapi.json").status_code == 200
