"""Demo incidents: the real Medway police files from ../shared/data when present."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session

from shared.incidents.store import import_file


def load_demo(session: Session, *, shared_data: Path) -> str:
    """Import every police CSV under ``shared_data/police`` (idempotent)."""
    folder = shared_data / "police"
    files = sorted(folder.glob("*.csv")) if folder.is_dir() else []
    if not files:
        return f"no police files at {folder}; skipped"
    added = existing = rejected = 0
    for f in files:
        for rec in import_file(session, f, source="police", actor="demo", skip_known=True):
            added += rec.rows_added
            existing += rec.rows_existing
            rejected += rec.rows_rejected
    return (
        f"police: {added} added, {existing} already there, {rejected} rejected ({len(files)} files)"
    )
