"""Challenge logic: difficulty that adapts to the patient, within and across sessions.

A weighted up-down staircase (Kaernbach 1991) on one difficulty level in [0, 1]: after a
success the level rises by ``step``; after a failure it falls by ``step * p / (1 - p)``. It
settles where successes make up ``p`` of the attempts (0.75 by default: the 70-80 % band in
which motor learning is both challenging and rewarding). Each drill maps the level to its own
knobs (target size, distance, hold time, speed). The last level per patient and drill is kept
in ``levels.json`` so the next session starts there; the therapist may set it at any time.

``AdaptiveGame`` is the drill base of the training games: attempts inside one running phase,
the staircase updated after each, per-attempt records and the scores every game reports.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from station import atomicio
from station.body import theoretical_los_m
from station.drills.base import (
    Block,
    Display,
    Drill,
    DrillContext,
    Event,
    Param,
    Phase,
    _run_lengths,
)


@dataclass
class Staircase:
    level: float = 0.3
    target_success: float = 0.75
    step: float = 0.04
    history: list[bool] = field(default_factory=list)
    overridden: bool = False
    #: Up-step used until the first failure (None: always ``step``). Larger first steps bring a
    #: new patient from a far starting level to their band in a few attempts (Levitt 1971).
    initial_step: float | None = None

    def update(self, success: bool) -> float:
        """Record one attempt and move the level; returns the new level."""
        self.history.append(success)
        p = self.target_success
        up = self.step if self.initial_step is None or False in self.history \
            else self.initial_step
        delta = up if success else -self.step * p / (1 - p)
        self.level = min(1.0, max(0.0, self.level + delta))
        return self.level

    def set_by_therapist(self, level: float) -> None:
        self.level = min(1.0, max(0.0, float(level)))
        self.overridden = True

    def success_rate(self, last: int = 10) -> float | None:
        recent = self.history[-last:]
        return sum(recent) / len(recent) if recent else None


def lerp(level: float, easy: float, hard: float) -> float:
    """A drill knob at ``level``: ``easy`` at 0, ``hard`` at 1."""
    return easy + (hard - easy) * level


class LevelStore:
    """The last level of each patient in each drill, replaced atomically."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def _read(self) -> dict[str, dict[str, float]]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data.get("levels", {}) if isinstance(data, dict) else {}

    def get(self, patient_code: str, drill: str, default: float = 0.3) -> float:
        return float(self._read().get(patient_code, {}).get(drill, default))

    def put(self, patient_code: str, drill: str, level: float) -> None:
        levels = self._read()
        levels.setdefault(patient_code, {})[drill] = round(float(level), 4)
        atomicio.write_json(self.path, {"format_version": "1.0", "levels": levels})


# ---------------------------------------------------------------------- adaptive training games

#: Parameters every adaptive game takes; the UI passes ``level`` in from ``LevelStore``.
GAME_PARAMS: tuple[Param, ...] = (
    Param("level", 0.3, 0.0, 1.0, "", "Starting difficulty, 0 easiest to 1 hardest: the "
          "patient's last level (LevelStore) or the therapist's choice."),
    Param("adaptive", 1.0, 0.0, 1.0, "", "1: the level follows a staircase after every "
          "attempt; 0: it stays where the therapist set it."),
    Param("attempts", 20.0, 1.0, 100.0, "", "Attempts (targets, cycles or segments) in the game."),
)

#: The patient's own limits of stability, inside which the games place their targets.
LOS_PARAMS: tuple[Param, ...] = (
    Param("los_forward_cm", 0.0, 0.0, 30.0, "cm", "Measured forward limit of stability (COP "
          "from the plate centre); 0: 8 deg of lean at COM height, from the patient's height."),
    Param("los_back_cm", 0.0, 0.0, 20.0, "cm", "Measured backward limit; 0: 4.5 deg of lean."),
    Param("los_side_cm", 0.0, 0.0, 30.0, "cm", "Measured sideways limit; 0: 8 deg of lean."),
)

#: Pauses that say the attempt was too hard: they fail it. Any other pause discards it.
SAFETY_REASONS = frozenset({"step_off", "loss_of_balance", "board_bottomed_out"})


def limits_of_stability(context: DrillContext, values: Mapping[str, float]
                        ) -> tuple[float, float, float]:
    """(forward, back, side) limits in m: the measured ones where given, else the theoretical
    NeuroCom angles (8, 4.5, 8 deg) at COM height 0.55 x height, as the virtual patient uses."""
    theory = theoretical_los_m(context.height_m)
    keys = ("los_forward_cm", "los_back_cm", "los_side_cm")
    fwd, back, side = (values.get(k, 0.0) / 100.0 or th for k, th in zip(keys, theory, strict=True))
    return fwd, back, side


def los_point(los: tuple[float, float, float], angle_rad: float, fraction: float
              ) -> tuple[float, float]:
    """The point at ``fraction`` of the LOS ellipse in direction ``angle_rad`` (0 right, pi/2
    forward): the forward and backward half-ellipses have their own AP semi-axis."""
    fwd, back, side = los
    c, s = math.cos(angle_rad), math.sin(angle_rad)
    ap = fwd if s >= 0 else back
    r = fraction / math.hypot(c / side, s / ap)
    return r * c, r * s


@dataclass
class _Attempt:
    index: int
    level: float
    t0: float
    knobs: dict[str, float]
    n: int = 0                  # samples seen
    n_on: int = 0               # samples on target
    n_err: int = 0              # samples in the tracking error
    sq_err: float = 0.0         # sum of squared tracking error (SI units squared)
    run: int = 0                # samples in the hold zone in a row (hold games)
    t_reached: float | None = None


class AdaptiveGame(Drill):
    """A training game: a run of attempts whose difficulty follows the patient.

    The base drill's one running phase holds all the attempts, so a game flows from target to
    target without a countdown between them. Per attempt the subclass places its target
    (``_begin``) and says per sample (``_measure``) the tracking error, whether the patient is
    on target, and whether they are in the zone that has to be held. A *hold* game's attempt
    ends as soon as the patient has stayed in that zone for ``hold_s`` (a success unless
    ``_accept`` objects) and fails at ``limit_s``; a *track* game's attempt lasts ``limit_s``
    and succeeds when on target for ``success_fraction`` of it. The staircase then moves the
    level, and the next attempt takes its knobs from ``knobs_at(level)`` (each game maps the
    level with ``lerp``). A step-off, loss of balance or bottomed-out board fails the attempt
    under way (it was too hard); any other pause discards it; resuming starts a fresh attempt
    after the base's countdown.
    """

    kind: ClassVar[str] = "training"
    hold_to_succeed: ClassVar[bool] = True
    success_fraction: ClassVar[float] = 0.7
    #: Score the tracking error only from the first arrival in the hold zone (steadiness on a
    #: target) rather than over the whole attempt (following a moving target or a path).
    error_from_arrival: ClassVar[bool] = True
    #: Time between the start of the running phase and the first attempt (s).
    lead_in_s: ClassVar[float] = 1.0
    #: How scores report the tracking error: unit name and the factor from SI to it.
    error_unit: ClassVar[str] = "cm"
    error_per_si: ClassVar[float] = 100.0
    #: Staircase up-step (twice as large until the first failure; down-steps are 3x).
    level_step: ClassVar[float] = 0.05

    def __init__(self, context: DrillContext, **values: float) -> None:
        super().__init__(context, **values)
        self.los = limits_of_stability(context, self.values)
        self.staircase = Staircase(level=self.values["level"], step=self.level_step,
                                   initial_step=2 * self.level_step)
        self.adaptive = self.values["adaptive"] >= 0.5
        self.level = self.staircase.level
        self.knobs = self.knobs_at(self.level)
        self.attempts: list[dict[str, Any]] = []
        self.stage = "ready"            # ready | lead_in | go | between | finished
        self.last_success: bool | None = None
        self._stage_end = 0.0
        self._att: _Attempt | None = None
        self._totals = np.zeros(4)      # n, n_on, n_err, sq_err over every finished attempt

    # ------------------------------------------------------------------ for subclasses
    def knobs_at(self, level: float) -> dict[str, float]:
        """The game's knobs at ``level``: at least limit_s and between_s, hold_s for holds."""
        raise NotImplementedError

    def _begin(self, t0: float) -> None:
        """Place the target of the attempt starting at ``t0`` (``self.knobs`` are set; the
        attempt's index is ``len(self.attempts)``)."""

    def _measure(self, t: np.ndarray, cop: np.ndarray, tilt: np.ndarray | None
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per sample: tracking error (SI), on target, in the zone to hold (hold games)."""
        raise NotImplementedError

    def _accept(self) -> bool:
        """Whether a completed hold counts as a success (a path game checks its corridor)."""
        return True

    def _next_start(self, t_end: float) -> float:
        """When the next attempt starts after one ends at ``t_end`` (a rhythm keeps its beat)."""
        return t_end + self.knobs["between_s"]

    def scene(self) -> dict[str, Any]:
        """Game-specific drawing data for ``Display.scene``."""
        return {}

    def audio(self) -> dict[str, float] | None:
        return None

    # ------------------------------------------------------------------ therapist
    def set_level(self, level: float, *, adaptive: bool | None = None) -> None:
        """The therapist's override: the next attempt runs at ``level``; ``adaptive=False``
        also holds it there."""
        self.staircase.set_by_therapist(level)
        self.level = self.staircase.level
        if adaptive is not None:
            self.adaptive = adaptive
        self.events.append(Event(self.t_s, "level_set_by_therapist",
                                 {"level": self.level, "adaptive": self.adaptive}))

    # ------------------------------------------------------------------ the attempt machine
    def feed(self, block: Block) -> None:
        super().feed(block)
        if self.phase is Phase.RUNNING and self.stage == "finished" and \
                self._phase_end is not None:
            # the last attempt ended inside this block: end the running phase at its time now
            # rather than on the next block (the base only checks phase ends between blocks)
            last, self.t_s = self.t_s, self._phase_end
            self._phase_timeout()
            self.t_s = max(last, self.t_s)

    def _on_trial_start(self) -> None:
        if self.stage == "finished":
            self._phase_end = self.t_s        # resumed after the last attempt: end now
            return
        self.stage, self._stage_end = "lead_in", self.t_s + self.lead_in_s

    def _run(self, block: Block) -> None:
        t = block.t_s
        i = 0
        while i < len(t) and self.stage in ("lead_in", "between", "go"):
            if self.stage != "go":
                i = max(i, int(np.searchsorted(t, self._stage_end, side="left")))
                if i >= len(t):
                    break
                self._start_attempt(self._stage_end)
                continue
            j = max(i, int(np.searchsorted(t, self._stage_end, side="left")))
            done = self._consume(block, i, j)
            if done is not None:
                self._finish_attempt(self._accept(), float(t[done]))
                i = done + 1
            elif j < len(t):
                att = self._att
                ok = not self.hold_to_succeed and att is not None and att.n > 0 and \
                    att.n_on >= self.success_fraction * att.n
                self._finish_attempt(ok, self._stage_end)
                i = j
            else:
                break

    def _start_attempt(self, t0: float) -> None:
        self.knobs = self.knobs_at(self.level)
        self._begin(t0)                       # may refine the knobs (a segment's own length)
        self._att = _Attempt(len(self.attempts), self.level, t0, dict(self.knobs))
        self.stage, self._stage_end = "go", t0 + self.knobs["limit_s"]
        self.events.append(Event(t0, "attempt_start", {
            "attempt": self._att.index, "level": round(self.level, 4),
            **{k: round(v, 4) for k, v in self.knobs.items()}}))

    def _consume(self, block: Block, i: int, j: int) -> int | None:
        """Score samples i:j of the attempt; the index where its hold completed, if it did."""
        att = self._att
        t = block.t_s[i:j]
        if att is None or not len(t):
            return None
        tilt = None if block.tilt_rad is None else block.tilt_rad[i:j]
        err, on, zone = self._measure(t, block.cop_m[i:j], tilt)
        ok = np.isfinite(err)
        on, zone = on & ok, zone & ok
        done = None
        if self.hold_to_succeed:
            runs = _run_lengths(zone, att.run)
            need = max(1, round(att.knobs["hold_s"] * self.context.sample_rate_hz))
            hits = np.flatnonzero(runs >= need)
            if len(hits):
                done = int(hits[0])
                t, err, on, zone = t[:done + 1], err[:done + 1], on[:done + 1], zone[:done + 1]
            att.run = int(runs[len(t) - 1])
        if att.t_reached is None and zone.any():
            att.t_reached = float(t[int(np.argmax(zone))])
            self.events.append(Event(att.t_reached, "target_reached", {"attempt": att.index}))
        if self.error_from_arrival:
            err = err[t >= att.t_reached] if att.t_reached is not None else err[:0]
        err = err[np.isfinite(err)]
        att.n += len(t)
        att.n_on += int(on.sum())
        att.n_err += len(err)
        att.sq_err += float(err @ err)
        return None if done is None else i + done

    def _finish_attempt(self, success: bool, t_end: float, interrupted: str | None = None
                        ) -> None:
        att = self._att
        if att is None:
            return
        self._att = None
        self._totals += (att.n, att.n_on, att.n_err, att.sq_err)
        record: dict[str, Any] = {
            "attempt": att.index, "level": round(att.level, 4), "success": success,
            "t_start_s": att.t0, "t_end_s": t_end,
            "time_on_target_pct": 100.0 * att.n_on / att.n if att.n else 0.0,
            f"rms_error_{self.error_unit}": self.error_per_si * math.sqrt(att.sq_err / att.n_err)
            if att.n_err else None,
            "time_to_target_s": None if att.t_reached is None else att.t_reached - att.t0,
            "knobs": {k: round(v, 4) for k, v in att.knobs.items()},
        }
        if interrupted:
            record["interrupted"] = interrupted
        self.attempts.append(record)
        self.last_success = success
        if self.hold_to_succeed:
            self.events.append(Event(t_end, "target_hit" if success else "target_missed",
                                     {"attempt": att.index}))
        self.sounds.append("hit" if success else "miss")
        if self.adaptive:
            self.level = self.staircase.update(success)
        self.events.append(Event(t_end, "attempt_end", {
            "attempt": att.index, "success": success, "next_level": round(self.level, 4)}))
        if len(self.attempts) >= int(self.values["attempts"]):
            self.stage = "finished"
            if self.phase is Phase.RUNNING:
                self._phase_end = t_end       # the base ends the running phase here
        else:
            self.stage, self._stage_end = "between", self._next_start(t_end)

    def _on_interrupted(self, reason: str) -> None:
        if self._att is not None:
            if reason in SAFETY_REASONS:
                self._finish_attempt(False, self.t_s, interrupted=reason)
            else:
                self.events.append(Event(self.t_s, "attempt_discarded",
                                         {"attempt": self._att.index, "reason": reason}))
                self._att = None
        if self.stage != "finished":
            self.stage = "ready"

    def _on_trial_end(self) -> bool:
        return True

    # ------------------------------------------------------------------ output
    @property
    def attempt_active(self) -> bool:
        return self.phase is Phase.RUNNING and self.stage == "go"

    def display(self) -> Display:
        """The base display; ``scene`` always has the game's ``stage`` (lead_in, go, between,
        finished), the ``attempt`` under way (1-based) and the ``attempts`` in the game."""
        shown = super().display()
        n = int(self.values["attempts"])
        shown.scene = {"stage": self.stage, "attempt": min(len(self.attempts) + 1, n),
                       "attempts": n, **self.scene()}
        shown.audio = self.audio()
        return shown

    def scores(self) -> dict[str, Any]:
        """Hits, success rate, time on target, RMS tracking error, time to target, levels."""
        done = self.attempts
        n, n_on, n_err, sq = (float(v) for v in self._totals)
        hits = sum(a["success"] for a in done)
        reached = [a["time_to_target_s"] for a in done if a["time_to_target_s"] is not None]
        last = done[-10:]
        return {
            "attempts": len(done), "hits": hits,
            "success_rate": hits / len(done) if done else None,
            "success_rate_last_10": sum(a["success"] for a in last) / len(last) if last else None,
            "time_on_target_pct": 100.0 * n_on / n if n else None,
            f"rms_error_{self.error_unit}": self.error_per_si * math.sqrt(sq / n_err)
            if n_err else None,
            "mean_time_to_target_s": float(np.mean(reached)) if reached else None,
            "level_start": self.values["level"], "level_end": self.level,
            "level_mean_last_10": float(np.mean([a["level"] for a in last])) if last else None,
            "adaptive": self.adaptive, "set_by_therapist": self.staircase.overridden,
            "per_attempt": done,
        }
