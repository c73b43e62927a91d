"""The bounds every hotspots computation runs under: grid cells, the partnership's extent, sites.

Read from the settings by the application (``Limits.of(settings)``) and passed down, so the
service and the pure pipeline check the same numbers before anything is allocated.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.extent import Extent, partnership_extent
from shared.settings import CommonSettings

# A bank stretch is a few kilometres of one bank: 50,000 vertices is a vertex every 20 cm over
# 10 km. Beyond it a site is refused when registered (and its density, if stored before).
MAX_SITE_VERTICES = 50_000


@dataclass(frozen=True)
class Limits:
    """Largest grid (cells) a request may make and the margin (metres) around the outline."""

    max_cells: int
    margin_m: float
    max_site_vertices: int = MAX_SITE_VERTICES

    @classmethod
    def of(cls, settings: CommonSettings) -> Limits:
        """The limits in ``settings`` (CSP_MAX_GRID_CELLS, CSP_EXTENT_MARGIN_M)."""
        return cls(
            max_cells=settings.max_grid_cells,
            margin_m=settings.extent_margin_m,
            max_site_vertices=settings.max_site_vertices,
        )

    @classmethod
    def defaults(cls) -> Limits:
        """The settings' default limits, without reading the environment."""
        fields = CommonSettings.model_fields
        return cls(
            max_cells=int(fields["max_grid_cells"].default),
            margin_m=float(fields["extent_margin_m"].default),
            max_site_vertices=int(fields["max_site_vertices"].default),
        )

    def extent(self) -> Extent:
        """The partnership's outline with this margin."""
        return partnership_extent(self.margin_m)

    def allowed_box(self) -> tuple[float, float, float, float]:
        """EPSG:27700 envelope of the outline plus margin: no incident can lie outside it."""
        b = self.extent().allowed.bounds
        return (float(b[0]), float(b[1]), float(b[2]), float(b[3]))
