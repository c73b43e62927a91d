"""GeoReport v2 bodies in JSON and XML, and its errors in both.

XML is built with ``xml.etree.ElementTree``, which escapes every text it is given: user text
(descriptions, addresses, media links) is only ever element text, never markup. Shapes as the
spec gives them: ``<services><service>``, ``<service_definition>``, ``<service_requests>
<request>``, ``<discovery>``, FixMyStreet's ``<service_requests_updates><request_update>``, and
errors as ``<errors><error><code/><description/></error></errors>`` (JSON: the array form).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

Format = Literal["json", "xml"]
FORMATS: tuple[Format, ...] = ("json", "xml")
XML_MEDIA = "text/xml"
JSON_MEDIA = "application/json"
# The item element of each list root; a list field inside an item names its children too.
ITEMS = {
    "services": "service",
    "service_requests": "request",
    "service_requests_updates": "request_update",
    "errors": "error",
    "attributes": "attribute",
    "values": "value",
    "endpoints": "endpoint",
    "formats": "format",
}


class XmlResponse(Response):
    """A GeoReport XML body."""

    media_type = XML_MEDIA


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return str(value)


def _fill(parent: ET.Element, name: str, value: Any) -> None:
    """Add ``value`` under ``parent`` as element ``name`` (lists: one child per item)."""
    node = ET.SubElement(parent, name)
    if isinstance(value, Mapping):
        for key, sub in value.items():
            _fill(node, key, sub)
    elif isinstance(value, list | tuple):
        child = ITEMS.get(name, "item")
        for sub in value:
            _fill(node, child, sub)
    else:
        node.text = _text(value)


def xml_bytes(root: str, body: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> bytes:
    """The XML document of ``body`` under element ``root`` (a list: one item element each)."""
    top = ET.Element(root)
    if isinstance(body, Mapping):
        for key, value in body.items():
            _fill(top, key, value)
    else:
        for item in body:
            _fill(top, ITEMS[root], item)
    out: bytes = ET.tostring(top, encoding="utf-8", xml_declaration=True)
    return out


def _plain(body: BaseModel | Sequence[BaseModel] | Mapping[str, Any]) -> Any:
    if isinstance(body, BaseModel):
        return body.model_dump(mode="json")
    if isinstance(body, Mapping):
        return dict(body)
    return [b.model_dump(mode="json") for b in body]


def respond(
    fmt: Format,
    root: str,
    body: BaseModel | Sequence[BaseModel] | Mapping[str, Any],
    *,
    status_code: int = 200,
) -> Response:
    """``body`` as GeoReport JSON, or as XML under ``root``."""
    plain = _plain(body)
    if fmt == "xml":
        return XmlResponse(xml_bytes(root, plain), status_code=status_code)
    return JSONResponse(plain, status_code=status_code)


def error(
    fmt: Format, status: int, description: str, headers: Mapping[str, str] | None = None
) -> Response:
    """A GeoReport error: ``[{"code", "description"}]`` or ``<errors><error>`` with ``status``."""
    body = [{"code": status, "description": description}]
    if fmt == "xml":
        return XmlResponse(xml_bytes("errors", body), status_code=status, headers=headers)
    return JSONResponse(body, status_code=status, headers=headers)
