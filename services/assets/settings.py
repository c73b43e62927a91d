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
    # Camera health checks (issue #16; services.assets.health). The Fernet key that encrypts
    # stream credentials at rest ("" = credentials cannot be stored; make one with
    # services.assets.health.credentials.new_key()).
    health_credentials_key: str = ""
    health_check_interval_min: int = 5
    health_check_bound_s: float = 10.0
    health_batch_size: int = 25
    health_concurrency: int = 16
    health_sample_frames: int = 6
    health_fixed_after_passes: int = 3
    # A lost connection opens a fault at its second failure in a row (a network blip does not);
    # a bad picture at its first.
    health_connection_failures_to_open: int = 2
    health_snapshot_retention_days: int = 31
    # Each check is kept this long; its day roll-up (monthly availability) is kept for good.
    health_check_retention_days: int = 92
    health_uniform_std_max: float = 6.0
    health_frozen_change_max: float = 0.4
    health_obscured_ratio: float = 0.4
    health_moved_min_inliers: int = 15
    health_moved_max_shift_share: float = 0.06
    # Open311 GeoReport v2 (services.assets.open311): the one jurisdiction these endpoints
    # serve; a request naming another jurisdiction_id is refused (404, as the spec says).
    open311_jurisdiction: str = "cctv.medway.gov.uk"
