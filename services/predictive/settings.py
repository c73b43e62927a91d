"""The predictive service's settings: where it listens and its own options (prefix ``PREDICTIVE_``).

Common settings (database, broker, limits, environment) come from ``shared.settings`` under
their ``CSP_`` names. Only the app factory, the worker and the command line build this.
"""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class PredictiveSettings(ServiceSettings):
    """Predictive service settings (prefix ``PREDICTIVE_``)."""

    model_config = SettingsConfigDict(
        env_prefix="PREDICTIVE_", env_file=".env", extra="ignore", populate_by_name=True
    )
    port: int = 8003
    service_name: str = "predictive"
