"""Epoch checkpoints at a bounded cost.

Writing a big model's weights after every epoch can cost more than the epoch
itself (a head trained on cached features runs an epoch in milliseconds). So:

- ``last`` (for resuming) is written at most every ``interval`` seconds and at
  the end of every phase, with a note of which epoch it holds;
- ``best`` (for rollback) is kept as an in-memory copy when the weights are
  small, and written at phase ends; bigger models write it when it improves.

Where they go is the run folder's business (:class:`~tl_widgets.core.runs.folder.RunFolder`).
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from tl_widgets.core.runs.folder import RunFolder

__all__ = ["Checkpointer"]

MEMORY_COPY_LIMIT = 256 * 2**20


class Checkpointer:
    """Decides when to write ``last`` and ``best`` and restores them.

    Args:
        folder: The run folder (None: nothing is written; best stays in memory).
        interval: Seconds between two writes of ``last`` within a phase.
    """

    def __init__(self, folder: RunFolder | None, interval: float = 20.0) -> None:
        self.folder = folder
        self.interval = interval
        self._last_write = -float("inf")
        self._best_copy: list[Any] | None = None
        self._best_on_disk = True
        self._pending_epoch: int | None = None
        self.writes = 0

    def epoch_end(self, model: Any, epoch: int, improved: bool, phase_end: bool) -> None:
        """Called after every epoch with whether the monitored metric improved."""
        if improved:
            if self._weights_bytes(model) <= MEMORY_COPY_LIMIT:
                self._best_copy = [w.copy() for w in model.get_weights()]
                self._best_on_disk = False
            else:
                self._write(model, "best")
                self._best_copy, self._best_on_disk = None, True
        self._pending_epoch = epoch
        if phase_end or time.monotonic() - self._last_write >= self.interval:
            self.flush(model)

    def flush(self, model: Any) -> None:
        """Writes what is pending: ``last`` for the latest epoch, ``best`` if only in memory."""
        if self.folder is None:
            return
        if self._pending_epoch is not None:
            self._write(model, "last")
            self.folder.mark_last_checkpoint(self._pending_epoch)
            self._pending_epoch = None
            self._last_write = time.monotonic()
        if not self._best_on_disk and self._best_copy is not None:
            current = model.get_weights()
            model.set_weights(self._best_copy)
            try:
                self._write(model, "best")
            finally:
                model.set_weights(current)
            self._best_on_disk = True

    def restore_best(self, model: Any) -> bool:
        """Loads the best weights into ``model``; False when there are none."""
        if self._best_copy is not None:
            model.set_weights(self._best_copy)
            return True
        if self.folder is not None and self.folder.has_checkpoint("best"):
            model.load_weights(str(self.folder.checkpoint("best")))
            return True
        return False

    def restore_last(self, model: Any) -> bool:
        """Loads the last written checkpoint into ``model``; False when there is none."""
        if self.folder is not None and self.folder.has_checkpoint("last"):
            model.load_weights(str(self.folder.checkpoint("last")))
            return True
        return False

    def _write(self, model: Any, which: str) -> None:
        if self.folder is not None:
            self.folder.save_checkpoint(model, which)
            self.writes += 1

    @staticmethod
    def _weights_bytes(model: Any) -> int:
        # From shapes and dtypes: reading the values would copy every weight just to size them.
        return sum(math.prod(w.shape) * np.dtype(w.dtype).itemsize for w in model.weights)
