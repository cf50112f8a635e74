"""The home screen's "last sync" comes from the file `station sync` writes."""

from __future__ import annotations

import json

from station.ui.commands import sync_status_provider


def test_sync_status_follows_the_status_file(config):
    status = sync_status_provider(config)
    assert status().last_ok_utc is None                      # never synced: unknown
    path = config.data_dir / "sync-status.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"last_success_utc": "2026-11-24T02:10:00Z", "state": "ok"}))
    assert status().last_ok_utc == "2026-11-24T02:10:00Z" and status().failed is None
    path.write_text(json.dumps({"last_success_utc": "2026-11-24T02:10:00Z",
                                "last_error": "server unreachable", "state": "failed"}))
    import os

    os.utime(path, ns=(1, 10**18))                           # a new mtime, whatever the fs
    assert status().failed == "server unreachable"
    path.write_text("{broken")
    os.utime(path, ns=(1, 2 * 10**18))
    assert status().last_ok_utc is None                      # damaged file: unknown, no crash
