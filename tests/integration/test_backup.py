"""Backup and restore round-trip every table (issue 6, item 7)."""

from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from shared.backup import create_backup, restore_backup, table_counts
from shared.incidents.store import import_file
from tests.conftest import SHARED_DATA, TEST_DB, _reset_database, create_database, drop_database

RESTORE_DB = TEST_DB.replace("/csp_test", "/csp_restore")
SOURCE_DB = TEST_DB.replace("/csp_test", "/csp_backupsrc")


def test_backup_restore_round_trips_every_table(tmp_path: Path, engine: Any) -> None:
    from shared.auth import create_token
    from shared.db import make_engine, make_sessionmaker

    create_database(SOURCE_DB)
    _reset_database(SOURCE_DB)
    eng = make_engine(SOURCE_DB)
    with make_sessionmaker(eng)() as s:
        create_token(s, name="backup test", role="analyst")
        import_file(s, SHARED_DATA / "police" / "2022-01-kent-street-medway.csv", source="police")
        s.commit()
    eng.dispose()
    before = table_counts(SOURCE_DB)
    assert before["incidents.incidents"] > 2000 and before["core.api_tokens"] == 1

    dump = create_backup(SOURCE_DB, tmp_path / "csp.dump")
    assert dump.stat().st_size > 0
    create_database(RESTORE_DB)
    restore_backup(RESTORE_DB, dump)
    after = table_counts(RESTORE_DB)
    assert after == before

    e = create_engine(RESTORE_DB)
    with e.connect() as c:
        srid = (
            c.execute(text("SELECT DISTINCT ST_SRID(geom) FROM incidents.incidents"))
            .scalars()
            .all()
        )
        assert srid == [27700]
    e.dispose()
    drop_database(SOURCE_DB)
    drop_database(RESTORE_DB)
