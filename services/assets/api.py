"""JSON API of the CCTV register: one router gathering each domain's routes.

Cameras, faults, footage requests, SEG decisions, reviews and recommendations each keep their
routes in ``<domain>/router.py``; who may call which is set out in ``dependencies``. The order
below is the order routes are matched in (fixed paths before ``{id}`` ones within a domain).
"""

from __future__ import annotations

from fastapi import APIRouter

from services.assets.cameras.router import router as cameras
from services.assets.decisions.router import router as decisions
from services.assets.faults.router import router as faults
from services.assets.footage.router import router as footage
from services.assets.recommendations.router import router as recommendations
from services.assets.reviews.router import router as reviews

router = APIRouter()
for domain in (cameras, faults, footage, decisions, reviews, recommendations):
    router.include_router(domain)
