"""The HX711 bank driver against four simulated chips at the pin level, on virtual time only."""

from __future__ import annotations

import itertools
import logging
import subprocess
import sys
import types
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from station.clock import VirtualClock
from station.config import Config
from station.drivers import (
    GpioError,
    Hx711BankSource,
    Hx711CellError,
    Hx711NotFoundError,
    LgpioBackend,
    open_hx711_bank,
)
from station.drivers.hx711_sim import PD_NS, SimHx711Bank
from station.errors import SensorError
from station.sensors.base import HX711_MAX, HX711_MIN, LoadCellFrame, LoadCellSource

SCK, DOUTS = 5, (6, 13, 19, 26)


def make(start: bool = True, setup: Callable[[SimHx711Bank], None] | None = None,
         **sim_kw) -> tuple[VirtualClock, SimHx711Bank, Hx711BankSource]:
    clock = VirtualClock(1_000_000_000)
    sim = SimHx711Bank(clock, **sim_kw)
    if setup:
        setup(sim)
    src = Hx711BankSource(sim, sck_pin=SCK, dout_pins=DOUTS, clock=clock,
                          sample_rate_hz=sim.chips[0].rate_hz)
    if start:
        src.start()
    return clock, sim, src


def read_for(src: Hx711BankSource, clock: VirtualClock, seconds: float) -> list[LoadCellFrame]:
    end = clock.monotonic_ns() + round(seconds * 1e9)
    frames = []
    while clock.monotonic_ns() < end:
        frame = src.read(0.5)
        assert frame is not None
        frames.append(frame)
    return frames


def set_values(sim: SimHx711Bank, values: tuple[int, ...]) -> None:
    for chip, v in zip(sim.chips, values, strict=True):
        chip.value = v


# ---------------------------------------------------------------------------- data path
@settings(max_examples=120, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.tuples(*[st.integers(HX711_MIN, HX711_MAX)] * 4))
def test_reads_the_full_24_bit_range_bit_exactly(values: tuple[int, int, int, int]) -> None:
    _, _, src = make(setup=lambda sim: set_values(sim, values))
    frame = src.read(0.1)
    assert frame == LoadCellFrame(values, 0)
    assert src.clipped == tuple(v in (HX711_MAX, HX711_MIN) for v in values)


def test_zero_minus_one_and_the_clip_codes_are_readings() -> None:
    values = (0, -1, HX711_MAX, HX711_MIN)
    _, _, src = make(setup=lambda sim: set_values(sim, values))
    for _ in range(3):
        assert src.read(0.1) == LoadCellFrame(values, 0)
    assert src.clipped == (False, False, True, True)
    assert src.stats.clipped == [0, 0, 4, 4]     # start() read the first frame


def _numbered(sim: SimHx711Bank) -> None:
    """Every conversion of every chip carries a distinct value spread over the 24-bit range."""
    for i, chip in enumerate(sim.chips):
        def value(t: int, chip=chip, i=i) -> int:
            return (chip.conversions * 7919 + i * 4_194_301) % (1 << 24) - (1 << 23)
        chip.value = value


def _positions(sim: SimHx711Bank, frames: list[LoadCellFrame], i: int) -> list[int]:
    produced = sim.chips[i].produced
    assert produced is not None
    index = {v: k for k, v in enumerate(produced)}
    return [index[f.counts[i]] for f in frames]      # KeyError: a value no conversion made


def test_ten_minutes_at_80_sps_on_drifting_oscillators_drop_nothing() -> None:
    """The slowest chip paces the bank: none of its conversions may be missed; the faster
    chips lose exactly their surplus conversions; no word is ever torn by a conversion
    landing mid-read (the driver schedules around each chip's predicted conversion)."""
    ppm = (0.0, 3000.0, -2000.0, 5000.0)
    clock, sim, src = make(setup=_numbered, osc_ppm=ppm, keep_log=True,
                           phase_ns=(0, 3_000_000, 7_000_000, 11_000_000))
    conv0 = [c.conversions for c in sim.chips]
    calls0 = (sim.writes, sim.group_reads)
    frames = read_for(src, clock, 600.0)
    assert all(f.missing == 0 for f in frames)
    slowest = 2
    for i, chip in enumerate(sim.chips):
        pos = _positions(sim, frames, i)
        assert all(b > a for a, b in itertools.pairwise(pos)), "repeated or reordered"
        gaps = sum(b - a - 1 for a, b in itertools.pairwise(pos))
        if i == slowest:
            assert gaps == 0
        surplus = (chip.conversions - conv0[i]) - (sim.chips[slowest].conversions - conv0[2])
        assert abs(gaps - surplus) <= 2
        assert chip.collisions == 0
    made = sim.chips[slowest].conversions - conv0[slowest]
    assert abs(len(frames) - made) <= 1
    assert len(frames) == pytest.approx(600 * 80 * (1 - 2000e-6), abs=3)
    assert src.stats.timing_discards == 0 and src.stats.resets == 1
    assert src.measured_rate_hz == pytest.approx(80 * (1 - 2000e-6), rel=2e-3)
    # Pin calls per four-chip conversion: 25 x (SCK high, SCK low, group read) + polls.
    writes = (sim.writes - calls0[0]) / len(frames)
    reads = (sim.group_reads - calls0[1]) / len(frames)
    assert writes == 50
    assert 25 < reads < 25 + 16


def test_common_oscillator_every_conversion_of_every_chip() -> None:
    clock, sim, src = make(setup=_numbered, keep_log=True)
    frames = read_for(src, clock, 60.0)
    for i in range(4):
        pos = _positions(sim, frames, i)
        assert pos == list(range(pos[0], pos[0] + len(pos)))
        assert sim.chips[i].overwritten == 0


def test_10_sps() -> None:
    clock, sim, src = make(setup=_numbered, keep_log=True, rate_hz=10, osc_ppm=(0, 900, -700, 0))
    frames = read_for(src, clock, 20.0)
    assert len(frames) == pytest.approx(200, abs=2)
    assert all(f.missing == 0 for f in frames)
    pos = _positions(sim, frames, 2)
    assert pos == list(range(pos[0], pos[0] + len(pos)))


def test_offset_drift_is_followed_bit_exactly() -> None:
    clock, sim, src = make(keep_log=True)
    sim.chips[1].value = -3_000
    sim.chips[1].drift(2_500.0)
    frames = read_for(src, clock, 2.0)
    counts = [f.counts[1] for f in frames]
    assert counts == sorted(counts) and counts[-1] - counts[0] > 4_000
    assert set(counts) <= set(sim.chips[1].produced or ())


def test_read_times_out_without_hanging_and_resumes() -> None:
    clock, _, src = make()
    assert src.read(0.1) is not None
    before = clock.monotonic_ns()
    assert src.read(0.001) is None
    assert clock.monotonic_ns() - before <= 1_100_000
    assert src.read(0.1) is not None


# ---------------------------------------------------------------------------- timing check
@pytest.mark.parametrize(("stall_us", "discarded", "powered_down"),
                         [(30, False, False), (55, True, False), (70, True, True)])
def test_long_pd_sck_high_phase_discards_the_frame(stall_us: int, discarded: bool,
                                                   powered_down: bool,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    values = (1, -2, 3, -4)
    clock, sim, src = make(setup=lambda sim: set_values(sim, values))
    src.read(0.1)
    base = [c.power_downs for c in sim.chips]               # the reset at start
    sim.stall_next_high(stall_us * 1000)
    with caplog.at_level(logging.WARNING, logger="station.drivers.hx711"):
        frame = src.read(0.1)
    assert frame is not None
    assert frame.missing == (0b1111 if discarded else 0)
    assert src.stats.timing_discards == int(discarded)
    assert ("PD_SCK stayed high" in caplog.text) == discarded
    assert src.stats.worst_high_ns >= stall_us * 1000
    assert [c.power_downs - b for c, b in zip(sim.chips, base, strict=True)] == \
        [int(powered_down)] * 4
    if not discarded:
        assert frame.counts == values
    # Either way the next frames are whole and right (after the settling if it powered down).
    before = clock.monotonic_ns()
    assert src.read(0.2) == LoadCellFrame(values, 0)
    waited = clock.monotonic_ns() - before
    assert (waited > 40_000_000) == powered_down
    assert src.stats.resets == 1


def test_three_bad_frames_in_a_row_reset_the_bank() -> None:
    _, sim, src = make()
    base = sum(c.power_downs for c in sim.chips)
    for _ in range(3):
        sim.stall_next_high(PD_NS - 5_000)      # over the 50 us limit, under power-down
        assert src.read(0.1).missing == 0b1111   # type: ignore[union-attr]
    assert src.stats.resets == 2
    assert sum(c.power_downs for c in sim.chips) - base == 4  # the reset, not the stalls
    assert src.read(0.2).missing == 0            # type: ignore[union-attr]


# ---------------------------------------------------------------------------- cell faults
def test_disconnected_cell_is_reported_and_the_others_keep_flowing() -> None:
    values = (10, 20, 30, 40)
    clock, sim, src = make(setup=lambda sim: set_values(sim, values))
    sim.chips[2].disconnect()
    frames = read_for(src, clock, 3.0)
    assert all(f.missing == 0b0100 for f in frames)
    assert all(f.counts[i] == values[i] for f in frames for i in (0, 1, 3))
    assert len(frames) > 3.0 * 80 * 0.9, "a dead cell must not slow the others"
    fault = src.faults[2]
    assert fault.kind == "not_ready"
    assert "cell 2 (back-left) not ready" in fault.message and "GPIO 19" in fault.message
    with pytest.raises(Hx711CellError, match="back-left") as err:
        src.check()
    assert isinstance(err.value, SensorError)
    assert 2 <= src.stats.resets <= 4, "reset attempts back off (1 s, 2 s, ...)"
    sim.chips[2].reconnect()
    frames = read_for(src, clock, 1.0)
    assert frames[-1] == LoadCellFrame(values, 0)
    assert src.faults == {}
    src.check()


def test_hung_chip_is_reset_back_to_life() -> None:
    clock, sim, src = make(setup=lambda sim: set_values(sim, (5, 6, 7, 8)))
    sim.chips[1].glitch("hang")
    frames = read_for(src, clock, 1.0)
    assert frames[0].missing == 0b0010
    assert frames[-1] == LoadCellFrame((5, 6, 7, 8), 0)
    assert src.stats.resets == 2 and src.faults == {}
    assert sim.chips[1].power_downs == 2                    # start, then the rescue


def test_missed_clock_edge_is_caught_and_resynchronised() -> None:
    values = (0b1011_0110, 100, 200, 300)      # LSB 0: DOUT stays low after the 25th pulse
    clock, sim, src = make(setup=lambda sim: set_values(sim, values))
    src.read(0.1)
    sim.chips[0].glitch("missed_edge")
    bad = src.read(0.1)
    assert bad is not None and bad.missing == 0b0001 and bad.counts[1:] == values[1:]
    assert src.stats.protocol_errors == [1, 0, 0, 0]
    assert src.stats.resets == 2
    frames = read_for(src, clock, 0.5)
    assert all(f.missing == 0 or f.missing == 0b1111 for f in frames)
    assert frames[-1] == LoadCellFrame(values, 0)
    assert all(f.counts[0] == values[0] for f in frames if not f.missing)


def test_dout_shorted_low_is_a_stuck_low_fault() -> None:
    clock, sim, src = make(setup=lambda sim: set_values(sim, (1, 2, 3, 4)))
    sim.chips[1].disconnect(dout=0)
    frames = read_for(src, clock, 5.0)
    assert all(f.missing & 0b0010 for f in frames)
    good = [f for f in frames if f.missing == 0b0010]
    assert len(good) > 0.8 * len(frames) and all(f.counts[0] == 1 for f in good)
    assert src.faults[1].kind == "stuck_low"
    assert "GPIO 13" in src.faults[1].message and "short" in src.faults[1].message
    assert src.stats.resets <= 5


def test_saturated_cells_are_returned_and_flagged() -> None:
    clock, sim, src = make(setup=lambda sim: set_values(sim, (1, 2, 3, 4)))
    sim.chips[0].saturate(+1)
    sim.chips[3].saturate(-1)
    frames = read_for(src, clock, 0.2)
    assert frames[-1] == LoadCellFrame((HX711_MAX, 2, 3, HX711_MIN), 0)
    assert src.clipped == (True, False, False, True)
    assert src.stats.clipped[0] >= 10 and src.stats.clipped[1] == 0


def test_silent_bank_returns_none_and_start_raises() -> None:
    def unplug(sim: SimHx711Bank) -> None:
        for chip in sim.chips:
            chip.disconnect()

    clock, _, src = make(start=False, setup=unplug)
    with pytest.raises(Hx711NotFoundError, match=r"GPIO 6, 13, 19, 26 .* GPIO 5"):
        src.start()
    before = clock.monotonic_ns()
    assert src.read(0.5) is None
    assert clock.monotonic_ns() - before == pytest.approx(500_000_000, abs=1_000_000)
    assert sorted(src.faults) == [0, 1, 2, 3]


# ---------------------------------------------------------------------------- factory, backend
def test_factory_builds_from_config_and_closes_on_failure() -> None:
    clock = VirtualClock(0)
    sim = SimHx711Bank(clock, dout_pins=(6, 13, 19, 26))
    source: LoadCellSource = open_hx711_bank(Config(), backend=sim, clock=clock)
    assert source.sample_rate_hz == 80.0
    assert source.read(0.1) is not None
    source.close()
    source.close()
    dead = SimHx711Bank(clock)
    for chip in dead.chips:
        chip.disconnect()
    with pytest.raises(Hx711NotFoundError):
        open_hx711_bank(Config(), backend=dead, clock=clock)
    with pytest.raises(GpioError, match="closed"):
        dead.write(SCK, 1)


def test_factory_without_lgpio_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "lgpio", None)
    with pytest.raises(GpioError, match="lgpio is not installed"):
        open_hx711_bank(Config())


class FakeLgpio(types.ModuleType):
    """lgpio's calls, recorded, with the pins served by the simulator."""

    class error(Exception):  # lgpio's own name for its exception
        pass

    SET_PULL_UP = 32

    def __init__(self, sim: SimHx711Bank, fail_open: bool = False) -> None:
        super().__init__("lgpio")
        self.sim, self.fail_open, self.calls = sim, fail_open, []

    def gpiochip_open(self, chip: int) -> int:
        if self.fail_open:
            raise self.error("can not open gpiochip")
        self.calls.append(("open", chip))
        return 7

    def gpio_claim_output(self, h: int, gpio: int, level: int = 0, flags: int = 0) -> int:
        self.calls.append(("out", h, gpio, level))
        self.sim.claim_output(gpio, level)
        return 0

    def group_claim_input(self, h: int, gpios: list[int], flags: int = 0) -> int:
        self.calls.append(("group", h, tuple(gpios), flags))
        self.sim.claim_group_input(gpios)
        return 0

    def gpio_write(self, h: int, gpio: int, level: int) -> int:
        self.sim.write(gpio, level)
        return 0

    def group_read(self, h: int, gpio: int) -> list[int]:
        return [4, self.sim.read_group()]

    def gpio_free(self, h: int, gpio: int) -> int:
        self.calls.append(("free", h, gpio))
        return 0

    def group_free(self, h: int, gpio: int) -> int:
        self.calls.append(("group_free", h, gpio))
        return 0

    def gpiochip_close(self, h: int) -> int:
        self.calls.append(("close", h))
        return 0


def test_lgpio_backend_drives_the_bank(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = VirtualClock(0)
    sim = SimHx711Bank(clock)
    set_values(sim, (-5, 6, -7, 8))
    fake = FakeLgpio(sim)
    monkeypatch.setitem(sys.modules, "lgpio", fake)
    config = Config().with_changes("hx711", gpiochip=4)
    source = open_hx711_bank(config, clock=clock)
    assert source.read(0.1) == LoadCellFrame((-5, 6, -7, 8), 0)
    assert fake.calls[:3] == [("open", 4), ("out", 7, 5, 0), ("group", 7, DOUTS, 32)]
    source.close()
    source.close()
    assert fake.calls[-3:] == [("free", 7, 5), ("group_free", 7, 6), ("close", 7)]


def test_lgpio_backend_errors_name_the_chip(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "lgpio", FakeLgpio(SimHx711Bank(VirtualClock()), True))
    with pytest.raises(GpioError, match=r"/dev/gpiochip0.*group 'gpio'"):
        LgpioBackend(0)


def test_modules_import_without_hardware_libraries() -> None:
    code = ("import sys, station.drivers, station.drivers.hx711_sim; "
            "assert not {'lgpio', 'RPi', 'gpiozero'} & set(sys.modules), sys.modules.keys()")
    subprocess.run([sys.executable, "-c", code], check=True)
