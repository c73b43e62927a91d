"""Liveness (/healthz) and readiness (/readyz: database and broker reachable) endpoints."""

from __future__ import annotations

from typing import Any

import redis
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from shared.db import database_ready
from shared.web.deps import AppSettings
from shared.web.problems import problem

router = APIRouter(tags=["health"])


def broker_ready(url: str) -> tuple[bool, str]:
    """Ping Redis with a one-second timeout; return (ok, detail)."""
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
        client.ping()
        client.close()
        return True, "redis ok"
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        return False, type(exc).__name__


@router.get("/healthz", summary="Liveness: the process answers")
def healthz(settings: AppSettings) -> dict[str, str]:
    """Always 200 while the process runs."""
    return {"status": "ok", "service": settings.service_name}


@router.get(
    "/readyz",
    summary="Readiness: database and broker reachable",
    responses={
        503: {"description": "A dependency is down", "content": {"application/problem+json": {}}}
    },
)
async def readyz(request: Request, settings: AppSettings) -> Any:
    """200 when PostGIS and Redis answer, else 503 naming what is down."""
    db_ok, db_detail = await run_in_threadpool(database_ready, request.app.state.engine)
    if settings.celery_eager:
        br_ok, br_detail = True, "eager mode: no broker used"
    else:
        br_ok, br_detail = await run_in_threadpool(broker_ready, settings.redis_url)
    checks = {
        "database": {"ok": db_ok, "detail": db_detail},
        "broker": {"ok": br_ok, "detail": br_detail},
    }
    if db_ok and br_ok:
        return JSONResponse({"status": "ready", "checks": checks})
    down = [k for k, v in checks.items() if not v["ok"]]
    return problem(
        503,
        "Service unavailable",
        "Not ready: " + ", ".join(f"{k} unreachable ({checks[k]['detail']})" for k in down),
        slug="not-ready",
        instance="/readyz",
        extra={"checks": checks},
    )
