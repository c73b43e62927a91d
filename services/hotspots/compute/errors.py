"""The one error the hotspot computations raise for a parameter: ``InvalidInput`` naming it.

The API renders it as a 422 whose ``errors`` list names the field; the CLI maps the field to
its flag (``radius_m`` -> ``--radius``).
"""

from __future__ import annotations

from shared.errors import InvalidInput


def field_error(field: str, message: str) -> InvalidInput:
    """A 422 about ``field``: detail ``"<field>: <message>"`` and one field-level error."""
    return InvalidInput(f"{field}: {message}", errors=[{"field": field, "message": message}])
