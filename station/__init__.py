"""Balance-training station: force plate + wobble board, drills, kiosk UI, nightly sync."""

__version__ = "0.1.0"
