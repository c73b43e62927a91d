"""The Celery worker and beat: the shared app with every service's task modules and schedule."""

from __future__ import annotations

from datetime import timedelta

from celery.schedules import crontab

import services.assets.decisions.tasks
import services.assets.health.tasks
import services.hotspots.tasks
import services.predictive.tasks
from services.assets.settings import AssetsSettings
from shared.celery_app import celery_app

TASK_MODULES = (
    services.hotspots.tasks,
    services.predictive.tasks,
    services.assets.health.tasks,
    services.assets.decisions.tasks,
)

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
    # SEG decisions that take effect on a later day (replacements, relocations); idempotent.
    "assets-scheduled-changes": {
        "task": "assets.apply_scheduled_changes",
        "schedule": crontab(minute=15),
    },
    # Camera health (#16): a round of checks every N minutes; expired snapshots hourly.
    "assets-health-round": {
        "task": "assets.health_round",
        "schedule": timedelta(minutes=AssetsSettings().health_check_interval_min),
    },
    "assets-health-snapshots-expiry": {
        "task": "assets.health_delete_expired_snapshots",
        "schedule": crontab(minute=17),
    },
}

__all__ = ["TASK_MODULES", "celery_app"]
