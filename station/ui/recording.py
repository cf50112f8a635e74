"""The session recorder in a process of its own, fed through a queue.

Why a process and not a writer thread: the recorder formats CSV rows in Python and compresses
and fsyncs files. In a thread that work shares the GIL with the frame loop; measured on a busy
2-core laptop it stretched one frame in ten from ~1.3 ms to 5-10 ms (the loop waits for the GIL
while the writer thread, holding it, waits for a CPU). In its own process it costs the loop
one queue put per 0.25 s of samples, and a slow or full SD card cannot stall a frame.

Each job carries the station time at which the UI queued it; the recorder's clock reads that
time while the job runs, so trial t0 and event times are exactly the UI's (also on the
virtual clock of tests). Errors come back as ("error", visit, type, errno, text); after an
error a visit records nothing more and is sealed as interrupted at the end.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing as mp
import os
import queue
import signal
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)


@dataclass
class DrillOutcome:
    """What ``save_drill_result`` reads from a drill, as plain picklable data."""

    events: list[Any]
    results: dict[str, Any]
    level: float | None
    done: bool
    name: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def scores(self) -> dict[str, Any]:
        return dict(self.results)


class _JobClock:
    """The recorder's clock: the station time stamped on the job being run."""

    def __init__(self) -> None:
        self.now_ns = 0

    def monotonic_ns(self) -> int:
        return self.now_ns

    def sleep_until(self, t_ns: int) -> None:      # the recorder never sleeps
        pass


def _child(jobs: Any, results: Any, parent: int) -> None:
    """The recorder process: run jobs until told to stop or the parent is gone."""
    with contextlib.suppress(ValueError, OSError):
        signal.signal(signal.SIGINT, signal.SIG_IGN)    # the parent seals on Ctrl-C
    with contextlib.suppress(OSError):
        os.nice(5)              # when the CPUs are busy, the frame loop goes first: the queue
                                # holds the samples until the recorder gets its turn
    from station.drills.recording import save_drill_result
    from station.session.recorder import SessionRecorder

    recorders: dict[str, Any] = {}
    broken: set[str] = set()
    clock = _JobClock()
    while True:
        try:
            job = jobs.get(timeout=1.0)
        except queue.Empty:
            if os.getppid() != parent:
                return                                   # orphaned: recovery seals later
            continue
        if job is None:
            return
        visit, op, t_ns, args = job
        if op == "ping":
            results.put(("pong", visit, args, 0, ""))
            continue
        clock.now_ns = t_ns
        rec = recorders.get(visit)
        try:
            if op == "open":
                recorders[visit] = SessionRecorder(clock=clock, **args)
                results.put(("opened", visit, recorders[visit].session_id, 0, ""))
            elif op == "close":
                recorders.pop(visit, None)
                if rec is not None:
                    if visit in broken:
                        try:
                            rec.abort("write failed")
                        except OSError:
                            rec.release()
                    else:
                        rec.seal()
                    results.put(("sealed", visit, str(rec.path), 0, ""))
            elif rec is None or visit in broken:
                continue
            elif op == "start_trial":
                rec.start_trial(*args[0], **args[1])
            elif op == "record":
                rec.record(*args)
            elif op == "finish":
                outcome, t0_ns = args
                save_drill_result(rec, outcome, t0_ns)
        except Exception as exc:
            broken.add(visit)
            results.put(("error", visit, type(exc).__name__, getattr(exc, "errno", 0) or 0,
                         getattr(exc, "strerror", None) or str(exc)[:200]))


class RecorderProcess:
    """The UI's handle on the recorder process; every method returns at once."""

    def __init__(self) -> None:
        ctx = mp.get_context("spawn")      # a clean interpreter: no pygame, no threads
        self._jobs = ctx.Queue()
        self._results = ctx.Queue()
        self._proc = ctx.Process(target=_child, name="station-recorder", daemon=True,
                                 args=(self._jobs, self._results, os.getpid()))
        self._proc.start()
        self._ping = 0

    def send(self, visit: str, op: str, t_ns: int, args: Any) -> None:
        self._jobs.put((visit, op, t_ns, args))

    def poll(self) -> list[tuple[str, str, Any, int, str]]:
        out = []
        while True:
            try:
                out.append(self._results.get_nowait())
            except queue.Empty:
                return out

    def alive(self) -> bool:
        return self._proc.is_alive()

    def flush(self, timeout: float = 20.0) -> list[tuple[str, str, Any, int, str]]:
        """Wait until every queued job has run (tests, shutdown); returns the replies."""
        self._ping += 1
        self.send("", "ping", 0, self._ping)
        out = []
        while True:
            try:
                msg = self._results.get(timeout=timeout)
            except queue.Empty:
                log.error("the recorder did not answer within %.0f s", timeout)
                return out
            if msg[0] == "pong" and msg[2] == self._ping:
                return out
            out.append(msg)

    def close(self, timeout: float = 20.0) -> None:
        if self._proc.is_alive():
            self._jobs.put(None)
            self._proc.join(timeout)
            if self._proc.is_alive():
                log.error("the recorder did not stop within %.0f s; terminating it", timeout)
                self._proc.terminate()
                self._proc.join(2.0)
        self._jobs.close()
        self._results.close()
        self._jobs.join_thread()
        self._results.join_thread()
