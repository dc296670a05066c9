"""One background job at a time for a panel (evaluation, export, learning-rate sweep).

Clicks are handled only while the kernel's main thread is free, so long work runs
in a daemon thread. The job may only set widget values; an exception it raises is
shown in the panel's ``notice`` and kept in ``error``, and the panel's buttons are
disabled while it runs.
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Sequence

__all__ = ["BackgroundWork"]


class BackgroundWork:
    """Mixin for panels with a ``notice``: :meth:`_run_in_background`, :attr:`busy`, :meth:`wait`."""

    _thread: threading.Thread | None = None
    error: str | None = None

    @property
    def busy(self) -> bool:
        """True while a worker runs."""
        return self._thread is not None and self._thread.is_alive()

    def wait(self, timeout: float | None = None) -> None:
        """Blocks until the current worker ends (for scripts and tests)."""
        if self._thread is not None:
            self._thread.join(timeout)

    def _run_in_background(self, work: Callable[[], None], *, name: str, buttons: Sequence[Any],
                           failure: str = "") -> None:
        """Runs ``work`` in a daemon thread with ``buttons`` disabled meanwhile.

        Args:
            work: The job; it only sets widget values.
            name: The thread's name.
            buttons: Disabled while the job runs, enabled again after.
            failure: Text put before the error in the notice.
        """
        self.error = None
        for button in buttons:
            button.disabled = True

        def run() -> None:
            try:
                work()
            except Exception as exc:  # shown in the panel: the worker must never raise into the void
                self.error = f"{type(exc).__name__}: {exc}"
                self.notice.show(f"{failure}{self.error}")  # type: ignore[attr-defined]
            finally:
                for button in buttons:
                    button.disabled = False

        self._thread = threading.Thread(target=run, name=name, daemon=True)
        self._thread.start()
