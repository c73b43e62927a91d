"""Pages for people: the SEG review map and the control-room fault log."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
