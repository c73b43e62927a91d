"""What the review map's popups say, as data trees (``shared.maps.h``) bound in the browser.

A camera's popup: name, tag, lifecycle, place, type and purpose; for fault readers its health
and open faults; for review readers the decisions recorded on it (what, when, by whom, the
minute) and what is due; for the SEG a "Record decision" link. A recommendation's popup: the
action, rule, reason and evidence, or the decision that answered it. Nothing here is markup.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from services.assets.web.reviewviews import (
    LIFECYCLE_LABELS,
    CameraView,
    DecisionView,
    FaultView,
    RecView,
    css_word,
)
from shared.maps import Node, h

NO_DATA = "no incident data for this window"
EVIDENCE_ROWS = (
    ("incidents", "Incidents in view"),
    ("footage_requests", "Footage requests"),
    ("faults", "Faults"),
    ("downtime_share", "Downtime share"),
    ("age_years", "Age (years)"),
    ("expected_life_years", "Expected life"),
    ("overlap_share", "View overlap"),
)


def decide_href(camera_id: int, rec: int | None = None) -> str:
    """The map opening the decision form for a camera (or a recommendation); the page's script
    opens it in place instead."""
    return f"/map?decide={camera_id}" + (f"&rec={rec}" if rec is not None else "")


def record_link(camera_id: int, rec: int | None = None) -> Node:
    """The "Record decision" link of a popup (data-testid ``record-decision``)."""
    return h(
        "a",
        "Record decision",
        href=decide_href(camera_id, rec),
        class_="csp-decide",
        data_testid="record-decision",
    )


def _fault_node(faults: Sequence[FaultView]) -> Node:
    items = []
    for f in faults:
        when = f.reported_at.strftime("%d %b %Y %H:%M")
        if f.sla_due:
            when += f", due {f.sla_due.strftime('%d %b %H:%M')}"
        items.append(
            h(
                "li",
                h("b", f.number),
                " ",
                f.category.replace("_", " "),
                " ",
                h("span", f.status.replace("_", " "), class_="badge"),
                h("br"),
                h("small", when),
                h("br"),
                f.description[:200],
            )
        )
    return h("div", h("b", f"Open faults ({len(faults)})"), h("ul", *items), class_="csp-faults")


def decisions_node(decisions: Sequence[DecisionView], limit: int = 3) -> Node:
    """The newest decisions on a camera, newest first: what, when, by whom, the minute."""
    newest = sorted(decisions, key=lambda d: (d.meeting_date, d.id), reverse=True)[:limit]
    items = [
        h(
            "li",
            h("b", d.label),
            " ",
            h("span", d.status, class_=f"badge decision-{css_word(d.status)}"),
            h("br"),
            h("small", d.detail),
            class_="csp-decision-item",
        )
        for d in newest
    ]
    return h(
        "div",
        h("b", f"SEG decisions ({len(decisions)})"),
        h("ul", *items),
        class_="csp-decisions",
        data_testid="popup-decisions",
    )


def camera_popup(
    c: CameraView,
    faults: Sequence[FaultView] | None,
    signed_in: bool,
    *,
    decisions: Sequence[DecisionView] | None = None,
    can_decide: bool = False,
    window_note: str | None = None,
) -> Node:
    """What a camera's popup says, as data (see the module docstring for who sees what).

    ``window_note`` is what the evidence window says of every camera (no incident data).
    """
    state: list[Node] = [LIFECYCLE_LABELS.get(c.lifecycle, c.lifecycle)]
    if c.health is not None:
        state += [" \u00b7 ", h("span", c.health, class_=f"badge health-{css_word(c.health)}")]
    parts: list[Node] = [
        h("b", c.name),
        " ",
        h("small", c.asset_tag),
        h("div", *state),
        h("div", h("small", c.place), class_="csp-place"),
        h("div", h("small", c.kind.capitalize())),
    ]
    if c.purpose:
        parts.append(h("div", h("small", f"Purpose: {c.purpose}"), class_="csp-purpose"))
    if c.next_review_due and signed_in:
        parts.append(h("div", h("small", f"Review due {c.next_review_due}")))
    if c.due and signed_in:
        parts.append(h("div", h("b", f"Due: {c.due}"), class_="csp-due", data_testid="popup-due"))
    if window_note:
        parts.append(h("div", h("small", window_note), data_testid="popup-window-note"))
    if faults:
        parts.append(_fault_node(faults))
    elif faults is not None and signed_in:
        parts.append(h("div", h("small", "No open faults")))
    if decisions:
        parts.append(decisions_node(decisions))
    if can_decide and c.allowed_decisions:
        parts.append(h("div", record_link(c.id), class_="csp-actions"))
    return h("div", *parts, class_="csp-popup")


def _shown(key: str, value: Any, ev: dict[str, Any]) -> str:
    if key == "incidents" and ev.get("incident_days") == 0:
        return NO_DATA
    if key in ("downtime_share", "overlap_share"):
        return f"{float(value):.0%}"
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def evidence_node(ev: dict[str, Any]) -> Node:
    """The evidence table; incidents say "no incident data for this window" where so."""
    rows = [
        h("tr", h("th", label), h("td", _shown(key, ev[key], ev)))
        for key, label in EVIDENCE_ROWS
        if ev.get(key) is not None
    ]
    days, window = ev.get("incident_days"), ev.get("window_days")
    if days and window and days < window:
        rows.append(h("tr", h("th", "Days with incident data"), h("td", f"{days} of {window}")))
    return h("table", *rows, class_="csp-evidence")


def rec_popup(
    r: RecView, cams: dict[int, CameraView], *, index: int | None = None, can_decide: bool = False
) -> Node:
    """What a recommendation's popup says, as data: action, rule, reason and evidence."""
    cam = cams.get(r.camera_id)
    name = cam.name if cam else f"camera {r.camera_id}"
    related = cams.get(r.related_camera_id) if r.related_camera_id else None
    parts: list[Node] = [h("b", r.action_words.capitalize()), ": ", name, h("br")]
    if cam:
        parts += [h("small", cam.place, class_="csp-place"), h("br")]
    parts += [h("small", f"Rule: {r.rule.replace('_', ' ')}"), h("p", r.reason)]
    if related:
        role = "Keep" if r.action == "decommission" else "Remove"
        word = f"{role}: {related.name}" if r.pair_kind else f"Related: {related.name}"
        parts.append(h("p", h("small", word)))
    if r.decided is not None:
        parts.append(h("p", h("b", "Decided: "), r.decided.summary, class_="csp-decided-note"))
    elif r.evidence:
        parts.append(evidence_node(r.evidence))
    if can_decide and r.decided is None and cam is not None:
        parts.append(h("div", record_link(cam.id, index), class_="csp-actions"))
    return h("div", *parts, class_="csp-popup")
