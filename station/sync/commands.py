"""``station sync`` and ``station check``: argparse wiring and the command bodies.

``add_parsers(subparsers)`` registers both on the station CLI; each sets ``func(args) -> int``.
Registration imports nothing heavy (httpx is loaded when a sync runs).

Exit codes of ``station sync`` (also in docs/sync.md):
  0  every sealed session is on the server (or there was nothing to send)
  1  some sessions are still pending (network or server trouble): the next run retries
  2  configuration, token or TLS problem (one line on stderr): a human must fix it
  3  no session is pending, but some need a human (conflict, rejected, damaged, missing)
  4  another sync run is in progress
``station check`` exits 0 when every session checked is intact, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", metavar="PATH", help="configuration file (default: "
                   "$STATION_CONFIG, then /etc/station/station.toml, then built-in defaults)")
    p.add_argument("--data-dir", type=Path, help="override [station] data_dir")
    p.add_argument("-v", "--verbose", action="store_true", help="log more detail")


def add_parsers(subparsers: Any) -> None:
    """Register ``sync`` and ``check`` on the station CLI's subparsers."""
    s = subparsers.add_parser(
        "sync", help="upload sealed sessions to the clinic server",
        description="Upload every sealed, unconfirmed session to [sync] server_url, then apply "
                    "the retention rule to confirmed ones. Safe to interrupt and to repeat: "
                    "the next run sends only what the server lacks. Exit 0 all synced, 1 some "
                    "pending, 2 configuration/token error, 3 sessions need attention, 4 busy.")
    _common(s)
    s.add_argument("--no-retention", action="store_true",
                   help="do not delete any synced session in this run")
    s.add_argument("--status", action="store_true",
                   help="print the last run's status (as the UI reads it) and exit")
    s.add_argument("--retry", metavar="SESSION_ID",
                   help="offer a conflicted or rejected session again after a human fixed it")
    s.add_argument("-q", "--quiet", action="store_true", help="only the final summary")
    s.set_defaults(func=run_sync_command)

    c = subparsers.add_parser(
        "check", help="say exactly what is wrong with a session",
        description="Validate session folders against format version 1: the JSON schemas, "
                    "the sample files, the manifest's hashes and sizes, the completion marker. "
                    "Exit 0 when all are intact, 1 otherwise.")
    _common(c)
    c.add_argument("sessions", nargs="*", metavar="SESSION",
                   help="session folder or session id (looked up in data_dir/sessions)")
    c.add_argument("--all", action="store_true", help="every session in data_dir/sessions")
    c.add_argument("--json", action="store_true", help="one JSON report per session")
    c.set_defaults(func=run_check_command)


def _config(args: argparse.Namespace) -> Any:
    from station import config as config_mod

    cfg = config_mod.load(args.config)
    if args.data_dir:
        cfg = cfg.with_changes("station", data_dir=str(args.data_dir))
    return cfg


def run_sync_command(args: argparse.Namespace) -> int:
    from station.session.store import RetentionPolicy, SessionStore
    from station.sync import runner
    from station.sync.client import SyncClient

    cfg = _config(args)
    if args.status:
        print(json.dumps(runner.read_status(cfg.data_dir), indent=2, sort_keys=True))
        return 0
    client = SyncClient.from_config(cfg)          # refuses a bad URL or token before work
    with client, runner.run_lock(cfg.data_dir) as mine:
        if not mine:
            print("station sync: another sync run is in progress", file=sys.stderr)
            return runner.EXIT_BUSY
        with SessionStore(cfg.data_dir, policy=RetentionPolicy.from_config(cfg)) as store:
            for sid in store.last_scan.recovered:
                print(f"recovered interrupted session {sid} (sealed, flagged)")
            if args.retry:
                store.reset(args.retry)
            out = None if args.quiet else (lambda line: print(line, flush=True))
            summary = runner.run_sync(store, client, out=out,
                                      retention=not args.no_retention)
            if args.quiet:
                print(summary.line())
            warning = store.disk_status()
            if warning.level != "ok":
                print(f"WARNING: {warning.message}")
    return summary.exit_code


def run_check_command(args: argparse.Namespace) -> int:
    from station.errors import StationError
    from station.session.check import check_session

    folders: list[Path] = []
    sessions_dir = None
    if args.all or any(not Path(s).exists() for s in args.sessions):
        sessions_dir = _config(args).data_dir / "sessions"
    if args.all and sessions_dir is not None and sessions_dir.is_dir():
        folders += sorted(d for d in sessions_dir.iterdir()
                          if d.is_dir() and not d.name.startswith("."))
    for s in args.sessions:
        p = Path(s)
        if not p.exists() and sessions_dir is not None:
            p = sessions_dir / s
        if not p.is_dir():
            raise StationError(f"no session folder {s!r}")
        folders.append(p)
    if not folders:
        raise StationError("name a SESSION (folder or id) or use --all")
    bad = 0
    for folder in folders:
        report = check_session(folder)
        bad += not report.ok
        if args.json:
            print(json.dumps(report.to_json(), sort_keys=True))
            continue
        errors = sum(p.severity == "error" for p in report.problems)
        warnings = len(report.problems) - errors
        verdict = "OK" if report.ok else "DAMAGED"
        print(f"{folder.name}: {verdict} ({errors} error(s), {warnings} warning(s))")
        for problem in report.problems:
            print(f"  {problem}")
    return 1 if bad else 0
