"""The virtual patient's autopilot: does what a drill asks, as a cooperative patient would.

The drill says what it asks as data (``Display.ask``); this turns it into commands to the
simulated station (eyes, foam surface, stance, lean, weight shift, squat), which the patient model
carries out with its own reaction and movement times. Used by tests, `station demo` and the kiosk
in simulation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from station.drills.base import Display, Drill

Command = Callable[..., None]


class Autopilot:
    def __init__(self, command: Command, foot_spacing_m: float = 0.2) -> None:
        self.command = command
        self.foot_spacing_m = foot_spacing_m
        self._last: dict[str, Any] = {}

    def __call__(self, display: Display, drill: Drill) -> None:
        ask = display.ask
        if ask == self._last:
            return
        changed = {k: v for k, v in ask.items() if self._last.get(k) != v}
        self._last = dict(ask)
        if "vision" in changed:
            self.command("set_conditions", eyes_closed=changed["vision"] == "closed")
        if "surface" in changed:        # the therapist puts the foam pad on (or takes it off)
            self.command("set_conditions", surface=changed["surface"])
        if "stance" in changed:
            self.command("stand_on", None if changed["stance"] == "both" else changed["stance"])
        if "lean_to_m" in changed:
            target = changed["lean_to_m"]
            if target is None:
                self.command("return_home")
            else:
                self.command("lean_to", float(target[0]), float(target[1]))
        if "weight_left" in changed:
            share = changed["weight_left"]
            if share is None:           # "relax": back to the patient's own stance
                self.command("return_home")
            else:
                self.command("shift_weight", float(share))
        if changed.get("action") == "squat":    # one squat each time the drill cues one
            down_s, up_s = ask.get("tempo_s", (1.5, 1.5))
            self.command("squat", down_s=float(down_s), up_s=float(up_s))
        if "board_target_rad" in changed and changed["board_target_rad"] is not None:
            roll, pitch = changed["board_target_rad"]
            k = 7.0   # the simulated board's tilt per metre of COP (sim.plate.board_tilt_rad)
            self.command("lean_to", roll / k, pitch / k)
