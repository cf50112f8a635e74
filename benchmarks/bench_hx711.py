"""Pin calls and time per four-chip HX711 conversion: this station's bank driver against the
design card's ``hx711`` PyPI package (1.1.2.3, RPi.GPIO) and a gpiozero-per-pin loop.

Off the Pi everything runs on the pin-level simulator; the ``hx711`` package gets a fake
``RPi.GPIO`` module (injected into sys.modules) backed by the same simulated chips, and its
``time`` module swapped for the virtual clock. Pin calls are exact; "bus time" is virtual time
with a modelled cost per pin call (--write-us, --read-us: to be measured on the Pi); "CPU" is
this host's Python time for the same calls against do-nothing pins. Not part of the test suite.

    .venv/bin/python benchmarks/bench_hx711.py            # off the Pi
    .venv/bin/python benchmarks/bench_hx711.py --device 30  # on the Pi, real chips, 30 s
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
import types
from collections.abc import Callable

from station.clock import VirtualClock
from station.drivers.hx711 import Hx711BankSource
from station.drivers.hx711_sim import SimHx711Bank

SCK, DOUTS = 5, (6, 13, 19, 26)
OWN_SCKS = (5, 12, 16, 20)            # the hx711 package needs one clock line per chip
VALUES = (123_456, -98_765, 4_000_000, -3)


def cpu_per_call(fn: Callable[[], object], n: int) -> float:
    """Best-of-5 CPU seconds per call of ``fn``."""
    best = float("inf")
    for _ in range(5):
        t = time.thread_time()
        for _ in range(n):
            fn()
        best = min(best, (time.thread_time() - t) / n)
    return best


# ---------------------------------------------------------------------------- this driver
def bench_driver(frames: int, write_ns: int, read_ns: int) -> dict[str, float]:
    clock = VirtualClock(0)
    sim = SimHx711Bank(clock, osc_ppm=(0, 3000, -2000, 5000), write_ns=write_ns,
                       read_ns=read_ns)
    for chip, v in zip(sim.chips, VALUES, strict=True):
        chip.value = v
    src = Hx711BankSource(sim, sck_pin=SCK, dout_pins=DOUTS, clock=clock)
    src.start()
    for _ in range(200):                  # let it learn the four oscillators
        src.read(0.1)
    w0, r0, p0, t0 = sim.writes, sim.group_reads, src.stats.polls, clock.monotonic_ns()
    got = [src.read(0.1) for _ in range(frames)]
    bad = sum(f is None or f.counts != VALUES or f.missing != 0 for f in got)
    period_ms = (clock.monotonic_ns() - t0) / frames / 1e6
    lost = sum(c.overwritten for c in sim.chips[2:3])      # the slowest chip paces the bank

    class NullPins:                       # the driver's own Python cost per clock train
        def claim_output(self, pin: int, level: int = 0) -> None: ...
        def claim_group_input(self, pins: object, pull_up: bool = True) -> None: ...
        def write(self, pin: int, level: int) -> None: ...
        def read_group(self) -> int:
            return 0b1111
        def close(self) -> None: ...

    # Real clock here: this busy 2-core host also shows how often preemption lands in the
    # PD_SCK high phase (the frames the timing check throws away).
    logging.getLogger("station.drivers.hx711").setLevel(logging.ERROR)
    null = Hx711BankSource(NullPins(), sck_pin=SCK, dout_pins=DOUTS)
    cpu = cpu_per_call(lambda: null._shift(0b1111), 2000)
    return {"writes": (sim.writes - w0) / frames, "reads": (sim.group_reads - r0) / frames,
            "polls": (src.stats.polls - p0) / frames,
            "bus_us": 25 * (2 * write_ns + read_ns) / 1000, "period_ms": period_ms,
            "cpu_us": cpu * 1e6, "wrong": bad, "lost": lost,
            "late": null.stats.timing_discards / null.stats.frames,
            "worst_us": null.stats.worst_high_ns / 1000}


# ---------------------------------------------------------------------------- hx711 package
def fake_rpi_gpio(sim: SimHx711Bank | None) -> types.ModuleType:
    """An ``RPi.GPIO`` stand-in: the simulator's pins, or do-nothing pins if sim is None."""
    gpio = types.ModuleType("RPi.GPIO")
    gpio.BCM, gpio.OUT, gpio.IN, gpio.HIGH, gpio.LOW = 11, 0, 1, 1, 0  # type: ignore[attr-defined]
    gpio.setmode = gpio.setwarnings = gpio.cleanup = lambda *a, **k: None  # type: ignore[attr-defined]
    if sim is None:
        gpio.setup = lambda pin, mode, **k: None          # type: ignore[attr-defined]
        gpio.output = lambda pin, level: None             # type: ignore[attr-defined]
        gpio.input = lambda pin: 0                        # type: ignore[attr-defined]
    else:
        def setup(pin: int, mode: int, **_: object) -> None:
            if mode == gpio.OUT:                          # type: ignore[attr-defined]
                sim.claim_output(pin, 0)

        gpio.setup = setup                                # type: ignore[attr-defined]
        gpio.output = lambda pin, level: sim.write(pin, int(bool(level)))  # type: ignore[attr-defined]
        gpio.input = sim.read_pin                         # type: ignore[attr-defined]
    rpi = types.ModuleType("RPi")
    rpi.GPIO = gpio                                       # type: ignore[attr-defined]
    sys.modules["RPi"], sys.modules["RPi.GPIO"] = rpi, gpio
    return gpio


def load_hx711(sim: SimHx711Bank | None, clock: VirtualClock | None) -> types.ModuleType:
    for name in ("hx711", "RPi", "RPi.GPIO"):
        sys.modules.pop(name, None)
    fake_rpi_gpio(sim)
    import hx711  # type: ignore[import-not-found]  # pip install hx711==1.1.2.3

    if clock is not None:                 # its sleeps and 60 us checks on the virtual clock
        hx711.time = types.SimpleNamespace(  # type: ignore[attr-defined]
            sleep=clock.advance, perf_counter=lambda: clock.monotonic_ns() / 1e9)
    else:   # CPU cost only: a preemption on this busy host would trip its 60 us check,
            # and it then calls get_raw_data(6) from inside the read (recursion)
        hx711.time = types.SimpleNamespace(  # type: ignore[attr-defined]
            sleep=lambda s: None, perf_counter=lambda: 0.0)
    return hx711


def bench_hx711_package(rounds: int, write_ns: int, read_ns: int) -> dict[str, float]:
    clock = VirtualClock(0)
    sim = SimHx711Bank(clock, osc_ppm=(0, 3000, -2000, 5000), sck_pins=OWN_SCKS,
                       write_ns=write_ns, read_ns=read_ns)
    for chip, v in zip(sim.chips, VALUES, strict=True):
        chip.value = v
    hx711 = load_hx711(sim, clock)
    chips = [hx711.HX711(dout_pin=d, pd_sck_pin=s) for d, s in zip(DOUTS, OWN_SCKS, strict=True)]
    sim.catch_up()
    calls0, t0 = sim.pin_calls, clock.monotonic_ns()
    lost0 = [c.overwritten for c in sim.chips]
    bad = 0
    for _ in range(rounds):               # one conversion of each chip, one after another
        got = tuple(c._read() for c in chips)
        bad += got != VALUES
    sim.catch_up()
    calls = (sim.pin_calls - calls0) / rounds
    period = (clock.monotonic_ns() - t0) / rounds / 1e6
    lost = sum(c.overwritten - n for c, n in zip(sim.chips, lost0, strict=True)) / rounds
    bus_us = 4 * (25 * (2 * write_ns + read_ns) + write_ns + read_ns) / 1000
    hx711 = load_hx711(None, None)
    idle = [hx711.HX711(dout_pin=d, pd_sck_pin=s) for d, s in zip(DOUTS, OWN_SCKS, strict=True)]
    cpu = cpu_per_call(lambda: [c._read() for c in idle], 500)
    return {"calls": calls, "bus_us": bus_us, "period_ms": period, "lost": lost,
            "cpu_us": cpu * 1e6, "wrong": bad}


def hx711_on_shared_clock(rounds: int) -> str:
    """What the package does on the station's wiring (one PD_SCK for all four chips)."""
    clock = VirtualClock(0)
    sim = SimHx711Bank(clock)
    for chip, v in zip(sim.chips, VALUES, strict=True):
        chip.value = v
    hx711 = load_hx711(sim, clock)
    chips = [hx711.HX711(dout_pin=d, pd_sck_pin=SCK) for d in DOUTS]
    sim.catch_up()
    t0, conv0 = clock.monotonic_ns(), sum(c.conversions for c in sim.chips)
    wrong = sum(tuple(c._read() for c in chips) != VALUES for _ in range(rounds))
    sim.catch_up()
    secs = (clock.monotonic_ns() - t0) / 1e9
    used = 4 * rounds / (sum(c.conversions for c in sim.chips) - conv0)
    return (f"{rounds / secs:.1f} rounds/s, {wrong}/{rounds} rounds wrong, "
            f"{used:.0%} of the conversions used (each read clocks all four chips)")


# ---------------------------------------------------------------------------- gpiozero
def bench_gpiozero() -> dict[str, float]:
    from gpiozero import DigitalInputDevice, DigitalOutputDevice
    from gpiozero.pins.mock import MockFactory

    factory = MockFactory()
    sck = DigitalOutputDevice(SCK, pin_factory=factory)
    douts = [DigitalInputDevice(p, pin_factory=factory) for p in DOUTS]

    def conversion() -> None:
        for _ in range(25):
            sck.on()
            sck.off()
            for d in douts:
                d.value  # noqa: B018  (the read is the point)

    cpu = cpu_per_call(conversion, 200)
    for dev in (sck, *douts):
        dev.close()
    return {"calls": 25 * (2 + 4), "cpu_us": cpu * 1e6}


# ---------------------------------------------------------------------------- on the Pi
def on_device(seconds: float) -> None:
    from station.config import load
    from station.drivers.hx711 import open_hx711_bank

    src = open_hx711_bank(load())
    t_end = time.monotonic() + seconds
    frames = missing = 0
    while time.monotonic() < t_end:
        f = src.read(0.5)
        frames += f is not None
        missing += f is not None and f.missing != 0
    s = src.stats
    print(f"{frames} frames in {seconds:.0f} s ({src.measured_rate_hz:.2f} Hz measured), "
          f"{missing} with missing cells")
    print(f"worst PD_SCK high phase {s.worst_high_ns / 1000:.1f} us (limit 50), "
          f"{s.timing_discards} frames discarded for it, {s.resets} resets, "
          f"clock train {src._train_ns / 1000:.0f} us (~{src._train_ns / 75000:.2f} us per "
          f"pin call), {s.polls / max(s.frames, 1):.1f} polls/frame, "
          f"sleep wakes {src._late_ns / 1000:.0f} us late")
    print("faults:", [f.message for f in src.faults.values()] or "none")
    src.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=2000)
    ap.add_argument("--write-us", type=float, default=1.0, help="modelled cost of a pin write")
    ap.add_argument("--read-us", type=float, default=1.5, help="modelled cost of a pin read")
    ap.add_argument("--device", type=float, metavar="SECONDS",
                    help="read the real bank on a Pi for SECONDS and print its timing")
    args = ap.parse_args()
    if args.device:
        on_device(args.device)
        return
    w, r = round(args.write_us * 1000), round(args.read_us * 1000)
    d = bench_driver(args.frames, w, r)
    try:
        p = bench_hx711_package(max(args.frames // 10, 50), w, r)
    except ImportError:
        sys.exit("the comparison needs the card's package: pip install --no-deps hx711==1.1.2.3")
    g = bench_gpiozero()
    mine = d["writes"] + d["reads"]
    clocking = 75
    print(f"Per four-chip conversion (pin call cost modelled: write {args.write_us} us, read "
          f"{args.read_us} us; CPU = this host, do-nothing pins):")
    print(f"  station driver, lgpio group read: {mine:.1f} pin calls ({clocking} clocking + "
          f"{d['polls']:.1f} ready polls), bus time {d['bus_us']:.0f} us, CPU "
          f"{d['cpu_us']:.1f} us per clock train; a frame every {d['period_ms']:.2f} ms, "
          f"{d['lost']} conversions of the slowest chip lost, {d['wrong']} wrong frames")
    print(f"  hx711 1.1.2.3, RPi.GPIO, 4 clock lines, chips read in turn: {p['calls']:.1f} pin "
          f"calls, bus time {p['bus_us']:.0f} us, CPU {p['cpu_us']:.1f} us; a round every "
          f"{p['period_ms']:.2f} ms, {p['lost']:.2f} conversions lost per round, "
          f"{p['wrong']} wrong rounds")
    print(f"  gpiozero, one call per pin (MockFactory pins): {g['calls']} pin calls + polls, "
          f"CPU {g['cpu_us']:.1f} us")
    print(f"Ratio hx711 / station: {p['calls'] / mine:.1f}x pin calls "
          f"({p['calls'] / clocking:.1f}x counting clocking only), "
          f"{p['bus_us'] / d['bus_us']:.1f}x bus time, {p['cpu_us'] / d['cpu_us']:.1f}x CPU")
    print(f"Ratio gpiozero / station: {g['calls'] / clocking:.1f}x clocking pin calls, "
          f"{g['cpu_us'] / d['cpu_us']:.1f}x CPU")
    print(f"Preemption on this host: {d['late']:.2%} of clock trains had a PD_SCK high phase "
          f"over 50 us (worst {d['worst_us']:.0f} us) with do-nothing pins")
    print("hx711 1.1.2.3 on the station's shared PD_SCK:", hx711_on_shared_clock(40))


if __name__ == "__main__":
    main()
