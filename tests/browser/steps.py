"""Steps the browser tests share: the page sizes, and a page cut off from the internet.

``cut_off`` stops every request to another host (map tiles may get a blank stand-in tile, as the
tile source is a setting) and notes what failed. Two ways to judge error answers, as the pages
need: by default a page itself may be an error page (a 401 sign-in, a 403) but nothing it loads
may fail (such an answer is noted in ``failed``); with ``listed=True`` every error answer, page
or not, must be one the test names to ``check`` (``expected_status``).
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

LAPTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
# A blank 1x1 PNG: what a tile request gets instead of the network.
BLANK_TILE = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8/x8AAwMCAO+ip1sAAAAASUVORK5CYII="
)
TILE_URL = re.compile(r"^https?://[^/]+/\d+/\d+/\d+\.png$")
# Not requests to a host: never counted as leaving the machine.
LOCAL_SCHEMES = ("data:", "blob:", "about:")


@dataclass
class Offline:
    """What a page asked of other hosts (tiles answered by a stand-in, the rest stopped), the
    requests that failed and the error answers."""

    listed: bool = False  # every error answer must be named to ``check``
    tiles: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    bad_status: list[tuple[int, str]] = field(default_factory=list)
    expected_failures: int = 0

    def check(self, what: str = "", *, expected_status: tuple[tuple[int, str], ...] = ()) -> None:
        """Nothing but tiles left the machine, no request failed (but ``expected_failures``),
        and, when ``listed``, no error answer other than ``expected_status`` ((status, path)
        pairs the test provoked)."""
        at = f"{what}: " if what else ""
        assert self.blocked == [], f"{at}requests to other hosts: {self.blocked[:5]}"
        assert len(self.failed) == self.expected_failures, f"{at}failed: {self.failed[:5]}"
        if self.listed:
            unexpected = [b for b in self.bad_status if b not in expected_status]
            assert unexpected == [], f"{at}error answers: {unexpected}"


def cut_off(target: Any, *, tiles: bool = False, listed: bool = False) -> Offline:
    """Stop every request ``target`` (a page, or a browser context with its new tabs) makes to
    another host; answer map tiles with a blank one when ``tiles``; note what failed."""
    seen = Offline(listed=listed)

    def handle(route: Any) -> None:
        url = route.request.url
        if urlsplit(url).hostname == "127.0.0.1":
            route.continue_()
        elif tiles and TILE_URL.match(url):
            seen.tiles.append(url)
            route.fulfill(status=200, content_type="image/png", body=BLANK_TILE)
        else:
            if not url.startswith(LOCAL_SCHEMES):
                seen.blocked.append(url)
            route.abort()

    def response(r: Any) -> None:
        if r.status < 400:
            return
        seen.bad_status.append((r.status, urlsplit(r.url).path))
        # A page may itself be a 401 sign-in or 403 page; what it loads must not fail.
        if not listed and r.request.resource_type != "document":
            seen.failed.append(f"{r.url} -> {r.status}")

    target.route("**/*", handle)
    target.on("requestfailed", lambda r: seen.failed.append(f"{r.url} {r.failure}"))
    target.on("response", response)
    return seen


def watch_errors(page: Any) -> list[str]:
    """The JavaScript errors ``page`` raises from now on."""
    found: list[str] = []
    page.on("pageerror", lambda exc: found.append(str(exc)))
    return found
