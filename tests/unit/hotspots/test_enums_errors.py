"""The run-status enum feeds the schema's Literal and the CHECK constraint; pure hotspot code
raises domain errors naming the field (what the API's 422 and the CLI's flag message read)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import get_args

import numpy as np
import pytest

from services.hotspots.compute.points import Points
from services.hotspots.compute.surfaces import compute_gistar, compute_kde
from services.hotspots.enums import RunStatus, check_in
from services.hotspots.models import SurfaceRun
from services.hotspots.schemas import RunRead, RunStatusName
from shared.errors import InvalidInput

MIGRATIONS = Path(__file__).resolve().parents[3] / "shared" / "migrations" / "versions"


def test_the_schema_literal_names_every_status_in_order() -> None:
    assert list(get_args(RunStatusName)) == list(RunStatus)
    schema = RunRead.model_json_schema()["properties"]["status"]
    assert schema == {
        "enum": ["queued", "running", "done", "failed"],
        "title": "Status",
        "type": "string",
    }


def test_the_check_constraint_is_the_migrated_text() -> None:
    """The constraint built from the enum is the one migration 0003 created (no new migration)."""
    (check,) = [
        c
        for c in SurfaceRun.__table__.constraints
        if str(getattr(c, "sqltext", "")).startswith("status IN")
    ]
    text = (MIGRATIONS / "0003_hotspots.py").read_text()
    migrated = re.findall(r"\"(status IN \([^)]*\))\"", text)
    assert [str(check.sqltext)] == migrated
    assert check_in("kind", ["a", "b"]) == "kind IN ('a','b')"


def _points(n: int) -> Points:
    rng = np.random.default_rng(1)
    return Points(
        rng.uniform(575_000, 577_000, n),
        rng.uniform(167_000, 169_000, n),
        np.ones(n),
        np.zeros(n, "datetime64[s]"),
        np.array(["a"] * n),
    )


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: compute_kde(_points(30), radius_m=-1.0, max_cells=10**6), "radius_m"),
        (lambda: compute_kde(_points(30), kernel="box", max_cells=10**6), "kernel"),
        (lambda: compute_kde(_points(0), radius_m=100.0, max_cells=10**6), "input"),
        (
            lambda: compute_gistar(_points(30), neighbourhood_cells=0.5, max_cells=10**6),
            "neighbourhood",
        ),
    ],
)
def test_pure_code_raises_invalid_input_naming_the_field(call: object, field: str) -> None:
    with pytest.raises(InvalidInput) as info:
        call()  # type: ignore[operator]
    exc = info.value
    assert exc.status == 422
    assert exc.errors == [{"field": field, "message": exc.detail.removeprefix(f"{field}: ")}]
    assert exc.detail.startswith(f"{field}: ")


def test_the_api_offers_exactly_the_kernels_and_methods_the_engine_has() -> None:
    """The request schema spells them as Literals (the OpenAPI enums); shared.kde holds them."""
    from services.hotspots.schemas import Kernel, SurfaceCreate
    from shared.kde import KERNELS, METHODS

    assert get_args(Kernel) == KERNELS
    assert get_args(SurfaceCreate.model_fields["method"].annotation) == METHODS
