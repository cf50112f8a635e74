"""The pin-level HX711 simulator against the datasheet, driven by hand (no driver involved)."""

from __future__ import annotations

import pytest

from station.clock import VirtualClock
from station.drivers.gpio import GpioError
from station.drivers.hx711_sim import (
    PD_NS,
    SETTLE_NS,
    UPDATE_NS,
    SimHx711Bank,
)
from station.sensors.base import HX711_MAX, HX711_MIN

SCK, DOUTS = 5, (6, 13, 19, 26)
PERIOD_NS = 12_500_000


def make_bank(**kw) -> tuple[VirtualClock, SimHx711Bank]:
    clock = VirtualClock(1_000_000_000)
    bank = SimHx711Bank(clock, **kw)
    bank.claim_output(SCK, 0)
    bank.claim_group_input(DOUTS)
    return clock, bank


def wait_ready(clock: VirtualClock, bank: SimHx711Bank, mask: int = 0b1111) -> None:
    for _ in range(100_000):
        if bank.read_group() & mask == 0:
            return
        clock.advance_ns(10_000)
    raise AssertionError("never ready")


def clock_out(bank: SimHx711Bank, pulses: int = 25) -> list[int]:
    """Pulse PD_SCK ``pulses`` times; the group level after each falling edge."""
    levels = []
    for _ in range(pulses):
        bank.write(SCK, 1)
        bank.write(SCK, 0)
        levels.append(bank.read_group())
    return levels


def word_of(levels: list[int], cell: int) -> int:
    word = 0
    for m in levels[:24]:
        word = (word << 1) | ((m >> cell) & 1)
    return word - (1 << 24) if word & 0x800000 else word


def test_shifts_twos_complement_msb_first_and_releases_dout_on_25th_pulse() -> None:
    clock, bank = make_bank()
    values = (123_456, -1, HX711_MAX, HX711_MIN)
    for chip, v in zip(bank.chips, values, strict=True):
        chip.value = v
    wait_ready(clock, bank)
    levels = clock_out(bank)
    assert [word_of(levels, i) for i in range(4)] == list(values)
    assert levels[24] == 0b1111, "DOUT must go high after the 25th pulse"
    assert bank.read_group() == 0b1111


def test_first_word_after_power_on_comes_after_the_settling_time() -> None:
    clock, bank = make_bank()
    start = clock.monotonic_ns()
    wait_ready(clock, bank)
    assert clock.monotonic_ns() - start == pytest.approx(SETTLE_NS[80], abs=20_000)


@pytest.mark.parametrize(("rate", "ppm"), [(80, 0.0), (80, 20_000.0), (10, -15_000.0)])
def test_converts_at_its_own_rate(rate: int, ppm: float) -> None:
    clock, bank = make_bank(rate_hz=rate, osc_ppm=(ppm,) * 4)
    chip = bank.chips[0]
    start = chip.conversions
    clock.advance(10.0)
    bank.read_group()
    assert chip.conversions - start == pytest.approx(10 * rate * (1 + ppm * 1e-6), abs=6)


def test_unread_word_is_replaced_after_a_short_dout_high() -> None:
    clock, bank = make_bank()
    chip = bank.chips[0]
    chip.value = lambda t: chip.conversions     # each conversion carries its own number
    wait_ready(clock, bank)
    next_conv = clock.monotonic_ns() + PERIOD_NS
    clock.sleep_until(next_conv - UPDATE_NS // 2)
    assert bank.read_group() & 1 == 1, "DOUT goes high just before the update"
    clock.sleep_until(next_conv + 20_000)
    assert bank.read_group() & 1 == 0
    assert chip.overwritten == 1
    assert word_of(clock_out(bank), 0) == chip.conversions == 2


def test_26_and_27_pulses_select_channel_b_and_gain_64() -> None:
    clock, bank = make_bank()
    chip = bank.chips[0]
    chip.value, chip.channel_b = 1000, -77
    wait_ready(clock, bank, 1)
    clock_out(bank, 26)                          # next conversion: channel B, gain 32
    wait_ready(clock, bank, 1)
    assert word_of(clock_out(bank, 27), 0) == -77  # and the one after: A, gain 64
    wait_ready(clock, bank, 1)
    assert word_of(clock_out(bank, 25), 0) == 500
    wait_ready(clock, bank, 1)
    assert word_of(clock_out(bank, 25), 0) == 1000


def test_more_than_27_pulses_is_a_protocol_error() -> None:
    clock, bank = make_bank()
    wait_ready(clock, bank)
    clock_out(bank, 30)
    assert all(chip.protocol_errors == 1 for chip in bank.chips)


def test_pd_sck_high_over_60_us_powers_down_and_resets_to_a128() -> None:
    clock, bank = make_bank()
    chip = bank.chips[0]
    chip.value = 1000
    wait_ready(clock, bank)
    clock_out(bank, 27)                          # select A/64 ...
    bank.write(SCK, 1)
    clock.advance_ns(PD_NS + 1_000)
    assert bank.read_group() == 0b1111           # powered down: DOUT high
    bank.write(SCK, 0)                           # ... the wake-up resets to A/128
    assert chip.power_downs == 1
    woke = clock.monotonic_ns()
    wait_ready(clock, bank, 1)
    assert clock.monotonic_ns() - woke >= SETTLE_NS[80]
    assert word_of(clock_out(bank), 0) == 1000


def test_pd_sck_high_under_60_us_does_not_power_down() -> None:
    clock, bank = make_bank()
    wait_ready(clock, bank)
    bank.write(SCK, 1)
    clock.advance_ns(PD_NS - 5_000)
    bank.write(SCK, 0)
    assert [c.power_downs for c in bank.chips] == [0, 0, 0, 0]


def test_stall_next_high_lengthens_one_high_phase_only() -> None:
    clock, bank = make_bank()
    wait_ready(clock, bank)
    bank.stall_next_high(PD_NS + 10_000)
    clock_out(bank, 2)
    assert [c.power_downs for c in bank.chips] == [1, 1, 1, 1]


@pytest.mark.parametrize(("collision", "torn"), [("restart", True), ("hold", False)])
def test_conversion_during_a_read(collision: str, torn: bool) -> None:
    clock, bank = make_bank(collision=collision)
    chip = bank.chips[0]
    chip.value = lambda t: 0x5A5A5A if chip.conversions % 2 else 0x0F0F0F
    wait_ready(clock, bank, 1)
    first = clock.monotonic_ns()
    clock.sleep_until(first + PERIOD_NS - 40_000)   # the next one lands mid-word
    bank.read_group()
    levels = clock_out(bank)
    assert chip.collisions == 1
    assert (word_of(levels, 0) not in (0x5A5A5A, 0x0F0F0F)) == torn
    assert chip.lost == (0 if torn else 1)


def test_disconnected_chip_floats_high_and_recovers_after_settling() -> None:
    clock, bank = make_bank()
    bank.chips[2].disconnect()
    clock.advance(1.0)
    assert bank.read_group() == 0b0100
    clock_out(bank)
    assert bank.read_group() & 0b0100
    bank.chips[2].reconnect()
    start = clock.monotonic_ns()
    wait_ready(clock, bank, 0b0100)
    assert clock.monotonic_ns() - start >= SETTLE_NS[80]


def test_dout_shorted_to_ground_reads_low_forever() -> None:
    clock, bank = make_bank()
    bank.chips[1].disconnect(dout=0)
    wait_ready(clock, bank)
    assert clock_out(bank)[24] == 0b1101


def test_hang_glitch_needs_a_power_cycle() -> None:
    clock, bank = make_bank()
    wait_ready(clock, bank)
    clock_out(bank)
    bank.chips[3].glitch("hang")
    clock.advance(1.0)
    assert bank.read_group() & 0b1000
    bank.write(SCK, 1)
    clock.advance_ns(100_000)
    bank.write(SCK, 0)
    wait_ready(clock, bank, 0b1000)


def test_missed_edge_shifts_the_word_and_leaves_the_lsb_on_dout() -> None:
    clock, bank = make_bank()
    bank.chips[0].value = 0b10110            # LSB 0: DOUT stays low after 25 pulses
    wait_ready(clock, bank)
    bank.chips[0].glitch("missed_edge")
    levels = clock_out(bank)
    assert levels[24] & 1 == 0
    assert word_of(levels, 0) != 0b10110


def test_saturation_and_drift() -> None:
    clock, bank = make_bank()
    bank.chips[0].saturate(+1)
    bank.chips[1].saturate(-1)
    bank.chips[2].value = 5_000_000.0
    bank.chips[2].drift(10_000_000)          # runs into the rail within a second
    bank.chips[3].value = lambda t: -10_000_000
    clock.advance(1.0)
    wait_ready(clock, bank)
    levels = clock_out(bank)
    assert [word_of(levels, i) for i in range(4)] == [HX711_MAX, HX711_MIN, HX711_MAX,
                                                      HX711_MIN]


def test_feed_from_a_virtual_plate() -> None:
    clock, bank = make_bank()
    bank.feed(lambda t: (1, 2, 3, 4))
    wait_ready(clock, bank)
    levels = clock_out(bank)
    assert [word_of(levels, i) for i in range(4)] == [1, 2, 3, 4]


def test_separate_clock_lines_and_single_pin_reads() -> None:
    clock = VirtualClock()
    bank = SimHx711Bank(clock, sck_pins=(5, 12, 16, 20))
    for pin in (5, 12, 16, 20):
        bank.claim_output(pin, 0)
    bank.chips[1].value = 42
    clock.advance(0.1)
    assert bank.read_pin(13) == 0
    word = 0
    for _ in range(24):
        bank.write(12, 1)
        bank.write(12, 0)
        word = (word << 1) | bank.read_pin(13)
    assert word == 42
    assert bank.read_pin(6) == 0, "chip 0 was not clocked"


def test_pin_calls_cost_virtual_time_and_are_counted() -> None:
    clock = VirtualClock(0)                  # station.clock's own virtual clock works too
    bank = SimHx711Bank(clock, write_ns=2_000, read_ns=3_000)
    bank.claim_output(SCK, 0)
    bank.claim_group_input(DOUTS)
    before = clock.monotonic_ns()
    bank.write(SCK, 1)
    bank.write(SCK, 0)
    bank.read_group()
    assert clock.monotonic_ns() - before == 7_000
    assert (bank.writes, bank.group_reads) == (3, 1)    # the claim counts as a write


def test_unclaimed_or_closed_pins_raise() -> None:
    _, bank = make_bank()
    with pytest.raises(GpioError, match="not claimed"):
        bank.write(7, 1)
    bank.close()
    with pytest.raises(GpioError, match="closed"):
        bank.write(SCK, 1)
