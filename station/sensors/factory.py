"""Choose and open the sensor sources the configuration asks for.

Hardware drivers are imported here, inside functions, only when hardware is wanted, so a laptop
never needs lgpio, Blinka or the BNO08x library. ``source = "auto"`` uses the plate if a GPIO
chip is present and the bank answers, and otherwise the virtual patient, but only when
``allow_simulation`` permits it: a clinic station configured without simulation refuses to
pretend.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from station.clock import Clock
from station.config import Config
from station.errors import SensorError
from station.sensors.base import ImuSource, LoadCellSource

log = logging.getLogger(__name__)


@dataclass
class Sources:
    cells: LoadCellSource
    imu: ImuSource | None
    kind: str                      # "hardware" or "simulated"
    simulation: object | None = None  # the SimulatedStation, when simulated


def hardware_present(config: Config) -> bool:
    """Is there a GPIO chip and the lgpio library to drive it?"""
    if not Path(f"/dev/gpiochip{config.hx711.gpiochip}").exists():
        return False
    try:
        import lgpio  # noqa: F401
    except ImportError:
        return False
    return True


def open_hardware(config: Config) -> Sources:
    from station.drivers.hx711 import open_hx711_bank

    cells = open_hx711_bank(config)
    imu = None
    if config.imu.enabled:
        from station.drivers.bno08x import open_bno08x

        imu = open_bno08x(config)
    return Sources(cells, imu, "hardware")


def open_simulated(config: Config, clock: Clock, patient_on_plate: bool = True) -> Sources:
    from station.sensors.simulated import SimulatedStation

    sim = SimulatedStation.from_config(config, clock=clock, patient_on_plate=patient_on_plate)
    imu = sim.imu() if (config.imu.enabled or config.simulation.wobble_board) else None
    return Sources(sim.load_cells(), imu, "simulated", sim)


def open_sources(config: Config, clock: Clock, patient_on_plate: bool = True) -> Sources:
    """The sources for this station, following [station] source and allow_simulation."""
    mode = config.station.source
    if mode == "simulated":
        return open_simulated(config, clock, patient_on_plate)
    if mode == "hardware" or hardware_present(config):
        try:
            return open_hardware(config)
        except (SensorError, OSError, ImportError) as exc:
            if mode == "hardware" or not config.station.allow_simulation:
                raise SensorError(f"plate hardware not available: {exc}") from exc
            log.warning("plate hardware not available (%s); using the simulated plate", exc)
    elif not config.station.allow_simulation:
        raise SensorError("no plate hardware found (no GPIO chip or lgpio) and "
                          "[station] allow_simulation is false")
    return open_simulated(config, clock, patient_on_plate)
