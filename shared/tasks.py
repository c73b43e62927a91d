"""The one way to declare a Celery task: named, time-limited, acks late, its own session, retried.

``@background_task("<service>.<job>")`` registers ``fn(session, *args, **kwargs)``: the
task opens a session on a one-connection engine for the run (``shared.db.task_session``), calls
``fn`` with it, and closes it. Transient failures (broker or PostGIS unreachable for a moment)
are retried with jittered exponential back-off, so only idempotent work belongs here (tasks take
ids and record their outcome in PostGIS). A function that declares ``task_id`` gets the Celery
task id (kept across retries and redeliveries). Tests call the task directly or ``.apply()``.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from celery import Task

from shared.celery_app import TRANSIENT_ERRORS, celery_app
from shared.db import task_session
from shared.settings import common_settings

R = TypeVar("R")


def background_task(
    name: str,
    *,
    time_limit_s: int = 30 * 60,
    soft_time_limit_s: int | None = None,
    max_retries: int = 5,
    retry_backoff_s: int = 2,
    **options: Any,
) -> Callable[[Callable[..., R]], Task]:
    """Register ``fn(session, *args, **kwargs)`` as the Celery task ``name``."""

    def wrap(fn: Callable[..., R]) -> Task:
        wants_id = "task_id" in inspect.signature(fn).parameters

        @functools.wraps(fn)
        def run(self: Task, *args: Any, **kwargs: Any) -> R:
            if wants_id:
                kwargs["task_id"] = getattr(self.request, "id", None)
            with task_session(common_settings().database_url) as session:
                return fn(session, *args, **kwargs)

        # The signature Celery checks calls against: the function's, with the bound task in
        # place of the session and without task_id (the decorator supplies both).
        params = list(inspect.signature(fn).parameters.values())[1:]
        this = inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)
        run.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
            [this, *(p for p in params if p.name != "task_id")]
        )
        task: Task = celery_app.task(
            name=name,
            bind=True,
            acks_late=True,
            time_limit=time_limit_s,
            soft_time_limit=soft_time_limit_s or int(time_limit_s * 0.9),
            autoretry_for=TRANSIENT_ERRORS,
            retry_backoff=retry_backoff_s,
            retry_backoff_max=60,
            retry_jitter=True,
            max_retries=max_retries,
            **options,
        )(run)
        return task

    return wrap
