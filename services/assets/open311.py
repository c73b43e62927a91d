"""Open311 GeoReport v2 for the assets service: faults reported against cameras."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
