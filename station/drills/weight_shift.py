"""Rhythmic weight shift: left-right or front-back, in time with a pacing marker.

Two targets sit on the chosen axis, out to a share of the patient's own limits of stability
(forward and backward limits differ, so do the two targets). On every beat the other target
becomes active and the pacing marker glides to it, arriving on the next beat. One attempt is
one shift: it succeeds when the COP reaches the target's near edge (going further is still a
shift) and stays there ``hold_s`` before the next beat; the tracking error is the COP's
distance from the gliding marker over the whole shift. The beat never waits: a late patient
has missed it. The level widens the shift, quickens the rhythm, shrinks the targets and
lengthens the dwell.

Display: the active target and the one just left (pending); ``scene`` carries the axis, the
pacing marker (``marker_m``), the two turning points (``track_m``) and the period.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from station.drills.base import DrillContext, Param, Phase, Target
from station.drills.challenge import (
    GAME_PARAMS,
    LOS_PARAMS,
    AdaptiveGame,
    lerp,
)
from station.drills.registry import register


@register
class WeightShift(AdaptiveGame):
    name = "weight_shift"
    title = "Rhythmic weight shift"
    error_from_arrival = False
    params = (*GAME_PARAMS, *LOS_PARAMS,
              Param("axis", 0.0, 0.0, 1.0, "", "0: shift left-right; 1: shift front-back."))

    def __init__(self, context: DrillContext, **values: float) -> None:
        super().__init__(context, **values)
        self.axis = int(self.values["axis"] >= 0.5)        # 0 ML, 1 AP
        self._t0 = 0.0
        self._from = np.zeros(2)                            # where the marker glides from
        self._to = np.zeros(2)                              # the active target

    def instructions(self) -> str:
        way = "forward and back" if self.values["axis"] >= 0.5 else "from side to side"
        return f"Shift your weight {way} in time with the moving dot; keep your feet still"

    def running_prompt(self) -> str:
        return "Be in the circle when the dot gets there"

    def knobs_at(self, level: float) -> dict[str, float]:
        period = lerp(level, 8.0, 2.5)
        return {"amplitude_frac": lerp(level, 0.3, 0.85), "period_s": period,
                "radius_m": lerp(level, 0.035, 0.012), "hold_s": lerp(level, 0.2, 0.5),
                "limit_s": period / 2, "between_s": 0.0}

    def end_m(self, sign: int) -> np.ndarray:
        """The turning point on the + (right / forward) or - side at the current level."""
        fwd, back, side = self.los
        reach = side if self.axis == 0 else (fwd if sign > 0 else back)
        pos = np.zeros(2)
        pos[self.axis] = sign * reach * self.knobs["amplitude_frac"]
        return pos

    def marker_at(self, t: np.ndarray) -> np.ndarray:
        """The pacing marker (N, 2): a cosine glide from the last target to the active one."""
        u = np.clip((np.asarray(t, float) - self._t0) / (self.knobs["period_s"] / 2), 0.0, 1.0)
        g = (1.0 - np.cos(math.pi * u)) / 2.0
        return self._from + g[:, None] * (self._to - self._from)

    def _begin(self, t0: float) -> None:
        self._t0 = t0
        self._from = self._to if self.attempts else np.zeros(2)
        self._to = self.end_m(1 if len(self.attempts) % 2 == 0 else -1)

    def _next_start(self, t_end: float) -> float:
        return self._t0 + self.knobs["period_s"] / 2      # the next beat, however early the hit

    def _measure(self, t: np.ndarray, cop: np.ndarray, tilt: np.ndarray | None
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        err = np.linalg.norm(cop - self.marker_at(t), axis=1)
        sign = 1.0 if self._to[self.axis] >= 0 else -1.0
        # far enough: at or beyond the target's near edge (a shift past it is still a shift)
        on = sign * cop[:, self.axis] >= sign * self._to[self.axis] - self.knobs["radius_m"]
        return err, on, on

    def _shown(self) -> bool:
        return self.phase is Phase.RUNNING and self.stage in ("go", "between")

    def targets(self) -> list[Target]:
        if not self._shown():
            return []
        r = self.knobs["radius_m"]
        state = "active" if self.stage == "go" else "hit" if self.last_success else "missed"
        out = [Target(float(self._to[0]), float(self._to[1]), r, state)]
        if self.attempts:                   # the first shift starts from the centre
            out.append(Target(float(self._from[0]), float(self._from[1]), r, "pending"))
        return out

    def ask(self) -> dict[str, Any]:
        target = (round(float(self._to[0]), 4), round(float(self._to[1]), 4)) \
            if self._shown() else None
        return {"vision": "open", "stance": "both", "lean_to_m": target}

    def scene(self) -> dict[str, Any]:
        marker = self.marker_at(np.array([self.t_s]))[0] if self._shown() else np.zeros(2)
        return {"axis": "ml" if self.axis == 0 else "ap",
                "track_m": [tuple(self.end_m(-1)), tuple(self.end_m(1))],
                "period_s": self.knobs["period_s"],
                "marker_m": (float(marker[0]), float(marker[1]))}
