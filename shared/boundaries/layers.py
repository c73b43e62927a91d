"""The boundary layers the suite holds: one registry for the CHECK, the CLI and the routes."""

from __future__ import annotations

from enum import StrEnum


class Layer(StrEnum):
    """A kind of boundary area."""

    OUTLINE = "outline"
    WARD = "ward"
    LSOA = "lsoa"


LAYERS: tuple[str, ...] = tuple(layer.value for layer in Layer)
# "layer IN ('outline','ward','lsoa')", as migration 0011 wrote it.
LAYER_CHECK = f"layer IN ({','.join(repr(name) for name in LAYERS)})"
CODE_MAX = 40
NAME_MAX = 200
