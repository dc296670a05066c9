"""`TrainingSession`: Keras ``fit`` in a worker thread that streams typed events.

The worker never prints, displays or touches a widget: it publishes events on
the session's :class:`~tl_widgets.core.events.EventBus`, and subscribers (the
history recorder, the Studio's charts, the CLI progress bar, the run store)
react. The worker gets a :class:`~tl_widgets.core.training.control.RunControl`,
never the session. ``stop()`` ends the run after the current batch and keeps
the model and the history.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
import traceback
from pathlib import Path
from typing import Any, Callable

from tl_widgets.core.config.schema import TrainConfig
from tl_widgets.core.events import EventBus, Message, RunFailed, RunFinished, RunStopped
from tl_widgets.core.i18n import _
from tl_widgets.core.runs.folder import ResumePoint
from tl_widgets.core.training.control import RunControl, RunResult
from tl_widgets.core.training.history import HistoryRecorder

__all__ = ["TrainingSession", "RunResult", "SessionBusyError", "train", "new_run_id", "check_run_id", "set_start_gate",
           "start_gate"]


class SessionBusyError(RuntimeError):
    """A run is already active (in this session or elsewhere in this process)."""


_PROCESS_LOCK = threading.Lock()
_ACTIVE: dict[str, str] = {}


StartGate = Callable[[str, threading.Event, Callable[..., None]], "Callable[[], None] | None"]
_GATE: StartGate | None = None


def set_start_gate(gate: StartGate | None) -> None:
    """Installs what every run of this process passes before it trains (a served room's fair queue).

    ``gate(run_id, stop_event, say)`` blocks until the run may train and
    returns a function that gives the slot back, or None when Stop was
    pressed while waiting; ``say(text, level="info")`` publishes a notice (e.g.
    the place in line; ``"warning"`` for why the room stopped the run) on the
    run's bus. None removes the gate.
    """
    global _GATE
    _GATE = gate


_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,120}$")


def check_run_id(run_id: Any) -> str:
    """``run_id`` when it is a safe run id (a folder name: letters, digits, ``.``, ``_``, ``-``; no ``..``).

    Raises:
        ValueError: Anything else.
    """
    if not isinstance(run_id, str) or not _RUN_ID.match(run_id) or ".." in run_id:
        raise ValueError(f"Expected a run id of letters, digits, '.', '_' or '-'. Received: {run_id!r}")
    return run_id


def start_gate() -> StartGate | None:
    """The gate installed with :func:`set_start_gate` (None: runs start at once)."""
    return _GATE


def new_run_id(name: str | None) -> str:
    """A unique, sortable, filesystem-safe run id."""
    slug = re.sub(r"[^A-Za-z0-9]+", "-", name or "run").strip("-").lower()[:40] or "run"
    # 48 random bits: a room of 30 pressing Start in the same second collides with odds of about 1 in 10^12.
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{slug}-{secrets.token_hex(6)}"


class TrainingSession:
    """Runs one training config in a worker thread and publishes events.

    Example:

    >>> session = TrainingSession(demo_config())        # doctest: +SKIP
    >>> session.start(); result = session.wait()         # doctest: +SKIP

    Args:
        config: The run's config (copied at start: later edits don't leak in).
        bus: The event bus (a new one when None).
        data: Data passed from code for ``data.source="code"``: ``(x, y)``,
            ``(x, y, class_names)``, a ``tf.data.Dataset`` or a PyDataset.
        record: Record the run in the run store.
        source: Where the run comes from, for the run store.
        store: A run store to record into (default: the user's home store).
        run_id: The id of the run (None: a new one at start). An engine
            worker trains under the id its seat chose.
    """

    def __init__(
        self,
        config: TrainConfig | None = None,
        *,
        bus: EventBus | None = None,
        data: Any = None,
        record: bool = True,
        source: str = "python",
        store: Any = None,
        run_id: str | None = None,
    ) -> None:
        if config is not None and not isinstance(config, TrainConfig):
            raise TypeError(f"Expected a TrainConfig. Received: {type(config).__name__}")
        self.config = config if config is not None else TrainConfig()
        self.bus = bus if bus is not None else EventBus()
        self.data = data
        self.record = record
        self.source = source
        self.store = store
        self.status = "idle"
        self.run_id: str | None = None
        self._given_run_id = run_id
        self.run_dir: Path | None = None
        self.model: Any = None
        self.result: RunResult | None = None
        self.history_recorder = HistoryRecorder()
        self.resume_point: ResumePoint | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._claim_release: Callable[[], None] | None = None

    @classmethod
    def resume(cls, run_dir: str | Path, *, bus: EventBus | None = None, record: bool = True,
               source: str = "studio", store: Any = None) -> TrainingSession:
        """A session that continues an interrupted run from its last epoch checkpoint.

        The run keeps its id and folder; epochs already done are skipped, the
        model starts from ``checkpoints/last.weights.h5`` and the epoch history
        goes on from the CSV. (Optimizer moments restart: only weights are
        checkpointed.)

        Raises:
            FileNotFoundError: The folder has no config or no checkpoint.
            ConfigError: Its config is invalid.
        """
        point = ResumePoint.read(Path(run_dir))
        session = cls(point.config, bus=bus, record=record, source=source, store=store)
        session.resume_point = point
        return session

    # -- control ---------------------------------------------------------
    @property
    def history(self) -> dict[str, dict[str, list[Any]]]:
        """``{"batch": {...}, "epoch": {...}}`` lists per column, read from the run's history recorder."""
        return self.history_recorder.history

    @property
    def running(self) -> bool:
        """True while the worker thread is training."""
        return self.status == "running"

    def start(self) -> str:
        """Starts training in a worker thread and returns the run id.

        Raises:
            SessionBusyError: A run is already active here or in this process.
            ConfigError: The config is invalid.
        """
        from tl_widgets.core.config.schema import validate

        with self._lock:
            if self.running:
                raise SessionBusyError(_("A run is already active in this session (run {run_id}); stop it first").format(
                    run_id=self.run_id))
            cfg = self.config.copy()
            validate(cfg)
            if self.resume_point is not None:
                run_id = self.resume_point.run_id
            elif self._given_run_id is not None:
                run_id = check_run_id(self._given_run_id)
            else:
                run_id = new_run_id(cfg.run_name or cfg.model.backbone.rsplit("/", 1)[-1])
            with _PROCESS_LOCK:
                if _ACTIVE:
                    other = next(iter(_ACTIVE))
                    raise SessionBusyError(_(
                        "Another run is active in this process (run {run_id}); stop it or wait for it first").format(
                        run_id=other))
                _ACTIVE[run_id] = self.source
            try:
                if self.resume_point is not None:  # one process resumes a run: lock file + conditional update
                    from tl_widgets.core.runs.claim import ResumeClaim, RunClaimedError

                    try:
                        claim = ResumeClaim(self.resume_point.run_dir, run_id, self._store_for_claim())
                    except RunClaimedError as exc:
                        raise SessionBusyError(str(exc)) from exc
                    self._claim_release = claim.release
                store_unsubscribe = self._attach_recorder()
            except BaseException:
                if self._claim_release is not None:
                    self._claim_release()
                    self._claim_release = None
                with _PROCESS_LOCK:
                    _ACTIVE.pop(run_id, None)
                raise
            self.run_id, self.status, self.result = run_id, "running", None
            point = self.resume_point
            self.history_recorder.begin(run_id, point.epoch_history if point is not None else None)
            self._stop.clear()
            self._done.clear()
            unsubscribe = [self.bus.subscribe(self.history_recorder), store_unsubscribe]
            from tl_widgets.core.training.runner import Runner

            control = RunControl(run_id=run_id, bus=self.bus, history=self.history_recorder, stop=self._stop,
                                 resume=point, code_data=self.data)
            runner = Runner(control, cfg)
            self._thread = threading.Thread(
                target=self._work, args=(runner, unsubscribe), name=f"tl-widgets-{run_id}", daemon=True
            )
            self._thread.start()
            return run_id

    def stop(self) -> None:
        """Asks the run to end after the current batch (model and history kept)."""
        if self.running:
            self._stop.set()

    @property
    def stop_requested(self) -> bool:
        """True once :meth:`stop` was called for the current run."""
        return self._stop.is_set()

    def wait(self, timeout: float | None = None) -> RunResult | None:
        """Blocks until the run ends; returns its result, or None on timeout."""
        if self._thread is None:
            return self.result
        if not self._done.wait(timeout):
            return None
        return self.result

    # -- internals -------------------------------------------------------
    def _store_for_claim(self) -> Any:
        if not self.record:
            return None
        from tl_widgets.core.runs.store import RunStore

        return self.store if self.store is not None else RunStore()

    def _attach_recorder(self) -> Any:
        if not self.record:
            return None
        from tl_widgets.core.runs.store import RunRecorder, RunStore

        store = self.store if self.store is not None else RunStore()
        return self.bus.subscribe(RunRecorder(store, source=self.source))

    def _work(self, runner: Any, unsubscribe: list[Any]) -> None:
        t0 = time.time()
        release = None
        try:
            gate = _GATE
            if gate is not None:
                release = gate(runner.run_id, self._stop,
                               lambda text, level="info": self.bus.publish(Message(runner.run_id, level=level, text=text)))
            if gate is not None and release is None:  # stopped while queued: nothing was trained or written
                result = RunResult(run_id=runner.run_id, status="stopped", metrics={}, history=self.history,
                                   run_dir=None, model=None, duration=time.time() - t0)
            else:
                result = runner.run()
        except BaseException as exc:  # the worker must always end with an event
            result = RunResult(
                run_id=runner.run_id, status="failed", metrics={}, history=self.history,
                run_dir=runner.run_dir, model=runner.model, duration=time.time() - t0,
                error=explain_error(exc, runner.cfg),
            )
            runner.write_failure(result, traceback.format_exc())
            self.bus.publish(
                RunFailed(runner.run_id, error=result.error or "", traceback=traceback.format_exc(),
                          run_dir=str(runner.run_dir) if runner.run_dir else None, duration=result.duration)
            )
        else:
            event_cls = {"finished": RunFinished, "stopped": RunStopped}[result.status]
            self.bus.publish(
                event_cls(runner.run_id, metrics=result.metrics,
                          run_dir=str(result.run_dir) if result.run_dir else None, duration=result.duration)
            )
        finally:
            for give_back in (release, self._claim_release):
                if give_back is not None:
                    give_back()
            self._claim_release = None
            with _PROCESS_LOCK:
                _ACTIVE.pop(runner.run_id, None)
        self.model = runner.model
        self.run_dir = runner.run_dir
        self.result = result
        self.status = result.status
        for undo in unsubscribe:
            if undo is not None:
                undo()
        self._done.set()


def is_out_of_memory(exc: BaseException) -> bool:
    """True for an out-of-memory error of Python, TensorFlow or XLA."""
    if isinstance(exc, MemoryError):
        return True
    name = type(exc).__name__
    text = str(exc)
    return name == "ResourceExhaustedError" or "RESOURCE_EXHAUSTED" in text or "Out of memory" in text \
        or "OOM when allocating" in text


def explain_error(exc: BaseException, cfg: TrainConfig) -> str:
    """One line for a failed run; out-of-memory errors say what to change."""
    if is_out_of_memory(exc):
        size = cfg.model.input_size or _("the backbone's default")
        return _("Out of memory while training: try a smaller batch size (now {batch}) or input size (now {size}), or "
                 "a smaller backbone. ({error})").format(batch=cfg.data.batch_size, size=size, error=type(exc).__name__)
    return f"{type(exc).__name__}: {exc}"


def train(config: TrainConfig, *, data: Any = None, bus: EventBus | None = None, record: bool = True,
          source: str = "python", store: Any = None) -> RunResult:
    """Runs ``config`` to the end and returns the result (synchronous API).

    Args:
        config: The run's config.
        data: Data from code (see :class:`TrainingSession`).
        bus: An event bus to publish on (e.g. with a progress subscriber).
        record: Record the run in the run store.
        source: Where the run comes from, for the run store.
        store: A run store (default: the user's home store).
    """
    session = TrainingSession(config, bus=bus, data=data, record=record, source=source, store=store)
    session.start()
    result = session.wait()
    assert result is not None
    return result
