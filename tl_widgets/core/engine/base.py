"""The engine seam: everything the Studio asks of Keras, through one small typed surface.

:class:`Engine` names each request (train, evaluate, predict + Grad-CAM, the
LR finder, the health check, export, the model graph, backbone facts) as a
method of plain data in and the engine's own result objects out. Two engines
keep this contract: :class:`InProcessEngine` runs the jobs in this process (a
notebook, ``tl-widgets studio`` for one person, the CLI, the Python API), and
:class:`~tl_widgets.core.engine.client.WorkerEngine` sends them to the room's
warm workers (``tl-widgets serve``: a student's kernel never imports
TensorFlow). Training events are re-published on the caller's bus either way,
so panels and charts do not change.
"""

from __future__ import annotations

import threading
from typing import Any, Sequence

from tl_widgets.core.engine.jobs import JobContext, run_job

__all__ = ["Engine", "InProcessEngine", "EngineError", "EngineBusyError"]


class EngineError(RuntimeError):
    """The engine could not run a request (no worker answered, a worker died, the request was refused)."""


class EngineBusyError(EngineError):
    """No worker of the request's lane was free in time (a whole room arriving at once): asking again may work."""


class Engine:
    """What the panels may ask of Keras. Subclasses implement :meth:`call` and :meth:`session`."""

    kind = "engine"
    remote = False
    """True when the work runs in other processes (nothing Keras is imported here)."""

    def __init__(self) -> None:
        self._facts: dict[tuple[str, int | None], Any] = {}
        self._facts_lock = threading.Lock()

    def call(self, job: str, **kwargs: Any) -> Any:
        """Runs job ``job`` (see :data:`~tl_widgets.core.engine.jobs.JOBS`) and returns its answer."""
        raise NotImplementedError

    def session(self, config: Any, *, bus: Any = None, source: str = "studio", store: Any = None,
                resume_dir: str | None = None) -> Any:
        """A training session of ``config`` (or resuming ``resume_dir``): ``start()``, ``stop()``, ``wait()``,
        ``status``, ``result`` and ``history_recorder``, its events published on ``bus``."""
        raise NotImplementedError

    # -- facts ------------------------------------------------------------------------------------------------
    def warm_up(self, backbones: Sequence[tuple[str, int | None]] = ()) -> str:
        """Loads Keras and the given backbones' facts; returns the backend's name."""
        return self.call("warm_up", backbones=list(backbones))

    def backbone_facts(self, backbone: str, input_size: int | None = None) -> Any:
        """The backbone's :class:`~tl_widgets.core.models.facts.BackboneFacts` at ``input_size`` (asked once,
        then kept here): block names, every freeze report and the layer graph come from them without Keras."""
        key = (backbone, input_size)
        with self._facts_lock:
            if key in self._facts:
                return self._facts[key]
        facts = self.call("backbone_facts", backbone=backbone, input_size=input_size)
        with self._facts_lock:
            self._facts[key] = facts
        return facts

    def block_names(self, backbone: str, input_size: int | None = None) -> list[str]:
        """The backbone's named blocks, in order."""
        return self.backbone_facts(backbone, input_size).block_names

    def describe_freeze(self, backbone: str, input_size: int | None, plan: Any) -> Any:
        """The per-block report (a FreezeReport) of a freeze plan (a FreezeConfig); FreezeError for a bad plan."""
        return self.backbone_facts(backbone, input_size).freeze_report(plan)

    def describe_graph(self, backbone: str, input_size: int | None, plan: Any = None) -> Any:
        """``(ModelGraph, blocks)``: the backbone's layer graph under a freeze plan."""
        facts = self.backbone_facts(backbone, input_size)
        return facts.graph(plan), list(facts.blocks)

    def devices(self) -> Any:
        """A :class:`~tl_widgets.core.engine.jobs.DeviceFacts`: backend, devices, strategies."""
        return self.call("devices")

    def augment_preview(self, image: Any, augmentation: Any, n: int = 8, seed: int = 0) -> Any:
        """``n`` augmented versions of one image (uint8 ``[n, H, W, 3]``)."""
        return self.call("augment_preview", image=image, augmentation=augmentation, n=n, seed=seed)

    # -- a finished run ---------------------------------------------------------------------------------------
    def evaluate(self, run_dir: str) -> Any:
        """The run's EvalReport (confusion matrix, per-class metrics, top losses, calibration)."""
        return self.call("evaluate", run_dir=str(run_dir))

    def gradcam(self, run_dir: str, images: Any) -> Any:
        """Grad-CAM of the run's model on ``images`` (a GradCamResult)."""
        return self.call("gradcam", run_dir=str(run_dir), images=images)

    def try_images(self, run_dir: str, items: Sequence[tuple[str, bytes]], **options: Any) -> Any:
        """Tries each ``(name, bytes)`` image on the run's model (a TryOutcome; bad images get their own error)."""
        return self.call("try_images", run_dir=str(run_dir), items=_as_bytes(items), **options)

    def export_preview(self, run_dir: str, fmt: str, files: Sequence[tuple[str, bytes]] = ()) -> Any:
        """Keras beside an export of the run on uploaded files or the validation split (a Preview)."""
        return self.call("export_preview", run_dir=str(run_dir), fmt=fmt, files=_as_bytes(files))

    # -- heavy ------------------------------------------------------------------------------------------------
    def check_dataset(self, path: str, **options: Any) -> Any:
        """The dataset health check (a HealthReport)."""
        return self.call("check_dataset", path=str(path), **options)

    def find_lr(self, config: Any, **options: Any) -> Any:
        """The learning-rate sweep (an LRFinderResult)."""
        return self.call("find_lr", config=config, **options)

    def export(self, run_dir: str, fmt: str) -> Any:
        """Exports and verifies the run's model (an ExportReport)."""
        return self.call("export", run_dir=str(run_dir), fmt=fmt)

    def model_card(self, run_dir: str) -> Any:
        """Writes the run's MODEL_CARD.md (a ModelCard)."""
        return self.call("model_card", run_dir=str(run_dir))


def _as_bytes(items: Sequence[tuple[str, Any]]) -> list[tuple[str, bytes]]:
    """``(name, data)`` pairs with ``data`` as bytes (a browser upload's content is a memoryview: not plain data)."""
    return [(str(name), bytes(data)) for name, data in items]


class InProcessEngine(Engine):
    """Runs every job in this process, in the calling thread (panels call from their background worker).

    A notebook user's own engine: paths are not restricted, a training session
    is a :class:`~tl_widgets.core.training.session.TrainingSession` (its
    ``result.model`` stays in this kernel).
    """

    kind = "in-process"

    def call(self, job: str, **kwargs: Any) -> Any:
        return run_job(job, JobContext(), kwargs)

    def session(self, config: Any, *, bus: Any = None, source: str = "studio", store: Any = None,
                resume_dir: str | None = None) -> Any:
        from tl_widgets.core.training.session import TrainingSession

        if resume_dir is not None:
            return TrainingSession.resume(resume_dir, bus=bus, source=source, store=store)
        return TrainingSession(config, bus=bus, source=source, store=store)
