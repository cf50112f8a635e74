"""Wobble-board stability test: overall / AP / ML stability index and time in zones A-D.

Procedure (Biodex Balance System Postural Stability Test, Arnold & Schmitz 1998; Biodex
manual): both feet on the board, arms folded, eyes open, keep the board level with the tilt
cursor in the centre of the screen; ``trials`` trials (3 as standard) of ``duration_s`` (20 s)
with ``rest_s`` (10 s) between. The board tilt comes from the BNO08x game rotation vector
(Block.tilt_rad, relative to the last levelling).

Scores per trial by station.analysis.clinical.stability_index (the Biodex definitions): ML =
RMS roll, AP = RMS pitch, overall = sqrt(ML^2 + AP^2), all deviations from level in degrees, and
% of the time in zones A (0-5 deg), B (5-10), C (10-15), D (15-20). The test result is the
mean over the completed trials, as the Biodex report gives it. A bottomed-out board (the base
class pauses within ``safety_hold_s``), a step-off or a loss of balance ends the trial as a
fall (the Biodex test counts a trial the patient cannot finish without support as failed):
it is counted and left out of the means. Without board tilt (no IMU) the test stops after
``NO_TILT_S`` of the first trial and says why.
"""

from __future__ import annotations

import math
from dataclasses import asdict
from typing import Any

import numpy as np

from station.analysis.clinical import stability_index
from station.analysis.validation import AnalysisError
from station.drills.base import Block, DrillContext, Param, TrialTest
from station.drills.registry import register

NO_TILT_S = 1.0       # a trial without any board tilt for this long stops the test
KEYS = {"overall_deg": "stability_index_overall_deg", "ap_deg": "stability_index_ap_deg",
        "ml_deg": "stability_index_ml_deg", "zone_a_pct": "zone_a_pct",
        "zone_b_pct": "zone_b_pct", "zone_c_pct": "zone_c_pct", "zone_d_pct": "zone_d_pct",
        "beyond_pct": "zone_beyond_pct"}


@register
class WobbleStability(TrialTest):
    name = "wobble_stability"
    title = "Wobble board: postural stability test"
    kind = "assessment"
    params = (
        Param("duration_s", 20.0, 10.0, 30.0, "s", "Length of each trial (Biodex 20 s)."),
        Param("trials", 3.0, 1.0, 3.0, "", "Trials (Biodex 3)."),
        Param("rest_s", 10.0, 2.0, 60.0, "s", "Rest between trials (Biodex 10 s)."),
    )

    def __init__(self, context: DrillContext, **values: float) -> None:
        super().__init__(context, **values)
        self.trial_index = 0
        self.trial_scores: list[dict[str, Any]] = []
        self._tilt: list[np.ndarray] = []
        self._trial_t0 = 0.0

    def trial_count(self) -> int:
        return int(self.values["trials"])

    def rest_s(self) -> float:
        return self.values["rest_s"]

    def ask(self) -> dict[str, Any]:
        return {"vision": "open", "stance": "both", "board_target_rad": (0.0, 0.0)}

    def instructions(self) -> str:
        return "Stand on the board, arms folded, and keep the dot in the centre"

    def running_prompt(self) -> str:
        return "Keep the board level: the dot in the centre"

    # ------------------------------------------------------------------ samples
    def _on_trial_start(self) -> None:
        self._tilt = []
        self._trial_t0 = self.t_s

    def _run(self, block: Block) -> None:
        if block.tilt_rad is None:              # no IMU report in this block
            self._tilt.append(np.full((len(block.t_s), 2), np.nan))
        else:
            self._tilt.append(block.tilt_rad)
        if self.t_s - self._trial_t0 >= NO_TILT_S and \
                not any(np.isfinite(x).any() for x in self._tilt):
            self.stop("no_board_tilt")
            self.prompt = "No wobble-board tilt: check the board's sensor, then restart"

    def rest_prompt(self) -> str:
        return "Rest: hold the rail or step off the board"



    def _discard(self) -> None:
        self._tilt = []

    def _record(self, fall: str | None) -> None:
        tilt = np.concatenate(self._tilt) if self._tilt else np.empty((0, 2))
        tilt = tilt[np.isfinite(tilt).all(axis=1)]
        trial: dict[str, Any] = {"trial": self.trial_index, "fall": fall,
                                 "tilt_samples": len(tilt),
                                 "max_tilt_deg": math.degrees(float(np.abs(tilt).max()))
                                 if len(tilt) else None}
        if fall is None:
            try:
                trial.update({KEYS[k]: v for k, v in asdict(stability_index(tilt)).items()})
            except AnalysisError as exc:
                trial["error"] = str(exc)
        self.trial_scores.append(trial)
        self.trial_index += 1
        self._tilt = []

    # ------------------------------------------------------------------ scores
    def scores(self) -> dict[str, Any]:
        out: dict[str, Any] = {"trials": self.trial_scores}
        done = [t for t in self.trial_scores if KEYS["overall_deg"] in t]
        for key in KEYS.values():
            out[key] = float(np.mean([t[key] for t in done])) if done else None
        out["trials_completed"] = len(done)
        out["falls"] = sum(t["fall"] is not None for t in self.trial_scores)
        return out
