"""Target catch: targets appear inside the patient's own limits of stability; reach and hold.

One attempt is one target, in one of eight directions taken in shuffled rounds, so every
direction comes up equally often however many attempts the game has. The level moves the
target out toward the patient's limits of stability, shrinks it, lengthens the hold and shortens
the time allowed to get there; between targets the patient returns to the centre.

Display: one target (active while it counts, then hit or missed for the pause after it);
``scene["los_m"]`` is the limits ellipse (forward, back, side) the targets are placed in.
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

DIRECTIONS = 8


def direction_order(rounds: int, seed: int = 20240) -> list[int]:
    """Directions 0..7 (multiples of 45 deg from the right, counter-clockwise), each round a
    fresh permutation: balanced, but not predictable by the patient."""
    rng = np.random.default_rng(seed)
    return [int(d) for _ in range(rounds) for d in rng.permutation(DIRECTIONS)]


@register
class TargetHold(AdaptiveGame):
    name = "target_hold"
    title = "Target catch"
    params = (*GAME_PARAMS, *LOS_PARAMS)

    def __init__(self, context: DrillContext, **values: float) -> None:
        super().__init__(context, **values)
        self._order = direction_order(math.ceil(self.values["attempts"] / DIRECTIONS) + 1)
        self.target: tuple[float, float] | None = None

    def instructions(self) -> str:
        return "Lean to move the dot into each circle and keep it there; keep your feet still"

    def running_prompt(self) -> str:
        return "Move the dot into the circle and hold it"

    def knobs_at(self, level: float) -> dict[str, float]:
        hold = lerp(level, 0.5, 2.0)
        return {"distance_frac": lerp(level, 0.3, 0.9), "radius_m": lerp(level, 0.022, 0.003),
                "hold_s": hold, "limit_s": hold + lerp(level, 6.0, 2.5), "between_s": 1.5}

    def _begin(self, t0: float) -> None:
        index = len(self.attempts)
        angle = self._order[index % len(self._order)] * 2 * math.pi / DIRECTIONS
        self.target = los_point(self.los, angle, self.knobs["distance_frac"])

    def _measure(self, t: np.ndarray, cop: np.ndarray, tilt: np.ndarray | None
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        assert self.target is not None
        err = np.hypot(cop[:, 0] - self.target[0], cop[:, 1] - self.target[1])
        on = err <= self.knobs["radius_m"]
        return err, on, on

    def targets(self) -> list[Target]:
        if self.target is None or self.stage not in ("go", "between"):
            return []
        state = "active" if self.stage == "go" else "hit" if self.last_success else "missed"
        return [Target(self.target[0], self.target[1], self.knobs["radius_m"], state)]

    def ask(self) -> dict[str, Any]:
        return {"vision": "open", "stance": "both",
                "lean_to_m": self.target if self.attempt_active else None}

    def scene(self) -> dict[str, Any]:
        return {"los_m": self.los}
