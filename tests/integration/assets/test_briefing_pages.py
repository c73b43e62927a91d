"""The briefing's doors and formats: who may open it, bad quarters, the PDF, the map image.

The seeds and the counts worked out from them are ``test_briefing``'s.
"""

from __future__ import annotations

import base64
import io
import re
import shutil
import subprocess
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.integration.assets import test_briefing as _base
from tests.integration.assets.test_briefing import (
    END,
    FAULTS,
    QUARTER,
    REFERENCES,
    START,
    by_testid,
    expected_counts,
)

seeded = _base.seeded  # the fixture: the same seeds

LONDON = ZoneInfo("Europe/London")
PDFTOTEXT = shutil.which("pdftotext")


def pdf_text(pdf: bytes) -> str:
    """The PDF's text as poppler reads it (one space between words)."""
    if PDFTOTEXT is None:
        pytest.fail("pdftotext (Debian poppler-utils) is needed to read the briefing's PDF")
    out = subprocess.run(
        [PDFTOTEXT, "-layout", "-", "-"], input=pdf, capture_output=True, check=True, timeout=60
    )
    return re.sub(r"[ \t]+", " ", out.stdout.decode("utf-8"))


@pytest.mark.parametrize(
    ("role", "status"),
    [("seg", 200), ("analyst", 200), ("admin", 200), ("operator", 403), ("crew", 403)],
)
def test_who_may_open_the_briefing(
    client: Any, tokens: dict[str, dict[str, str]], role: str, status: int
) -> None:
    for path in ("/briefing", "/briefing.pdf"):
        r = client.get(path, headers=tokens[role])
        assert r.status_code == status, (path, role, r.text[:200])
        if status == 403:
            assert r.headers["content-type"].startswith("text/html")
            assert "seg" in r.text and "analyst" in r.text  # the 403 page names the roles


def test_nobody_signed_in_gets_the_sign_in_page(client: Any) -> None:
    for path in ("/briefing", "/briefing.pdf?quarter=2024Q2"):
        r = client.get(path)
        assert r.status_code == 401
        assert r.headers["content-type"].startswith("text/html")
        assert 'data-testid="signin-username"' in r.text


@pytest.mark.parametrize(
    ("quarter", "says"),
    [
        ("2024Q5", "is not a quarter"),
        ("last quarter", "is not a quarter"),
        ("2024Q2" + "x" * 5000, "is not a quarter"),
        ("2099Q1", "2099 Q1 has not begun"),
        ("1999Q4", "1999 Q4 is before the register's records begin"),
    ],
)
def test_a_bad_quarter_is_named(
    client: Any, tokens: dict[str, dict[str, str]], quarter: str, says: str
) -> None:
    page = client.get("/briefing", params={"quarter": quarter}, headers=tokens["seg"])
    assert page.status_code == 422
    assert page.headers["content-type"].startswith("text/html")
    assert says in by_testid(page.text, "briefing-error")
    assert 'data-testid="quarter-picker"' in page.text  # and a way on
    pdf = client.get("/briefing.pdf", params={"quarter": quarter}, headers=tokens["seg"])
    assert pdf.status_code == 422
    assert pdf.headers["content-type"] == "application/problem+json"
    body = pdf.json()
    assert says in body["detail"] and body["errors"][0]["field"] == "quarter"
    assert len(body["detail"]) < 300  # a long value is not echoed whole


def test_the_default_is_the_last_full_quarter(
    client: Any, tokens: dict[str, dict[str, str]]
) -> None:
    today = datetime.now(LONDON).date()
    year, q = today.year, (today.month - 1) // 3 + 1
    year, q = (year - 1, 4) if q == 1 else (year, q - 1)
    page = client.get("/briefing", headers=tokens["seg"]).text
    assert f'data-quarter="{year}Q{q}"' in page
    assert f'<option value="{year}Q{q}" selected>' in page
    # The quarter running now can be chosen, and says it is still running.
    now_q = f"{today.year}Q{(today.month - 1) // 3 + 1}"
    running = client.get(f"/briefing?quarter={now_q}", headers=tokens["seg"])
    assert running.status_code == 200
    assert "the quarter is still running" in by_testid(running.text, "briefing-period")


def test_the_pdf_holds_the_page_s_figures(
    client: Any, tokens: dict[str, dict[str, str]], seeded: dict[str, Any], artifacts_dir: Any
) -> None:
    r = client.get(f"/briefing.pdf?quarter={QUARTER}", headers=tokens["seg"])
    assert r.status_code == 200, r.text[:300]
    assert r.headers["content-type"] == "application/pdf"
    assert r.headers["content-disposition"] == 'attachment; filename="cctv-briefing-2024Q2.pdf"'
    assert r.content.startswith(b"%PDF-")
    (artifacts_dir / "briefing-2024Q2-integration.pdf").write_bytes(r.content)
    text = pdf_text(r.content)
    want = expected_counts(START, END)
    assert "CCTV briefing: April to June 2024" in text
    assert f"Logged in the period {want['opened']}" in text
    assert f"Fixed or closed in the period {want['fixed']}" in text
    assert f"Still open at the end of the period {want['open_at_end']}" in text
    assert f"Open at the start of the period {want['open_at_start']}" in text
    for i, f in enumerate(FAULTS):
        breached = f.category == "vandalism" or (f.cam in "AB" and f.category == "no_picture")
        assert (seeded["numbers"][i] in text) is breached, seeded["numbers"][i]
    assert "SEG/24/05/3" in text and "SEG/24/07/1" not in text
    for ref in REFERENCES:
        assert ref not in text
    assert "Page 1 of" in text  # the A4 page furniture
    assert b"/Subtype /Image" in r.content  # the map


def test_the_map_is_drawn_from_the_register(
    db_session: Any, client: Any, tokens: dict[str, dict[str, str]], seeded: dict[str, Any]
) -> None:
    from PIL import Image

    from shared.boundaries.service import load_layer
    from tests.factories import WARDS

    page = client.get(f"/briefing?quarter={QUARTER}", headers=tokens["seg"]).text
    alt = re.search(r'data-testid="briefing-map-image"', page)
    assert alt is not None
    assert "the Medway outline (no wards loaded)" in page
    load_layer(db_session, WARDS, layer="ward", source="briefing test wards")
    page = client.get(f"/briefing?quarter={QUARTER}", headers=tokens["seg"]).text
    m = re.search(r'<img src="data:image/png;base64,([^"]+)" alt="([^"]+)"', page)
    assert m is not None
    alt_text = m.group(2)
    assert alt_text.startswith("Map of 22 wards with ")
    n_active = int(re.search(r"(\d+) active", alt_text).group(1))  # type: ignore[union-attr]
    assert n_active >= 4  # A, B, C, G at least (other tests' cameras may be there too)
    img = Image.open(io.BytesIO(base64.b64decode(m.group(1)))).convert("RGB")
    colours = set(img.getdata())
    assert (0x2C, 0xA2, 0x5F) in colours  # active cameras' green
    assert (0x9E, 0x9A, 0xC8) in colours  # in store (D, E)


def test_the_pdf_loads_nothing_from_elsewhere(tmp_path: Any) -> None:
    from services.assets.briefing.pdf import RefusedURL, _fetcher_class, html_to_pdf
    from shared.app import STATIC_DIR

    base = "http://127.0.0.1:8001/"
    fetch = _fetcher_class()(base_url=base, static_dir=STATIC_DIR)
    assert b"--brand" in fetch.fetch(base + "static/csp/kit.css").read()
    for url in (
        "http://example.org/static/csp/kit.css",
        base + "static/csp/../../app.py",
        base + "static/csp/context.js",
        base + "briefing.pdf",
        "file:///etc/passwd",
    ):
        with pytest.raises(RefusedURL):
            fetch.fetch(url)
    # A page that asks for other hosts still becomes a PDF, without them.
    pdf = html_to_pdf(
        '<p>Hello</p><img src="http://192.0.2.1/x.png"><link rel="stylesheet" href="file:///etc/x">',
        base_url=base,
        static_dir=STATIC_DIR,
    )
    assert pdf.startswith(b"%PDF-")


def test_seed_dates_are_what_the_briefing_calls_the_quarter() -> None:
    """The test's own London midnights (BST on both edges)."""
    assert START == datetime(2024, 3, 31, 23, tzinfo=UTC)
    assert END == datetime(2024, 6, 30, 23, tzinfo=UTC)
    assert date(2024, 4, 1) == START.astimezone(LONDON).date()
