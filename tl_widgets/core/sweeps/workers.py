"""Several local worker processes on one sweep (``tl-widgets sweep --workers K``).

Each worker is a fresh process (``spawn``: no TensorFlow state is shared)
that opens the same study and runs trials until the study's budget is
reached; Optuna gives every trial number to one worker only. On other hosts,
start ``tl-widgets sweep`` with the same ``--storage`` URL: that is the same
thing, one host further.
"""

from __future__ import annotations

import multiprocessing
import os
from typing import Any, Callable

from tl_widgets.core.sweeps.spec import SweepSpec

__all__ = ["run_workers", "worker_main"]


def worker_main(spec_dict: dict[str, Any], storage: str | None, trials: int | None, source: str,
                on_trial: Callable[[Any], None] | None) -> int:
    """One worker process: runs trials of the sweep until its budget is reached; returns how many it ran."""
    from tl_widgets.core.sweeps.runner import SweepRunner

    spec = SweepSpec.from_dict(spec_dict)
    return len(SweepRunner(spec, storage=storage, source=source, on_trial=on_trial).run(trials))


def run_workers(spec: SweepSpec, workers: int, *, storage: str | None = None, trials: int | None = None,
                source: str = "cli", on_trial: Callable[[Any], None] | None = None) -> list[int]:
    """Runs ``workers`` processes on the sweep and waits for them.

    Args:
        spec: The sweep.
        workers: How many processes (>= 1).
        storage: The study's database URL (None: the home SQLite file).
        trials: The budget (default: the sweep's).
        source: For the run store.
        on_trial: A picklable (module-level) function each worker calls with
            every trial outcome.

    Returns:
        The exit codes of the workers (0: fine).
    """
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"Expected workers >= 1. Received: workers={workers!r}")
    from tl_widgets.core.sweeps.study import open_study

    open_study(spec, storage)  # created once here, so the workers only open it
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=worker_main, args=(spec.to_dict(), storage, trials, source, on_trial),
                         name=f"tl-widgets-sweep-{i}") for i in range(workers)]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    return [int(p.exitcode or 0) for p in procs]
