"""`station status` and `station service`: the CLI's view of the running service.

The lead's ``station.cli.build_parser`` calls :func:`add_parsers` with its subparsers; each
command sets ``func`` to a callable taking the parsed arguments and returning the exit code.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from station import config as config_mod
from station.errors import ConfigError
from station.service.health import (
    evaluate,
    format_verdict,
    health_path,
    read_sync_status,
    sync_warnings,
)


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", metavar="PATH",
                   help=f"configuration file (default: ${config_mod.ENV_VAR}, then "
                        f"{config_mod.SYSTEM_CONFIG}, then built-in defaults)")
    p.add_argument("--data-dir", type=Path, help="override [station] data_dir")
    p.add_argument("--health-file", type=Path, metavar="PATH",
                   help="health file (default: $STATION_HEALTH_FILE, then "
                        "/run/station/health.json when the service is installed, then "
                        "<data_dir>/health.json)")
    p.add_argument("-v", "--verbose", action="store_true", help="log more detail")


def add_service_arguments(p: argparse.ArgumentParser) -> None:
    """The options of `station service` (shared with `python -m station.service`)."""
    _add_common(p)
    p.add_argument("--headless", action="store_true",
                   help="no screen (the only mode of this command; accepted for clarity)")
    p.add_argument("--simulated", action="store_true",
                   help="use the virtual patient whatever [station] source says")
    p.add_argument("--inline", action="store_true",
                   help="run the acquisition in this process's main loop instead of its own "
                        "process (never on a Pi with real load cells)")


def cmd_status(args: argparse.Namespace) -> int:
    """Print the service's health; exit 0 healthy, 1 unhealthy, 3 not running or stale."""
    try:
        cfg = config_mod.load(args.config)
        if args.data_dir:
            cfg = cfg.with_changes("station", data_dir=str(args.data_dir))
        config_note = None
    except ConfigError as exc:       # still report what the running service says
        cfg, config_note = config_mod.Config(), f"configuration not loaded: {exc}"
    path = args.health_file or health_path(cfg)
    verdict = evaluate(path)
    sync = read_sync_status(cfg.data_dir)
    if sync is None and verdict.health:
        sync = verdict.health.get("last_sync")
    if verdict.health is None:       # nobody computed the sync warnings for us
        verdict.warnings += sync_warnings(cfg, sync)
    if config_note:
        verdict.warnings.insert(0, config_note)
    if args.json:
        print(json.dumps({"status": verdict.state, "exit_code": verdict.exit_code,
                          "health_file": str(path),
                          "age_s": None if verdict.age_s is None else round(verdict.age_s, 3),
                          "problems": verdict.problems, "warnings": verdict.warnings,
                          "last_sync": sync, "health": verdict.health}, indent=2))
    else:
        print(format_verdict(verdict, sync))
    return verdict.exit_code


def cmd_service(args: argparse.Namespace) -> int:
    from station.service.main import cmd_service as run

    return run(args)


def add_parsers(subparsers: argparse._SubParsersAction) -> None:
    """Add `status` and `service` to the station CLI."""
    st = subparsers.add_parser("status", help="health of the running station service",
                               description=cmd_status.__doc__)
    _add_common(st)
    st.add_argument("--json", action="store_true", help="machine-readable output")
    st.set_defaults(func=cmd_status)

    sv = subparsers.add_parser("service", help="headless service main: sensors, systemd "
                               "watchdog and health, no screen",
                               description="Run the sensors under systemd without a screen: "
                               "READY=1 once frames flow, WATCHDOG=1 while the acquisition "
                               "runs, health for `station status`. Stops cleanly on SIGTERM.")
    add_service_arguments(sv)
    sv.set_defaults(func=cmd_service)
