"""Bridge from a drill to the session: its parameters, level, events and scores."""

from __future__ import annotations

from typing import Any

from station.drills.base import Drill
from station.session.recorder import SessionRecorder


def drill_parameters(drill: Drill) -> dict[str, Any]:
    return {"values": dict(drill.values), "level": drill.level}


def save_drill_result(recorder: SessionRecorder, drill: Drill, t0_ns: int) -> None:
    """Write the drill's events (sample times) and scores into the current trial and end it."""
    for ev in drill.events:
        recorder.event(ev.kind, t_ns=t0_ns + round(ev.t_s * 1e9), **ev.detail)
    scores = drill.scores()
    scores["level"] = drill.level
    recorder.end_trial(scores=scores, complete=drill.done and not any(
        e.kind == "stopped" for e in drill.events))
