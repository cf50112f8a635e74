"""Exponential backoff with full jitter, decided by what failed.

Transport errors (refused, reset, timed out, cut mid-body) and 408/429/500/502/503/504 are
worth another try after ``uniform(0, min(cap, base * 2**attempt))`` seconds (honouring a
server's Retry-After up to the cap); any other 4xx is an answer, not a hiccup. A small local
policy rather than a retry library: the client needs exactly this and its tests drive the
sleeps without waiting.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 6          # tries per request (the first included)
    base_s: float = 0.5
    cap_s: float = 30.0

    def delay(self, attempt: int, rng: random.Random, retry_after: float | None = None) -> float:
        """Seconds to wait after failed try number ``attempt`` (0-based)."""
        wait = rng.uniform(0.0, min(self.cap_s, self.base_s * 2 ** attempt))
        if retry_after is not None:
            wait = max(wait, min(retry_after, self.cap_s))
        return wait


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After in seconds (the HTTP-date form is ignored: the Pi's clock may be wrong)."""
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None
