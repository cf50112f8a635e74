"""The drill engine: a drill is a state machine over live plate samples, independent of screens.

A drill declares its parameters (defaults and bounds a therapist may change), moves through
phases (instructions, countdown, running, rest, done) on the *sample* clock, so it runs the same
on the kiosk, headless in tests and faster than real time against the virtual patient. What it
shows is data (``Display``), never pygame calls. The base class owns safety: a step-off, a loss
of balance or a bottomed-out wobble board pauses the drill within a few samples and marks the
trial; the patient is never asked to continue blind.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from station.errors import StationError

G = 9.80665


class DrillError(StationError, ValueError):
    """A drill was given a parameter it does not accept."""


class Phase(enum.StrEnum):
    INSTRUCTIONS = "instructions"
    COUNTDOWN = "countdown"
    RUNNING = "running"
    PAUSED = "paused"
    REST = "rest"
    DONE = "done"


@dataclass(frozen=True)
class Param:
    name: str
    default: float
    lo: float
    hi: float
    unit: str
    doc: str


@dataclass(frozen=True)
class Target:
    ml_m: float
    ap_m: float
    radius_m: float
    state: str = "active"       # pending | active | hit | missed


@dataclass
class Display:
    """Everything a screen needs to draw the drill; SI units."""

    phase: Phase
    prompt: str
    seconds_left: float | None = None
    cursor_m: tuple[float, float] | None = None
    tilt_rad: tuple[float, float] | None = None
    targets: list[Target] = field(default_factory=list)
    trial: int = 0
    trials: int = 1
    sounds: list[str] = field(default_factory=list)
    #: What the drill asks of the patient, as data (the UI words it; the virtual patient's
    #: autopilot obeys it): vision "open"/"closed", stance "both"/"left"/"right",
    #: lean_to_m (ml, ap), weight_left (0-1; None: back to their own stance),
    #: board_target_rad (roll, pitch).
    ask: dict[str, Any] = field(default_factory=dict)
    level: float | None = None          # difficulty the drill runs at (challenge logic)
    #: Drawing data beyond targets and cursor, documented by each drill (a pacing marker, a
    #: path, a ball on a tilting tray, progress through the attempts); SI units.
    scene: dict[str, Any] = field(default_factory=dict)
    #: The biofeedback tone to play, or None for silence: {"freq_hz", "pan" (-1 left to 1
    #: right), "volume" (0-1)}; the UI synthesises it (see drills.audio_feedback.tone_buffer).
    audio: dict[str, float] | None = None


@dataclass(frozen=True)
class Event:
    t_s: float
    kind: str
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Block:
    """A block of consecutive samples handed to a drill (SI units, sample-clock seconds)."""

    t_s: np.ndarray
    cop_m: np.ndarray            # (N, 2), NaN when unloaded
    total_force_n: np.ndarray    # (N,)
    tilt_rad: np.ndarray | None = None   # (N, 2) roll, pitch when a wobble board is used


@dataclass(frozen=True)
class DrillContext:
    """What a drill knows about the patient and the plate."""

    body_mass_kg: float
    height_m: float
    span_ml_m: float = 0.4
    span_ap_m: float = 0.4
    foot_spacing_m: float = 0.2
    sample_rate_hz: float = 80.0
    max_tilt_rad: float = 0.349


def _run_lengths(mask: np.ndarray, carry: int) -> np.ndarray:
    """Length of the run of True ending at each sample, continuing ``carry`` from before."""
    idx = np.arange(len(mask))
    last_false = np.maximum.accumulate(np.where(mask, -1, idx)) if len(mask) else idx
    lengths = idx - last_false
    return np.where(last_false < 0, lengths + carry, lengths)


class Drill:
    """Base class. Subclasses set the class attributes and implement ``_run``/``scores``."""

    name: ClassVar[str] = ""
    title: ClassVar[str] = ""
    kind: ClassVar[str] = "assessment"      # assessment | training
    params: ClassVar[tuple[Param, ...]] = ()
    countdown_s: ClassVar[float] = 3.0
    #: How long the safety conditions must hold before the drill reacts (s).
    safety_hold_s: ClassVar[float] = 0.1

    def __init__(self, context: DrillContext, **values: float) -> None:
        self.context = context
        self.values = self._validate(values)
        self.phase = Phase.INSTRUCTIONS
        self.events: list[Event] = []
        self.t_s = 0.0
        self._phase_end: float | None = None
        self._paused_from: Phase | None = None
        self.prompt = self.instructions()
        self.sounds: list[str] = []
        self._runs: dict[str, int] = {}     # safety-condition run lengths carried across blocks
        self.cursor_m: tuple[float, float] | None = None
        self.tilt_rad: tuple[float, float] | None = None
        self.level: float | None = None

    # ------------------------------------------------------------------ parameters
    @classmethod
    def _validate(cls, values: dict[str, float]) -> dict[str, float]:
        known = {p.name: p for p in cls.params}
        for key, value in values.items():
            if key not in known:
                raise DrillError(f"{cls.name}: unknown parameter '{key}'")
            p = known[key]
            if not p.lo <= float(value) <= p.hi:
                raise DrillError(f"{cls.name}: {key} = {value} {p.unit} is outside "
                                 f"{p.lo}-{p.hi} {p.unit}")
        return {p.name: float(values.get(p.name, p.default)) for p in cls.params}

    def instructions(self) -> str:
        return self.title

    # ------------------------------------------------------------------ commands
    def start(self) -> None:
        """The therapist pressed start: count down, then run."""
        if self.phase in (Phase.INSTRUCTIONS, Phase.REST):
            self._enter(Phase.COUNTDOWN, self.countdown_s, self.countdown_prompt())
            self.sounds.append("countdown")

    def pause(self, reason: str = "pause") -> None:
        if self.phase in (Phase.RUNNING, Phase.COUNTDOWN):
            self._paused_from = self.phase
            self.phase = Phase.PAUSED
            self._phase_end = None      # a pause never times out; resume restarts the countdown
            self.events.append(Event(self.t_s, reason))
            self._on_interrupted(reason)

    def resume(self) -> None:
        """Resuming restarts the interrupted trial with a countdown: never mid-trial."""
        if self.phase is Phase.PAUSED:
            self.events.append(Event(self.t_s, "resume"))
            self._enter(Phase.COUNTDOWN, self.countdown_s, self.countdown_prompt())

    def stop(self, reason: str = "stopped") -> None:
        if self.phase is not Phase.DONE:
            self.events.append(Event(self.t_s, reason))
            self._enter(Phase.DONE, None, "Stopped")
            self.sounds.append("stop")

    # ------------------------------------------------------------------ samples
    def feed(self, block: Block) -> None:
        """Advance on a block of samples (driven by their times, not the wall clock)."""
        if len(block.t_s) == 0 or self.phase is Phase.DONE:
            return
        last = block.cop_m[-1]
        self.cursor_m = None if np.isnan(last).any() else (float(last[0]), float(last[1]))
        if block.tilt_rad is not None and len(block.tilt_rad):
            self.tilt_rad = (float(block.tilt_rad[-1, 0]), float(block.tilt_rad[-1, 1]))
        if self.phase in (Phase.RUNNING, Phase.COUNTDOWN) and self._safety(block) is not None:
            return
        self._advance(block)

    def _advance(self, block: Block) -> None:
        start = 0
        while start < len(block.t_s) and self.phase is not Phase.DONE:
            end = len(block.t_s)
            if self._phase_end is not None:
                end = int(np.searchsorted(block.t_s, self._phase_end, side="left"))
                end = max(end, start)
            part = _slice(block, start, end)
            if len(part.t_s):
                self.t_s = float(part.t_s[-1])
                if self.phase is Phase.RUNNING:
                    self._run(part)
            if end >= len(block.t_s) or self._phase_end is None:
                if len(block.t_s):
                    self.t_s = float(block.t_s[-1])
                break
            self.t_s = float(self._phase_end)
            self._phase_timeout()
            start = end

    def _safety(self, block: Block) -> int | None:
        """Index of the sample where a step-off / loss of balance is confirmed, if any."""
        n_hold = max(1, round(self.safety_hold_s * self.context.sample_rate_hz))
        weight = self.context.body_mass_kg * G
        checks = [("step_off", np.nan_to_num(block.total_force_n) < 0.5 * weight)]
        ml, ap = block.cop_m[:, 0], block.cop_m[:, 1]
        edge = (np.abs(np.nan_to_num(ml)) > self.context.span_ml_m / 2 - 0.01) | \
            (np.abs(np.nan_to_num(ap)) > self.context.span_ap_m / 2 - 0.01)
        checks.append(("loss_of_balance", edge))
        if block.tilt_rad is not None:
            checks.append(("board_bottomed_out",
                           np.max(np.abs(block.tilt_rad), axis=1) >= self.context.max_tilt_rad))
        found = []
        for kind, mask in checks:
            runs = _run_lengths(mask, self._runs.get(kind, 0))
            self._runs[kind] = int(runs[-1])
            hits = np.flatnonzero(runs >= n_hold)
            if len(hits):
                found.append((int(hits[0]), kind))
        if not found:
            return None
        self._runs.clear()
        idx, kind = min(found)
        self._advance(_slice(block, 0, idx + 1))
        self.t_s = float(block.t_s[idx])
        self.pause(kind)
        self.prompt = ("Step back on the footprints when you are ready" if kind == "step_off"
                       else "Stop and hold on: the therapist will restart the trial")
        self.sounds.append("fault")
        return idx

    # ------------------------------------------------------------------ phases
    def _enter(self, phase: Phase, duration_s: float | None, prompt: str) -> None:
        self.phase = phase
        self._phase_end = None if duration_s is None else self.t_s + duration_s
        self.prompt = prompt

    def _phase_timeout(self) -> None:
        if self.phase is Phase.COUNTDOWN:
            self._enter(Phase.RUNNING, self._trial_duration(), self.running_prompt())
            # the conditions travel with the event so a recording can be split into its trials
            conditions = {k: v for k, v in self.ask().items()
                          if k in ("vision", "surface", "stance")}
            self.events.append(Event(self.t_s, "trial_start",
                                     {"trial": self.trial_index, **conditions}))
            self.sounds.append("start")
            self._on_trial_start()
        elif self.phase is Phase.RUNNING:
            self.events.append(Event(self.t_s, "trial_end", {"trial": self.trial_index}))
            self.sounds.append("stop")
            if self._on_trial_end():
                self._enter(Phase.DONE, None, "Well done")
            else:
                self._enter(Phase.REST, self.rest_s(), self.rest_prompt())
        elif self.phase is Phase.REST:
            self.start()

    # ------------------------------------------------------------------ for subclasses
    trial_index: int = 0

    def _trial_duration(self) -> float | None:
        return self.values.get("duration_s")

    def rest_s(self) -> float:
        return 10.0

    def running_prompt(self) -> str:
        return "Stand still"

    def countdown_prompt(self) -> str:
        """What the count-down before a trial says (a drill may say what to do next)."""
        return "Get ready"

    def rest_prompt(self) -> str:
        """What the rest between trials says (a drill may say what comes next)."""
        return "Rest"

    def _on_trial_start(self) -> None: ...

    def _on_trial_end(self) -> bool:
        """Record the trial; return True when the drill is complete."""
        return True

    def _on_interrupted(self, reason: str) -> None: ...

    def _run(self, block: Block) -> None: ...

    def display(self) -> Display:
        """What to show now; takes the pending sounds (each is played once)."""
        left = None if self._phase_end is None else max(0.0, self._phase_end - self.t_s)
        sounds, self.sounds = self.sounds, []
        return Display(self.phase, self.prompt, left, self.cursor_m, self.tilt_rad,
                       self.targets(), self.trial_index, self.trial_count(), sounds,
                       self.ask(), self.level)

    def targets(self) -> list[Target]:
        return []

    def trial_count(self) -> int:
        return 1

    def ask(self) -> dict[str, Any]:
        return {}

    def scores(self) -> dict[str, Any]:
        return {}

    @property
    def done(self) -> bool:
        return self.phase is Phase.DONE


#: Safety events that mean the patient could not hold the position.
FALLS = ("step_off", "loss_of_balance", "board_bottomed_out")


class TrialTest(Drill):
    """An assessment of a fixed number of trials, scored as the standardised tests score them:
    a fall ends its trial and counts as a fall (the test goes on with the next trial); a
    therapist's pause repeats the trial. Subclasses record a trial in ``_record`` and drop a
    half-done one in ``_discard``."""

    falls: ClassVar[tuple[str, ...]] = FALLS

    def _record(self, fall: str | None) -> None:
        raise NotImplementedError

    def _discard(self) -> None: ...

    def _on_interrupted(self, reason: str) -> None:
        if reason in self.falls and self._paused_from is Phase.RUNNING:
            self._record(fall=reason)               # a fall is a result, not a retry
            self.events.append(Event(self.t_s, "trial_end",
                                     {"trial": self.trial_index - 1, "fall": reason}))
        self._discard()

    def resume(self) -> None:
        if self.phase is Phase.PAUSED and self.trial_index >= self.trial_count():
            self.events.append(Event(self.t_s, "resume"))
            self._enter(Phase.DONE, None, "Well done: the test is complete")
            return
        super().resume()

    def _on_trial_end(self) -> bool:
        self._record(fall=None)
        return self.trial_index >= self.trial_count()


def _slice(block: Block, a: int, b: int) -> Block:
    return Block(block.t_s[a:b], block.cop_m[a:b], block.total_force_n[a:b],
                 None if block.tilt_rad is None else block.tilt_rad[a:b])
