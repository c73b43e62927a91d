"""Ordnance Survey grid references from British National Grid coordinates (pure).

``grid_ref(575812, 168234)`` is ``"TQ 7581 6823"``: the two-letter 100 km square, then easting
and northing within it, truncated (not rounded) to ``digits`` each, as OS maps print them.
"""

from __future__ import annotations

import math

# The 500 km squares' letters and the 100 km squares' letters: a 5x5 grid lettered A-Z without I,
# row by row from the north-west corner.
_LETTERS = "ABCDEFGHJKLMNOPQRSTUVWXYZ"
_MAX_E = 700_000
_MAX_N = 1_300_000


def grid_ref(easting: float, northing: float, *, digits: int = 4) -> str | None:
    """The OS grid reference of an EPSG:27700 point, ``digits`` per axis (1 to 5); None off-grid."""
    if digits < 1 or digits > 5:
        raise ValueError("digits must be 1 to 5")
    if not (math.isfinite(easting) and math.isfinite(northing)):
        return None
    if not (0 <= easting < _MAX_E and 0 <= northing < _MAX_N):
        return None
    e100 = int(easting // 100_000)
    n100 = int(northing // 100_000)
    first = _first_letter(e100, n100)
    second = _LETTERS[(4 - n100 % 5) * 5 + e100 % 5]
    scale = 10 ** (5 - digits)
    e = int(easting % 100_000) // scale
    n = int(northing % 100_000) // scale
    return f"{first}{second} {e:0{digits}d} {n:0{digits}d}"


def _first_letter(e100: int, n100: int) -> str:
    """The 500 km square's letter: S at (0, 0), T east of it, N north of it, H north of N."""
    col = e100 // 5 + 2  # S is the third column of the 5x5 layout
    row = 3 - n100 // 5  # and the fourth row from the top
    return _LETTERS[row * 5 + col]
