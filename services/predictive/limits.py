"""Bounds on the work a list may ask for: grid cells, and how far an area may reach."""

from __future__ import annotations

from dataclasses import dataclass

from shared.settings import CommonSettings, common_settings


@dataclass(frozen=True)
class Limits:
    """Bounds on the work a list may ask for: grid cells and how far areas may reach."""

    max_cells: int
    margin_m: float

    @classmethod
    def of(cls, settings: CommonSettings) -> Limits:
        """The limits in a service's (or the process's) settings."""
        return cls(max_cells=settings.max_grid_cells, margin_m=settings.extent_margin_m)


def or_default(limits: Limits | None) -> Limits:
    """``limits``, or those of the process's settings when None (the CLI, the nightly job)."""
    return limits if limits is not None else Limits.of(common_settings())
