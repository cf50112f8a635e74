"""Modified Clinical Test of Sensory Interaction on Balance (mCTSIB).

Procedure (Shumway-Cook & Horak 1986, modified by removing the visual-conflict dome; as run on
the NeuroCom Balance Master and the Biodex Balance System): feet on the footprints, arms by the
sides, four conditions in order: firm surface eyes open, firm eyes closed, foam eyes open, foam
eyes closed; ``trials`` trials per condition (3 as standard) of ``duration_s`` each (NeuroCom
10 s, Biodex and the clinical CTSIB-M 30 s). The foam is physical: before the first foam trial
the drill asks for it (``ask()["surface"] = "foam"``) and gives the therapist ``foam_setup_s`` to
put the pad on the plate.

Scores: mean COP sway velocity per trial (path length / (N / fs), the Santos & Duarte 2016
convention of the analysis library) and its 95 % prediction-ellipse area; per condition the
mean over the completed trials; the composite is the mean of the four condition means (the
NeuroCom mCTSIB composite sway velocity; the Biodex CTSIB composite averages its condition
sway indices the same way). A step-off or loss of balance ends the trial and records it as a
fall (the CTSIB convention): it is counted per condition and left out of the velocity means; a
condition in which every trial fell has no velocity and then no composite. The Romberg quotient
(EC / EO velocity) is given for each surface.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from station.analysis.areas import prediction_ellipse
from station.analysis.clinical import romberg_quotient
from station.analysis.sway import mean_velocity
from station.analysis.validation import AnalysisError
from station.drills.base import Block, DrillContext, Param, TrialTest
from station.drills.registry import register

#: The four conditions in the standard order: (surface, vision).
CONDITIONS = (("firm", "open"), ("firm", "closed"), ("foam", "open"), ("foam", "closed"))
FALLS = ("step_off", "loss_of_balance")   # a bottomed-out board is no fall here


def condition_key(surface: str, vision: str) -> str:
    return f"{surface}_eyes_{vision}"


@register
class MCTSIB(TrialTest):

    falls = FALLS
    name = "mctsib"
    title = "Modified CTSIB: firm and foam, eyes open and closed"
    kind = "assessment"
    params = (
        Param("duration_s", 10.0, 10.0, 30.0, "s", "Length of each trial (NeuroCom 10 s, "
              "Biodex 30 s)."),
        Param("trials", 3.0, 1.0, 3.0, "", "Trials per condition (3 as standard)."),
        Param("rest_s", 10.0, 2.0, 60.0, "s", "Rest between trials."),
        Param("foam_setup_s", 30.0, 5.0, 120.0, "s", "Time to put the foam pad on the plate."),
    )

    def __init__(self, context: DrillContext, **values: float) -> None:
        super().__init__(context, **values)
        n = int(self.values["trials"])
        self.plan = [c for c in CONDITIONS for _ in range(n)]
        self.trial_index = 0
        self._cop: list[np.ndarray] = []
        self.trial_scores: list[dict[str, Any]] = []

    # ------------------------------------------------------------------ what is asked
    @property
    def condition(self) -> tuple[str, str]:
        """(surface, vision) of the current, or next, trial."""
        return self.plan[min(self.trial_index, len(self.plan) - 1)]

    def trial_count(self) -> int:
        return len(self.plan)

    def ask(self) -> dict[str, Any]:
        surface, vision = self.condition
        return {"vision": vision, "stance": "both", "surface": surface}

    def instructions(self) -> str:
        return "Stand on the footprints, arms by your sides, and look at the dot"

    def running_prompt(self) -> str:
        return "Keep your eyes closed and stand still" if self.condition[1] == "closed" \
            else "Look at the dot and stand still"

    def rest_s(self) -> float:
        if self.condition[0] != self.plan[self.trial_index - 1][0]:
            return self.values["foam_setup_s"]
        return self.values["rest_s"]

    def rest_prompt(self) -> str:
        """What the rest before the next trial asks (the foam goes on before the first foam
        trial)."""
        surface, vision = self.condition
        prev = self.plan[self.trial_index - 1][0]
        if surface != prev:
            return "Therapist: put the foam pad on the plate; patient: stand on the footprints"
        return "Close your eyes when the count starts" if vision == "closed" \
            else "Keep your eyes open"

    # ------------------------------------------------------------------ samples
    def _on_trial_start(self) -> None:
        self._cop = []

    def _run(self, block: Block) -> None:
        self._cop.append(block.cop_m)



    def _discard(self) -> None:
        self._cop = []

    def _record(self, fall: str | None) -> None:
        surface, vision = self.condition
        cop = np.concatenate(self._cop) if self._cop else np.empty((0, 2))
        cop = cop[np.isfinite(cop).all(axis=1)]
        fs = self.context.sample_rate_hz
        trial: dict[str, Any] = {"trial": self.trial_index, "surface": surface,
                                 "vision": vision, "duration_s": len(cop) / fs, "fall": fall,
                                 "mean_velocity_cm_s": None, "ellipse_area_95_cm2": None}
        if fall is None:
            try:
                trial["mean_velocity_cm_s"] = 100.0 * mean_velocity(cop, fs).planar
                trial["ellipse_area_95_cm2"] = 1e4 * prediction_ellipse(cop).area_m2
            except AnalysisError as exc:
                trial["error"] = str(exc)
        self.trial_scores.append(trial)
        self.trial_index += 1
        self._cop = []

    # ------------------------------------------------------------------ scores
    def scores(self) -> dict[str, Any]:
        out: dict[str, Any] = {"trials": self.trial_scores}
        means: dict[str, float | None] = {}
        for surface, vision in CONDITIONS:
            key = condition_key(surface, vision)
            trials = [t for t in self.trial_scores
                      if (t["surface"], t["vision"]) == (surface, vision)]
            vel = [t["mean_velocity_cm_s"] for t in trials if t["mean_velocity_cm_s"] is not None]
            area = [t["ellipse_area_95_cm2"] for t in trials
                    if t["ellipse_area_95_cm2"] is not None]
            means[key] = float(np.mean(vel)) if vel else None
            out[f"mean_velocity_cm_s_{key}"] = means[key]
            out[f"ellipse_area_95_cm2_{key}"] = float(np.mean(area)) if area else None
            out[f"falls_{key}"] = sum(t["fall"] is not None for t in trials)
        values = list(means.values())
        out["mean_velocity_cm_s_composite"] = None if None in values \
            else float(np.mean(values))
        for surface in ("firm", "foam"):
            eo, ec = means[f"{surface}_eyes_open"], means[f"{surface}_eyes_closed"]
            out[f"romberg_velocity_{surface}"] = None if eo is None or ec is None \
                else romberg_quotient(ec, eo)
        return out
