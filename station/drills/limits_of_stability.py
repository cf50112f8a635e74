"""Limits of Stability (LOS): reach toward 8 targets at the patient's theoretical limits.

Procedure (NeuroCom Balance Master LOS test): the patient stands on the footprints with the
cursor (COP) in the centre; at the cue a target lights up and the patient leans the whole body
toward it as quickly and as accurately as possible, without stepping or bending at the hips,
and holds until the trial ends; one trial per direction, in the order forward, forward-right,
right, back-right, back, back-left, left, forward-left. NeuroCom places the targets at 100 % of
the theoretical LOS and gives 8 s per trial: so do the defaults here (``target_pct``,
``duration_s``; a therapist may lower the targets to 75 % for a frail patient).

Targets: the theoretical LOS are 8 deg forward, 4.5 deg back and 8 deg to each side of the
ankle-to-COM line, with the COM at 0.55 x height (``DrillContext.height_m``); as COP distances
they are ``COM height x tan(angle)``. Diagonal targets lie on the ellipse through the four
cardinal limits (its forward half with the forward limit, its back half with the back one).
Each trial starts with ``PRE_CUE_S`` of still standing: the mean COP over its last 0.5 s is the
start, and the target is placed ``target_pct`` % of the LOS distance from there.

Measures per direction, on the COG estimated from the COP (``cog_from_cop``: NeuroCom scores
the COG too), by station.analysis.clinical.limits_of_stability (its docstring gives the rules;
onset thresholds ``ONSET_SHARE`` / ``ONSET_FRACTION`` here): reaction time (s), movement
velocity (deg/s of COM sway angle as NeuroCom reports it, = COG speed / COM height; and cm/s),
endpoint and maximum excursion (% of the target distance), directional control (%). The
composite of each is the mean of the 8 directions (NeuroCom); a direction with no measurable
reach counts 0 % in the excursion composites and is left out of the others. A step-off or loss
of balance ends the direction's trial (marked as a fall); it is measured from the samples until
then.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from station.analysis.clinical import limits_of_stability
from station.analysis.validation import AnalysisError
from station.body import com_height_m, theoretical_los_m
from station.drills.base import Block, DrillContext, G, Param, Phase, Target, TrialTest
from station.drills.registry import register

#: NeuroCom order; angles from +ML (right) toward +AP (forward), degrees.
DIRECTIONS = (("forward", 90.0), ("forward_right", 45.0), ("right", 0.0), ("back_right", -45.0),
              ("back", -90.0), ("back_left", -135.0), ("left", 180.0), ("forward_left", 135.0))
#: Theoretical limits of stability (deg): forward, back, sideways (NeuroCom).
PRE_CUE_S = 1.0       # still standing before the cue; its last BASELINE_S is the start
BASELINE_S = 0.5
TARGET_RADIUS_M = 0.015
HIT_PCT = 90.0        # a done target shows as hit when the maximum excursion reached this
#: Reach detection for the reaction time: the COG must pass 20 % of the target distance (sway
#: of an unsteady patient passes the library's default 5 mm before any reach), and the onset is
#: the last moment before that its speed toward the target was under 10 % of its peak.
ONSET_SHARE, ONSET_FRACTION = 0.2, 0.1
FALLS = ("step_off", "loss_of_balance")   # a bottomed-out board is no fall here
MEASURES = ("reaction_time_s", "movement_velocity_deg_s", "movement_velocity_cm_s",
            "endpoint_excursion_pct", "max_excursion_pct", "directional_control_pct")


def cog_from_cop(cop: np.ndarray, fs: float, com_height_m: float) -> np.ndarray:
    """COM (COG) trajectory estimated from the COP by the gravity-line filter.

    For the inverted pendulum COM'' = g / L (COM - COP), whose bounded solution is the COP
    low-passed by H(f) = 1 / (1 + (2 pi f)^2 L / g) (Caron, Faure & Breniere 1997, J Biomech
    30:1169), zero phase; applied by FFT over a mirrored copy of the trial, so its ends do not
    wrap around. NeuroCom scores LOS on the COG: on the raw COP the braking overshoot would
    inflate the excursions and the anticipatory counter-movement would delay the onset.
    """
    x = np.concatenate([cop[::-1], cop, cop[::-1]])
    f = np.fft.rfftfreq(len(x), 1.0 / fs)
    h = 1.0 / (1.0 + (2.0 * math.pi * f) ** 2 * com_height_m / G)
    n = len(cop)
    return np.fft.irfft(np.fft.rfft(x, axis=0) * h[:, None], n=len(x), axis=0)[n:2 * n]


def los_distance_m(direction_deg: float, height_m: float) -> float:
    """Distance (m) to the LOS ellipse in a direction (deg from +ML toward +AP)."""
    fwd, back, side = theoretical_los_m(height_m)
    c, s = math.cos(math.radians(direction_deg)), math.sin(math.radians(direction_deg))
    return 1.0 / math.hypot(c / side, s / (fwd if s >= 0 else back))


@register
class LimitsOfStabilityTest(TrialTest):

    falls = FALLS
    name = "limits_of_stability"
    title = "Limits of Stability: lean toward 8 targets"
    kind = "assessment"
    params = (
        Param("duration_s", 8.0, 4.0, 15.0, "s", "Time to reach and hold after the cue "
              "(NeuroCom 8 s)."),
        Param("target_pct", 100.0, 50.0, 100.0, "%", "Target distance, % of the theoretical "
              "LOS (NeuroCom 100 %)."),
        Param("rest_s", 3.0, 1.0, 30.0, "s", "Back to the centre between directions."),
    )

    def __init__(self, context: DrillContext, **values: float) -> None:
        super().__init__(context, **values)
        self.trial_index = 0
        self.centre_m = np.zeros(2)
        self.results: list[dict[str, Any]] = []
        self._reset()

    def _reset(self) -> None:
        self._t: list[np.ndarray] = []
        self._cop: list[np.ndarray] = []
        self._cue_s: float | None = None
        self._cued = False

    # ------------------------------------------------------------------ targets
    def target_m(self, index: int) -> np.ndarray:
        """Target vector (m) from the start for direction ``index``."""
        _, deg = DIRECTIONS[index]
        r = self.values["target_pct"] / 100.0 * los_distance_m(deg, self.context.height_m)
        return r * np.array([math.cos(math.radians(deg)), math.sin(math.radians(deg))])

    @property
    def direction(self) -> str:
        return DIRECTIONS[min(self.trial_index, len(DIRECTIONS) - 1)][0]

    def trial_count(self) -> int:
        return len(DIRECTIONS)

    def _trial_duration(self) -> float:
        return PRE_CUE_S + self.values["duration_s"]

    def rest_s(self) -> float:
        return self.values["rest_s"]

    def targets(self) -> list[Target]:
        out = []
        for i in range(len(DIRECTIONS)):
            x, y = self.centre_m + self.target_m(i)
            if i < len(self.results):
                reached = self.results[i]["max_excursion_pct"] or 0.0
                state = "hit" if reached >= HIT_PCT else "missed"
            elif i == self.trial_index and self._cued and self.phase is Phase.RUNNING:
                state = "active"
            else:
                state = "pending"
            out.append(Target(float(x), float(y), TARGET_RADIUS_M, state))
        return out

    def ask(self) -> dict[str, Any]:
        lean = None
        if self.phase is Phase.RUNNING and self._cued:
            x, y = self.centre_m + self.target_m(self.trial_index)
            lean = (float(x), float(y))
        return {"vision": "open", "stance": "both", "lean_to_m": lean}

    def instructions(self) -> str:
        return ("Keep the dot in the centre. When a target lights up, lean your whole body "
                "toward it as fast and as far as you can, without stepping, and hold")

    def running_prompt(self) -> str:
        return "Keep the dot in the centre"

    # ------------------------------------------------------------------ samples
    def _on_trial_start(self) -> None:
        self._reset()
        self._cue_s = self.t_s + PRE_CUE_S

    def _run(self, block: Block) -> None:
        self._t.append(block.t_s)
        self._cop.append(block.cop_m)
        if not self._cued and self._cue_s is not None and block.t_s[-1] >= self._cue_s:
            t, cop = np.concatenate(self._t), np.concatenate(self._cop)
            base = cop[(t >= self._cue_s - BASELINE_S) & (t < self._cue_s)]
            base = base[np.isfinite(base).all(axis=1)]
            if len(base):
                self.centre_m = base.mean(axis=0)
            self._cued = True
            self.sounds.append("go")
            self.prompt = f"Lean {self.direction.replace('_', '-')} to the target and hold"

    def rest_prompt(self) -> str:
        return f"Come back to the centre. Next: {self.direction.replace('_', '-')}"



    def _discard(self) -> None:
        self._reset()

    def _record(self, fall: str | None) -> None:
        name, deg = DIRECTIONS[self.trial_index]
        target = float(np.hypot(*self.target_m(self.trial_index)))
        res: dict[str, Any] = {"direction": name, "target_distance_cm": 100.0 * target,
                               "fall": fall, **dict.fromkeys(MEASURES)}
        if self._t and self._cue_s is not None:
            t, cop = np.concatenate(self._t), np.concatenate(self._cop)
            fs = self.context.sample_rate_hz
            try:
                if not np.isfinite(cop).all():
                    raise AnalysisError("the COP was lost (the plate was unloaded)")
                cog = cog_from_cop(cop, fs, com_height_m(self.context.height_m))
                los = limits_of_stability(cog, fs, self._cue_s - float(t[0]),
                                          math.radians(deg), target, baseline_s=BASELINE_S,
                                          onset_m=ONSET_SHARE * target,
                                          onset_fraction=ONSET_FRACTION)
            except AnalysisError as exc:
                res["error"] = str(exc)
            else:
                com_h = com_height_m(self.context.height_m)
                res.update(reaction_time_s=los.reaction_time_s,
                           movement_velocity_deg_s=math.degrees(los.movement_velocity_m_s / com_h),
                           movement_velocity_cm_s=100.0 * los.movement_velocity_m_s,
                           endpoint_excursion_pct=los.endpoint_excursion_pct,
                           max_excursion_pct=los.maximum_excursion_pct,
                           directional_control_pct=los.directional_control_pct)
        self.results.append(res)
        self.trial_index += 1
        self._reset()

    # ------------------------------------------------------------------ scores
    def scores(self) -> dict[str, Any]:
        out: dict[str, Any] = {"directions": self.results, "target_pct": self.values["target_pct"]}
        for res in self.results:
            for key in (*MEASURES, "target_distance_cm"):
                out[f"{key}_{res['direction']}"] = res[key]
        if not self.results:
            return out
        for key in MEASURES:
            values = [r[key] for r in self.results]
            if key.endswith("excursion_pct"):       # no reach = no excursion
                values = [0.0 if v is None else v for v in values]
            values = [v for v in values if v is not None]
            out[f"{key}_composite"] = float(np.mean(values)) if values else None
        out["falls"] = sum(r["fall"] is not None for r in self.results)
        return out
