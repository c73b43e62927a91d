"""The crews' list page for issue #14: the date picker, "Go" links, the printed table and the
rank data the labels are drawn from, and a date the page cannot read.

Expected values come from the database and pyproj directly, not from the page's own helpers.
"""

from __future__ import annotations

import html as html_text
import json
import re
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import unquote
from zoneinfo import ZoneInfo

import pytest
from pyproj import Transformer
from sqlalchemy import text

from services.predictive.agencies.defaults import DEFAULTS
from services.predictive.web.maps import geo_href
from services.predictive.web.picker import MAX_LIST_DATES, choice_label

LONDON = ZoneInfo("Europe/London")
TO_WGS84 = Transformer.from_crs("EPSG:27700", "EPSG:4326", always_xy=True)
BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


def _written(d: date) -> str:
    return f"{d.day} {d.strftime('%B')} {d.year}"


def _bare_list(db: Any, agency: str, day: date) -> None:
    """A stored list row without boxes: enough for the picker to know the date has a list."""
    start = datetime.combine(day, time(9), tzinfo=LONDON)
    db.execute(
        text(
            "INSERT INTO predictive.target_lists (agency_id, list_date, method, requested_method,"
            " params, warnings, categories, cell_size_m, shift_start, shift_end, trained_before,"
            " n_events, n_candidate_cells, generated_by) SELECT id, :d, 'naive28', 'naive28',"
            " '{}', '[]', '[]', 150, :s, :e, :t, 0, 0, 'cli' FROM predictive.agencies"
            " WHERE code = :a"
        ),
        {"a": agency, "d": day, "s": start, "e": start + timedelta(hours=12), "t": start},
    )


def _newest_data_day(db: Any, agency: str) -> date:
    """The day after the agency's newest incident (London), straight from the table."""
    at, precision = db.execute(
        text(
            "SELECT occurred_at, time_precision FROM incidents.incidents WHERE category = "
            "ANY(:c) ORDER BY occurred_at DESC LIMIT 1"
        ),
        {"c": list(DEFAULTS[agency].categories)},
    ).one()
    assert precision == "exact"
    day: date = at.astimezone(LONDON).date()
    return day + timedelta(days=1)


def _options(html: str) -> list[tuple[str, str, bool]]:
    """(value, words, selected) of each option of the date picker."""
    picker = re.search(r'<select id="list-date" name="date" data-testid="list-date">(.*?)</select>',
                       html, re.S)  # fmt: skip
    assert picker, "no date picker on the page"
    found = re.findall(r'<option value="([^"]+)"( selected)?>([^<]*)</option>', picker.group(1))
    return [(v, html_text.unescape(words), bool(sel)) for v, sel, words in found]


def _get(client: Any, headers: dict[str, str], status: int = 200, **params: str) -> str:
    r = client.get("/targets/page", params=params, headers=headers)
    assert r.status_code == status, r.text[:500]
    return str(r.text)


def test_the_date_picker_offers_today_tomorrow_the_newest_data_and_every_list(
    client: Any, tokens: Any, today_list: Any, db_session: Any
) -> None:
    today = today_list.target_list.list_date
    for back in (3, 10):
        _bare_list(db_session, "kfrs", today - timedelta(days=back))
    newest = _newest_data_day(db_session, "kfrs")
    html = _get(client, tokens["crew"], agency="kfrs", date=today.isoformat())
    form = re.search(r'<form class="date-picker" method="get" action="([^"]+)"', html)
    assert form and form.group(1) == "/targets/page"
    assert '<input type="hidden" name="agency" value="kfrs">' in html
    options = _options(html)
    firsts = list(dict.fromkeys([today, today + timedelta(days=1), newest]))
    expected = firsts + [d for d in (today - timedelta(days=3), today - timedelta(days=10))]
    assert [v for v, _, _ in options] == [d.isoformat() for d in expected]
    words = dict((v, w) for v, w, _ in options)
    assert words[today.isoformat()].startswith(f"Today, {_written(today)}")
    tomorrow = today + timedelta(days=1)
    assert words[tomorrow.isoformat()].startswith(f"Tomorrow, {_written(tomorrow)}")
    assert words[tomorrow.isoformat()].endswith("no list yet)")
    assert "newest day with incident data" in words[newest.isoformat()]
    assert words[(today - timedelta(days=3)).isoformat()] == _written(today - timedelta(days=3))
    assert [v for v, _, sel in options if sel] == [today.isoformat()]
    # A date without a list: its page has the picker too, that date chosen and said so.
    gap = today - timedelta(days=5)
    html = _get(client, tokens["crew"], 404, agency="kfrs", date=gap.isoformat())
    chosen = [(v, w) for v, w, sel in _options(html) if sel]
    assert chosen == [(gap.isoformat(), f"{_written(gap)} (no list yet)")]


def test_the_picker_lists_a_bounded_number_of_dates(
    client: Any, tokens: Any, today_list: Any, db_session: Any
) -> None:
    today = today_list.target_list.list_date
    for back in range(1, MAX_LIST_DATES + 20):
        _bare_list(db_session, "kfrs", today - timedelta(days=back))
    old = today - timedelta(days=MAX_LIST_DATES + 10)  # an old list, asked for by address
    options = _options(_get(client, tokens["crew"], agency="kfrs", date=old.isoformat()))
    assert len(options) <= MAX_LIST_DATES + 3 + 1
    assert (old.isoformat(), _written(old), True) in options  # the page's own date is there


def test_go_opens_the_phones_maps_app_at_the_box(
    client: Any, tokens: Any, today_list: Any, db_session: Any
) -> None:
    # A ward name with the characters a geo: label must not carry raw.
    odd = "St Mary's (Hoo), <b>&"
    today_list.boxes[0].ward = odd
    db_session.flush()
    html = _get(
        client, tokens["crew"], agency="kfrs", date=today_list.target_list.list_date.isoformat()
    )
    items = re.findall(
        r'<li data-cell="([^"]+)"[^>]*data-testid="box-(\d+)">.*?<span class="ward">([^<]*)</span>'
        r'.*?<a class="go" href="([^"]+)"',
        html,
        re.S,
    )
    assert len(items) == len(today_list.boxes) == 20
    for cell, rank, ward, href in items:
        size, e, n = (float(v) for v in cell.replace("m_", "_").split("_"))
        lon, lat = TO_WGS84.transform(e + size / 2, n + size / 2)
        found = re.fullmatch(
            r"geo:([\d.]+),([\d.]+)\?q=([\d.]+),([\d.]+)\(([^()\s<>&\"']+)\)",
            html_text.unescape(href),
        )
        assert found, href
        assert found.group(1, 2) == found.group(3, 4)
        assert abs(float(found.group(1)) - lat) < 2e-6 and abs(float(found.group(2)) - lon) < 2e-6
        shown = html_text.unescape(ward)
        where = "outside the wards" if shown == "Outside the wards" else shown
        assert unquote(found.group(5)) == f"Box {rank}, {where}"
    assert html_text.unescape(items[0][2]) == odd


def test_the_print_table_and_the_rank_data(client: Any, tokens: Any, today_list: Any) -> None:
    html = _get(
        client, tokens["crew"], agency="kfrs", date=today_list.target_list.list_date.isoformat()
    )
    boxes = today_list.boxes
    # The printed table: one row per box with rank, ward, OS grid reference, tick box, notes.
    table = html[html.index('<table class="print-table"') : html.index("</table>")]
    heads = re.findall(r'<th scope="col"[^>]*>([^<]+)</th>', table)
    assert heads == ["Rank", "Ward", "Grid reference", "Visited", "Notes"]
    rows = re.findall(r'<tr data-testid="print-row-(\d+)">(.*?)</tr>', table, re.S)
    assert [int(r) for r, _ in rows] == list(range(1, len(boxes) + 1))
    for (rank, row), b in zip(rows, boxes, strict=True):
        size, e, n = (float(v) for v in b.cell_id.replace("m_", "_").split("_"))
        cx, cy = e + size / 2, n + size / 2
        # Medway is in the OS 100 km square TQ (500000-600000 E, 100000-200000 N).
        assert 500_000 <= cx < 600_000 and 100_000 <= cy < 200_000
        ref = f"TQ {int(cx % 100_000) // 10:04d} {int(cy % 100_000) // 10:04d}"
        cells = [html_text.unescape(re.sub(r"<[^>]+>", "", c)).strip()
                 for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]  # fmt: skip
        assert cells[:3] == [rank, b.ward or "Outside the wards", ref], cells
        assert '<span class="tick"></span>' in row and cells[4] == ""
    # What the labels are drawn from: numbers only, each box's centre and corners in WGS84.
    raw = re.search(r'<script type="application/json" id="rank-data">(.*?)</script>', html, re.S)
    assert raw
    data = json.loads(raw.group(1))
    assert [d["rank"] for d in data] == list(range(1, len(boxes) + 1))
    for d, b in zip(data, boxes, strict=True):
        assert set(d) == {"rank", "lat", "lon", "bounds"}
        size, e, n = (float(v) for v in b.cell_id.replace("m_", "_").split("_"))
        # The box's four corners in WGS84 (the grid square leans a little against the meridians).
        xs, ys = [e, e + size, e + size, e], [n, n, n + size, n + size]
        lons, lats = TO_WGS84.transform(xs, ys)
        (sw_lat, sw_lon), (ne_lat, ne_lon) = d["bounds"]
        assert abs(sw_lat - min(lats)) < 2e-6 and abs(sw_lon - min(lons)) < 2e-6
        assert abs(ne_lat - max(lats)) < 2e-6 and abs(ne_lon - max(lons)) < 2e-6
        assert sw_lat < d["lat"] < ne_lat and sw_lon < d["lon"] < ne_lon
    assert '<script src="/targets/page/ranks.js"></script>' in html
    js = client.get("/targets/page/ranks.js", headers=tokens["crew"])
    assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript")
    assert client.get("/targets/page/ranks.js").status_code == 401  # for those signed in
    assert "window.CSP_RANKS" in js.text and "innerHTML" not in js.text


@pytest.mark.parametrize(
    ("asked", "says"),
    [
        ("yesterday", "YYYY-MM-DD"),
        ("0001-01-01", "in the years"),
        ("<script>alert(1)</script>" + "x" * 80, "YYYY-MM-DD"),
    ],
)
def test_a_date_the_page_cannot_read_is_a_readable_page(
    client: Any, tokens: Any, today_list: Any, asked: str, says: str
) -> None:
    r = client.get(
        "/targets/page", params={"agency": "kfrs", "date": asked}, headers=tokens["crew"] | BROWSER
    )
    assert r.status_code == 422 and r.headers["content-type"].startswith("text/html")
    said = r.text[r.text.index('data-testid="bad-date"') :]
    assert says in said and "for example 2022-10-01" in said
    assert "<script>alert" not in r.text and html_text.escape(asked[:20]) in said
    assert len(asked) <= 40 or asked[:41] not in r.text  # echoed, but only the start of it
    assert _options(r.text)[0][1].startswith("Today, ")  # and the picker to choose from
    # Scripts asking the same get the problem+json naming the field.
    api = client.get(
        "/targets/page", params={"agency": "kfrs", "date": asked}, headers=tokens["crew"]
    )
    assert api.status_code == 422 and api.headers["content-type"] == "application/problem+json"
    assert api.json()["errors"][0]["field"] == "date"


def test_choice_words_and_geo_links() -> None:
    today = date(2026, 12, 2)
    words = {
        d: choice_label(d, today=today, newest_data=date(2022, 10, 1), has_list=has)
        for d, has in [(today, True), (date(2026, 12, 3), False), (date(2022, 10, 1), False)]
    }
    assert words == {
        today: "Today, 2 December 2026",
        date(2026, 12, 3): "Tomorrow, 3 December 2026 (no list yet)",
        date(2022, 10, 1): "1 October 2022 (newest day with incident data, no list yet)",
    }
    href = geo_href(51.3812344, 0.5212346, "Box 3, River (north)")
    assert href == "geo:51.381234,0.521235?q=51.381234,0.521235(Box%203%2C%20River%20%28north%29)"
