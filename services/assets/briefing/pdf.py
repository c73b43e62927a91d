"""The briefing as a PDF: WeasyPrint lays out the page's own HTML with its print styles (A4).

WeasyPrint fetches nothing from the network here: its URL fetcher serves the suite's own
stylesheets from disk and ``data:`` URLs (the map), and refuses every other URL, so no text on
the page can make the server request a host or read a file.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

PDF_MEDIA_TYPE = "application/pdf"
# The only files the fetcher serves: the suite's stylesheets under /static/csp/.
STYLE_PREFIX = "/static/csp/"


class RefusedURL(ValueError):
    """A URL the PDF may not load (WeasyPrint logs it and leaves the resource out)."""


def style_file(url: str, *, base_url: str, static_dir: Path) -> Path | None:
    """The file behind a same-origin ``/static/csp/*.css`` URL, or None for any other URL."""
    parts, base = urlsplit(url), urlsplit(base_url)
    if (parts.scheme, parts.netloc) != (base.scheme, base.netloc):
        return None
    if not parts.path.startswith(STYLE_PREFIX) or not parts.path.endswith(".css"):
        return None
    root = (static_dir / "csp").resolve()
    path = (root / parts.path.removeprefix(STYLE_PREFIX)).resolve()
    return path if path.is_relative_to(root) and path.is_file() else None


@cache
def _fetcher_class() -> Any:
    """WeasyPrint's URLFetcher narrowed to data: URLs and the suite's stylesheets (imported late:
    WeasyPrint takes a while to load, and only this route needs it)."""
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    class SuiteOnlyFetcher(URLFetcher):  # type: ignore[misc]
        """Serve data: URLs and the suite's own stylesheets; refuse everything else."""

        def __init__(self, *, base_url: str, static_dir: Path) -> None:
            super().__init__(allowed_protocols=("data", "http", "https"))
            self.base_url = base_url
            self.static_dir = static_dir

        def fetch(self, url: str, headers: Any = None) -> Any:
            """The resource at ``url`` if it is one the PDF may use."""
            if url.startswith("data:"):
                return super().fetch(url, headers)
            path = style_file(url, base_url=self.base_url, static_dir=self.static_dir)
            if path is None:
                raise RefusedURL(f"the briefing's PDF loads nothing from {url}")
            return URLFetcherResponse(url, path.read_bytes(), {"Content-Type": "text/css"})

    return SuiteOnlyFetcher


def html_to_pdf(html: str, *, base_url: str, static_dir: Path) -> bytes:
    """``html`` laid out as a PDF (print media), its stylesheets read from ``static_dir``."""
    from weasyprint import HTML

    fetcher = _fetcher_class()(base_url=base_url, static_dir=static_dir)
    pdf: bytes = HTML(string=html, base_url=base_url, url_fetcher=fetcher).write_pdf()
    return pdf
