"""`station`: the command line. Every command has --help; bad input exits 2 with one line."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from station import __version__
from station import config as config_mod
from station.errors import StationError

G = 9.80665


def _progress(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _load_config(args: argparse.Namespace) -> config_mod.Config:
    cfg = config_mod.load(args.config)
    if getattr(args, "data_dir", None):
        cfg = cfg.with_changes("station", data_dir=str(args.data_dir))
    return cfg


# ---------------------------------------------------------------------- commands
def cmd_demo(args: argparse.Namespace) -> int:
    from station.demo import run_demo

    cfg = _load_config(args).with_changes("station", source="simulated")
    if args.seed is not None:
        cfg = cfg.with_changes("simulation", seed=args.seed)
    path, results = run_demo(cfg, seconds=args.seconds, patient_code=args.patient,
                             impaired=args.impaired, realtime=args.realtime, short=args.short,
                             progress=_progress)
    print(f"Session saved: {path}")
    width = max(len(drill.title) for drill, _ in results)
    for drill, line in results:
        print(f"{drill.title:<{width}}  {line}")
    return 0


def _open_station(args: argparse.Namespace, patient_on_plate: bool):
    from station.runtime import Station

    cfg = _load_config(args)
    return Station(cfg, fast=getattr(args, "fast", False), patient_on_plate=patient_on_plate)


def cmd_tare(args: argparse.Namespace) -> int:
    station = _open_station(args, patient_on_plate=False)
    try:
        _progress("Keep the plate empty and still...")
        cal = station.tare(force=args.force, progress=_progress)
        print(f"Tared at {cal.tared_utc}; offsets (counts): "
              + ", ".join(f"{v:.0f}" for v in cal.offsets_counts))
    finally:
        station.close()
    return 0


def cmd_calibrate(args: argparse.Namespace) -> int:
    if not 0.5 <= args.mass <= 200:
        raise StationError(f"--mass {args.mass} kg is outside 0.5-200 kg")
    station = _open_station(args, patient_on_plate=False)

    def place(mark: str, ml: float, ap: float) -> None:
        sim = station.simulation
        if sim is not None:       # the virtual technician moves the virtual mass
            station.command("clear_masses")
            if mark:
                station.command("place_mass", args.mass, ml, ap)
                _progress(f"(simulated) {args.mass} kg placed on the {mark} mark")
            return
        if mark:
            input(f"Place the {args.mass} kg mass on the {mark.upper()} mark "
                  f"({ml * 100:+.0f} cm, {ap * 100:+.0f} cm), step away, press Enter ")
        else:
            input("Take the mass off the plate, press Enter ")

    try:
        _progress("Step 1: tare. Keep the plate empty and still...")
        station.tare(force=True, progress=_progress)
        cal = station.calibrate(args.mass, place, whole_plate=args.whole_plate,
                                progress=_progress)
        print(f"Calibrated ({cal.method}) at {cal.calibrated_utc}; residual "
              f"{cal.residual_n:.3f} N; scales (g per count): "
              + ", ".join(f"{v / G * 1000:.5f}" for v in cal.newtons_per_count))
    finally:
        station.close()
    return 0


def cmd_record(args: argparse.Namespace) -> int:
    from station.session.recorder import SessionRecorder

    if args.seconds <= 0:
        raise StationError("--seconds must be positive")
    station = _open_station(args, patient_on_plate=True)
    try:
        cfg = station.config
        rec = SessionRecorder(cfg.data_dir / "sessions", station_id=cfg.station.id,
                              patient_code=args.patient, therapist_id=args.therapist,
                              calibration=station.calibration, geometry=station.geometry,
                              clock=station.clock, fsync_interval_s=cfg.recording.fsync_interval_s,
                              compress=cfg.recording.compress, source_kind=station.source_kind)
        rec.start_trial("raw recording", "recording", sample_rate_hz=cfg.plate.sample_rate_hz,
                        with_imu=station.rings.imu.written > 0 or cfg.imu.enabled)
        station.new_records()
        elapsed, shown = 0.0, 0.0
        while elapsed < args.seconds:
            step = min(0.25, args.seconds - elapsed)
            station.wait(step)
            elapsed += step
            rec.record(station.new_records(), station.new_imu_records())
            if elapsed - shown >= 2.0:
                _progress(f"recording {elapsed:.0f}/{args.seconds:.0f} s")
                shown = elapsed
        path = rec.seal()
        h = station.health()
        print(f"Recorded {h.frames} frames ({h.dropped} dropped, {h.late} late) to {path}")
        for problem in h.problems(cfg):
            print(f"WARNING: {problem}")
    finally:
        station.close()
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    import numpy as np

    from station.clock import SystemClock, VirtualClock
    from station.demo import summarize
    from station.plate.calibration import Calibration
    from station.runtime import Station
    from station.sensors.factory import Sources
    from station.sensors.replay import ReplaySource

    cfg = _load_config(args)
    clock = SystemClock() if args.realtime else VirtualClock()
    source = ReplaySource(args.file, clock)
    station = Station(cfg, clock=clock, sources=Sources(source, None, "replay"))
    try:
        if args.calibration:
            station.calibration = Calibration.load(args.calibration)
        reader = station.rings.cells.reader()
        blocks = []
        while not source.finished:
            station.acq.step()
            if station.rings.cells.written - reader.cursor >= 400:
                blocks.append(reader.poll())
        blocks.append(reader.poll())
        rec = np.concatenate(blocks)
        s = summarize(Path(args.file).name, station.to_plate(rec), station)
        h = station.health()
    finally:
        station.close()
    print(f"Replayed {len(rec)} frames at {source.sample_rate_hz:.0f} Hz ({h.dropped} dropped): "
          f"weight {s.weight_kg:.1f} kg, left {s.weight_bearing_left_pct:.1f} %, "
          f"path {s.path_length_cm:.1f} cm, velocity {s.mean_velocity_cm_s:.2f} cm/s")
    return 0


def cmd_selftest(args: argparse.Namespace) -> int:
    from station.selftest import format_table, run_selftest, simulated_bank

    cfg = _load_config(args)
    if args.simulate:
        dead = None if args.simulate == "healthy" else int(args.simulate.rsplit("-", 1)[1])
        open_bank, clock = simulated_bank(cfg, dead)
        checks = run_selftest(cfg, open_bank=open_bank, clock=clock, hardware=True)
    else:
        _progress("Reading the sensors for 2 s...")
        checks = run_selftest(cfg)
    print(format_table(checks))
    return 0 if all(c.ok for c in checks) else 1


def cmd_config(args: argparse.Namespace) -> int:
    if args.defaults:
        print(config_mod.describe_defaults(), end="")
        return 0
    cfg = config_mod.load(args.config)
    print(f"{cfg.source_file}: OK")
    return 0


# ---------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", metavar="PATH",
                        help=f"configuration file (default: ${config_mod.ENV_VAR}, then "
                             f"{config_mod.SYSTEM_CONFIG}, then built-in defaults)")
    common.add_argument("--data-dir", type=Path, help="override [station] data_dir")
    common.add_argument("-v", "--verbose", action="store_true", help="log more detail")

    p = argparse.ArgumentParser(prog="station", description="Balance-training station.")
    p.add_argument("--version", action="version", version=f"station {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    d = sub.add_parser("demo", parents=[common], help="scripted visit with the virtual patient")
    d.add_argument("--seconds", type=float, default=30.0, help="length of each trial (s)")
    d.add_argument("--patient", default="DEMO-0001", help="pseudonymous patient code")
    d.add_argument("--seed", type=int, help="random seed of the virtual patient")
    d.add_argument("--impaired", action="store_true",
                   help="a post-stroke-like patient: more sway, 65/35 stance, slow reactions")
    d.add_argument("--realtime", action="store_true",
                   help="run at wall-clock speed through the acquisition process")
    d.add_argument("--short", action="store_true",
                   help="one mCTSIB trial per condition, short rests, fewer game attempts")
    d.set_defaults(func=cmd_demo)

    t = sub.add_parser("tare", parents=[common], help="zero the empty plate")
    t.add_argument("--force", action="store_true", help="tare even if a load seems present")
    t.add_argument("--fast", action="store_true", help=argparse.SUPPRESS)
    t.set_defaults(func=cmd_tare)

    c = sub.add_parser("calibrate", parents=[common],
                       help="calibrate each cell with a known mass (guided)")
    c.add_argument("--mass", type=float, required=True, help="reference mass (kg)")
    c.add_argument("--whole-plate", action="store_true",
                   help="one placement at the centre; rescales all cells together")
    c.add_argument("--fast", action="store_true", help=argparse.SUPPRESS)
    c.set_defaults(func=cmd_calibrate)

    r = sub.add_parser("record", parents=[common], help="raw recording from the configured source")
    r.add_argument("--seconds", type=float, required=True)
    r.add_argument("--patient", default="UNKNOWN", help="pseudonymous patient code")
    r.add_argument("--therapist", default="", help="therapist id")
    r.add_argument("--fast", action="store_true",
                   help="simulated source only: run on a virtual clock, faster than real time")
    r.set_defaults(func=cmd_record)

    rp = sub.add_parser("replay", parents=[common], help="play a recorded raw file back")
    rp.add_argument("file", help="raw.csv or raw.csv.gz (or the trial folder)")
    rp.add_argument("--realtime", action="store_true", help="at the recorded timing")
    rp.add_argument("--calibration", help="calibration.json to use (default: the station's)")
    rp.set_defaults(func=cmd_replay)

    st = sub.add_parser("selftest", parents=[common],
                        help="check which sensors answer; a pass/fail table to act on")
    st.add_argument("--simulate", choices=["healthy", *[f"dead-cell-{i}" for i in range(4)]],
                    help="run against the pin-level simulated bank (technician training)")
    st.set_defaults(func=cmd_selftest)

    from station.analysis.commands import add_analyze_parser, add_report_parser
    from station.service.commands import add_parsers as add_service_parsers
    from station.sync.commands import add_parsers as add_sync_parsers
    from station.ui.commands import add_parsers as add_ui_parsers

    add_analyze_parser(sub)
    add_report_parser(sub)
    add_service_parsers(sub)
    add_sync_parsers(sub)
    add_ui_parsers(sub, parents=[common])

    cf = sub.add_parser("config", parents=[common], help="check the configuration")
    cf.add_argument("--defaults", action="store_true", help="print every key with its default")
    cf.set_defaults(func=cmd_config)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if getattr(args, "verbose", False) else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args) or 0)
    except StationError as exc:
        print(f"station {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"station {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
