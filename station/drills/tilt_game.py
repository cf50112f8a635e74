"""Wobble-board tilt game: keep the board level, or steer a ball into holes with the tilt.

Needs the wobble board (IMU tilt in every block); a block without tilt counts as off target.

*Level* (``mode`` 0): one attempt is one stretch of ``limit_s`` seconds; it succeeds when the
board stays within ``tolerance_rad`` of level for ``success_fraction`` of it. The level narrows
the tolerance and lengthens the stretch.

*Ball* (``mode`` 1): a ball rolls on a virtual tray that tilts with the board. It moves at a
speed proportional to the tilt (a marble in a viscous tray: no inertia, so a careful patient
can always stop it), stops at the tray's walls, and starts each attempt in the centre. One
attempt is one hole, in one of eight directions: the ball must stay in it for ``hold_s``
within ``limit_s``. The level moves the holes out, shrinks them, lets the ball roll at a
smaller tilt (so sway moves it), lengthens the hold and shortens the time allowed. Roll
positive (right side down) rolls the ball right, pitch positive (front down) rolls it
forward, as the screen shows them.

Display: ``tilt_rad`` is the board; level mode shows the tolerance in ``scene``; ball mode
shows the hole as the target, in tray metres, and ``scene`` carries the ball and the tray.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from station.drills.base import DrillContext, Param, Target
from station.drills.challenge import GAME_PARAMS, AdaptiveGame, lerp
from station.drills.registry import register
from station.drills.target_hold import DIRECTIONS, direction_order

TRAY_HALF_M = 0.15              # the virtual tray is 30 cm square
BALL_SPEED_M_S_PER_RAD = 0.5    # ball speed per radian of tilt beyond the dead zone


def ball_path(start_m: np.ndarray, tilt_rad: np.ndarray, dt_s: float, dead_zone_rad: float
              ) -> np.ndarray:
    """Ball positions (N, 2) after each of N tilt samples (roll, pitch), from ``start_m``.

    Per axis the ball moves at a speed proportional to the tilt beyond ``dead_zone_rad`` (a
    marble in a viscous tray: no inertia, and its rolling resistance lets a steady stance leave
    it where it is), and the walls stop it: clipping the running position keeps it at a wall
    while the tilt pushes outward and lets it leave as soon as the tilt turns.
    """
    tilt = np.nan_to_num(tilt_rad)
    excess = np.sign(tilt) * np.maximum(np.abs(tilt) - dead_zone_rad, 0.0)
    step = BALL_SPEED_M_S_PER_RAD * dt_s * excess
    pos = np.empty((len(step), 2))
    p = np.asarray(start_m, float).copy()
    for k, s in enumerate(step):          # a handful of samples per block
        p = np.clip(p + s, -TRAY_HALF_M, TRAY_HALF_M)
        pos[k] = p
    return pos


@register
class TiltGame(AdaptiveGame):
    name = "tilt_game"
    title = "Wobble board: level or ball"
    params = (*GAME_PARAMS,
              Param("mode", 0.0, 0.0, 1.0, "", "0: keep the board level; 1: steer a ball into "
                    "the holes."))

    def __init__(self, context: DrillContext, **values: float) -> None:
        super().__init__(context, **values)
        self.ball = np.zeros(2)
        self.hole: tuple[float, float] | None = None
        self._order = direction_order(math.ceil(self.values["attempts"] / DIRECTIONS) + 1, 7)

    @property
    def ball_mode(self) -> bool:
        return self.values["mode"] >= 0.5

    # The mode decides what kind of game this is (the base reads these per attempt).
    @property  # type: ignore[override]
    def hold_to_succeed(self) -> bool:
        return self.ball_mode

    @property  # type: ignore[override]
    def error_from_arrival(self) -> bool:
        return self.ball_mode

    @property  # type: ignore[override]
    def error_unit(self) -> str:
        return "cm" if self.ball_mode else "deg"

    @property  # type: ignore[override]
    def error_per_si(self) -> float:
        return 100.0 if self.ball_mode else 180.0 / math.pi

    def instructions(self) -> str:
        return ("Tilt the board to roll the ball into each hole and keep it there"
                if self.ball_mode else "Keep the board level")

    def running_prompt(self) -> str:
        return "Roll the ball into the hole" if self.ball_mode else "Keep the board level"

    def knobs_at(self, level: float) -> dict[str, float]:
        if self.ball_mode:
            hold = lerp(level, 0.5, 2.0)
            return {"distance_m": lerp(level, 0.04, 0.12),
                    "hole_radius_m": lerp(level, 0.035, 0.01),
                    "dead_zone_rad": math.radians(lerp(level, 10.0, 3.0)),
                    "hold_s": hold, "limit_s": hold + lerp(level, 10.0, 5.0), "between_s": 1.0}
        return {"tolerance_rad": math.radians(lerp(level, 16.0, 3.0)),
                "limit_s": lerp(level, 5.0, 12.0), "between_s": 0.0}

    def _begin(self, t0: float) -> None:
        if self.ball_mode:
            angle = self._order[len(self.attempts) % len(self._order)] * 2 * math.pi / DIRECTIONS
            d = self.knobs["distance_m"]
            self.ball = np.zeros(2)
            self.hole = (d * math.cos(angle), d * math.sin(angle))

    def _measure(self, t: np.ndarray, cop: np.ndarray, tilt: np.ndarray | None
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if tilt is None:
            nan = np.full(len(t), np.nan)
            return nan, np.zeros(len(t), bool), np.zeros(len(t), bool)
        if not self.ball_mode:
            err = np.hypot(tilt[:, 0], tilt[:, 1])
            on = err <= self.knobs["tolerance_rad"]
            return err, on, on
        assert self.hole is not None
        path = ball_path(self.ball, tilt, 1.0 / self.context.sample_rate_hz,
                         self.knobs["dead_zone_rad"])
        self.ball = path[-1]
        err = np.hypot(path[:, 0] - self.hole[0], path[:, 1] - self.hole[1])
        on = err <= self.knobs["hole_radius_m"]
        return err, on, on

    def steer_rad(self) -> tuple[float, float]:
        """The tilt a cooperative player would hold now, per axis: level once the ball is
        near the hole, else past the dead zone toward it, more the farther it is, in whole
        degrees (a person holds a tilt for a while; they are not a servo loop)."""
        if self.hole is None:
            return (0.0, 0.0)
        near = 0.5 * self.knobs["hole_radius_m"]
        aim = []
        for e in np.asarray(self.hole) - self.ball:
            extra = min(math.radians(4.0), math.radians(1.0) * abs(e) / 0.02)
            deg = 0.0 if abs(e) < near else math.copysign(
                math.degrees(self.knobs["dead_zone_rad"] + extra), e)
            aim.append(math.radians(round(deg)))
        return (aim[0], aim[1])

    def ask(self) -> dict[str, Any]:
        target = (0.0, 0.0)
        if self.ball_mode and self.attempt_active:
            target = self.steer_rad()
        return {"vision": "open", "stance": "both", "board_target_rad": target}

    def targets(self) -> list[Target]:
        if not self.ball_mode or self.hole is None or self.stage not in ("go", "between"):
            return []
        state = "active" if self.stage == "go" else "hit" if self.last_success else "missed"
        return [Target(self.hole[0], self.hole[1], self.knobs["hole_radius_m"], state)]

    def scene(self) -> dict[str, Any]:
        if self.ball_mode:
            return {"mode": "ball", "ball_m": (float(self.ball[0]), float(self.ball[1])),
                    "tray_half_m": TRAY_HALF_M, "frame": "tray"}
        return {"mode": "level", "tolerance_rad": self.knobs["tolerance_rad"]}
