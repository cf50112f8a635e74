"""Weight-bearing symmetry: quiet standing, then paced squats.

Procedure (after the NeuroCom "Weight Bearing / Squat" assessment, made dynamic): feet on the
footprints; first ``static_s`` of quiet standing (per-leg load and symmetry), then ``reps``
squats to about 60 deg of knee flexion on a metronome (``down_s`` down, ``up_s`` up, then
``HOLD_S`` standing tall). A squat rather than a sit-to-stand: with a chair the seat carries the
weight while sitting, so the plate would see a "step-off" (under half the body weight) at every
repetition and nothing of the seated phase; a squat keeps all the weight on the plate and shows
the same thing clinically (a patient sparing the affected leg spares it more under load).

Per-leg load: the lever rule between the footprints (``foot_spacing_m`` apart), as in
station.plate.model.weight_bearing_left and station.analysis.clinical.weight_bearing (which
scores the static part): left share = 1/2 - COP_ml / spacing. Symmetry = 100 x smaller share /
larger share (100 % = equal loading).

Squat phases come from the vertical force, not from the metronome: per repetition the body
weight W0 is the mean force over the ``BASELINE_S`` before the cue, the vertical COM velocity
is the integral of (F - W0) / (W0 / g) from the cue to the next one (linear drift removed: the
patient stands still at both ends), lowering is where it is below -``V_MIN_M_S`` and rising
where it is above +``V_MIN_M_S`` (the countermovement-jump convention of Linthorne 2001).
Reported: % load per leg and symmetry while lowering and while rising (all repetitions
pooled), the squat depth (cm, the COM drop from the double integral) and the peak vertical
force while rising (% body weight, NeuroCom's "rising index" of the sit-to-stand).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from station.analysis.clinical import weight_bearing
from station.analysis.validation import AnalysisError
from station.drills.base import Block, Drill, DrillContext, G, Param, Phase
from station.drills.registry import register

LEAD_S = 1.5          # standing still before the first squat cue
HOLD_S = 2.0          # standing tall after each squat, before the next cue
BASELINE_S = 0.5      # body weight measured over this, before each cue
V_MIN_M_S = 0.05      # vertical COM speed that counts as moving


def symmetry(left_pct: float) -> float:
    """100 x smaller share / larger share, from the left share (%)."""
    right = 100.0 - left_pct
    return 100.0 * min(left_pct, right) / max(left_pct, right) if max(left_pct, right) else 0.0


@register
class WeightBearingSymmetry(Drill):
    name = "weight_bearing"
    title = "Weight-bearing symmetry: standing and squats"
    kind = "assessment"
    params = (
        Param("static_s", 20.0, 10.0, 60.0, "s", "Quiet standing measured."),
        Param("reps", 5.0, 3.0, 10.0, "", "Squats."),
        Param("down_s", 2.0, 1.0, 4.0, "s", "Metronome: time to squat down."),
        Param("up_s", 2.0, 1.0, 4.0, "s", "Metronome: time to stand up."),
        Param("rest_s", 10.0, 2.0, 60.0, "s", "Rest between the standing and the squats."),
    )

    def __init__(self, context: DrillContext, **values: float) -> None:
        super().__init__(context, **values)
        self.plan = ["static", "squat"]
        self.trial_index = 0
        self.results: dict[str, dict[str, Any]] = {}
        self._reset()

    def _reset(self) -> None:
        self._t: list[np.ndarray] = []
        self._cop: list[np.ndarray] = []
        self._force: list[np.ndarray] = []
        self._t0 = self.t_s
        self._cue = -1

    # ------------------------------------------------------------------ schedule
    @property
    def part(self) -> str:
        return self.plan[min(self.trial_index, len(self.plan) - 1)]

    @property
    def period_s(self) -> float:
        return self.values["down_s"] + self.values["up_s"] + HOLD_S

    def cue_times(self) -> np.ndarray:
        """Squat cues, seconds from the start of the squat trial."""
        return LEAD_S + self.period_s * np.arange(int(self.values["reps"]))

    def trial_count(self) -> int:
        return len(self.plan)

    def _trial_duration(self) -> float:
        if self.part == "static":
            return self.values["static_s"]
        return LEAD_S + self.period_s * int(self.values["reps"])

    def rest_s(self) -> float:
        return self.values["rest_s"]

    def _squatting(self) -> bool:
        """Inside a cued squat (down and up) of the running squat trial."""
        if self.part != "squat" or self.phase is not Phase.RUNNING:
            return False
        since = self.t_s - self._t0 - self.cue_times()
        window = self.values["down_s"] + self.values["up_s"]
        return bool(np.any((since >= 0) & (since < window)))

    def ask(self) -> dict[str, Any]:
        return {"vision": "open", "stance": "both",
                "action": "squat" if self._squatting() else "stand",
                "tempo_s": (self.values["down_s"], self.values["up_s"])}

    def instructions(self) -> str:
        return "Stand on the footprints, weight on both feet, arms folded across your chest"

    def running_prompt(self) -> str:
        return "Stand still, weight on both feet" if self.part == "static" \
            else "Squat with the beat: down, up, stand tall"

    # ------------------------------------------------------------------ samples
    def _on_trial_start(self) -> None:
        self._reset()

    def _run(self, block: Block) -> None:
        self._t.append(block.t_s)
        self._cop.append(block.cop_m)
        self._force.append(block.total_force_n)
        if self.part == "squat":
            cue = int(np.searchsorted(self.cue_times(), block.t_s[-1] - self._t0, "right")) - 1
            if cue > self._cue:
                self._cue = cue
                self.sounds.append("tick")
                self.prompt = f"Squat {cue + 1} of {int(self.values['reps'])}: down, and up"

    def _on_interrupted(self, reason: str) -> None:
        self._reset()               # not a balance test: a stepped-off part is repeated

    def _on_trial_end(self) -> bool:
        t, cop, force = (np.concatenate(x) for x in (self._t, self._cop, self._force))
        try:
            self.results[self.part] = self._static(cop) if self.part == "static" \
                else self._squats(t - self._t0, cop, force)
        except AnalysisError as exc:
            self.results[self.part] = {"error": str(exc)}
        self.trial_index += 1
        self._reset()
        return self.trial_index >= len(self.plan)

    def rest_prompt(self) -> str:
        return "Rest. Next: squats to the beat, weight on both feet"



    # ------------------------------------------------------------------ scoring
    def _static(self, cop: np.ndarray) -> dict[str, Any]:
        wb = weight_bearing(cop[np.isfinite(cop).all(axis=1)], self.context.foot_spacing_m)
        return {"left_pct": wb.left_pct, "right_pct": wb.right_pct,
                "symmetry_pct": wb.symmetry_pct}

    def _squats(self, t: np.ndarray, cop: np.ndarray, force: np.ndarray) -> dict[str, Any]:
        fs = self.context.sample_rate_hz
        left = np.clip(0.5 - cop[:, 0] / self.context.foot_spacing_m, 0.0, 1.0)
        lowering = np.zeros(len(t), bool)
        rising = np.zeros(len(t), bool)
        depths, peaks = [], []
        for cue in self.cue_times():
            base = (t >= cue - BASELINE_S) & (t < cue)
            rep = (t >= cue) & (t < cue + self.period_s)
            if base.sum() < 2 or rep.sum() < 2 or not np.isfinite(force[base | rep]).all():
                continue
            w0 = float(force[base].mean())
            v = np.cumsum((force[rep] - w0) / (w0 / G)) / fs
            v -= np.linspace(0.0, v[-1], len(v))          # still at both ends
            z = np.cumsum(v) / fs
            idx = np.flatnonzero(rep)
            lowering[idx[v < -V_MIN_M_S]] = True
            rising[idx[v > V_MIN_M_S]] = True
            depths.append(-float(z.min()))
            if (v > V_MIN_M_S).any():
                peaks.append(float(force[idx[v > V_MIN_M_S]].max()) / w0)
        out: dict[str, Any] = {"squats_detected": int(sum(d > 0.05 for d in depths)),
                               "squat_depth_cm": 100.0 * float(np.mean(depths)) if depths
                               else None,
                               "peak_force_pct_bw_rising": 100.0 * float(np.mean(peaks))
                               if peaks else None}
        for phase, mask in (("lowering", lowering), ("rising", rising)):
            mask &= np.isfinite(left)
            if not mask.any():
                raise AnalysisError(f"no {phase} phase found in the vertical force: "
                                    "did the patient squat?")
            left_pct = 100.0 * float(left[mask].mean())
            out[phase] = {"left_pct": left_pct, "right_pct": 100.0 - left_pct,
                          "symmetry_pct": symmetry(left_pct),
                          "duration_s": float(mask.sum()) / fs}
        return out

    def scores(self) -> dict[str, Any]:
        out: dict[str, Any] = {"parts": self.results}
        static = self.results.get("static", {})
        squat = self.results.get("squat", {})
        for phase, res in (("static", static), ("lowering", squat.get("lowering", {})),
                           ("rising", squat.get("rising", {}))):
            for key in ("left_pct", "right_pct", "symmetry_pct"):
                name = key if key == "symmetry_pct" else f"weight_bearing_{key}"
                out[f"{name}_{phase}"] = res.get(key)
        for key in ("squat_depth_cm", "peak_force_pct_bw_rising", "squats_detected"):
            out[key] = squat.get(key)
        return out
