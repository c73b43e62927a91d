"""The one Celery app: Redis broker, JSON, acks-late tasks; ``csp.worker`` adds the task modules."""

from __future__ import annotations

from celery import Celery

from shared.db_errors import DATABASE_DOWN
from shared.settings import common_settings

# Worth retrying a task for: the broker or PostGIS could not be reached for a moment (a restart).
TRANSIENT_ERRORS: tuple[type[Exception], ...] = (ConnectionError, *DATABASE_DOWN)


def make_celery() -> Celery:
    """Configure Celery from the environment; eager mode runs tasks in-process (demo only)."""
    s = common_settings()
    app = Celery("csp", broker=s.redis_url, backend=s.redis_url, include=[])
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_time_limit=30 * 60,
        task_soft_time_limit=25 * 60,
        task_track_started=True,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        result_expires=7 * 24 * 3600,
        broker_connection_retry_on_startup=True,
        broker_transport_options={"visibility_timeout": s.broker_visibility_timeout_s},
        # Tasks record their outcome in PostGIS (ids in, ids out); nobody reads Celery results.
        # Ignoring them also keeps .delay() from subscribing to the result store, which retried
        # for 20 s while Redis was down before the API could answer 503.
        task_ignore_result=True,
        task_always_eager=s.celery_eager,
        task_eager_propagates=True,
        timezone="Europe/London",
    )
    return app


celery_app = make_celery()
