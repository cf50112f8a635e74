"""Path tracing: steer the COP along a star-shaped path without leaving its corridor.

The path is a five-pointed star drawn inside the patient's own limits of stability, started
from the centre; one attempt is one segment, from where the last one ended to the next point
of the star. A segment succeeds when the COP reaches the gate at its end and stays there
``hold_s`` within the time allowed, having spent at most ``max_outside`` of the segment outside
the corridor. Each segment is placed at the current level, so the star grows from one segment
to the next as the patient improves: the level moves the points out toward the limits, narrows
the corridor, lengthens the dwell in the gate and asks for a brisker pace.

Display: the gate at the end of the segment is the active target; ``scene`` carries the whole
star at the current level (``path_m``, closed), the segment under way (``segment_m``) and the
corridor half-width.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from station.drills.base import DrillContext, Target
from station.drills.challenge import (
    GAME_PARAMS,
    LOS_PARAMS,
    AdaptiveGame,
    lerp,
    los_point,
)
from station.drills.registry import register

#: Star points in drawing order: every second vertex of a pentagon, the first one forward.
STAR_ANGLES = tuple(math.pi / 2 + k * 4 * math.pi / 5 for k in range(5))


def lateral_distance(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distance (N,) of points ``p`` (N, 2) from the line through a and b: leaving the path
    sideways. Running on past the end (or the COP's brief step back as a lean starts) runs
    along the path, not out of it."""
    ab = b - a
    length = float(np.hypot(*ab))
    if length == 0.0:
        return np.linalg.norm(p - a, axis=1)
    rel = p - a
    return np.abs(rel[:, 0] * ab[1] - rel[:, 1] * ab[0]) / length


@register
class PathTracing(AdaptiveGame):
    name = "path_tracing"
    title = "Path tracing"
    error_from_arrival = False
    #: Share of a segment's samples that may lie outside the corridor.
    max_outside = 0.1
    params = (*GAME_PARAMS, *LOS_PARAMS)

    def __init__(self, context: DrillContext, **values: float) -> None:
        super().__init__(context, **values)
        self._a = np.zeros(2)
        self._b = np.zeros(2)

    def instructions(self) -> str:
        return "Lean to steer the dot along the path, point to point, staying inside the lines"

    def running_prompt(self) -> str:
        return "Follow the path to the next point"

    def knobs_at(self, level: float) -> dict[str, float]:
        hold = lerp(level, 0.3, 1.5)
        speed = lerp(level, 0.03, 0.12)
        return {"reach_frac": lerp(level, 0.35, 0.85), "half_width_m": lerp(level, 0.03, 0.006),
                "speed_m_s": speed, "hold_s": hold, "limit_s": 0.15 / speed + 2.0 + hold,
                "between_s": 0.5}

    def star_m(self, reach: float) -> np.ndarray:
        """The star's five points (5, 2) at ``reach`` of the limits of stability."""
        return np.array([los_point(self.los, a, reach) for a in STAR_ANGLES])

    def _begin(self, t0: float) -> None:
        k = len(self.attempts)
        self._a = self._b.copy()                      # from where the last segment ended
        self._b = self.star_m(self.knobs["reach_frac"])[k % 5]
        # time for this segment at the level's pace, plus a reaction and the dwell in the gate
        length = float(np.hypot(*(self._b - self._a)))
        self.knobs["limit_s"] = length / self.knobs["speed_m_s"] + 2.0 + self.knobs["hold_s"]

    def _measure(self, t: np.ndarray, cop: np.ndarray, tilt: np.ndarray | None
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        w = self.knobs["half_width_m"]
        err = lateral_distance(cop, self._a, self._b)
        gate = np.linalg.norm(cop - self._b, axis=1) <= w
        return err, err <= w, gate

    def _accept(self) -> bool:
        att = self._att
        return att is not None and att.n_on >= (1.0 - self.max_outside) * att.n

    def targets(self) -> list[Target]:
        if self.stage not in ("go", "between"):
            return []
        state = "active" if self.stage == "go" else "hit" if self.last_success else "missed"
        return [Target(float(self._b[0]), float(self._b[1]), self.knobs["half_width_m"], state)]

    def ask(self) -> dict[str, Any]:
        shown = self.phase.value == "running" and self.stage in ("go", "between")
        end = (round(float(self._b[0]), 4), round(float(self._b[1]), 4))
        return {"vision": "open", "stance": "both", "lean_to_m": end if shown else None}

    def scene(self) -> dict[str, Any]:
        star = [tuple(map(float, p)) for p in self.star_m(self.knobs["reach_frac"])]
        return {"path_m": star, "closed": True,
                "segment_m": [tuple(map(float, self._a)), tuple(map(float, self._b))],
                "half_width_m": self.knobs["half_width_m"]}
