"""Nightly sync of sealed sessions to the clinic receiver (docs/sync.md).

``client`` speaks the HTTP protocol with retries, ``runner`` walks the local store and keeps
the UI's status file, ``commands`` registers ``station sync`` and ``station check``.
``protocol`` holds what the client and the receiver (``station.server``) must agree on.
"""

from station.sync.secret import Secret

__all__ = ["Secret"]
