"""Where the acquisition loop runs: its own process (the station), or inline (tests, fast demo).

In a process, the loop owns a whole interpreter: no GIL shared with the UI, real-time
scheduling and its own CPU core when the system allows it, and the rings in shared memory. The
main process reads the rings and sends commands (to the virtual patient, in simulation) through
a queue the loop drains between conversions. Inline, the same loop is stepped by the caller on
a virtual clock, which is how tests and `station demo` run faster than real time.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing as mp
import os
import queue
from typing import Any

from station.acquisition.loop import AcquisitionLoop, Rings
from station.clock import Clock, SystemClock
from station.config import Config
from station.sensors.factory import Sources, open_sources

log = logging.getLogger(__name__)


def apply_command(simulation: Any, command: tuple[str, tuple, dict]) -> None:
    """Run a command on the simulated station (only the simulation accepts commands)."""
    if simulation is None:
        return
    name, args, kwargs = command
    target = simulation if hasattr(simulation, name) else simulation.patient
    getattr(target, name)(*args, **kwargs)


class InlineAcquisition:
    """The loop in the caller's thread, stepped explicitly (virtual or real clock)."""

    def __init__(self, config: Config, clock: Clock, sources: Sources | None = None,
                 patient_on_plate: bool = True) -> None:
        self.clock = clock
        self.sources = sources or open_sources(config, clock, patient_on_plate)
        self.rings = Rings.create(rate_hz=self.sources.cells.sample_rate_hz)
        self.loop = AcquisitionLoop(self.sources.cells, self.sources.imu, clock, self.rings)

    @property
    def kind(self) -> str:
        return self.sources.kind

    @property
    def simulation(self) -> Any:
        return self.sources.simulation

    def command(self, name: str, *args: Any, **kwargs: Any) -> None:
        apply_command(self.simulation, (name, args, kwargs))

    def step(self) -> None:
        self.loop.step()

    def run_for(self, seconds: float) -> None:
        end = self.clock.monotonic_ns() + round(seconds * 1e9)
        while self.clock.monotonic_ns() < end:
            self.loop.step()

    def alive(self) -> bool:
        return True

    def close(self) -> None:
        self.loop.close()
        self.rings.close()


def _child_main(config: Config, names: tuple[str, str, str], stop: Any, commands: Any,
                patient_on_plate: bool) -> None:
    """Entry point of the acquisition process."""
    with contextlib.suppress(AttributeError, PermissionError, OSError):
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(50))  # needs CAP_SYS_NICE
    with contextlib.suppress(AttributeError, OSError):
        cpus = sorted(os.sched_getaffinity(0))
        if len(cpus) > 1:
            os.sched_setaffinity(0, {cpus[-1]})   # a core of its own, away from the UI
    clock = SystemClock()
    sources = open_sources(config, clock, patient_on_plate)
    rings = Rings.attach(names)
    loop = AcquisitionLoop(sources.cells, sources.imu, clock, rings)
    try:
        while not stop.is_set():
            loop.step()
            while True:
                try:
                    apply_command(sources.simulation, commands.get_nowait())
                except queue.Empty:
                    break
    finally:
        loop.close()
        rings.close()


class ProcessAcquisition:
    """The loop in its own process, with shared-memory rings (the station's normal mode)."""

    def __init__(self, config: Config, patient_on_plate: bool = True) -> None:
        ctx = mp.get_context("spawn")   # a clean interpreter: no pygame, no inherited threads
        rate = config.plate.sample_rate_hz
        self.rings = Rings.create(rate_hz=rate, shared=True)
        self.clock = SystemClock()
        self._stop = ctx.Event()
        self._commands = ctx.Queue()
        self.kind = "process"
        self.simulation = None
        self._proc = ctx.Process(target=_child_main, name="station-acquisition", daemon=True,
                                 args=(config, self.rings.names, self._stop, self._commands,
                                       patient_on_plate))
        self._proc.start()

    def command(self, name: str, *args: Any, **kwargs: Any) -> None:
        self._commands.put((name, args, kwargs))

    def alive(self) -> bool:
        return self._proc.is_alive()

    def close(self, timeout_s: float = 3.0) -> None:
        self._stop.set()
        self._proc.join(timeout_s)
        if self._proc.is_alive():
            log.error("acquisition process did not stop; terminating it")
            self._proc.terminate()
            self._proc.join(timeout_s)
        self._commands.close()
        self._commands.join_thread()
        self.rings.close(unlink=True)
