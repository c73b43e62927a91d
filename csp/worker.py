"""The Celery worker and beat: the shared app with every service's task modules and schedule."""

from __future__ import annotations

from celery.schedules import crontab

import services.hotspots.tasks
import services.predictive.tasks
from shared.celery_app import celery_app

TASK_MODULES = (services.hotspots.tasks, services.predictive.tasks)

celery_app.conf.beat_schedule = {
    # Just after midnight: police shifts start at 00:00 and need today's list.
    "predictive-nightly": {
        "task": "predictive.nightly_refit",
        "schedule": crontab(hour=0, minute=5),
    },
    "hotspots-stale-runs": {
        "task": "hotspots.fail_stale_runs",
        "schedule": crontab(minute="*/10"),
    },
}

__all__ = ["TASK_MODULES", "celery_app"]
