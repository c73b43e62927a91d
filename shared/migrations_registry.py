"""Import every ORM model module so one metadata describes the whole database."""

from __future__ import annotations

import importlib
import importlib.util

import shared.core.models  # noqa: F401
import shared.incidents.models  # noqa: F401

SERVICE_MODELS = (
    "services.assets.models",
    "services.hotspots.models",
    "services.predictive.models",
)

for _mod in SERVICE_MODELS:
    if importlib.util.find_spec(_mod) is not None:
        importlib.import_module(_mod)
