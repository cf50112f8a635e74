"""Weight-bearing training: put a prescribed share of the weight on the affected leg and hold.

After a stroke or a lower-limb injury the patient spares the affected leg; this game asks for
the share the therapist prescribes (``target_pct`` of body weight on the affected side) and
rewards holding it. One attempt is one shift-and-hold: the share must stay inside the band for
``hold_s`` within the time allowed; then the patient relaxes for ``between_s`` and does it
again, so every repetition is a fresh weight transfer. The level narrows the band, lengthens
the hold and shortens the time allowed; the prescription itself is the therapist's.

Per-leg load comes from the COP between the footprint centres (design.md): the left share is
0.5 - COPx / foot_spacing. Display: ``scene`` carries the affected side, the current share on
it, the prescription and the band (a bar, not a target on the COP map).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from station.drills.base import DrillContext, Param
from station.drills.challenge import GAME_PARAMS, AdaptiveGame, lerp
from station.drills.registry import register


@register
class WeightTraining(AdaptiveGame):
    name = "weight_training"
    title = "Weight-bearing training"
    error_unit = "pct_bw"           # error in % of body weight on the affected leg
    error_per_si = 100.0
    params = (*GAME_PARAMS,
              Param("affected_side", 1.0, 0.0, 1.0, "", "0: the left leg is affected; 1: the "
                    "right."),
              Param("target_pct", 50.0, 20.0, 80.0, "%", "Prescribed share of body weight on "
                    "the affected leg."))

    def __init__(self, context: DrillContext, **values: float) -> None:
        super().__init__(context, **values)
        self._load_sum = 0.0            # affected share summed over the attempts' samples
        self._load_n = 0

    @property
    def affected(self) -> str:
        return "right" if self.values["affected_side"] >= 0.5 else "left"

    @property
    def target(self) -> float:
        """Prescribed share of the weight on the affected leg (0-1)."""
        return self.values["target_pct"] / 100.0

    def instructions(self) -> str:
        return (f"Put {self.values['target_pct']:.0f} % of your weight on your "
                f"{self.affected} leg and hold it there")

    def running_prompt(self) -> str:
        return f"Weight onto your {self.affected} leg: keep the bar in the green"

    def knobs_at(self, level: float) -> dict[str, float]:
        hold = lerp(level, 2.0, 8.0)
        return {"band_pct": lerp(level, 10.0, 2.0), "hold_s": hold,
                "limit_s": hold + lerp(level, 6.0, 3.0), "between_s": 2.5}

    def affected_share(self, cop: np.ndarray) -> np.ndarray:
        """Share (N,) of the weight on the affected leg from COP (N, 2); NaN when unloaded."""
        left = 0.5 - cop[:, 0] / self.context.foot_spacing_m
        return left if self.affected == "left" else 1.0 - left

    def _measure(self, t: np.ndarray, cop: np.ndarray, tilt: np.ndarray | None
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        share = self.affected_share(cop)
        finite = share[np.isfinite(share)]
        self._load_sum += float(finite.sum())
        self._load_n += len(finite)
        err = np.abs(share - self.target)
        on = err <= self.knobs["band_pct"] / 100.0
        return err, on, on

    def ask(self) -> dict[str, Any]:
        left = self.target if self.affected == "left" else 1.0 - self.target
        return {"vision": "open", "stance": "both",
                "weight_left": round(left, 3) if self.attempt_active else None}

    def scene(self) -> dict[str, Any]:
        now = None
        if self.cursor_m is not None:
            now = float(self.affected_share(np.array([self.cursor_m]))[0]) * 100.0
        return {"affected_side": self.affected, "affected_pct": now,
                "target_pct": self.values["target_pct"], "band_pct": self.knobs["band_pct"],
                "holding": self.attempt_active}

    def scores(self) -> dict[str, Any]:
        out = super().scores()
        out["mean_affected_pct"] = 100.0 * self._load_sum / self._load_n if self._load_n \
            else None
        return out
