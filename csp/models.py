"""Every ORM model module, imported so one metadata describes the whole database (Alembic)."""

from __future__ import annotations

import services.assets.cameras.schedule
import services.assets.health.models
import services.assets.models
import services.hotspots.models
import services.predictive.models
import shared.boundaries.models
import shared.core.models
import shared.incidents.models
from shared.db import Base

MODEL_MODULES = (
    shared.core.models,
    shared.boundaries.models,
    shared.incidents.models,
    services.assets.models,
    services.assets.cameras.schedule,
    services.assets.health.models,
    services.hotspots.models,
    services.predictive.models,
)
metadata = Base.metadata
