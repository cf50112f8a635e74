"""Single-leg stance, left then right: time held, sway on one leg, touch-downs.

Procedure (timed single-leg stance, Springer et al. 2007, J Geriatr Phys Ther 30:8-15): arms by
the sides, lift one foot during the count-down; the clock runs from the moment the foot is off
the floor until it touches down or ``duration_s`` passes (Springer: 45 s maximum, best of three
trials per side). Trials alternate left, right (stance leg), ``trials`` per side. The patient
lifts the foot again after a touch-down and keeps going until the end of the trial, so the
touch-downs are counted over the whole trial, as errors are in the BESS (Riemann et al. 1999).

Touch-down detection from the plate: the free foot carrying weight pulls the COP back between
the footprints. The lever rule (station.plate.model.weight_bearing_left) gives the share of the
weight on the lifted leg; the foot is down when that share exceeds 25 % and up again below 10 %
(hysteresis, so sway under the stance foot is never a touch-down). Sway = mean COP velocity over
the samples with the foot up (cm/s). A step-off or loss of balance ends the trial: the time held
stops there and the trial is marked as a fall.

Per side: time held = best trial (Springer), touch-downs = total over the side's trials, sway
velocity = mean over the trials; ``time_held_symmetry_pct`` = 100 * shorter / longer side.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from station.drills.base import Block, DrillContext, Event, Param, Phase, TrialTest
from station.drills.registry import register

FALLS = ("step_off", "loss_of_balance")   # a bottomed-out board is no fall here
SIDES = ("left", "right")
#: Share of the body weight on the lifted leg above which the foot is down, and below which it
#: is up again.
TOUCH_ON, TOUCH_OFF = 0.25, 0.10


def foot_down(share: np.ndarray, carry: bool) -> np.ndarray:
    """Foot-down state per sample from the lifted leg's load share, with hysteresis.

    A sample above ``TOUCH_ON`` sets the state, one below ``TOUCH_OFF`` clears it, anything
    between (or NaN) keeps the previous state, ``carry`` before the first sample.
    """
    state = np.full(len(share), -1, dtype=np.int8)
    with np.errstate(invalid="ignore"):
        state[share > TOUCH_ON] = 1
        state[share < TOUCH_OFF] = 0
    idx = np.where(state >= 0, np.arange(len(share)), -1)
    last = np.maximum.accumulate(idx) if len(idx) else idx
    return np.where(last >= 0, state[np.maximum(last, 0)] == 1, carry)


@register
class SingleLegStance(TrialTest):

    falls = FALLS
    name = "single_leg_stance"
    title = "Single-leg stance: left and right"
    kind = "assessment"
    countdown_s = 5.0          # time to lift the foot: the clock starts when it is off the floor
    params = (
        Param("duration_s", 30.0, 10.0, 45.0, "s", "Longest hold timed per trial (Springer "
              "2007: 45 s)."),
        Param("trials", 3.0, 1.0, 3.0, "", "Trials per side (the best counts)."),
        Param("eyes_closed", 0.0, 0.0, 1.0, "", "1 = eyes closed (Springer reports both)."),
        Param("rest_s", 10.0, 2.0, 60.0, "s", "Rest between trials."),
    )

    def __init__(self, context: DrillContext, **values: float) -> None:
        super().__init__(context, **values)
        self.plan = list(SIDES) * int(self.values["trials"])
        self.trial_index = 0
        self.trial_scores: list[dict[str, Any]] = []
        self._reset()

    def _reset(self) -> None:
        self._cop: list[np.ndarray] = []
        self._down: list[np.ndarray] = []
        self._carry = True            # both feet down until the lift is seen
        self._lift_s: float | None = None
        self._touch_s: list[float] = []

    @property
    def side(self) -> str:
        """Stance leg of the current (or next) trial."""
        return self.plan[min(self.trial_index, len(self.plan) - 1)]

    def trial_count(self) -> int:
        return len(self.plan)

    def rest_s(self) -> float:
        return self.values["rest_s"]

    def ask(self) -> dict[str, Any]:
        on_one_leg = self.phase in (Phase.COUNTDOWN, Phase.RUNNING)
        return {"vision": "closed" if self.values["eyes_closed"] else "open",
                "stance": self.side if on_one_leg else "both"}

    def instructions(self) -> str:
        return "Stand on the footprints, arms by your sides"

    def _lift_prompt(self) -> str:
        other = "right" if self.side == "left" else "left"
        return f"Stand on your {self.side} leg: lift your {other} foot and hold"

    def countdown_prompt(self) -> str:
        return self._lift_prompt()      # the count-down is when the foot is lifted

    def rest_prompt(self) -> str:
        return "Rest on both feet"

    def running_prompt(self) -> str:
        return f"Hold: stand on your {self.side} leg"

    # ------------------------------------------------------------------ samples
    def _on_trial_start(self) -> None:
        self._reset()

    def _run(self, block: Block) -> None:
        ml = block.cop_m[:, 0]
        lifted_share = 0.5 + ml / self.context.foot_spacing_m if self.side == "left" \
            else 0.5 - ml / self.context.foot_spacing_m
        down = foot_down(lifted_share, self._carry)
        prev = np.r_[self._carry, down[:-1]]
        lifts = np.flatnonzero(prev & ~down)
        if self._lift_s is None and len(lifts):
            self._lift_s = float(block.t_s[lifts[0]])
        if self._lift_s is not None:
            touches = np.flatnonzero(~prev & down)
            for i in touches[block.t_s[touches] > self._lift_s]:
                t = float(block.t_s[i])
                self._touch_s.append(t)
                self.events.append(Event(t, "touch_down", {"trial": self.trial_index}))
                self.sounds.append("touch")
                self.prompt = "Lift the foot again and hold"
            if len(lifts) and not down[-1] and self._touch_s:
                self.prompt = self.running_prompt()
        self._carry = bool(down[-1])
        self._cop.append(block.cop_m)
        self._down.append(down)

    def _discard(self) -> None:
        self._reset()

    def _record(self, fall: str | None) -> None:
        fs = self.context.sample_rate_hz
        cop = np.concatenate(self._cop) if self._cop else np.empty((0, 2))
        down = np.concatenate(self._down) if self._down else np.empty(0, bool)
        held = 0.0          # self.t_s: the end of the trial, or the sample of the fall
        if self._lift_s is not None:
            held = (self._touch_s[0] if self._touch_s else self.t_s) - self._lift_s
        # sway: COP path over consecutive samples with the foot up
        up = ~down & np.isfinite(cop).all(axis=1)
        pairs = up[1:] & up[:-1]
        steps = np.hypot(*np.diff(cop, axis=0).T)[pairs] if len(cop) > 1 else np.empty(0)
        velocity = 100.0 * float(steps.sum()) / (len(steps) / fs) if len(steps) else None
        self.trial_scores.append({
            "trial": self.trial_index, "stance": self.side, "time_held_s": max(0.0, held),
            "touchdowns": len(self._touch_s), "sway_velocity_cm_s": velocity, "fall": fall,
            "time_on_one_leg_s": float(up.sum()) / fs})
        self.trial_index += 1
        self._reset()

    # ------------------------------------------------------------------ scores
    def scores(self) -> dict[str, Any]:
        out: dict[str, Any] = {"trials": self.trial_scores}
        for side in SIDES:
            trials = [t for t in self.trial_scores if t["stance"] == side]
            vel = [t["sway_velocity_cm_s"] for t in trials if t["sway_velocity_cm_s"] is not None]
            out[f"time_held_s_{side}"] = max((t["time_held_s"] for t in trials), default=None)
            out[f"touchdowns_{side}"] = sum(t["touchdowns"] for t in trials) if trials else None
            out[f"sway_velocity_cm_s_{side}"] = float(np.mean(vel)) if vel else None
            out[f"falls_{side}"] = sum(t["fall"] is not None for t in trials)
        held = [out["time_held_s_left"], out["time_held_s_right"]]
        out["time_held_symmetry_pct"] = None if None in held or max(held) <= 0 \
            else 100.0 * min(held) / max(held)
        return out
