"""`station selftest`: which sensors answer, and what a technician should do about the rest.

Reads the load-cell bank for a couple of seconds and judges each cell: does it answer, is it
stuck, is it at the rails, how noisy is it, where is its zero. Then the IMU, if configured: do
reports arrive, at what rate, is the quaternion sane. The result is a pass/fail table whose
every failing line names the wire or setting to check.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from station.clock import Clock, SystemClock
from station.config import Config
from station.errors import SensorError
from station.sensors.base import CELL_NAMES, HX711_MAX, HX711_MIN, ImuSource, LoadCellSource

#: A live HX711 on a loaded cell is never quieter than this (counts RMS) nor noisier than that.
NOISE_MIN_COUNTS, NOISE_MAX_COUNTS = 0.5, 5000.0


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    action: str = ""


def probe_cells(source: LoadCellSource, config: Config, clock: Clock,
                seconds: float = 2.0) -> list[Check]:
    """Judge each cell from ``seconds`` of frames."""
    rate = source.sample_rate_hz
    frames, missing = [], []
    end = clock.monotonic_ns() + round(seconds * 1e9)
    while clock.monotonic_ns() < end:
        f = source.read(config.hx711.ready_timeout_s)
        if f is not None:
            frames.append(f.counts)
            missing.append(f.missing)
    pins = config.hx711.dout_gpio
    sck = config.hx711.pd_sck_gpio
    expected = seconds * rate
    checks = [Check("load-cell bank", len(frames) >= 0.9 * expected,
                    f"{len(frames)} frames in {seconds:.0f} s (expected {expected:.0f} at "
                    f"{rate:.0f} SPS)",
                    "" if len(frames) >= 0.9 * expected else
                    f"check PD_SCK on GPIO {sck}, the HX711 supply, and that RATE is high "
                    "for 80 SPS")]
    counts = np.array(frames, dtype=np.int64).reshape(-1, 4)
    miss = np.array(missing, dtype=np.int64)
    for i, name in enumerate(CELL_NAMES):
        label = f"cell {i} ({name})"
        valid = counts[((miss >> i) & 1) == 0, i] if len(counts) else np.empty(0, np.int64)
        if len(valid) < max(2, 0.5 * len(frames)) or len(frames) == 0:
            checks.append(Check(label, False, "silent: no valid data",
                                f"check the DOUT wire on GPIO {pins[i]}, the module's VCC/GND "
                                "and its PD_SCK connection"))
            continue
        noise = float(np.std(valid))
        offset = float(np.mean(valid))
        if np.all(valid == valid[0]):
            checks.append(Check(label, False, f"stuck at {int(valid[0])}",
                                f"the HX711 on GPIO {pins[i]} repeats one word: check its "
                                "supply and the cell's excitation wires (E+/E-)"))
        elif np.any(valid >= HX711_MAX) or np.any(valid <= HX711_MIN):
            checks.append(Check(label, False, "saturated (reading at the rails)",
                                "a cell signal wire (A+/A-) is open or the cell is overloaded"))
        elif not NOISE_MIN_COUNTS <= noise <= NOISE_MAX_COUNTS:
            checks.append(Check(label, False, f"noise {noise:.0f} counts RMS",
                                "check the shield and ground of the cell cable; keep it away "
                                "from mains and motor cables"))
        else:
            checks.append(Check(label, True, f"offset {offset:+.0f} counts, noise "
                                f"{noise:.0f} counts RMS"))
    return checks


def probe_imu(source: ImuSource, config: Config, clock: Clock, seconds: float = 2.0
              ) -> list[Check]:
    reports = []
    end = clock.monotonic_ns() + round(seconds * 1e9)
    while clock.monotonic_ns() < end:
        r = source.read(0.1)
        if r is not None:
            reports.append(r.quat)
    rate = len(reports) / seconds
    want = 1000.0 / config.imu.report_interval_ms
    where = (f"I2C address 0x{config.imu.i2c_address:02X} (SDA GPIO 2, SCL GPIO 3)"
             if config.imu.bus == "i2c" else f"UART {config.imu.uart_port}")
    if not reports:
        return [Check("wobble-board IMU", False, "no reports",
                      f"check the BNO08x on {where}, its 3.3 V supply, and config.txt")]
    norms = np.linalg.norm(np.array(reports), axis=1)
    sane = bool(np.all(np.abs(norms - 1) < 0.05))
    ok = sane and rate >= 0.5 * min(want, 80.0)
    return [Check("wobble-board IMU", ok, f"{rate:.0f} reports/s, quaternion "
                  f"{'unit' if sane else 'NOT unit'}",
                  "" if ok else f"reports too slow or corrupt on {where}: see hardware/README.md "
                  "on I2C clock stretching")]


def run_selftest(config: Config, *, open_bank: Callable[[Config], LoadCellSource] | None = None,
                 open_imu: Callable[[Config], ImuSource] | None = None,
                 clock: Clock | None = None, hardware: bool | None = None,
                 seconds: float = 2.0) -> list[Check]:
    """All checks; ``open_bank``/``open_imu`` and ``hardware`` are injectable for tests."""
    from station.sensors.factory import hardware_present

    clock = clock or SystemClock()
    present = hardware_present(config) if hardware is None else hardware
    if not present:
        fallback = ("the station will run the simulated plate (allow_simulation = true)"
                    if config.station.allow_simulation and config.station.source != "hardware"
                    else "the station will NOT start: simulation is not allowed")
        return [Check("hardware", False, f"no GPIO chip /dev/gpiochip{config.hx711.gpiochip} or "
                      "no lgpio library: no plate hardware on this machine", fallback)]
    if open_bank is None:
        from station.drivers.hx711 import open_hx711_bank as open_bank
    checks: list[Check] = []
    try:
        bank = open_bank(config)
    except (SensorError, OSError) as exc:
        return [Check("load-cell bank", False, f"cannot open: {exc}",
                      "is the service user in the gpio group? is another program using "
                      "the pins?")]
    try:
        checks += probe_cells(bank, config, clock, seconds)
    finally:
        bank.close()
    if config.imu.enabled:
        if open_imu is None:
            from station.drivers.bno08x import open_bno08x as open_imu
        try:
            imu = open_imu(config)
        except (SensorError, OSError, ImportError) as exc:
            checks.append(Check("wobble-board IMU", False, f"cannot open: {exc}",
                                "install the Pi extras (pip install '.[pi]') and enable I2C"))
        else:
            try:
                checks += probe_imu(imu, config, clock, seconds)
            finally:
                imu.close()
    return checks


def format_table(checks: list[Check]) -> str:
    width = max(len(c.name) for c in checks)
    lines = [f"{'check':<{width}}  result  detail"]
    for c in checks:
        lines.append(f"{c.name:<{width}}  {'PASS' if c.ok else 'FAIL':<6}  {c.detail}")
        if c.action:
            lines.append(f"{'':<{width}}          -> {c.action}")
    verdict = "all checks passed" if all(c.ok for c in checks) else \
        f"{sum(not c.ok for c in checks)} check(s) failed"
    return "\n".join([*lines, verdict])


def simulated_bank(config: Config, dead_cell: int | None = None
                   ) -> tuple[Callable[[Config], LoadCellSource], Clock]:
    """A pin-level simulated bank (healthy, or with one cell's DOUT wire cut) for training a
    technician on the self-test and for testing it: the real driver runs against it."""
    from station.clock import VirtualClock
    from station.drivers.hx711 import open_hx711_bank
    from station.drivers.hx711_sim import SimHx711Bank
    from station.sim.plate import VirtualCells

    clock = VirtualClock(0)
    sim = SimHx711Bank(clock, rate_hz=config.plate.sample_rate_hz,
                       osc_ppm=(0.0, 900.0, -700.0, 400.0), sck_pin=config.hx711.pd_sck_gpio,
                       dout_pins=config.hx711.dout_gpio)
    cells = VirtualCells(seed=config.simulation.seed)
    empty = np.zeros(4)
    sim.feed(lambda t: [int(v) for v in cells.counts(empty)])
    if dead_cell is not None:
        sim.chips[dead_cell].disconnect()
    return (lambda cfg: open_hx711_bank(cfg, backend=sim, clock=clock)), clock
