"""Default settings of the two agencies that receive daily lists: fire service and police."""

from __future__ import annotations

from dataclasses import dataclass, field

from services.predictive.compute.methods import AUTO


@dataclass(frozen=True)
class AgencyDefaults:
    """What a new agency row starts with; admins change it later through the API."""

    code: str
    name: str
    categories: list[str] = field(default_factory=list)
    boxes_per_day: int = 20
    shift_start_hour: int = 0
    shift_length_hours: int = 24
    cell_size_m: float = 150.0
    method: str = AUTO


# Police crime types are matched exactly as data.police.uk spells them; fire-service incidents
# imported as a generic source may name deliberate fires either way, so both spellings are kept.
KFRS = AgencyDefaults(
    code="kfrs",
    name="Kent Fire and Rescue Service",
    categories=[
        "Criminal damage and arson",
        "Anti-social behaviour",
        "deliberate_fire",
        "Deliberate fire",
    ],
    boxes_per_day=20,
    shift_start_hour=9,
    shift_length_hours=12,
)
POLICE = AgencyDefaults(
    code="police",
    name="Kent Police (Medway)",
    categories=["Burglary", "Violence and sexual offences", "Robbery", "Vehicle crime"],
    boxes_per_day=20,
    shift_start_hour=0,
    shift_length_hours=24,
)
DEFAULTS: dict[str, AgencyDefaults] = {a.code: a for a in (KFRS, POLICE)}
