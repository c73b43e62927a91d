"""Settings from the environment: ``CSP_*`` (and DATABASE_URL/REDIS_URL) common to every process,
plus one prefix per service (``ASSETS_``, ``HOTSPOTS_``, ``PREDICTIVE_``) for where it listens.

A common setting is read under its ``CSP_`` name by every service (the service prefixes used to
hide them: a service never saw ``CSP_ENVIRONMENT=production``). The environment must be set
explicitly to ``development`` or ``test`` for placeholder secrets to be allowed; unset is
production.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDER_SECRETS = frozenset(
    {"", "change-me", "changeme", "secret", "dev-secret", "please-change"}
)

DEV_DB_PASSWORD = "csp"  # noqa: S105 - the local stack's, refused in production
DEFAULT_DB = "postgresql+psycopg2://csp:csp@127.0.0.1:5433/csp"
DEFAULT_REDIS = "redis://127.0.0.1:6380/0"


class CommonSettings(BaseSettings):
    """Settings every process reads, from ``CSP_<NAME>`` (DATABASE_URL and REDIS_URL bare)."""

    model_config = SettingsConfigDict(
        env_prefix="CSP_", env_file=".env", extra="ignore", populate_by_name=True
    )

    environment: Literal["development", "test", "production"] = Field(
        "production", validation_alias="CSP_ENVIRONMENT"
    )
    database_url: str = Field(
        DEFAULT_DB, validation_alias=AliasChoices("DATABASE_URL", "CSP_DATABASE_URL")
    )
    redis_url: str = Field(
        DEFAULT_REDIS, validation_alias=AliasChoices("REDIS_URL", "CSP_REDIS_URL")
    )
    celery_eager: bool = Field(False, validation_alias="CSP_CELERY_EAGER")
    log_level: str = Field("INFO", validation_alias="CSP_LOG_LEVEL")
    log_json: bool = Field(True, validation_alias="CSP_LOG_JSON")
    output_dir: Path = Field(Path(".run/outputs"), validation_alias="CSP_OUTPUT_DIR")
    max_upload_bytes: int = Field(50 * 1024 * 1024, validation_alias="CSP_MAX_UPLOAD_BYTES")
    db_connect_timeout_s: int = Field(3, validation_alias="CSP_DB_CONNECT_TIMEOUT_S")
    # How long a task a worker took but never acknowledged (the worker died) stays invisible
    # before Redis hands it to another worker. Longer than the longest task, or a slow task runs
    # twice (tasks are idempotent, but it is wasted work).
    broker_visibility_timeout_s: int = Field(
        3600, ge=1, validation_alias="CSP_BROKER_VISIBILITY_TIMEOUT_S"
    )
    # Every grid, surface and list a client can ask for is checked against this before any
    # array is allocated (4M float64 cells = 32 MB an array; a service stays well under 2 GB).
    max_grid_cells: int = Field(4_000_000, ge=1, validation_alias="CSP_MAX_GRID_CELLS")
    # Largest river bank or coastline (vertices) a water-safety site may have.
    max_site_vertices: int = Field(50_000, ge=2, validation_alias="CSP_MAX_SITE_VERTICES")
    # Incidents and areas must lie within the partnership's outline plus this margin.
    extent_margin_m: float = Field(15_000.0, ge=0, validation_alias="CSP_EXTENT_MARGIN_M")

    # People's sessions (shared.web.sessions): idle timeout and absolute lifetime.
    session_idle_minutes: int = Field(60, ge=1, validation_alias="CSP_SESSION_IDLE_MINUTES")
    session_max_hours: int = Field(12, ge=1, validation_alias="CSP_SESSION_MAX_HOURS")
    # Password sign-in (shared.accounts): after `slow_after` failures each further attempt waits
    # `slow_seconds` more; at `max_failures` the account locks for `lock_minutes`.
    sign_in_slow_after: int = Field(3, ge=1, validation_alias="CSP_SIGN_IN_SLOW_AFTER")
    sign_in_slow_seconds: int = Field(5, ge=0, validation_alias="CSP_SIGN_IN_SLOW_SECONDS")
    sign_in_max_failures: int = Field(6, ge=1, validation_alias="CSP_SIGN_IN_MAX_FAILURES")
    sign_in_lock_minutes: int = Field(15, ge=1, validation_alias="CSP_SIGN_IN_LOCK_MINUTES")
    # Where people reach each service (the page header links them); one host or one proxy, so
    # the session cookie reaches all three.
    assets_url: str = Field("http://127.0.0.1:8001", validation_alias="CSP_ASSETS_URL")
    hotspots_url: str = Field("http://127.0.0.1:8002", validation_alias="CSP_HOTSPOTS_URL")
    predictive_url: str = Field("http://127.0.0.1:8003", validation_alias="CSP_PREDICTIVE_URL")
    # Map tiles: an XYZ URL template; empty turns tiles off (maps keep the suite's boundaries).
    tile_url: str = Field(
        "https://tile.openstreetmap.org/{z}/{x}/{y}.png", validation_alias="CSP_TILE_URL"
    )
    tile_attribution: str = Field(
        "&copy; OpenStreetMap contributors", validation_alias="CSP_TILE_ATTRIBUTION"
    )
    # Web origins allowed to read the API from a browser (CORS), e.g.
    # CSP_CORS_ORIGINS='["https://maps.partner.example"]'; empty: no cross-origin reads. Tokens
    # go in headers; cookies are never sent cross-origin (no credentials).
    cors_origins: list[str] = Field(default_factory=list, validation_alias="CSP_CORS_ORIGINS")
    # Single sign-on (OpenID Connect, authorization code with PKCE); off while issuer is empty.
    oidc_issuer: str = Field("", validation_alias="CSP_OIDC_ISSUER")
    oidc_client_id: str = Field("", validation_alias="CSP_OIDC_CLIENT_ID")
    oidc_client_secret: str = Field("", validation_alias="CSP_OIDC_CLIENT_SECRET")
    # The claim naming the person's groups, and each group's "role" or "role:agency".
    oidc_role_claim: str = Field("groups", validation_alias="CSP_OIDC_ROLE_CLAIM")
    oidc_role_map: dict[str, str] = Field(
        default_factory=dict, validation_alias="CSP_OIDC_ROLE_MAP"
    )
    oidc_scope: str = Field("openid profile email", validation_alias="CSP_OIDC_SCOPE")
    oidc_button_label: str = Field(
        "Sign in with the partnership account", validation_alias="CSP_OIDC_BUTTON_LABEL"
    )

    @model_validator(mode="after")
    def _refuse_placeholders(self) -> CommonSettings:
        """Refuse placeholder secrets anywhere but development and test."""
        if self.environment == "production":
            password = urlsplit(self.database_url).password or ""
            if password == DEV_DB_PASSWORD:
                raise ValueError("DATABASE_URL uses the development password; set a real one")
            if password.strip().lower() in PLACEHOLDER_SECRETS:
                raise ValueError("DATABASE_URL's password is a placeholder; set a real one")
            if self.oidc_issuer and not self.oidc_issuer.startswith("https://"):
                raise ValueError("CSP_OIDC_ISSUER must be an https:// URL in production")
            if self.celery_eager:
                raise ValueError(
                    "CSP_CELERY_EAGER is only for the demo; use a broker in production"
                )
        return self


class ServiceSettings(CommonSettings):
    """Settings of one HTTP service: where it listens."""

    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str | None = None
    service_name: str = "service"

    def base_url(self) -> str:
        """URL people use to reach the service."""
        return self.public_url or f"http://{self.host}:{self.port}"


@lru_cache(maxsize=1)
def common_settings() -> CommonSettings:
    """The process-wide common settings (cached; tests build their own instances)."""
    return CommonSettings()
