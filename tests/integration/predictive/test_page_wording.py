"""The list page in plain words: the data's period, stale data said and linked, one sentence on
how the boxes were chosen, grammatical counts, the model's words kept in "About this list", and
each box's ward and OS grid reference (page, CSV, GeoJSON)."""

from __future__ import annotations

import calendar
import csv
import html as html_text
import io
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import text

from services.predictive.agencies.defaults import DEFAULTS
from tests.factories import LIST_DAY, incident_row, store_incidents

LONDON = ZoneInfo("Europe/London")


def _written(d: date) -> str:
    """ "30 April 2024", by the C library rather than the page's own month names."""
    return f"{d.day} {d.strftime('%B')} {d.year}"


def _newest(db: Any, agency: str, before: date | None = None) -> tuple[date, date]:
    """(first, last) day of the agency's incidents, straight from the table: a month-only
    incident counts to its month's end; a list of ``before`` sees only earlier days."""
    where = "category = ANY(:cats)" + (" AND occurred_at < :before" if before else "")
    args: dict[str, Any] = {"cats": list(DEFAULTS[agency].categories)}
    if before:
        args["before"] = datetime(before.year, before.month, before.day, tzinfo=LONDON)
    first = db.execute(
        text(f"SELECT min(occurred_at) FROM incidents.incidents WHERE {where}"), args
    ).scalar_one()
    at, precision = db.execute(
        text(
            f"SELECT occurred_at, time_precision FROM incidents.incidents WHERE {where} "
            "ORDER BY occurred_at DESC LIMIT 1"
        ),
        args,
    ).one()
    last = at.astimezone(LONDON).date()
    if precision == "month":
        last = last.replace(day=calendar.monthrange(last.year, last.month)[1])
    if before:
        last = min(last, before - timedelta(days=1))
    return first.astimezone(LONDON).date(), last


def _testid(html: str, testid: str) -> str:
    found = re.search(rf'data-testid="{testid}"[^>]*>(.*?)</(?:p|div|a|span)>', html, re.S)
    assert found, f"no {testid} on the page"
    return " ".join(html_text.unescape(re.sub(r"<[^>]+>", "", found.group(1))).split())


def _page(client: Any, agency: str, day: date, headers: dict[str, str], status: int = 200) -> str:
    r = client.get(
        "/targets/page", params={"agency": agency, "date": day.isoformat()}, headers=headers
    )
    assert r.status_code == status, r.text[:500]
    return str(r.text)


def test_the_page_says_what_the_data_cover_and_how_the_boxes_were_chosen(
    client: Any, tokens: Any, make_list: Any, db_session: Any
) -> None:
    view = make_list("kfrs", LIST_DAY)
    html = _page(client, "kfrs", LIST_DAY, tokens["crew"])
    _, last = _newest(db_session, "kfrs", before=LIST_DAY)
    assert _testid(html, "data-period") == f"Incidents up to {_written(last)}."
    assert 'data-testid="stale-data"' not in html  # the data reach the list's day
    kfrs = DEFAULTS["kfrs"]
    start, end = kfrs.shift_start_hour, (kfrs.shift_start_hour + kfrs.shift_length_hours) % 24
    how = _testid(html, "how-chosen")
    assert how.startswith(
        f"The {kfrs.boxes_per_day} boxes ({kfrs.cell_size_m:g} m squares) where incidents are "
        f"most likely in this shift ({start:02d}:00 to {end:02d}:00), from "
    ), how
    assert how.endswith(".") and how.count(".") == 1  # one sentence
    # The model's words only inside the collapsed "About this list".
    about_at = html.index('data-testid="about-list"')
    assert re.search(r'<details class="about" data-testid="about-list">', html)  # collapsed
    method = view.target_list.method
    before, about = html[:about_at].lower(), html[about_at:]
    for word in (method.lower(), "theta", "omega", "background_per_day", "trained on"):
        assert word not in before, word
    assert f"<code>{method}</code>" in about
    shown = [k for k in ("theta", "background_per_day") if view.target_list.params.get(k)]
    assert shown and all(f"<code>{k}</code>" in about for k in shown)
    assert f"{view.target_list.n_events:,} incidents before" in html[about_at:]


def test_counts_agree_with_their_numbers(
    make_client: Any, medway: Any, tokens: Any, make_list: Any
) -> None:
    """One incident, one box: "The box (a 150 m square)", "1 incident", never "1 boxes"."""
    when = datetime.combine(LIST_DAY - timedelta(days=10), datetime.min.time(), tzinfo=UTC)
    store_incidents(medway, [incident_row(occurred_at=when, lon=0.5270, lat=51.3830)])
    client = make_client("predictive")
    view = make_list("kfrs", LIST_DAY)
    assert len(view.boxes) == 1 and view.target_list.n_events == 1  # the case really is one
    html = _page(client, "kfrs", LIST_DAY, tokens["crew"])
    how = _testid(html, "how-chosen")
    assert how.startswith("The box (a 150 m square) where incidents are most likely"), how
    assert "1 incident before" in html
    text_only = re.sub(r"<[^>]+>", " ", html)
    for wrong in ("1 boxes", "1 incidents", "1 visits", "1 days"):
        assert wrong not in text_only, wrong
    assert html.count('data-testid="box-') == 1


def test_a_list_without_recent_data_says_so_and_links_the_newest_day_with_data(
    client: Any, tokens: Any, make_list: Any, db_session: Any
) -> None:
    """Police files give months only: data "up to 30 April 2024", newest day 1 May 2024."""
    _, last = _newest(db_session, "police")
    newest_day = last + timedelta(days=1)
    stale_day = newest_day + timedelta(days=200)
    make_list("police", stale_day)
    html = _page(client, "police", stale_day, tokens["crew"])
    assert _testid(html, "data-period") == f"Incidents up to {_written(last)}."
    notice = _testid(html, "stale-data")
    assert "No incident data for this window." in notice
    assert f"from {_written(last)}, {(stale_day - last).days} days before" in notice
    # No list for the newest day with data yet: how one is made, with that date.
    assert 'data-testid="newest-data-link"' not in html
    how = _testid(html, "how-to-make")
    assert f"csp predict generate --agency police --date {newest_day.isoformat()}" in how
    make_list("police", newest_day)
    html = _page(client, "police", stale_day, tokens["crew"])
    link = re.search(r'<a href="([^"]+)" data-testid="newest-data-link">([^<]+)</a>', html)
    assert link, html
    assert link.group(1) == f"/targets/page?agency=police&amp;date={newest_day.isoformat()}"
    assert _written(newest_day) in link.group(2)
    assert 'data-testid="how-to-make"' not in html
    # That day's own page has data near it: no notice.
    fresh = _page(client, "police", newest_day, tokens["crew"])
    assert 'data-testid="stale-data"' not in fresh
    assert _testid(fresh, "data-period") == f"Incidents up to {_written(last)}."


def test_the_no_list_page_says_the_period_and_links_the_newest_list(
    client: Any, tokens: Any, make_list: Any, db_session: Any
) -> None:
    first, last = _newest(db_session, "kfrs")
    newest_day = last + timedelta(days=1)
    make_list("kfrs", newest_day)
    make_list("kfrs", newest_day - timedelta(days=3))
    html = _page(client, "kfrs", date(2150, 1, 1), tokens["crew"], status=404)
    assert _testid(html, "data-period") == f"Incidents from {_written(first)} to {_written(last)}."
    data = re.search(r'<a href="([^"]+)" data-testid="newest-data-link">', html)
    newest = re.search(r'href="([^"]+)" data-testid="newest-list-link">', html)
    want = f"/targets/page?agency=kfrs&amp;date={newest_day.isoformat()}"
    assert data and data.group(1) == want
    assert newest and newest.group(1) == want


def test_each_box_shows_its_ward_and_os_grid_reference(
    client: Any, tokens: Any, make_list: Any, db_session: Any
) -> None:
    view = make_list("kfrs", LIST_DAY)
    boxes = db_session.execute(
        text(
            "SELECT rank, cell_id, ward, ST_X(ST_Centroid(geom)), ST_Y(ST_Centroid(geom)) "
            "FROM predictive.target_boxes WHERE list_id = :l ORDER BY rank"
        ),
        {"l": view.target_list.id},
    ).all()
    assert len(boxes) == 20
    expected = {}
    for rank, cell_id, ward, x, y in boxes:
        # Medway lies in the 100 km square TQ (eastings 500-600 km, northings 100-200 km).
        assert 500_000 <= x < 600_000 and 100_000 <= y < 200_000
        expected[rank] = (
            cell_id,
            ward,
            f"TQ {int(x) % 100_000 // 10:04d} {int(y) % 100_000 // 10:04d}",
        )
    assert any(w for _, w, _ in expected.values())  # wards are really there
    html = _page(client, "kfrs", LIST_DAY, tokens["crew"])
    for rank, (cell_id, ward, ref) in expected.items():
        item = re.search(
            rf'<li data-cell="{cell_id}"[^>]*data-testid="box-{rank}">(.*?)</li>', html, re.S
        )
        assert item, rank
        assert _testid(item.group(0), f"grid-ref-{rank}") == ref
        assert html_text.escape(ward or "Outside the wards") in item.group(1)
    q = {"agency": "kfrs", "date": LIST_DAY.isoformat()}
    rows = list(
        csv.DictReader(
            io.StringIO(client.get("/targets.csv", params=q, headers=tokens["crew"]).text)
        )
    )
    assert [(int(r["rank"]), r["grid_ref"], r["ward"]) for r in rows] == [
        (rank, ref, ward or "") for rank, (_, ward, ref) in expected.items()
    ]
    feats = client.get("/targets", params=q, headers=tokens["crew"]).json()["features"]
    assert [f["properties"]["grid_ref"] for f in feats] == [e[2] for e in expected.values()]
