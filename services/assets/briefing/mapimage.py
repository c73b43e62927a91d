"""The briefing's one map as a PNG: the wards (or the outline), cameras coloured by lifecycle.

Drawn server-side with matplotlib's object API (no pyplot, no global state, safe in a threaded
server) in EPSG:27700 metres, so the picture is the same on screen, on paper and in the PDF.
Pure: geometry and colours in, bytes out; the web layer chooses the colours.
"""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from matplotlib import patheffects
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.transforms import Bbox
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from shared.boundaries.geojson import label_point, simplify_areas

# A4 portrait leaves about 180 mm between margins: a 7 x 5.4 inch figure fills it.
SIZE_IN = (7.0, 5.4)
DPI = 150
PAD_M = 600.0
SCALE_BAR_M = 2000.0
WARD_EDGE = "#4f5b63"
OUTLINE_EDGE = "#1d2630"
LAND = "#f3f1ea"


@dataclass(frozen=True)
class MapCamera:
    """A camera on the map: EPSG:27700 position and lifecycle."""

    x: float
    y: float
    lifecycle: str


@dataclass(frozen=True)
class MapArea:
    """A named area (EPSG:27700)."""

    name: str
    geom: BaseGeometry


def _polygons(geom: BaseGeometry) -> list[Polygon]:
    if isinstance(geom, Polygon):
        return [geom]
    if isinstance(geom, MultiPolygon):
        return list(geom.geoms)
    return [g for g in getattr(geom, "geoms", []) if isinstance(g, Polygon)]


def _bounds(
    areas: Sequence[MapArea], cameras: Sequence[MapCamera]
) -> tuple[float, float, float, float]:
    xs: list[float] = []
    ys: list[float] = []
    for a in areas:
        minx, miny, maxx, maxy = a.geom.bounds
        xs += [minx, maxx]
        ys += [miny, maxy]
    xs += [c.x for c in cameras]
    ys += [c.y for c in cameras]
    if not xs:
        return (570_000.0, 160_000.0, 590_000.0, 175_000.0)  # Medway, roughly
    return min(xs) - PAD_M, min(ys) - PAD_M, max(xs) + PAD_M, max(ys) + PAD_M


def _fit(bounds: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    """Widen the shorter side so the box has the figure's shape (equal metres both ways)."""
    minx, miny, maxx, maxy = bounds
    want = SIZE_IN[0] / SIZE_IN[1]
    w, h = maxx - minx, maxy - miny
    if w / h < want:
        grow = (h * want - w) / 2
        return minx - grow, miny, maxx + grow, maxy
    grow = (w / want - h) / 2
    return minx, miny - grow, maxx, maxy + grow


def _draw_areas(ax: Axes, areas: Sequence[MapArea], *, edge: str, width: float) -> None:
    simple = simplify_areas([a.geom for a in areas], 10.0)
    for geom in simple:
        for poly in _polygons(geom):
            x, y = poly.exterior.xy
            ax.fill(x, y, facecolor=LAND, edgecolor=edge, linewidth=width, zorder=1)


def _label_areas(canvas: FigureCanvasAgg, ax: Axes, areas: Sequence[MapArea]) -> int:
    """Name the areas, larger ones first; a name that would overlap one already placed is left
    out (as the live maps thin theirs). Returns how many names were placed."""
    halo = [patheffects.withStroke(linewidth=2.2, foreground="white")]
    renderer = canvas.get_renderer()  # type: ignore[no-untyped-call]
    placed: list[Bbox] = []
    for a in sorted(areas, key=lambda a: -a.geom.area):
        x, y = label_point(a.geom)
        label = ax.text(
            x, y, a.name, fontsize=5.2, color="#33404a", ha="center", va="center",
            path_effects=halo, zorder=2,
        )  # fmt: skip
        box = label.get_window_extent(renderer).expanded(1.08, 1.2)
        if any(box.overlaps(other) for other in placed):
            label.remove()
        else:
            placed.append(box)
    return len(placed)


def _scale_and_north(ax: Axes, bounds: tuple[float, float, float, float]) -> None:
    minx, miny, maxx, maxy = bounds
    x0, y0 = minx + (maxx - minx) * 0.04, miny + (maxy - miny) * 0.05
    ax.plot([x0, x0 + SCALE_BAR_M], [y0, y0], color="black", linewidth=3, zorder=5)
    ax.text(x0 + SCALE_BAR_M / 2, y0 + (maxy - miny) * 0.015, f"{SCALE_BAR_M / 1000:g} km",
            ha="center", va="bottom", fontsize=7, zorder=5)  # fmt: skip
    nx, ny = maxx - (maxx - minx) * 0.05, maxy - (maxy - miny) * 0.16
    ax.annotate(
        "N", xy=(nx, ny + (maxy - miny) * 0.09), xytext=(nx, ny), ha="center", va="top",
        fontsize=9, fontweight="bold", zorder=5,
        arrowprops={"arrowstyle": "-|>", "color": "black", "linewidth": 1.2},
    )  # fmt: skip


def render_map_png(
    *,
    cameras: Sequence[MapCamera],
    wards: Sequence[MapArea],
    outline: Sequence[MapArea],
    colours: Mapping[str, str],
    labels: Mapping[str, str],
) -> bytes:
    """The map as PNG bytes: wards with names (the outline alone when no ward is loaded),
    cameras as dots coloured by lifecycle (``colours``), a legend with counts, scale and north."""
    fig = Figure(figsize=SIZE_IN, dpi=DPI)
    canvas = FigureCanvasAgg(fig)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_axis_off()
    bounds = _fit(_bounds(wards or outline, cameras))
    ax.set_xlim(bounds[0], bounds[2])
    ax.set_ylim(bounds[1], bounds[3])
    ax.set_aspect("equal")
    if wards:
        _draw_areas(ax, wards, edge=WARD_EDGE, width=0.6)
        _label_areas(canvas, ax, wards)
    else:
        _draw_areas(ax, outline, edge=OUTLINE_EDGE, width=1.0)
    counts = Counter(c.lifecycle for c in cameras)
    handles = []
    for life, colour in colours.items():
        mine = [c for c in cameras if c.lifecycle == life]
        if not mine:
            continue
        ax.scatter(
            [c.x for c in mine], [c.y for c in mine], s=18, c=colour, edgecolors="black",
            linewidths=0.5, zorder=4,
        )  # fmt: skip
        handles.append(
            Line2D([], [], marker="o", linestyle="", markerfacecolor=colour,
                   markeredgecolor="black", markersize=6,
                   label=f"{labels.get(life, life)} ({counts[life]})")
        )  # fmt: skip
    if handles:
        ax.legend(handles=handles, loc="lower right", fontsize=7, title="Cameras by lifecycle",
                  title_fontsize=7, framealpha=0.92)  # fmt: skip
    _scale_and_north(ax, bounds)
    ax.set_xlim(bounds[0], bounds[2])  # fill() and scatter() may have moved them
    ax.set_ylim(bounds[1], bounds[3])
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=DPI)
    return out.getvalue()
