"""The three services' OpenAPI documents are what clients were given (saved before #12's move).

A restructuring must not change the API. A deliberate change updates the saved copy in the
same commit (``python tests/unit/test_openapi_stable.py --update``) and says why.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from typing import Any

import pytest

SAVED = Path(__file__).resolve().parents[1] / "fixtures" / "openapi"
SERVICES = ("assets", "hotspots", "predictive")


def current(service: str) -> dict[str, Any]:
    """The service's OpenAPI document as its app builds it now."""
    cls = importlib.import_module("csp.services").SERVICES[service].settings
    app = importlib.import_module(f"services.{service}.main").create_app(cls(environment="test"))
    doc: dict[str, Any] = json.loads(json.dumps(app.openapi(), sort_keys=True))
    return doc


def _diff(a: Any, b: Any, path: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b)):
            if k not in a:
                out.append(f"added {path}/{k}")
            elif k not in b:
                out.append(f"removed {path}/{k}")
            else:
                out.extend(_diff(a[k], b[k], f"{path}/{k}"))
        return out
    return [] if a == b else [f"changed {path}: {json.dumps(a)[:80]} -> {json.dumps(b)[:80]}"]


@pytest.mark.parametrize("service", SERVICES)
def test_openapi_document_unchanged(service: str) -> None:
    saved = json.loads((SAVED / f"{service}.json").read_text(encoding="utf-8"))
    changes = _diff(saved, current(service))
    assert not changes, f"{len(changes)} changes:\n" + "\n".join(changes[:30])


def test_the_diff_sees_a_change() -> None:
    assert _diff({"a": {"b": 1}}, {"a": {"b": 2, "c": 3}}) == ["changed /a/b: 1 -> 2", "added /a/c"]


if __name__ == "__main__" and "--update" in sys.argv:
    for svc in SERVICES:
        (SAVED / f"{svc}.json").write_text(json.dumps(current(svc), indent=1, sort_keys=True))
