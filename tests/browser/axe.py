"""axe-core in the browser tests: no critical or serious accessibility violation on a page.

axe-core comes from npm (``tests/node``, installed by the test setup); it is evaluated through
the DevTools protocol, so the page's Content-Security-Policy does not need to admit it.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

AXE = Path(__file__).resolve().parents[1] / "node" / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = ("critical", "serious")


@lru_cache(maxsize=1)
def _source() -> str:
    if not AXE.exists():
        raise RuntimeError(f"{AXE} is missing: run `npm ci` in tests/node (make test does)")
    return AXE.read_text(encoding="utf-8")


def violations(page: Any, *, exclude: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """The page's critical and serious axe violations (rule id, impact, help, first targets)."""
    page.evaluate(_source() + "\n;0")
    context: dict[str, Any] = {"exclude": [[s] for s in exclude]} if exclude else {}
    result = page.evaluate(
        """async (ctx) => {
            const r = await axe.run(Object.keys(ctx).length ? ctx : document,
                                    {resultTypes: ['violations']});
            return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                targets: v.nodes.slice(0, 5).map(n => n.target.join(' ')),
                summary: v.nodes.slice(0, 2).map(n => n.failureSummary)}));
        }""",
        context,
    )
    return [v for v in result if v["impact"] in BLOCKING]


def assert_accessible(page: Any, what: str, *, exclude: tuple[str, ...] = ()) -> None:
    """Fail with a readable list when axe finds a critical or serious violation."""
    found = violations(page, exclude=exclude)
    lines = [
        f"{v['impact']}: {v['id']} ({v['help']}) at {v['targets']} {v['summary']}" for v in found
    ]
    assert not found, f"{what}: axe found {len(found)} violations:\n" + "\n".join(lines)
