"""The home screen's "last sync" comes from the status file `station sync` writes."""

from __future__ import annotations

import json
import os

from station.sync.runner import EXIT_INCOMPLETE
from station.ui.commands import sync_status_provider


def write(path, data, stamp):
    path.write_text(json.dumps(data) if isinstance(data, dict) else data)
    os.utime(path, ns=(1, stamp))             # a new mtime, whatever the file system's grain


def test_sync_status_follows_the_status_file(config):
    status = sync_status_provider(config)
    assert status().last_ok_utc is None and status().failed is None    # never synced
    path = config.data_dir / "sync-status.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    write(path, {"state": "idle", "last_success_utc": "2026-11-24T02:10:00Z", "exit_code": 0},
          10**18)
    assert status().last_ok_utc == "2026-11-24T02:10:00Z" and status().failed is None
    write(path, {"state": "idle", "last_success_utc": "2026-11-24T02:10:00Z",
                 "exit_code": EXIT_INCOMPLETE, "last_result": {"pending": 3, "stopped": True}},
          2 * 10**18)
    assert "3 session(s) not sent" in status().failed
    write(path, "{broken", 3 * 10**18)
    assert status().last_ok_utc is None                               # damaged: unknown
