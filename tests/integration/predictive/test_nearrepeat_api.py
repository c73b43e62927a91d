"""Near-repeat API (#15) over the real PostGIS: tables against a brute-force count, bounds, roles.

The ``incidents`` fixture holds exact-timed fire incidents (150 days up to LIST_DAY) and police
crimes dated by month only.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import numpy as np
import pytest
from sqlalchemy import text

from tests.factories import LIST_DAY
from tests.support import problem

CAT = "deliberate_fire"
FROM, TO = LIST_DAY - timedelta(days=150), LIST_DAY - timedelta(days=1)
D_EDGES = [0.0, 100.0, 250.0, 500.0]
T_EDGES = [0.0, 3.0, 10.0, 30.0]
QUERY = {
    "category": CAT,
    "from": FROM.isoformat(),
    "to": TO.isoformat(),
    "distance_bands_m": ",".join(f"{v:g}" for v in D_EDGES),
    "time_bands_days": ",".join(f"{v:g}" for v in T_EDGES),
    "permutations": 19,
}


def _brute_force(db_session: Any) -> np.ndarray:
    """Every pair of the category's incidents in the window, counted by band in plain loops."""
    rows = db_session.execute(
        text(
            "SELECT ST_X(geom), ST_Y(geom), extract(epoch FROM occurred_at) / 86400.0 "
            "FROM incidents.incidents WHERE category = :c "
            "AND occurred_at >= (CAST(:f AS date)::timestamp AT TIME ZONE 'Europe/London') "
            "AND occurred_at < (CAST(:t AS date)::timestamp AT TIME ZONE 'Europe/London')"
        ),
        {"c": CAT, "f": FROM.isoformat(), "t": (TO + timedelta(days=1)).isoformat()},
    ).all()
    pts = np.array(rows, dtype=float)
    out = np.zeros((len(D_EDGES) - 1, len(T_EDGES) - 1), dtype=int)
    for i in range(len(pts)):
        for j in range(i + 1, len(pts)):
            d = float(np.hypot(pts[i, 0] - pts[j, 0], pts[i, 1] - pts[j, 1]))
            g = abs(float(pts[i, 2] - pts[j, 2]))
            di = [k for k in range(len(D_EDGES) - 1) if D_EDGES[k] <= d < D_EDGES[k + 1]]
            ti = [k for k in range(len(T_EDGES) - 1) if T_EDGES[k] <= g < T_EDGES[k + 1]]
            if di and ti:
                out[di[0], ti[0]] += 1
    return out


def test_the_table_is_the_brute_force_count_and_get_equals_post(
    client: Any, tokens: Any, db_session: Any
) -> None:
    r = client.get("/near-repeat", params=QUERY, headers=tokens["analyst"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["from"] == FROM.isoformat() and body["permutations"] == 19
    (table,) = body["tables"]
    assert table["category"] == CAT and table["n_events"] > 100
    cells = table["table"]["cells"]
    assert len(cells) == (len(D_EDGES) - 1) * (len(T_EDGES) - 1)
    got = np.zeros((len(D_EDGES) - 1, len(T_EDGES) - 1), dtype=int)
    for c in cells:
        got[D_EDGES.index(c["distance_m"][0]), T_EDGES.index(c["time_days"][0])] = c["observed"]
        assert 1 / 20 <= c["p_value"] <= 1 and c["expected"] >= 0
    np.testing.assert_array_equal(got, _brute_force(db_session))
    assert got.sum() > 0
    # The simulated fires are self-exciting: the nearest, soonest band has more than expected.
    first = next(c for c in cells if c["distance_m"][0] == 0 and c["time_days"][0] == 0)
    assert first["observed"] > first["expected"] and first["p_value"] <= 0.05
    assert table["near_repeat"] is True
    post = {
        "categories": [CAT.upper()],  # categories match without regard to case
        "from": FROM.isoformat(),
        "to": TO.isoformat(),
        "distance_bands_m": D_EDGES,
        "time_bands_days": T_EDGES,
        "permutations": 19,
    }
    again = client.post("/near-repeat", json=post, headers=tokens["admin"])
    assert again.status_code == 200, again.text
    assert again.json() == body  # the same seed: a retry gives the same table


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"category": "Shoplifting"}, "categories", "deliberate_fire"),  # names those held
        ({"category": "Burglary"}, "categories", "dated by month only"),
        ({"from": "2010-01-01", "to": "2010-02-01"}, "from", "no incident data for this window"),
        ({"distance_bands_m": "0,abc"}, "distance_bands_m", "numbers separated by commas"),
        ({"distance_bands_m": "0,200,100"}, "distance_bands_m", "increase"),
        ({"distance_bands_m": "0,5000"}, "distance_bands_m", "at most 2000"),
        ({"time_bands_days": "0"}, "time_bands_days", "2 to 21"),
        ({"from": "2020-01-01", "to": "2024-04-30"}, "to", "at most 1098"),
        ({"to": "2023-01-01"}, "to", "before 'from'"),
    ],
)
def test_bad_requests_are_problems_naming_what_is_wrong(
    client: Any, tokens: Any, change: dict[str, str], field: str, words: str
) -> None:
    r = client.get("/near-repeat", params={**QUERY, **change}, headers=tokens["analyst"])
    body = problem(r, 422)
    assert field in body["detail"] and words in body["detail"], body["detail"]


def test_permutations_and_categories_are_bounded(client: Any, tokens: Any) -> None:
    problem(client.get("/near-repeat", params={**QUERY, "permutations": 1000},
                       headers=tokens["analyst"]), 422)  # fmt: skip
    many = {**QUERY, "category": [f"c{i}" for i in range(11)]}
    problem(client.get("/near-repeat", params=many, headers=tokens["analyst"]), 422)
    body = {"categories": [CAT], "from": FROM.isoformat(), "to": TO.isoformat(), "extra": 1}
    problem(client.post("/near-repeat", json=body, headers=tokens["analyst"]), 422)


def test_too_much_work_is_refused_before_loading(
    client: Any, tokens: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from services.predictive.nearrepeat import service

    def never(*_: Any, **__: Any) -> Any:
        raise AssertionError("incidents were loaded before the bound was checked")

    monkeypatch.setattr(service, "MAX_EVENTS", 10)
    monkeypatch.setattr(service, "load_points", never)
    body = problem(client.get("/near-repeat", params=QUERY, headers=tokens["analyst"]), 422)
    assert "at most 10" in body["detail"] and "shorten the period" in body["detail"]
    monkeypatch.undo()
    monkeypatch.setattr(service, "MAX_PAIR_WORK", 20 * 50)  # 50 pairs with 19 permutations
    body = problem(client.get("/near-repeat", params=QUERY, headers=tokens["analyst"]), 422)
    assert "distance_bands_m" in body["detail"] and "pairs" in body["detail"]


@pytest.mark.parametrize(("role", "status"), [("crew", 403), ("operator", 403), ("seg", 403)])
def test_only_analysts_and_admins_may_ask(client: Any, tokens: Any, role: str, status: int) -> None:
    problem(client.get("/near-repeat", params=QUERY, headers=tokens[role]), status)
    body = {"categories": [CAT], "from": FROM.isoformat(), "to": TO.isoformat()}
    problem(client.post("/near-repeat", json=body, headers=tokens[role]), status)
    problem(client.get("/near-repeat", params=QUERY), 401)


def test_each_cell_says_whether_it_is_significant(client: Any, tokens: Any) -> None:
    """More pairs than expected and p at most 0.05 (the exact level of a Monte Carlo test): the
    flag the page marks; the table's near_repeat is the nearest, soonest cell's flag."""
    body = {**QUERY, "permutations": 99}
    (table,) = client.get("/near-repeat", params=body, headers=tokens["analyst"]).json()["tables"]
    cells = table["table"]["cells"]
    flags = [c["significant"] for c in cells]
    assert flags == [c["observed"] > c["expected"] and c["p_value"] <= 0.05 for c in cells]
    assert True in flags and False in flags  # both kinds occur, so the rule is exercised
    assert table["near_repeat"] is cells[0]["significant"]
    assert cells[0]["distance_m"][0] == 0 and cells[0]["time_days"][0] == 0


def test_category_counts_are_those_stored(db_session: Any, incidents: Any) -> None:
    """What the backtest page offers: held categories, most dated to the day first, counted."""
    from services.predictive.nearrepeat.service import category_counts

    got = category_counts(
        db_session, categories=["Burglary", CAT, "Criminal damage and arson", "Not held"]
    )
    rows = db_session.execute(
        text(
            "SELECT category, count(*), count(*) FILTER (WHERE time_precision <> 'month') "
            "FROM incidents.incidents WHERE category IN ('Burglary', :c, "
            "'Criminal damage and arson') GROUP BY category"
        ),
        {"c": CAT},
    ).all()
    want = {name: (int(n), int(d)) for name, n, d in rows}
    assert {g["name"]: (g["incidents"], g["by_day"]) for g in got} == want
    assert want["Burglary"][1] == 0 and want[CAT][1] > 0  # police by month, fires by day
    assert [g["by_day"] for g in got] == sorted((g["by_day"] for g in got), reverse=True)
    assert len(category_counts(db_session, categories=[], limit=2)) == 2  # all, bounded
