"""Bytes held in memory at once, for the whole process: the attachments being sent to models
(`workflows.model_inputs`), and uploads on their way to S3 (`storage.s3`).

An answer with files holds their bytes (and their base64, and the request body) until it
ends; the per-user caps (`CHATKIT_MODEL_MAX_TURN_MB`, answers in flight per user) bound one
user, not many users at once. This bounds them together: a file that does not fit is not
read, and the model (and the user) are told so, instead of the process running out of
memory. Counted per backend process.
"""

from __future__ import annotations

import threading


class ByteBudget:
    def __init__(self, capacity: int) -> None:
        self.capacity = capacity  # 0: no limit
        self._used = 0
        self._lock = threading.Lock()

    @property
    def used(self) -> int:
        return self._used

    def take(self, count: int) -> bool:
        """Holds `count` more bytes if they fit; False (nothing held) otherwise."""
        with self._lock:
            if self.capacity and self._used + count > self.capacity:
                return False
            self._used += count
            return True

    def give(self, count: int) -> None:
        with self._lock:
            self._used = max(self._used - count, 0)
