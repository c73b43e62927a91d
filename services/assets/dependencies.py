"""Request dependencies of the assets routers: who may do what, If-Match, the settings.

Roles (least privilege; admins hold every role). The register itself (cameras, their devices
and positions) is readable by every role, and its public part without a token.

- Faults, SLA breaches and availability (``FaultReader``): operator, seg, analyst. Operators
  run the faults; SEG weighs downtime in reviews; analysts measure it. Crews patrol target boxes
  and never handle camera faults, and a list of which cameras are down tells a reader where
  nobody is watching.
- Fault and footage writes, footage reads (``Operator``). Footage requests carry police
  references and notes about live investigations; operators record and answer them. SEG and
  analysts see the number of requests per camera in the recommendations' evidence, which is all
  a review needs.
- SEG decisions and recommendations (``ReviewReader``): seg and analyst. SEG records decisions
  (``Seg``); analysts evaluate what they changed. Operators see a decision's effect in the
  camera's lifecycle, not the minutes.
- Register edits and the audit history (``Admin``). The trail holds every actor's name and the
  before/after of each write, footage references included; an audit of the register is an
  administrator's task.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import Depends, Header

from services.assets.settings import AssetsSettings
from shared.auth import Principal, require
from shared.web.deps import AppSettings
from shared.web.params import BBox, Page, bbox_query, paging

OPERATORS = ("operator",)
FAULT_READERS = ("operator", "seg", "analyst")
REVIEW_READERS = ("seg", "analyst")

Admin = Annotated[Principal, Depends(require("admin"))]
Operator = Annotated[Principal, Depends(require(*OPERATORS))]
Seg = Annotated[Principal, Depends(require("seg"))]
FaultReader = Annotated[Principal, Depends(require(*FAULT_READERS))]
ReviewReader = Annotated[Principal, Depends(require(*REVIEW_READERS))]

IfMatch = Annotated[
    str | None,
    Header(alias="If-Match", description='The ETag from the last read, e.g. W/"3"'),
]
# What a route that needs If-Match can answer besides its own codes (OpenAPI ``responses``).
IF_MATCH_RESPONSES: dict[int | str, dict[str, Any]] = {
    412: {"description": "Stale ETag"},
    428: {"description": "No If-Match"},
}
# A version is a bigint; longer digit runs name no version we issued (and int() of 4,301+
# digits raises, which was a 500).
_ETAG = re.compile(r'^(?:W/)?"?([0-9]{1,18})"?$')


def parse_if_match(header: str | None, current: int | None = None) -> int | None:
    """The version named by If-Match (None when absent; -1 when it names none we issue)."""
    if header is None or not header.strip():
        return None
    for part in header.split(","):
        part = part.strip()
        if part == "*" and current is not None:
            return current
        m = _ETAG.match(part)
        if m:
            return int(m.group(1))
    return -1


def assets_settings(settings: AppSettings) -> AssetsSettings:
    """The app's settings (a default ``AssetsSettings`` when the app holds another kind)."""
    return settings if isinstance(settings, AssetsSettings) else AssetsSettings()


SettingsDep = Annotated[AssetsSettings, Depends(assets_settings)]


# One page of a list route: limit 1..1000 (default 100), offset up to MAX_OFFSET.
ListPage = Annotated[Page, Depends(paging(default=100, maximum=1000))]
BBoxQuery = Annotated[BBox | None, Depends(bbox_query)]
