"""The assets service's settings: where it listens and its own options (prefix ``ASSETS_``).

Common settings (database, broker, limits, environment) come from ``shared.settings`` under
their ``CSP_`` names. Only the app factory, the worker and the command line build this.
"""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class AssetsSettings(ServiceSettings):
    """Assets service settings (prefix ``ASSETS_``)."""

    model_config = SettingsConfigDict(
        env_prefix="ASSETS_", env_file=".env", extra="ignore", populate_by_name=True
    )
    port: int = 8001
    service_name: str = "assets"
    review_interval_days: int = 365
    recommend_window_days: int = 365
    recommend_min_incidents: int = 3
    recommend_min_footage_requests: int = 1
    recommend_max_downtime_share: float = 0.25
    recommend_max_faults: int = 4
    recommend_overlap_share: float = 0.5
