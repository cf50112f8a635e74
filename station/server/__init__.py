"""The clinic receiver (``station-server``): accepts sealed sessions from registered stations.

``app`` is the Starlette application (upload API and the read-only web page), ``storage``
verifies and files uploads, ``index`` is the SQLite index and audit log, ``tokens`` the
per-station credentials, ``config`` the settings. Protocol and statuses: docs/sync.md.
"""
