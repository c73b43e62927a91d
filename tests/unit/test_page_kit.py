"""Every page is built on the one page kit and can be zoomed; nothing points at another host."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = sorted(ROOT.glob("services/*/web/templates/**/*.html"))
SHARED_TEMPLATES = sorted((ROOT / "shared" / "templates").glob("*.html"))
OWN_STATIC = sorted((ROOT / "shared" / "static" / "csp").glob("*"))
NO_ZOOM = re.compile(r"user-scalable\s*=\s*no|maximum-scale\s*=\s*1(\.0)?\b")
OTHER_HOST = re.compile(r"""(?:src|href|url)\s*[=(]\s*["']?(?:https?:)?//""", re.I)


def test_there_are_templates() -> None:
    assert len(TEMPLATES) >= 4, TEMPLATES


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: str(p.relative_to(ROOT)))
def test_service_pages_extend_the_base_template(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    first = next(line for line in text.splitlines() if line.strip())
    if "{% extends" not in first:
        # A fragment included by a page: it must not be a document of its own.
        assert "<html" not in text.lower() and "<!doctype" not in text.lower(), path
        return
    assert first.strip() == '{% extends "base.html" %}', path
    for block in ("nav", "who", "heading"):
        assert f"{{% block {block} %}}" not in text, f"{path} redraws the header's {block}"


@pytest.mark.parametrize(
    "path", [*TEMPLATES, *SHARED_TEMPLATES, *OWN_STATIC], ids=lambda p: str(p.relative_to(ROOT))
)
def test_pinch_zoom_allowed_and_nothing_from_elsewhere(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert not NO_ZOOM.search(text), f"{path} forbids zooming"
    assert not OTHER_HOST.search(text), f"{path} loads something from another host"


def test_map_pages_drop_folium_no_zoom_viewport() -> None:
    from shared.maps import make_map, map_parts

    parts = map_parts(make_map((0.55, 51.39)))
    assert not NO_ZOOM.search(parts.head + parts.body + parts.script)
