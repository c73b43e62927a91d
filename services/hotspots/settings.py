"""The hotspots service's settings: where it listens and its own options (prefix ``HOTSPOTS_``).

Common settings (database, broker, limits, environment) come from ``shared.settings`` under
their ``CSP_`` names. Only the app factory, the worker and the command line build this.
"""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class HotspotsSettings(ServiceSettings):
    """Hotspots service settings (prefix ``HOTSPOTS_``)."""

    model_config = SettingsConfigDict(
        env_prefix="HOTSPOTS_", env_file=".env", extra="ignore", populate_by_name=True
    )
    port: int = 8002
    service_name: str = "hotspots"
