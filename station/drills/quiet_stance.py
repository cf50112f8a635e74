"""Quiet stance, eyes open then eyes closed, with the Romberg quotient.

Procedure: feet on the footprints, arms by the sides, look at the mark on the screen (eyes open)
or close the eyes; ``trials`` trials per condition of ``duration_s`` each, alternating EO then EC,
10 s rest between. Scored per trial with the analysis library (Prieto / BDS conventions) and per
condition as the mean; the Romberg quotient is EC / EO for path length and for ellipse area.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from station.analysis.clinical import romberg_quotient, weight_bearing
from station.analysis.summary import summarize, to_json
from station.drills.base import Block, Drill, DrillContext, Param
from station.drills.registry import register
from station.plate.model import weight_front
from station.units import G


@register
class QuietStance(Drill):
    name = "quiet_stance"
    title = "Quiet stance: eyes open, eyes closed"
    kind = "assessment"
    params = (
        Param("duration_s", 30.0, 10.0, 60.0, "s", "Length of each trial."),
        Param("trials", 1.0, 1.0, 3.0, "", "Trials per condition."),
    )

    def __init__(self, context: DrillContext, **values: float) -> None:
        super().__init__(context, **values)
        n = int(self.values["trials"])
        self.conditions = ["open", "closed"] * n if n == 1 else ["open"] * n + ["closed"] * n
        self.trial_index = 0
        self._cop: list[np.ndarray] = []
        self.trial_scores: list[dict[str, Any]] = []

    @property
    def vision(self) -> str:
        """The condition of the current (or next) trial: "open" or "closed"."""
        return self.conditions[min(self.trial_index, len(self.conditions) - 1)]

    def trial_count(self) -> int:
        return len(self.conditions)

    def ask(self) -> dict[str, Any]:
        return {"vision": self.vision, "stance": "both"}

    def instructions(self) -> str:
        return "Stand on the footprints, arms by your sides, and look at the dot"

    def running_prompt(self) -> str:
        return "Keep your eyes closed and stand still" if self.vision == "closed" \
            else "Look at the dot and stand still"

    def rest_s(self) -> float:
        return 10.0

    def _on_trial_start(self) -> None:
        self._cop, self._load = [], []

    def _run(self, block: Block) -> None:
        self._cop.append(block.cop_m)
        self._load.append(block.total_force_n)

    def _on_interrupted(self, reason: str) -> None:
        self._cop, self._load = [], []   # an interrupted trial is repeated, never half-scored

    def _on_trial_end(self) -> bool:
        cop = np.concatenate(self._cop) if self._cop else np.empty((0, 2))
        load = np.concatenate(self._load) if self._load else np.empty(0)
        metrics = to_json(summarize(cop, self.context.sample_rate_hz))
        wb = weight_bearing(cop, self.context.foot_spacing_m)
        front = weight_front(cop[:, 1], self.context.span_ap_m)
        self.trial_scores.append({
            "vision": self.vision, "weight_kg": float(np.mean(load)) / G,
            "weight_left_pct": wb.left_pct, "weight_symmetry_pct": wb.symmetry_pct,
            "weight_front_pct": float(np.mean(front)) * 100, **metrics})
        self.trial_index += 1
        return self.trial_index >= len(self.conditions)

    def countdown_prompt(self) -> str:
        return "Close your eyes now" if self.vision == "closed" else "Eyes open: look at the dot"

    def rest_prompt(self) -> str:
        return "Rest. Next: eyes closed" if self.vision == "closed" else "Rest"

    def scores(self) -> dict[str, Any]:
        out: dict[str, Any] = {"trials": self.trial_scores}
        by = {v: [t for t in self.trial_scores if t["vision"] == v] for v in ("open", "closed")}
        for vision, trials in by.items():
            for key in ("path_length_cm", "ellipse_area_95_cm2", "mean_velocity_cm_s"):
                if trials:
                    out[f"{key}_eyes_{vision}"] = float(np.mean([t[key] for t in trials]))
        if by["open"] and by["closed"]:
            out["romberg_path_length"] = romberg_quotient(out["path_length_cm_eyes_closed"],
                                                          out["path_length_cm_eyes_open"])
            out["romberg_area"] = romberg_quotient(out["ellipse_area_95_cm2_eyes_closed"],
                                                   out["ellipse_area_95_cm2_eyes_open"])
        return out
