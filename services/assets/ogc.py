"""OGC API - Features for the assets service: cameras as a public feature collection."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
