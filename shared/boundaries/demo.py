"""Demo boundaries: Medway's wards and LSOAs from ../shared/data, and the bundled outline.

LSOAs: ``medway_lsoa_martinjc.geojson`` (the 163 LSOA 2011 polygons, the whole district) rather
than ``medway_lsoa21_new_codes_openinnovations.geojson``, which holds only the 9 LSOA 2021
polygons whose new codes appear in the crime files: a map of those would be 9 islands, and
they overlap the 2011 areas they were split from.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session

from shared.boundaries.layers import Layer
from shared.boundaries.service import load_layer
from shared.extent import OUTLINE_PATH

WARDS_FILE = Path("boundaries") / "medway_wards_martinjc.geojson"
LSOA_FILE = Path("boundaries") / "medway_lsoa_martinjc.geojson"


def load_demo(session: Session, *, shared_data: Path) -> str:
    """Load the outline, the 22 wards and the 163 LSOAs (each layer replaced; idempotent)."""
    done = [load_layer(session, OUTLINE_PATH, layer=Layer.OUTLINE).summary()]
    for layer, rel in ((Layer.WARD, WARDS_FILE), (Layer.LSOA, LSOA_FILE)):
        path = shared_data / rel
        if path.is_file():
            done.append(load_layer(session, path, layer=layer).summary())
        else:
            done.append(f"{layer.value}: no file at {path}; skipped")
    return "; ".join(done)
