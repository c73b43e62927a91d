"""OS grid references: letters from published references, digits truncated, round trip."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.osgrid import grid_ref

# Published six-figure references of landmarks, with their eastings/northings (metres).
KNOWN = [
    ((216_600, 771_200), "NN 166 712"),  # Ben Nevis summit
    ((134_200, 25_300), "SW 342 253"),  # Land's End
    ((325_100, 673_500), "NT 251 735"),  # Edinburgh Castle
    ((447_500, 1_141_300), "HU 475 413"),  # Lerwick
    ((575_800, 168_200), "TQ 758 682"),  # Rochester, Medway
    ((651_000, 329_000), "TG 510 290"),  # Norfolk coast (the TG square)
    ((357_900, 1_008_200), "HY 579 082"),  # Orkney
]
LETTERS = "ABCDEFGHJKLMNOPQRSTUVWXYZ"


@pytest.mark.parametrize(("point", "ref"), KNOWN)
def test_published_references(point: tuple[int, int], ref: str) -> None:
    assert grid_ref(*point, digits=3) == ref


def test_digits_truncate_rather_than_round() -> None:
    assert grid_ref(575_819.9, 168_239.9) == "TQ 7581 6823"
    assert grid_ref(575_819.9, 168_239.9, digits=5) == "TQ 75819 68239"
    assert grid_ref(575_819.9, 168_239.9, digits=1) == "TQ 7 6"


@pytest.mark.parametrize(
    "point", [(-1, 0), (0, -0.5), (700_000, 0), (0, 1_300_000), (float("nan"), 0)]
)
def test_off_the_grid_is_none(point: tuple[float, float]) -> None:
    assert grid_ref(*point) is None


def test_digits_are_checked() -> None:
    with pytest.raises(ValueError):
        grid_ref(1, 1, digits=0)


def _parse(ref: str) -> tuple[int, int]:
    """Back to metres, the way an OS map's margin explains it (independent of the code)."""
    letters, e, n = ref.split()
    first, second = (LETTERS.index(c) for c in letters)
    # 500 km squares: S is (0, 0); columns east, rows north, in a 5 x 5 layout from the NW.
    e500 = (first % 5 - 2) * 500_000
    n500 = (3 - first // 5) * 500_000
    e100 = (second % 5) * 100_000
    n100 = (4 - second // 5) * 100_000
    scale = 10 ** (5 - len(e))
    return e500 + e100 + int(e) * scale, n500 + n100 + int(n) * scale


@given(
    st.floats(min_value=0, max_value=699_999.99),
    st.floats(min_value=0, max_value=1_299_999.99),
    st.integers(min_value=1, max_value=5),
)
def test_round_trip(e: float, n: float, digits: int) -> None:
    ref = grid_ref(e, n, digits=digits)
    assert ref is not None
    scale = 10 ** (5 - digits)
    assert _parse(ref) == (int(e) // scale * scale, int(n) // scale * scale)
