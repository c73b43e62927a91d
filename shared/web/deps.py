"""The one way a handler gets its service's settings: a dependency on the app's settings."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from shared.settings import ServiceSettings


def app_settings(request: Request) -> ServiceSettings:
    """The settings the app was built with (``create_app(settings)``; never re-read here)."""
    settings: ServiceSettings = request.app.state.settings
    return settings


AppSettings = Annotated[ServiceSettings, Depends(app_settings)]
