"""What a surface file says about itself: the GeoTIFF tags of a run's (or a comparison's) COG.

A COG opened next week, in QGIS or by ``gdalinfo``, names what it is: the categories, the
period, the sources, the method, kernel, radius, cell, weighting and the hotspot threshold. Lists
are JSON arrays (``["Burglary"]``) and "all" means no filter; days are ISO 8601 and a period is
an ISO 8601 interval with ".." for an open end. ``TIFFTAG_IMAGEDESCRIPTION`` says it in words.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

SOFTWARE = "Medway CSP hotspots"


def _list(values: Sequence[str] | None) -> str:
    """A JSON array of the names, or "all" when there is no filter."""
    return json.dumps(list(values), ensure_ascii=False) if values else "all"


def _number(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return ""
    return f"{value:.6g}"


def period_interval(first: str | None, last: str | None) -> str:
    """An ISO 8601 interval of days, ``..`` for an open end: ``2022-03-01/2022-04-30``."""
    return f"{first or '..'}/{last or '..'}"


def weighting_of(params: dict[str, Any]) -> str:
    """How incidents were counted: by their weights or each as one."""
    if params.get("use_weights", True):
        return "incident weights (1 per incident unless the source weights it, e.g. KSI)"
    return "unweighted (each incident counts 1)"


def threshold_rule(kind: str, params: dict[str, Any], stats: dict[str, Any]) -> str:
    """The hotspot cut-off in words, with its value."""
    units = str(stats.get("units", ""))
    if kind == "gistar":
        conf = {1: "90%", 2: "95%", 3: "99%"}.get(int(params.get("min_bin", 2)), "95%")
        return f"Gi* hot cells at {conf} confidence or more (FDR-corrected)"
    value = _number(stats.get("threshold"))
    pct = _number(params.get("percentile"))
    of = "the non-zero cells of both periods" if kind == "difference" else "non-zero cells"
    if not value:
        return f"cells at or above the {pct}th percentile of {of} (no cell above 0)"
    return f"cells at or above the {pct}th percentile of {of}: {value} {units}".strip()


def surface_tags(
    kind: str,
    params: dict[str, Any],
    stats: dict[str, Any],
    selection: dict[str, Any],
) -> dict[str, str]:
    """The tags of a surface: what it was computed from and how, and its hotspot threshold.

    Args:
        kind: "kde", "gistar" or "difference".
        params: the computed parameters (method, kernel, radius_m, cell_m, percentile, ...).
        stats: the surface's statistics (units, threshold, incidents).
        selection: the incidents asked for and read: categories, sources (lists or None),
            from/to (ISO days or None), categories_read, sources_read, first/last_day_read.
    """
    first, last = selection.get("from"), selection.get("to")
    read_first, read_last = selection.get("first_day_read"), selection.get("last_day_read")
    radius = params.get("radius_m")
    if kind == "gistar" and params.get("neighbourhood_cells") and params.get("cell_m"):
        radius = float(params["neighbourhood_cells"]) * float(params["cell_m"])
    tags = {
        "categories": _list(selection.get("categories")),
        "categories_read": json.dumps(selection.get("categories_read") or [], ensure_ascii=False),
        "sources": _list(selection.get("sources")),
        "sources_read": json.dumps(selection.get("sources_read") or [], ensure_ascii=False),
        "period": period_interval(first, last),
        "period_read": period_interval(read_first, read_last),
        "method": "gistar" if kind == "gistar" else str(params.get("method", "")),
        "kernel": "none (cell counts)" if kind == "gistar" else str(params.get("kernel", "")),
        "radius_m": _number(radius),
        "cell_m": _number(params.get("cell_m")),
        "weighting": weighting_of(params),
        "hotspot_threshold": _number(stats.get("threshold")),
        "hotspot_percentile": _number(params.get("percentile")),
        "hotspot_rule": threshold_rule(kind, params, stats),
        "TIFFTAG_SOFTWARE": SOFTWARE,
    }
    tags["TIFFTAG_IMAGEDESCRIPTION"] = describe(kind, tags, stats)
    return tags


def describe(kind: str, tags: dict[str, str], stats: dict[str, Any]) -> str:
    """One paragraph a person reads in a GIS's layer properties."""
    what = {"gistar": "Getis-Ord Gi* z-scores", "difference": "Difference of densities"}.get(
        kind, "Kernel density"
    )
    how = f"method {tags['method']}, kernel {tags['kernel']}"
    if tags["radius_m"]:
        how += f", radius {tags['radius_m']} m"
    return (
        f"{what} ({stats.get('units', '')}) of incidents: categories {tags['categories']}, "
        f"sources {tags['sources']}, period {tags['period']} (incidents read: "
        f"{tags['period_read']}); {how}, cell {tags['cell_m']} m; weighting: "
        f"{tags['weighting']}; hotspots: {tags['hotspot_rule']}. EPSG:27700."
    )
