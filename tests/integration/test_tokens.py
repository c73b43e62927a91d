"""Token identity (S3): names unique among active tokens, revoke one, audit names the token."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from shared import auth
from shared.auth import Principal, create_token, lookup, revoke_token
from shared.core.models import ApiToken
from shared.errors import Conflict, InvalidInput, NotFound
from tests.factories import post_camera


def _active(session: Any) -> list[tuple[str, str]]:
    rows = session.scalars(select(ApiToken).where(ApiToken.revoked_at.is_(None)))
    return sorted((r.name, r.role) for r in rows)


def test_a_second_token_with_a_used_name_is_refused(db_session: Any) -> None:
    first, _ = create_token(db_session, name="Control room desk 1", role="operator")
    for same in ("Control room desk 1", "  control ROOM desk 1 "):
        with pytest.raises(Conflict) as caught:
            create_token(db_session, name=same, role="admin")
        assert f"token #{first.id}" in caught.value.detail
        assert "Control room desk 1" in caught.value.detail
    assert _active(db_session).count(("Control room desk 1", "operator")) == 1
    assert ("Control room desk 1", "admin") not in _active(db_session)


def test_a_revoked_name_can_be_given_again(db_session: Any) -> None:
    first, _ = create_token(db_session, name="Watch Red", role="crew")
    revoke_token(db_session, token_id=first.id)
    second, _ = create_token(db_session, name="Watch Red", role="crew")
    assert second.id != first.id


def test_the_database_refuses_duplicate_active_names(db_session: Any) -> None:
    """The unique index holds even for a writer that skips the service's check."""
    db_session.add(ApiToken(name="Desk", role="operator", token_hash="a" * 64, prefix="csp_a"))
    db_session.flush()
    with pytest.raises(IntegrityError), db_session.begin_nested():
        db_session.add(ApiToken(name="DESK", role="admin", token_hash="b" * 64, prefix="csp_b"))
        db_session.flush()
    # Revoked tokens do not hold their name.
    db_session.execute(text("UPDATE core.api_tokens SET revoked_at = now() WHERE name = 'Desk'"))
    db_session.add(ApiToken(name="DESK", role="admin", token_hash="c" * 64, prefix="csp_c"))
    db_session.flush()


def test_a_create_racing_another_is_a_conflict_and_the_session_lives_on(
    db_session: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two creates of one name at once: the loser's check saw nothing, the index refuses it."""
    other, _ = create_token(db_session, name="Race", role="operator")
    real = auth._active_named
    calls = {"n": 0}

    def blind_first(session: Any, name: str) -> Any:
        calls["n"] += 1
        return None if calls["n"] == 1 else real(session, name)

    monkeypatch.setattr(auth, "_active_named", blind_first)
    with pytest.raises(Conflict) as caught:
        create_token(db_session, name="race", role="admin")
    assert f"token #{other.id}" in caught.value.detail
    assert db_session.scalar(text("SELECT count(*) FROM core.api_tokens WHERE name='Race'")) == 1


def test_revoke_by_name_revokes_exactly_that_token(db_session: Any) -> None:
    op, op_clear = create_token(db_session, name="Night desk", role="operator")
    adm, adm_clear = create_token(db_session, name="Night desk admin", role="admin")
    revoked = revoke_token(db_session, name="night DESK")
    assert revoked.id == op.id
    assert lookup(db_session, op_clear) is None
    assert lookup(db_session, adm_clear) == Principal(adm.id, "Night desk admin", "admin")
    with pytest.raises(NotFound):
        revoke_token(db_session, name="Night desk")
    with pytest.raises(InvalidInput):
        revoke_token(db_session, token_id=adm.id, name="Night desk admin")


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("x" * 121, "121 characters long; the limit is 120"),
        ("Desk\n1", "U+000A"),
        ("Desk\x1b[31m", "U+001B"),
        ("Desk\u202e1", "U+202E"),  # right-to-left override: spoofs the name in a listing
        ("   ", "needs a name"),
    ],
)
def test_bad_names_are_refused_saying_why(db_session: Any, name: str, says: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        create_token(db_session, name=name, role="crew")
    assert says in caught.value.detail


def test_a_name_at_the_column_limit_is_kept_whole(db_session: Any) -> None:
    limit = ApiToken.__table__.c.name.type.length  # type: ignore[attr-defined]
    row, clear = create_token(db_session, name="é" * limit, role="crew")
    assert lookup(db_session, clear) is not None and row.name == "é" * limit


def test_actor_names_the_token_not_only_the_holder(db_session: Any) -> None:
    a, a_clear = create_token(db_session, name="Desk 1", role="operator")
    revoke_token(db_session, token_id=a.id)
    b, b_clear = create_token(db_session, name="Desk 1", role="operator")
    pa = Principal(a.id, a.name, a.role)
    pb = lookup(db_session, b_clear)
    assert pb is not None and pb.token_id == b.id
    assert pa.actor != pb.actor
    assert pb.actor == f"Desk 1 (operator, token #{b.id})"


def test_a_new_holder_of_a_revoked_name_neither_replays_nor_shares_the_audit(
    make_client: Callable[..., Any], tokens: dict[str, dict[str, str]], db_session: Any
) -> None:
    """Desk 1's token is revoked and a new one named Desk 1 made: the old key is not theirs."""
    client = make_client("assets")
    cam = int(post_camera(client, tokens["admin"], name="Token camera")["id"])
    old, old_clear = create_token(db_session, name="Desk 1", role="operator")
    body = {"category": "no_picture", "description": "Dark"}
    key = {"Idempotency-Key": "form-1"}
    first = client.post(
        f"/cameras/{cam}/faults?duplicate=allow",
        json=body,
        headers={"Authorization": f"Bearer {old_clear}"} | key,
    )
    assert first.status_code == 201, first.text
    revoke_token(db_session, token_id=old.id)
    new, new_clear = create_token(db_session, name="Desk 1", role="operator")
    second = client.post(
        f"/cameras/{cam}/faults?duplicate=allow",
        json=body,
        headers={"Authorization": f"Bearer {new_clear}"} | key,
    )
    assert second.status_code == 201, second.text
    assert second.headers.get("Idempotent-Replayed") is None
    assert second.json()["id"] != first.json()["id"]
    history = client.get(f"/cameras/{cam}/history", headers=tokens["admin"]).json()
    actors = {h["actor"] for h in history if h["entity"] == "fault"}
    assert actors == {f"Desk 1 (operator, token #{old.id})", f"Desk 1 (operator, token #{new.id})"}


def test_migration_keeps_existing_duplicates_working_under_distinct_names() -> None:
    """0008 on a database that already holds active tokens sharing a name (any case)."""
    import os

    from alembic import command
    from sqlalchemy import create_engine

    from shared.cli import alembic_config
    from tests.conftest import BASE_TEST_DB, create_database, drop_database

    url = f"{BASE_TEST_DB}tokmig_{os.getpid()}"
    create_database(url)
    try:
        command.upgrade(alembic_config(url), "0007_camera_import_warnings")
        eng = create_engine(url)
        rows = [
            ("Desk 1", "operator", None),
            ("desk 1", "admin", None),
            ("Desk 1", "crew", "now()"),  # revoked: keeps its name
            ("D" * 120, "seg", None),
            ("d" * 120, "seg", None),
            ("Solo", "analyst", None),
        ]
        with eng.begin() as conn:
            for i, (name, role, revoked) in enumerate(rows, start=1):
                conn.execute(
                    text(
                        "INSERT INTO core.api_tokens (id, name, role, token_hash, prefix, "
                        f"revoked_at) VALUES (:i, :n, :r, :h, 'csp_x', {revoked or 'NULL'})"
                    ),
                    {"i": i, "n": name, "r": role, "h": f"{i:064d}"},
                )
        command.upgrade(alembic_config(url), "head")
        with eng.connect() as conn:
            found = conn.execute(text("SELECT id, name FROM core.api_tokens")).all()
            names: dict[int, str] = {int(i): str(n) for i, n in found}
        eng.dispose()
        assert names == {
            1: "Desk 1",
            2: "desk 1 #2",
            3: "Desk 1",
            4: "D" * 120,
            5: "d" * 117 + " #5",
            6: "Solo",
        }
    finally:
        drop_database(url)
