"""The body the station assumes, in one place: centre-of-mass height and theoretical limits.

Used by the virtual patient, the Limits-of-Stability test and the training games alike, so the
targets a drill sets and the leans the simulated patient can make agree by construction.
"""

from __future__ import annotations

import math

#: Centre of mass height as a share of body height (Winter's anthropometric tables).
COM_HEIGHT_FRACTION = 0.55
#: Theoretical limits of stability, degrees of lean from the ankles: forward, back, each side
#: (the NeuroCom / Nashner convention).
LOS_DEG = (8.0, 4.5, 8.0)


def com_height_m(height_m: float) -> float:
    return COM_HEIGHT_FRACTION * height_m


def theoretical_los_m(height_m: float) -> tuple[float, float, float]:
    """(forward, back, side) limits of stability as horizontal COM excursions (m)."""
    h = com_height_m(height_m)
    fwd, back, side = (h * math.tan(math.radians(a)) for a in LOS_DEG)
    return fwd, back, side
