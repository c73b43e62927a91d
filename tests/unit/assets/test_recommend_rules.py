"""Recommendation rules on hand-built evidence."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from services.assets.recommendations.rules import Evidence, Thresholds, recommend

T = Thresholds()


def ev(i: int, **kw: object) -> Evidence:
    base = Evidence(
        camera_id=i,
        asset_tag=f"T{i}",
        name=f"Cam {i}",
        technology="digital",
        deployment="fixed",
        installed_on=date(2020, 1, 1),
        expected_life_years=10,
        age_years=6.0,
        incidents=5,
        footage_requests=0,
        faults=0,
        downtime_hours=0.0,
        downtime_share=0.0,
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def rules(recs: list) -> set[tuple[int, str, str]]:  # type: ignore[type-arg]
    return {(r.camera_id, r.action, r.rule) for r in recs}


def test_in_use_fixed_camera_gets_no_advice() -> None:
    assert recommend([ev(1)], [], T) == []


def test_redundant_pair_keeps_the_better_used_one() -> None:
    a = ev(1, technology="analogue", footage_requests=0)
    b = ev(2, technology="analogue", footage_requests=2)
    got = rules(recommend([a, b], [(1, 2, 0.9)], T))
    assert (1, "decommission", "redundant_overlap") in got
    assert (2, "replace_with_digital", "redundant_overlap") in got
    assert not any(c == 1 and rule != "redundant_overlap" for c, _, rule in got)


def test_redundant_tie_keeps_the_newer_then_lower_id() -> None:
    a = ev(1, installed_on=date(2009, 3, 1))
    b = ev(2, installed_on=date(2009, 9, 1))
    got = rules(recommend([a, b], [(1, 2, 0.7)], T))
    assert (1, "decommission", "redundant_overlap") in got
    # digital keeper: nothing to replace
    assert not any(c == 2 and rule == "redundant_overlap" for c, _, rule in got)
    c, d = ev(3), ev(4)
    got = rules(recommend([c, d], [(3, 4, 0.7)], T))
    assert (4, "decommission", "redundant_overlap") in got


def test_overlap_below_threshold_is_ignored() -> None:
    assert recommend([ev(1), ev(2)], [(1, 2, 0.49)], T) == []
    assert rules(recommend([ev(1), ev(2)], [(1, 2, 0.49)], Thresholds(overlap_share=0.4)))


def test_end_of_life_poor_reliability_and_rapid_rules() -> None:
    old = ev(1, technology="analogue", age_years=12.0)
    assert rules(recommend([old], [], T)) == {(1, "replace_with_digital", "end_of_life")}
    flaky = ev(2, faults=4)
    assert rules(recommend([flaky], [], T)) == {(2, "review", "poor_reliability")}
    down = ev(3, downtime_share=0.3)
    assert rules(recommend([down], [], T)) == {(3, "review", "poor_reliability")}
    idle = ev(4, deployment="rapid", incidents=2)
    assert rules(recommend([idle], [], T)) == {(4, "review", "no_evidence_of_use")}
    used = ev(5, deployment="rapid", incidents=0, footage_requests=1)
    assert rules(recommend([used], [], T)) == {(5, "make_permanent", "rapid_in_use")}
    assert rules(recommend([idle], [], Thresholds(min_incidents=2))) == {
        (4, "make_permanent", "rapid_in_use")
    }
