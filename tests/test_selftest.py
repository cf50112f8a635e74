"""`station selftest` on a healthy bank, a bank with one dead cell, and a machine without one."""

from __future__ import annotations

from station.cli import main
from station.selftest import format_table, run_selftest, simulated_bank


def test_healthy_bank_passes_every_check(config):
    open_bank, clock = simulated_bank(config)
    checks = run_selftest(config, open_bank=open_bank, clock=clock, hardware=True)
    assert all(c.ok for c in checks), format_table(checks)
    assert [c.name for c in checks][1:] == [
        "cell 0 (front-left)", "cell 1 (front-right)", "cell 2 (back-left)",
        "cell 3 (back-right)"]
    assert "noise" in checks[1].detail and "offset" in checks[1].detail


def test_dead_cell_names_the_wire_to_check(config):
    open_bank, clock = simulated_bank(config, dead_cell=2)
    checks = run_selftest(config, open_bank=open_bank, clock=clock, hardware=True)
    failed = [c for c in checks if not c.ok]
    assert [c.name for c in failed] == ["cell 2 (back-left)"]
    assert "GPIO 19" in failed[0].action and "silent" in failed[0].detail


def test_no_hardware_says_so_and_what_happens_next(config):
    checks = run_selftest(config, hardware=False)
    assert len(checks) == 1 and not checks[0].ok
    assert "simulated plate" in checks[0].action
    strict = config.with_changes("station", allow_simulation=False)
    assert "will NOT start" in run_selftest(strict, hardware=False)[0].action


def test_cli_exit_code_follows_the_verdict(tmp_path, capsys):
    assert main(["selftest", "--simulate", "healthy", "--data-dir", str(tmp_path)]) == 0
    assert "all checks passed" in capsys.readouterr().out
    assert main(["selftest", "--simulate", "dead-cell-0", "--data-dir", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "cell 0 (front-left)   FAIL" in out and "GPIO 6" in out
