"""Audio biofeedback for eyes-closed work: a tone whose pitch and stereo pan follow the sway.

With the eyes closed the patient loses the screen, so the sway is heard instead: silence while
the COP stays inside a quiet zone around where they stood at the start, then a tone that rises
as they sway forward and falls as they sway back (pitch from AP), moves to the ear on the side
they sway to (pan from ML) and grows louder the farther out they are. The reference is the
mean COP over the lead-in of each start (the patient's own stance, not the plate centre, so an
asymmetric stance does not sound like sway).

It is an adaptive game like the others: one attempt is one stretch of ``limit_s`` seconds, a
success when the COP stayed in the quiet zone for ``success_fraction`` of it; the level shrinks
the zone and lengthens the stretch. ``Display.audio`` carries the tone as data ({"freq_hz",
"pan", "volume"} or None for silence); ``tone_buffer`` renders it as a loopable int16 stereo
buffer for pygame.mixer (the UI plays it; nothing here imports pygame).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from station.analysis.summary import summarize, to_json
from station.analysis.validation import AnalysisError
from station.drills.base import Block, DrillContext, Param, Target
from station.drills.challenge import GAME_PARAMS, AdaptiveGame, lerp
from station.drills.registry import register


def audio_cue(offset_m: tuple[float, float] | None, dead_zone_m: float, range_m: float, *,
              base_hz: float = 440.0, octaves: float = 1.0) -> dict[str, float]:
    """The tone for a COP ``offset_m`` (ml, ap) from the reference.

    Inside ``dead_zone_m`` (radial) the tone is silent. Beyond it the offset is shrunk by the
    dead zone and scaled by ``range_m`` to -1..1 per axis: pan = ML (-1 left, 1 right), pitch
    = ``base_hz`` * 2**(``octaves`` * AP) (forward higher), volume 0.3 at the zone's edge to 1
    at the range's end. An undefined COP (nobody on the plate) is silent.
    """
    silent = {"freq_hz": base_hz, "pan": 0.0, "volume": 0.0}
    if offset_m is None or not all(map(math.isfinite, offset_m)):
        return silent
    ml, ap = offset_m
    r = math.hypot(ml, ap)
    if r <= dead_zone_m:
        return silent
    k = (r - dead_zone_m) / r / max(range_m, 1e-9)
    pan = min(1.0, max(-1.0, ml * k))
    pitch = min(1.0, max(-1.0, ap * k))
    return {"freq_hz": base_hz * 2.0 ** (octaves * pitch), "pan": pan,
            "volume": 0.3 + 0.7 * min(1.0, (r - dead_zone_m) / max(range_m, 1e-9))}


def tone_buffer(freq_hz: float, pan: float, seconds: float, rate: int = 44100, *,
                volume: float = 0.8) -> np.ndarray:
    """A sine tone as an (N, 2) C-contiguous int16 stereo buffer that loops without a click.

    The buffer holds a whole number of cycles: the frequency is rounded to the nearest one
    that fits (at most 1 / (2 ``seconds``) Hz off), so sample N would equal sample 0 and a
    looping mixer channel plays a seamless tone. Constant-power pan: left = cos, right = sin of
    (pan + 1) * pi / 4, so the loudness does not dip in the middle.
    """
    if not 0.0 < freq_hz < rate / 2 or seconds <= 0 or rate <= 0:
        raise ValueError(f"tone of {freq_hz} Hz for {seconds} s at {rate} Hz is not playable")
    n = max(1, round(seconds * rate))
    cycles = max(1, round(freq_hz * n / rate))
    wave = np.sin(2.0 * math.pi * cycles * np.arange(n) / n)
    angle = (min(1.0, max(-1.0, pan)) + 1.0) * math.pi / 4.0
    amp = 32767.0 * min(1.0, max(0.0, volume))
    gains = np.array([math.cos(angle), math.sin(angle)]) * amp
    return np.ascontiguousarray(np.rint(wave[:, None] * gains).astype(np.int16))


@register
class AudioFeedback(AdaptiveGame):
    name = "audio_feedback"
    title = "Audio biofeedback, eyes closed"
    hold_to_succeed = False
    error_from_arrival = False
    success_fraction = 0.7
    lead_in_s = 2.0                  # the stance the tone is heard against
    params = (*GAME_PARAMS,
              Param("vision", 0.0, 0.0, 1.0, "", "0: eyes closed (what the tone is for); "
                    "1: eyes open."),
              Param("base_hz", 440.0, 200.0, 1000.0, "Hz", "Pitch at the quiet zone's edge."),
              Param("range_cm", 4.0, 1.0, 10.0, "cm", "Sway beyond the quiet zone at which "
                    "pitch, pan and volume reach their ends."))

    def __init__(self, context: DrillContext, **values: float) -> None:
        super().__init__(context, **values)
        self.reference_m: tuple[float, float] | None = None
        self._ref_sum = np.zeros(2)
        self._ref_n = 0
        self._ref_until = 0.0
        self._cop: list[np.ndarray] = []      # COP of every stretch, for the sway metrics

    @property
    def vision(self) -> str:
        return "open" if self.values["vision"] >= 0.5 else "closed"

    def instructions(self) -> str:
        return ("Stand still with your eyes closed. Silence means you are steady; a tone "
                "tells you which way you sway: higher forward, lower back, left or right ear")

    def running_prompt(self) -> str:
        return "Close your eyes and keep the tone quiet" if self.vision == "closed" \
            else "Keep the tone quiet"

    def knobs_at(self, level: float) -> dict[str, float]:
        return {"quiet_zone_m": lerp(level, 0.035, 0.005), "limit_s": lerp(level, 8.0, 15.0),
                "between_s": 0.0}

    def _on_trial_start(self) -> None:
        super()._on_trial_start()
        self.reference_m = None                # a new start: stand, then hear against that
        self._ref_sum[:] = 0.0
        self._ref_n = 0
        self._ref_until = self.t_s + self.lead_in_s

    def _run(self, block: Block) -> None:
        if self.reference_m is None:
            early = block.cop_m[block.t_s < self._ref_until]
            early = early[np.isfinite(early).all(axis=1)]
            self._ref_sum += early.sum(axis=0)
            self._ref_n += len(early)
            if block.t_s[-1] >= self._ref_until:
                mean = self._ref_sum / self._ref_n if self._ref_n else np.zeros(2)
                self.reference_m = (float(mean[0]), float(mean[1]))
        super()._run(block)

    def _offset(self, cop: np.ndarray) -> np.ndarray:
        return cop - np.asarray(self.reference_m if self.reference_m else (0.0, 0.0))

    def _measure(self, t: np.ndarray, cop: np.ndarray, tilt: np.ndarray | None
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        self._cop.append(cop)
        err = np.hypot(*self._offset(cop).T)
        on = err <= self.knobs["quiet_zone_m"]
        return err, on, on

    def audio(self) -> dict[str, float] | None:
        if not self.attempt_active or self.cursor_m is None:
            return None
        ml, ap = self._offset(np.array(self.cursor_m))
        return audio_cue((float(ml), float(ap)), self.knobs["quiet_zone_m"],
                         self.values["range_cm"] / 100.0, base_hz=self.values["base_hz"])

    def ask(self) -> dict[str, Any]:
        return {"vision": self.vision, "stance": "both"}

    def targets(self) -> list[Target]:
        if self.reference_m is None or not self.attempt_active:
            return []
        return [Target(*self.reference_m, self.knobs["quiet_zone_m"], "active")]

    def scene(self) -> dict[str, Any]:
        return {"reference_m": self.reference_m, "quiet_zone_m": self.knobs["quiet_zone_m"]}

    def scores(self) -> dict[str, Any]:
        """The game's scores plus the sway of the stretches (analysis conventions)."""
        out = super().scores()
        cop = np.concatenate(self._cop) if self._cop else np.empty((0, 2))
        cop = cop[np.isfinite(cop).all(axis=1)]
        try:
            sway = to_json(summarize(cop, self.context.sample_rate_hz))
        except AnalysisError:
            sway = {}
        for key in ("path_length_cm", "mean_velocity_cm_s", "ellipse_area_95_cm2"):
            out[key] = sway.get(key)
        return out
