"""The touchscreen kiosk: pygame-ce screens over the station's live snapshots.

``App`` is steppable (``step(events, dt)`` then ``render()``) so tests drive the real app with
synthetic touches on a virtual clock; ``station run`` wraps it in the display loop. Screens read
snapshots and never touch sensors or disks: recording and file writes go through a worker thread.
"""

import os as _os

_os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")     # no banner in the kiosk's log
