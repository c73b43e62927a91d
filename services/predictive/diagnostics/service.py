"""Diagnostics of stored lists: visit coverage per list, boxes per ward, day-to-day stability.

A read (never writes); keyword-only, session first.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.predictive.agencies.service import default_agency, find_agency
from services.predictive.dates import check_range
from services.predictive.lists.service import view_list
from services.predictive.models import TargetList


def jaccard(a: Sequence[str], b: Sequence[str]) -> float:
    """Overlap of two box lists: |a & b| / |a | b| (1 for two empty lists)."""
    sa, sb = set(a), set(b)
    union = sa | sb
    return len(sa & sb) / len(union) if union else 1.0


def diagnostics(
    session: Session, *, agency_code: str, date_from: date, date_to: date
) -> dict[str, Any]:
    """Visit coverage per list, boxes per ward, and day-to-day stability of stored lists."""
    check_range(date_from, date_to)
    agency = find_agency(session, code=agency_code) or default_agency(agency_code)
    lists = (
        []
        if agency.id is None
        else list(
            session.scalars(
                select(TargetList)
                .where(
                    TargetList.agency_id == agency.id,
                    TargetList.list_date >= date_from,
                    TargetList.list_date <= date_to,
                )
                .order_by(TargetList.list_date)
            )
        )
    )
    per_list: list[dict[str, Any]] = []
    wards: dict[str, int] = {}
    prev: tuple[date, list[str]] | None = None
    for lst in lists:
        view = view_list(session, list_id=lst.id)
        cells = [b.cell_id for b in view.boxes]
        visited = sum(1 for c in cells if view.visits.get(c))
        entry: dict[str, Any] = {
            "date": lst.list_date.isoformat(),
            "list_id": lst.id,
            "method": lst.method,
            "boxes": len(cells),
            "boxes_visited": visited,
            "visit_coverage": visited / len(cells) if cells else 0.0,
            "visits": sum(view.visits.values()),
            "jaccard_with_previous_day": None,
        }
        if prev is not None and (lst.list_date - prev[0]).days == 1:
            entry["jaccard_with_previous_day"] = jaccard(prev[1], cells)
        prev = (lst.list_date, cells)
        per_list.append(entry)
        for b in view.boxes:
            key = b.ward or "(outside the wards)"
            wards[key] = wards.get(key, 0) + 1
    jac = [
        e["jaccard_with_previous_day"]
        for e in per_list
        if e["jaccard_with_previous_day"] is not None
    ]
    cov = [e["visit_coverage"] for e in per_list]
    return {
        "agency": agency.code,
        "from": date_from.isoformat(),
        "to": date_to.isoformat(),
        "lists": per_list,
        "ward_box_counts": dict(sorted(wards.items(), key=lambda kv: (-kv[1], kv[0]))),
        "mean_visit_coverage": float(np.mean(cov)) if cov else None,
        "mean_day_to_day_jaccard": float(np.mean(jac)) if jac else None,
    }
