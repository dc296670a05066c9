"""The work a :class:`~tl_widgets.core.training.session.TrainingSession` does in its worker thread.

Data, model, phases (freeze, compile, fit), checkpoints, rollback and the run
folder. Nothing here prints or displays: progress leaves as events. The runner
sees the session only through its :class:`~tl_widgets.core.training.control.RunControl`
and reads the history the bus recorded.
"""

from __future__ import annotations

import math
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from tl_widgets.core.config.schema import FreezeConfig, TrainConfig
from tl_widgets.core.events import EpochEnd, PhaseStarted, RunStarted
from tl_widgets.core.progress import BEST_METRICS, best_metric
from tl_widgets.core.runs.folder import RunFolder
from tl_widgets.core.training.callbacks import EventCallback, FitCallbacks, NonFiniteLossError, StopRequested
from tl_widgets.core.training.checkpoints import Checkpointer
from tl_widgets.core.training.control import RunControl, RunResult
from tl_widgets.core.training.feature_cache import (
    cache_applies,
    feature_key,
    head_fit_args,
    head_model,
    load_or_compute,
)
from tl_widgets.core.training.optimizers import block_multipliers, make_optimizer

__all__ = ["Runner"]


class Runner:
    """One run's worker-side state. Created by the session; ``run()`` in the worker thread.

    Args:
        control: The run's controls (bus, stop flag, resume point, code data, history).
        cfg: The run's config (a copy the session validated).
    """

    def __init__(self, control: RunControl, cfg: TrainConfig) -> None:
        self.control = control
        self.cfg = cfg
        self.run_id = control.run_id
        self.bus = control.bus
        self.history = control.history
        self.model: Any = None
        self.run_dir: Path | None = None
        self.folder: RunFolder | None = None
        self.timings: dict[str, float] = {}
        self.best: dict[str, Any] = {"value": -math.inf, "epoch": None, "phase": None}
        self.report: Any = None
        self.class_names: list[str] = []
        self.messages: list[str] = []
        self.rollback: dict[str, Any] | None = None
        self.calibration: dict[str, Any] | None = None
        self._feature_set: Any = None
        self._scratch: Any = None
        self._plain_optimizer_on_save = False
        self._phase_last_epoch = -1
        self.checkpoints: Any = None
        self._tensorboard: Any = None

    # -- the run -------------------------------------------------------------
    def run(self) -> RunResult:
        import keras

        from tl_widgets.core.models.backbones import resolve_backbone
        from tl_widgets.core.data.loading import load_datasets
        from tl_widgets.core.models.assembly import build_model, input_size_for
        from tl_widgets.core.training.strategy import StrategyRuntime

        cfg, t0 = self.cfg, time.time()
        # Keras' own messages (downloads, warnings) go to logging, not stdout: the worker never prints.
        # Keras global state is thread-local, so this affects this worker thread only.
        keras.config.disable_interactive_logging()
        runtime = StrategyRuntime.create(cfg.strategy)
        resume = self.control.resume
        if runtime.is_chief and resume is not None:
            self.folder = RunFolder(resume.run_dir)
            self.run_dir = self.folder.path
            self._restore_best(self.history.epoch)
        elif runtime.is_chief:
            self.folder = RunFolder.create(Path(cfg.output_dir) / self.run_id)
            self.run_dir = self.folder.path
            self.folder.write_config(cfg)
        elif runtime.num_processes > 1:
            # Saving weights sharded over processes runs collectives: every process saves, in step;
            # the others write to a private scratch folder that is removed with the runner.
            self._scratch = tempfile.TemporaryDirectory(prefix="tl-widgets-worker-")
            self.folder = RunFolder.create(Path(self._scratch.name) / self.run_id)
        self.checkpoints = Checkpointer(self.folder)
        # Before the seed: a health check that decodes new images builds a model, drawing no number from the run's.
        health_note = self._record_health() if runtime.is_chief and resume is None else None
        if cfg.seed is not None:
            keras.utils.set_random_seed(cfg.seed)
        with runtime.scope():
            spec = resolve_backbone(cfg.model.backbone)
            size = input_size_for(spec, cfg.model)
            shard = (runtime.process_id, runtime.num_processes) if runtime.num_processes > 1 else None
            work_dir = self.run_dir if self.run_dir is not None else None
            data_cfg = replace(cfg.data, batch_size=runtime.local_batch_size(cfg.data.batch_size))
            data = load_datasets(data_cfg, size, seed=cfg.seed, min_size=spec.min_size,
                                 code_data=self.control.code_data, work_dir=work_dir, shard=shard)
            if cfg.data.augmentation.enabled:
                from tl_widgets.core.data.augment import augment_dataset

                data.train = augment_dataset(data.train, cfg.data.augmentation, cfg.seed)
            self.report, self.class_names = data.report, list(data.class_names)
            for warning in getattr(data.report, "warnings", []):
                self._message("warning", warning)
            data.watch_skipped(lambda text: self._message("warning", text))  # bad files met in the first epoch
            self.timings["data_s"] = time.time() - t0
            t1 = time.time()
            assembled = build_model(cfg.model, len(self.class_names))
            self.model = assembled.model
            if resume is not None:
                self.model.load_weights(str(resume.checkpoint))
                self._message("info", f"Resumed from the checkpoint of epoch {resume.epochs_done} "
                                      f"of {cfg.total_epochs}")
            self.timings["build_s"] = time.time() - t1
            self.bus.publish(RunStarted(
                self.run_id, config=cfg.to_dict(), run_dir=str(self.run_dir) if self.run_dir else None,
                total_epochs=cfg.total_epochs, steps_per_epoch=data.steps_per_epoch,
                class_names=tuple(self.class_names), num_replicas=runtime.num_replicas,
                resumed_from_epoch=resume.epochs_done if resume is not None else 0,
            ))
            for level, text in data.notices:  # e.g. the data cache chosen and why
                self._message(level, text)
            if health_note:
                self._message(*health_note)
            status = self._phases(assembled, data, runtime)
        return self._finish(status, t0)

    def _phases(self, assembled: Any, data: Any, runtime: Any) -> str:
        import keras

        from tl_widgets.core.models.freezing import FreezePlan

        cfg = self.cfg
        blocks = assembled.spec.blocks(assembled.backbone)
        freeze: FreezeConfig = cfg.freeze
        epoch = 0
        resume = self.control.resume
        skip = resume.epochs_done if resume is not None else 0
        state: dict[str, Any] = {"global_step": skip * data.steps_per_epoch}
        lr_scale = runtime.lr_scale(cfg.strategy.lr_scaling)
        for index, phase in enumerate(cfg.phases):
            if phase.epochs == 0:
                continue
            freeze = phase.freeze or freeze
            if epoch + phase.epochs <= skip:  # done before the interruption
                epoch += phase.epochs
                continue
            first = max(epoch, skip)
            report = FreezePlan(freeze).apply(assembled.backbone, blocks)
            multipliers = block_multipliers(phase, report, blocks, assembled.backbone)
            self._plain_optimizer_on_save = self._plain_optimizer_on_save or bool(multipliers)
            self.model.compile(
                optimizer=make_optimizer(phase, data.steps_per_epoch, lr_scale, multipliers),
                loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                jit_compile=runtime.jit_compile, steps_per_execution=runtime.steps_per_execution,
            )
            head_params = sum(int(math.prod(w.shape)) for w in self.model.trainable_weights) - report.trainable_params
            self.bus.publish(PhaseStarted(
                self.run_id, phase=index, name=phase.name, epochs=phase.epochs, learning_rate=phase.learning_rate,
                trainable_params=report.trainable_params + head_params, frozen_params=report.frozen_params,
                first_epoch=first,
            ))
            use_cache, why_not = cache_applies(cfg, freeze)
            fit_model, fit_args = self.model, {"x": data.train, "validation_data": data.val, "shuffle": False}
            if use_cache:
                feats = self._features(assembled, data)
                fit_model = head_model(self.model, assembled.head_input_dim)
                fit_model.compile(
                    optimizer=make_optimizer(phase, data.steps_per_epoch, lr_scale),
                    loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                    steps_per_execution=runtime.steps_per_execution,
                )
                fit_args = head_fit_args(feats, data.batch_size, cfg.seed)
            elif cfg.feature_cache and index == 0:
                self._message("info", f"Feature cache not used: {why_not}")
            self._phase_last_epoch = epoch + phase.epochs - 1
            callback = EventCallback(self.control, index, data, state, runtime.steps_per_execution,
                                     on_epoch_end=self.on_epoch_end)
            callbacks: list[Any] = [callback]
            if cfg.early_stopping_patience:
                callbacks.append(keras.callbacks.EarlyStopping(
                    monitor=BEST_METRICS[0] if data.val is not None else BEST_METRICS[1], mode="max",
                    patience=cfg.early_stopping_patience, restore_best_weights=False))
            if cfg.reduce_lr_patience and phase.schedule == "constant" and not phase.warmup_epochs:
                callbacks.append(keras.callbacks.ReduceLROnPlateau(
                    monitor="val_loss" if data.val is not None else "loss", patience=cfg.reduce_lr_patience))
            if cfg.tensorboard and self.run_dir is not None:
                if self._tensorboard is None:
                    from tl_widgets.core.training.tensorboard import tensorboard_callback

                    self._tensorboard = tensorboard_callback(self.folder.tensorboard_dir)
                callbacks.append(self._tensorboard)
            t = time.time()
            try:
                fit_model.fit(
                    **fit_args, epochs=epoch + phase.epochs, initial_epoch=first, class_weight=data.class_weight,
                    callbacks=FitCallbacks(callbacks, fit_model, epoch + phase.epochs, data.steps_per_epoch), verbose=0,
                )
            except StopRequested:
                self.timings[f"phase{index}_s"] = time.time() - t
                return "stopped"
            except NonFiniteLossError as exc:
                self._restore_last_good()
                raise RuntimeError(str(exc)) from None
            self.timings[f"phase{index}_s"] = time.time() - t
            epoch += phase.epochs
            if self.control.stop_requested:
                return "stopped"
        self._maybe_rollback()
        self._calibrate(data, runtime)
        return "finished"

    def _features(self, assembled: Any, data: Any) -> Any:
        """Pooled backbone features, computed once per run (and cached on disk)."""
        if self._feature_set is None:
            key = feature_key(self.cfg, assembled.spec, assembled.input_size, self.control.code_data)
            self._feature_set = load_or_compute(self.model, data, key)
            fs = self._feature_set
            self.timings["features_s"] = fs.seconds
            how = "loaded from the cache" if fs.from_cache else "computed once and cached"
            self._message("info", f"Backbone features {how} ({len(fs.y_train)} images, {fs.seconds:.1f}s): "
                                  "the head trains on them")
        return self._feature_set

    # -- per-epoch hooks (called by EventCallback in the worker) ------------------
    def on_epoch_end(self, event: EpochEnd) -> None:
        """Keeps the checkpoints and the best metric, and saves the epoch history (already recorded)."""
        monitor = best_metric(event.metrics) or BEST_METRICS[-1]
        value = event.metrics.get(monitor, -math.inf)
        improved = value > self.best["value"]
        if improved:
            self.best = {"value": value, "epoch": event.epoch, "phase": event.phase, "metric": monitor}
        self.checkpoints.epoch_end(self.model, event.epoch, improved, event.epoch == self._phase_last_epoch)
        if self.folder is not None:
            self.folder.write_epoch_history(self.history.epoch)

    def _restore_best(self, hist: dict[str, list[Any]]) -> None:
        monitor = best_metric(name for name, column in hist.items() if column) or BEST_METRICS[-1]
        values = hist.get(monitor, [])
        if values:
            i = max(range(len(values)), key=values.__getitem__)
            self.best = {"value": values[i], "epoch": hist["epoch"][i], "phase": hist["phase"][i], "metric": monitor}

    def _restore_last_good(self) -> None:
        if self.checkpoints.restore_last(self.model):
            self._message("warning", "Loss became non-finite: the model was restored to the last good checkpoint")

    def _maybe_rollback(self) -> None:
        hist = self.history.epoch
        monitor = self.best.get("metric")
        if not self.cfg.rollback or monitor is None or len(self.cfg.phases) < 2 or not hist.get(monitor):
            return
        final = hist[monitor][-1]
        last_phase = hist["phase"][-1]
        if self.best["phase"] == last_phase or final >= self.best["value"]:
            return
        if not self.checkpoints.restore_best(self.model):
            self._message("warning", f"Fine-tuning ended worse ({monitor} {final:.4f} < {self.best['value']:.4f}) "
                                     "but no best checkpoint was kept to roll back to")
            return
        self.rollback = {"metric": monitor, "final": final, "best": self.best["value"],
                         "best_epoch": self.best["epoch"], "best_phase": self.best["phase"]}
        self._message("warning", f"Phase {last_phase} ended worse than the best epoch ({monitor} {final:.4f} < "
                                 f"{self.best['value']:.4f} at epoch {self.best['epoch']}): rolled back to the "
                                 "best weights")

    def _calibrate(self, data: Any, runtime: Any) -> None:
        """Fits a temperature on the validation split and folds it into the model (``cfg.calibrate``)."""
        if not self.cfg.calibrate:
            return
        if data.val is None or runtime.num_processes > 1:
            why = "no validation split" if data.val is None else "a multi-process run"
            self._message("info", f"Calibration skipped: {why}")
            return
        from tl_widgets.core.evaluation.calibration import calibrate_model

        t = time.time()
        result = calibrate_model(self.model, data.val)
        self.timings["calibration_s"] = time.time() - t
        self.calibration = result.to_dict()
        if result.applied:
            self._message("info", f"Calibrated: temperature {result.temperature:.3f}, expected calibration error "
                                  f"{result.ece_before:.4f} -> {result.ece_after:.4f} on {result.count} validation "
                                  "images")
        else:
            self._message("info", f"Not calibrated: the best temperature ({result.temperature:.3f}) would not lower "
                                  f"the expected calibration error ({result.ece_before:.4f} -> {result.ece_after:.4f})")

    def _record_health(self) -> tuple[str, str] | None:
        """``health.json``: the health of the data this run trains on, when they were checked before (cheap then);
        the ``(level, text)`` to log once the run has started."""
        from tl_widgets.core.models.assembly import input_size_for
        from tl_widgets.core.models.backbones import resolve_backbone
        from tl_widgets.core.runs.health import record_health

        try:
            note = record_health(self.folder, self.cfg, input_size_for(resolve_backbone(self.cfg.model.backbone),
                                                                       self.cfg.model))
        except (OSError, ValueError) as exc:  # a health record is a report: it never stops training
            return "warning", f"Data health not recorded: {exc}"
        return ("info", note) if note else None

    def _message(self, level: str, text: str) -> None:
        self.messages.append(text)
        self.control.message(level, text)

    # -- outputs ---------------------------------------------------------------
    def _finish(self, status: str, t0: float) -> RunResult:
        hist = self.history.history
        metrics = self.history.final_metrics()
        self.timings["total_s"] = time.time() - t0
        summary = self.summary(status, metrics)
        if self._plain_optimizer_on_save and self.model is not None:
            # The per-variable-rate optimizer class is not serialisable: save with a plain one.
            self.model.compile(optimizer=self.cfg.phases[-1].optimizer, loss="sparse_categorical_crossentropy",
                               metrics=["accuracy"])
        if self.folder is not None:
            self.folder.write_outputs(self.model, self.class_names, hist, summary)
        return RunResult(
            run_id=self.run_id, status=status, metrics=metrics, history=hist, run_dir=self.run_dir, model=self.model,
            class_names=self.class_names, duration=self.timings["total_s"], summary=summary,
        )

    def summary(self, status: str, metrics: dict[str, float], error: str | None = None) -> dict[str, Any]:
        """The dict written to ``summary.json``."""
        skipped = []
        if self.report is not None:
            skipped = [{"path": s.path, "reason": s.reason} for s in getattr(self.report, "skipped", [])]
        return {
            "run_id": self.run_id, "status": status, "error": error, "metrics": metrics,
            "best": {k: v for k, v in self.best.items() if k != "value" or v != -math.inf},
            "rollback": self.rollback, "calibration": self.calibration, "class_names": self.class_names,
            "class_counts": dict(getattr(self.report, "counts", None) or {}), "skipped_files": skipped,
            "messages": self.messages, "timings": self.timings,
            "backbone": self.cfg.model.backbone, "epochs_done": self.history.epochs_done,
        }

    def write_failure(self, result: RunResult, tb: str) -> None:
        """Writes ``summary.json`` for a failed run (history kept)."""
        if self.folder is None:
            return
        summary = self.summary("failed", result.metrics, result.error)
        summary["traceback"] = tb
        result.summary = summary
        self.folder.write_outputs(None, self.class_names, self.history.history, summary)
