import pytest
from pydantic import ValidationError

from services.assets.settings import AssetsSettings
from services.hotspots.settings import HotspotsSettings
from services.predictive.settings import PredictiveSettings
from shared.settings import CommonSettings


@pytest.fixture(autouse=True)
def _no_port_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    """The shell may set the ports (``ASSETS_PORT=9001 make test``): these tests need defaults."""
    for name in ("ASSETS_PORT", "HOTSPOTS_PORT", "PREDICTIVE_PORT"):
        monkeypatch.delenv(name, raising=False)


def test_defaults_ports_and_shared_urls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg2://u:p@db:5432/x")
    monkeypatch.setenv("REDIS_URL", "redis://r:6379/1")
    a, h, p = AssetsSettings(), HotspotsSettings(), PredictiveSettings()
    assert (a.port, h.port, p.port) == (8001, 8002, 8003)
    assert {a.database_url, h.database_url, p.database_url} == {
        "postgresql+psycopg2://u:p@db:5432/x"
    }
    assert a.redis_url == "redis://r:6379/1"


def test_service_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSETS_PORT", "9101")
    monkeypatch.setenv("HOTSPOTS_PORT", "9102")
    assert AssetsSettings().port == 9101
    assert HotspotsSettings().port == 9102
    assert PredictiveSettings().port == 8003


def test_placeholder_secret_refused_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CSP_ENVIRONMENT", "production")
    for weak in ("change-me", "secret", ""):
        monkeypatch.setenv("DATABASE_URL", f"postgresql+psycopg2://csp:{weak}@db/csp")
        with pytest.raises(ValidationError, match="placeholder"):
            CommonSettings()
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg2://csp:a-real-long-secret-0f9a8b@db/csp")
    assert CommonSettings().environment == "production"


def test_development_password_refused_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CSP_ENVIRONMENT", "production")
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg2://csp:csp@db/csp")
    with pytest.raises(ValidationError, match="development password"):
        CommonSettings()


def test_placeholder_allowed_in_development(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CSP_ENVIRONMENT", "development")
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg2://csp:csp@db/csp")
    assert CommonSettings().environment == "development"


def test_services_read_the_common_csp_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """The service prefixes used to hide CSP_*: docker-compose's CSP_ENVIRONMENT=production
    reached no service, so placeholders were allowed there."""
    monkeypatch.setenv("CSP_ENVIRONMENT", "development")
    monkeypatch.setenv("CSP_OUTPUT_DIR", "/srv/out")
    monkeypatch.setenv("CSP_LOG_LEVEL", "DEBUG")
    for cls in (AssetsSettings, HotspotsSettings, PredictiveSettings):
        s = cls()
        assert (s.environment, str(s.output_dir), s.log_level) == (
            "development",
            "/srv/out",
            "DEBUG",
        )
    monkeypatch.setenv("CSP_ENVIRONMENT", "production")
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg2://csp:csp@db/csp")
    with pytest.raises(ValidationError, match="development password"):
        AssetsSettings()


def test_unset_environment_is_production(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CSP_ENVIRONMENT", raising=False)
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg2://csp:csp@db/csp")
    with pytest.raises(ValidationError, match="development password"):
        CommonSettings(_env_file=None)  # not the .env make demo writes
    assert CommonSettings(environment="test").environment == "test"
