"""Fixtures for the predictive service: Medway boundaries and synthetic incidents in PostGIS."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest

from tests import factories
from tests.factories import LIST_DAY, load_medway, store_incidents, synthetic_incidents, today


@pytest.fixture()
def medway(db_session: Any) -> Any:
    """The real Medway wards and outline loaded, and both agencies created."""
    return load_medway(db_session)


@pytest.fixture()
def incidents(medway: Any) -> dict[str, list[Any]]:
    """Fire-service incidents with exact times and police crimes with month-only times."""
    fire = synthetic_incidents(
        source="fire",
        categories=["deliberate_fire", "Criminal damage and arson"],
        month_only=False,
        seed=3,
    )
    police = synthetic_incidents(
        source="police",
        categories=["Burglary", "Vehicle crime"],
        month_only=True,
        n_days=270,
        seed=5,
    )
    store_incidents(medway, fire, source="fire")
    store_incidents(medway, police, source="police")
    return {"fire": fire, "police": police}


@pytest.fixture()
def make_list(db_session: Any) -> Callable[..., Any]:
    """``factories.make_list`` on the test's session: ``make_list("kfrs", day, force=...)``."""

    def make(agency: str, day: date = LIST_DAY, force: bool = False) -> Any:
        return factories.make_list(db_session, agency, day, force=force)

    return make


@pytest.fixture()
def today_list(medway: Any, make_list: Callable[..., Any]) -> Any:
    """Fire incidents over the 150 days before today, and kfrs's list for today."""
    store_incidents(medway, synthetic_incidents(end=today(), seed=13), source="fire")
    return make_list("kfrs", today())


@pytest.fixture()
def client(make_client: Callable[..., Any], incidents: Any) -> Any:
    """The predictive app on the rolled-back session, with incidents and boundaries."""
    return make_client("predictive")


PASSWORD = "predictive crew password"  # noqa: S105 - a test account's


@pytest.fixture()
def signed_in(make_client: Callable[..., Any], db_session: Any, incidents: Any) -> Any:
    """``signed_in(username, role, agency=None)``: a predictive client with that person's
    session, signed in through ``POST /sign-in`` as a browser on this site would."""
    from shared import accounts

    def sign_in(username: str, role: str, agency: str | None = None) -> Any:
        accounts.create_user(
            db_session,
            username=username,
            role=role,
            agency=agency,
            full_name=username.replace(".", " ").title(),
            password=PASSWORD,
        )
        db_session.flush()
        client = make_client("predictive")
        r = client.post(
            "/sign-in",
            data={"username": username, "password": PASSWORD, "next": "/"},
            headers={"Origin": str(client.base_url)},
            follow_redirects=False,
        )
        assert r.status_code == 303, r.text
        assert client.cookies.get("csp_session")
        return client

    return sign_in
