"""The register's name sets: each StrEnum feeds the Literals, the rule tables and the CHECKs."""

from __future__ import annotations

from typing import get_args

import pytest
from pydantic import BaseModel, ValidationError

from services.assets import fields
from services.assets import lifecycle as lc
from services.assets.enums import (
    CameraHealth,
    CameraLifecycle,
    DecisionKind,
    Deployment,
    FaultCategory,
    FaultStatus,
    FootageOutcome,
    Technology,
    check_in,
    literal_of,
)
from services.assets.faults.georeport import SERVICE_TEXT
from services.assets.models import Camera, CameraDevice, Decision, Fault

# The values as the register has always stored them, written out independently of the enums.
STORED = {
    CameraLifecycle: (
        "proposed",
        "approved",
        "rejected",
        "active",
        "under_review",
        "in_store",
        "decommissioning",
        "decommissioned",
    ),
    CameraHealth: ("online", "degraded", "offline"),
    Technology: ("analogue", "digital"),
    Deployment: ("fixed", "rapid"),
    FaultCategory: (
        "no_picture",
        "intermittent_picture",
        "cabling",
        "power",
        "network",
        "vandalism",
        "pan_tilt_zoom",
        "no_connection",
        "authentication_failed",
        "frozen_picture",
        "obscured",
        "view_moved",
        "other",
    ),
    FaultStatus: ("open", "in_progress", "fixed", "closed"),
    DecisionKind: (
        "retain",
        "make_permanent",
        "replace_with_digital",
        "relocate",
        "decommission",
        "withdraw",
    ),
    FootageOutcome: ("pending", "provided", "no_relevant_footage", "not_recorded", "refused"),
}
LITERALS = {
    CameraLifecycle: fields.LifecycleName,
    CameraHealth: fields.HealthName,
    Technology: fields.TechnologyName,
    Deployment: fields.DeploymentName,
    FaultCategory: fields.FaultCategoryName,
    FaultStatus: fields.FaultStatusName,
    DecisionKind: fields.DecisionKindName,
    FootageOutcome: fields.FootageOutcomeName,
}


@pytest.mark.parametrize("enum", list(STORED), ids=lambda e: e.__name__)
def test_each_literal_lists_its_enums_values_as_plain_strings_in_order(enum: type) -> None:
    args = get_args(LITERALS[enum])
    assert args == STORED[enum]
    assert all(type(a) is str for a in args)


def test_a_literal_field_stays_an_inline_enum_with_plain_values_and_messages() -> None:
    class M(BaseModel):
        x: literal_of(FaultStatus)  # type: ignore[valid-type]

    schema = M.model_json_schema()
    assert "$defs" not in schema
    assert schema["properties"]["x"]["enum"] == list(STORED[FaultStatus])
    assert type(M(x=FaultStatus.OPEN).x) is str
    with pytest.raises(ValidationError) as caught:
        M(x="shut")
    assert caught.value.errors()[0]["msg"] == (
        "Input should be 'open', 'in_progress', 'fixed' or 'closed'"
    )


def test_check_text_quotes_each_value_in_order() -> None:
    assert check_in("kind", ["a", "it's"]) == "kind IN ('a','it''s')"


@pytest.mark.parametrize(
    ("table", "column", "values"),
    [
        (Camera, "lifecycle", STORED[CameraLifecycle]),
        (Camera, "health", STORED[CameraHealth]),
        (Camera, "technology", STORED[Technology]),
        (Camera, "deployment", STORED[Deployment]),
        (CameraDevice, "technology", STORED[Technology]),
        (Fault, "status", STORED[FaultStatus]),
        (Decision, "decision", STORED[DecisionKind]),
    ],
)
def test_model_checks_name_the_stored_values(table: type, column: str, values: tuple) -> None:
    texts = {str(c.sqltext) for c in table.__table__.constraints if hasattr(c, "sqltext")}
    assert f"{column} IN (" + ",".join(f"'{v}'" for v in values) + ")" in texts


def test_rule_tables_cover_every_name() -> None:
    assert set(lc.TRANSITIONS) == set(CameraLifecycle)
    assert set(lc.FAULT_TRANSITIONS) == set(FaultStatus)
    assert set(lc.DECISION_FROM) == set(DecisionKind)
    assert set(lc.SLA_HOURS) == set(FaultCategory) == set(SERVICE_TEXT)
    assert set(lc.OPEN_STATUSES) | set(lc.RESOLVED_STATUSES) == set(FaultStatus)
    assert not set(lc.OPEN_STATUSES) & set(lc.RESOLVED_STATUSES)
    assert lc.LIFECYCLES == STORED[CameraLifecycle]
