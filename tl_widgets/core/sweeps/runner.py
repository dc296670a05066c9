"""Running a sweep's trials: each trial is a normal training run.

:class:`SweepRunner` asks the Optuna study for a trial, builds its config
(the base config with the sampled values), trains it with a
:class:`~tl_widgets.core.training.session.TrainingSession` (recorded in the
run store with the sweep id and trial number), reports each epoch's metric to
Optuna and stops the run when the pruner says so. Trials that keep the
backbone frozen share one feature cache: the backbone's features are computed
by the first such trial and loaded by the others.

Several processes (or hosts) can run the same sweep at once against one
storage: the study's budget (``trials``) counts all of them, and Optuna hands
each trial number out once.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Callable

from tl_widgets.core.sweeps.spec import SweepSpec
from tl_widgets.core.sweeps.study import open_study, require_optuna

__all__ = ["TrialOutcome", "SweepRunner", "best_config", "trial_rows"]

_CACHE_HIT = "loaded from the cache"


@dataclass
class TrialOutcome:
    """What one trial did.

    Attributes:
        number: The trial number in the study.
        state: ``"complete"``, ``"pruned"``, ``"failed"`` or ``"stopped"``.
        value: The best epoch's metric (None when none was logged).
        params: The sampled values, path -> value.
        run_id: The training run of the trial.
        run_dir: Its run folder.
        epochs: Epochs trained (fewer than the config's when pruned).
        feature_cache_hit: The backbone's features came from the shared cache.
        error: Why a failed trial failed.
        sweep_id: The sweep (study name).
    """

    number: int
    state: str
    value: float | None
    params: dict[str, Any]
    run_id: str | None = None
    run_dir: str | None = None
    epochs: int = 0
    feature_cache_hit: bool = False
    error: str | None = None
    sweep_id: str | None = None


@dataclass
class SweepRunner:
    """Runs trials of a sweep in this process, one after another.

    Args:
        spec: The sweep.
        storage: An Optuna database URL (None: the SQLite file under the home).
        store: The run store trials are recorded in (None: the home store).
        source: Who runs the trials, for the run store (``"cli"``, ``"studio"``...).
        on_trial: Called with each :class:`TrialOutcome` as it ends (in this thread).
        on_event: Called with every training event of every trial (in this thread).
    """

    spec: SweepSpec
    storage: str | None = None
    store: Any = None
    source: str = "cli"
    on_trial: Callable[[TrialOutcome], None] | None = None
    on_event: Callable[[Any], None] | None = None
    stop_event: threading.Event = field(default_factory=threading.Event)
    session: Any = None

    def stop(self) -> None:
        """Stops the trial under way (it is recorded as stopped) and starts no other."""
        self.stop_event.set()
        session = self.session
        if session is not None:
            session.stop()

    def run(self, trials: int | None = None) -> list[TrialOutcome]:
        """Runs trials until the study holds ``trials`` (default: the sweep's budget) or :meth:`stop`.

        Returns:
            The outcomes of the trials this call ran.
        """
        from tl_widgets.core.runs.store import RunStore

        optuna = require_optuna()
        budget = int(trials or self.spec.trials)
        if self.store is None:
            self.store = RunStore()
        study = open_study(self.spec, self.storage)
        study.set_user_attr("space", {p.path: p.to_dict() for p in self.spec.space})
        done: list[TrialOutcome] = []
        while not self.stop_event.is_set():
            states = tuple(s for s in optuna.trial.TrialState if s != optuna.trial.TrialState.WAITING)
            if len(study.get_trials(deepcopy=False, states=states)) >= budget:  # enqueued trials still to run
                break
            trial = study.ask()
            if trial.number >= budget:  # another process took the last slot between our count and ask
                trial.set_user_attr("surplus", True)
                study.tell(trial, state=optuna.trial.TrialState.FAIL)
                break
            outcome = self._run_trial(study, trial)
            done.append(outcome)
            if self.on_trial is not None:
                self.on_trial(outcome)
            if outcome.state == "stopped":
                break
        return done

    def _run_trial(self, study: Any, trial: Any) -> TrialOutcome:
        import optuna

        from tl_widgets.core.training.session import TrainingSession

        params = {p.path: p.suggest(trial) for p in self.spec.space}
        cfg = self.spec.trial_config(params, run_name=f"{self.spec.study_name}-t{trial.number}")
        trial.set_user_attr("config", cfg.to_dict())
        outcome = TrialOutcome(trial.number, "failed", None, params, sweep_id=self.spec.study_name)
        session = TrainingSession(cfg, source=self.source, store=self.store)
        sub = session.bus.listen()
        self.session = session
        try:
            session.start()
        except Exception as exc:  # a config the engine refuses: this trial fails, the sweep goes on
            sub.close()
            self.session = None
            outcome.error = f"{type(exc).__name__}: {exc}"
            trial.set_user_attr("error", outcome.error)
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
            return outcome
        pruned = False
        best: float | None = None
        while True:
            event = sub.get(timeout=0.5)
            if event is None:
                if session.wait(0) is not None and not session.running:
                    break
                continue
            if self.on_event is not None:
                self.on_event(event)
            if event.kind == "epoch_end":
                outcome.epochs += 1
                value = event.metrics.get(self.spec.metric)
                if value is not None:
                    best = value if best is None else max(best, value)
                    trial.report(float(value), event.epoch)
                    if not pruned and trial.should_prune():
                        pruned = True
                        session.stop()
            elif event.kind == "message" and _CACHE_HIT in event.text:
                outcome.feature_cache_hit = True
            elif event.kind in ("run_finished", "run_stopped", "run_failed"):
                break
        result = session.wait()
        sub.close()
        self.session = None
        outcome.run_id = session.run_id
        outcome.run_dir = str(result.run_dir) if result is not None and result.run_dir else None
        outcome.value = best
        if session.run_id is not None and session.record:
            self.store.tag_sweep(session.run_id, self.spec.study_name, trial.number)
        for key in ("run_id", "run_dir"):
            trial.set_user_attr(key, getattr(outcome, key))
        trial.set_user_attr("feature_cache_hit", outcome.feature_cache_hit)
        status = result.status if result is not None else "failed"
        if status == "failed":
            outcome.error = result.error if result is not None else "the run ended without a result"
            trial.set_user_attr("error", outcome.error)
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
        elif pruned:
            outcome.state = "pruned"
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        elif status == "stopped" or best is None:
            outcome.state = "stopped" if status == "stopped" else "failed"
            outcome.error = None if status == "stopped" else f"the run logged no {self.spec.metric}"
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
        else:
            outcome.state = "complete"
            study.tell(trial, best)
        return outcome


def best_config(study: Any) -> Any:
    """The config of the study's best complete trial, as a :class:`TrainConfig`.

    Raises:
        ValueError: The study has no complete trial yet.
    """
    from tl_widgets.core.config.schema import TrainConfig

    try:
        best = study.best_trial
    except ValueError:
        raise ValueError(f"Expected a sweep with a complete trial. Received: study {study.study_name!r} "
                         "has none yet") from None
    return TrainConfig.from_dict(best.user_attrs["config"])


def trial_rows(study: Any) -> list[dict[str, Any]]:
    """One plain dict per trial (number, state, value, params, run id), for tables."""
    rows = []
    for t in study.get_trials(deepcopy=False):
        if t.user_attrs.get("surplus"):
            continue
        rows.append({"number": t.number, "state": t.state.name.lower(), "value": t.value, "params": dict(t.params),
                     "run_id": t.user_attrs.get("run_id"), "cache_hit": t.user_attrs.get("feature_cache_hit"),
                     "epochs": len(t.intermediate_values)})
    return rows
