"""The three services by name: settings class and application factory of each."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI

from services.assets.settings import AssetsSettings
from services.hotspots.settings import HotspotsSettings
from services.predictive.settings import PredictiveSettings
from shared.settings import ServiceSettings


def _assets(settings: Any = None) -> FastAPI:
    from services.assets.main import create_app

    return create_app(settings)


def _hotspots(settings: Any = None) -> FastAPI:
    from services.hotspots.main import create_app

    return create_app(settings)


def _predictive(settings: Any = None) -> FastAPI:
    from services.predictive.main import create_app

    return create_app(settings)


@dataclass(frozen=True)
class Service:
    """One service: its name, its settings class and its app factory (imported when called)."""

    name: str
    settings: type[ServiceSettings]
    create_app: Callable[..., FastAPI]
    factory_path: str  # for uvicorn's --factory, which imports the app in each worker


SERVICES: dict[str, Service] = {
    "assets": Service("assets", AssetsSettings, _assets, "services.assets.main:create_app"),
    "hotspots": Service(
        "hotspots", HotspotsSettings, _hotspots, "services.hotspots.main:create_app"
    ),
    "predictive": Service(
        "predictive", PredictiveSettings, _predictive, "services.predictive.main:create_app"
    ),
}
