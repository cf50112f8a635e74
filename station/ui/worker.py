"""A background thread that runs jobs in order, so a slow SD card never stalls a frame.

The UI submits closures (recorder calls, atomic file writes, the disk-space check). Results and
errors come back through ``drain()``, which the UI calls once per frame on its own thread: no
callback ever runs on the worker, and no screen ever waits for one.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

Done = Callable[[Any], None]
Failed = Callable[[BaseException], None]


class Worker:
    def __init__(self, name: str) -> None:
        self.name = name
        self._q: queue.Queue[tuple | None] = queue.Queue()
        self._done: deque[tuple[Callable[[Any], None], Any]] = deque()
        self._thread = threading.Thread(target=self._run, name=f"ui-{name}", daemon=True)
        self._thread.start()

    def submit(self, fn: Callable[[], Any], on_done: Done | None = None,
               on_error: Failed | None = None) -> None:
        self._q.put((fn, on_done, on_error))

    def _run(self) -> None:
        while True:
            job = self._q.get()
            try:
                if job is None:
                    return
                fn, on_done, on_error = job
                try:
                    result = fn()
                except Exception as exc:
                    log.warning("%s job failed: %s", self.name, type(exc).__name__)
                    if on_error is not None:
                        self._done.append((on_error, exc))
                else:
                    if on_done is not None:
                        self._done.append((on_done, result))
            finally:
                self._q.task_done()

    def drain(self) -> None:
        """Run the callbacks of finished jobs (UI thread)."""
        while self._done:
            callback, value = self._done.popleft()
            callback(value)

    @property
    def pending(self) -> int:
        return self._q.unfinished_tasks

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every submitted job has run (tests, shutdown); True if it did."""
        with self._q.all_tasks_done:
            return self._q.all_tasks_done.wait_for(lambda: self._q.unfinished_tasks == 0,
                                                   timeout)

    def close(self, timeout: float = 10.0) -> None:
        if self._thread.is_alive():
            self._q.put(None)
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.error("worker %s did not finish its jobs within %.0f s", self.name, timeout)
