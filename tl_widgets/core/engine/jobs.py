"""The engine's jobs: everything the Studio asks of Keras, as functions of plain data.

Each job takes a :class:`JobContext` (the :class:`~tl_widgets.core.engine.scope.Scope`
its paths are checked against, a stop flag, and ``emit`` for events) and
keyword arguments of plain data (configs, paths, arrays, bytes), and returns
the engine's own result objects (reports and dataclasses holding numpy
arrays; never a Keras model). The in-process engine calls them directly; an
engine worker calls them for the seats it serves. ``JOBS`` maps a job's name
to its lane: ``"quick"`` (facts, predictions: must not wait behind a
training), ``"heavy"`` (training-sized work that goes through the room's fair
queue).
"""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from tl_widgets.core.engine.scope import OpenScope, Scope

__all__ = ["JobContext", "Job", "JOBS", "run_job", "DeviceFacts", "LANES"]

LANES = ("quick", "heavy")


@dataclass
class JobContext:
    """What a running job may use besides its arguments.

    Attributes:
        scope: The checks its paths and configs go through.
        stop: Set when the caller asks the job to stop (a training stops after its batch).
        emit: Sends an event back to the caller (training events); safe from any thread.
    """

    scope: Scope = field(default_factory=OpenScope)
    stop: threading.Event = field(default_factory=threading.Event)
    emit: Callable[[Any], None] = lambda event: None


@dataclass(frozen=True)
class Job:
    """A job's function and lane."""

    func: Callable[..., Any]
    lane: str


JOBS: dict[str, Job] = {}
"""Every job by name (a registry: the only module-level state here)."""


def _job(name: str, lane: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def register(func: Callable[..., Any]) -> Callable[..., Any]:
        JOBS[name] = Job(func, lane)
        return func
    return register


def run_job(name: str, ctx: JobContext, kwargs: dict[str, Any]) -> Any:
    """Runs job ``name`` with ``kwargs`` in ``ctx``.

    Raises:
        KeyError: No such job.
        TypeError: ``kwargs`` do not fit the job.
        ScopeError, ConfigError: A path or value outside what the caller may use.
        Whatever the job raises (a failed evaluation, a bad image, ...).
    """
    if not isinstance(name, str) or name not in JOBS:
        raise KeyError(f"Expected a job in {sorted(JOBS)}. Received: {name!r}")
    if not isinstance(kwargs, dict) or not all(isinstance(k, str) for k in kwargs):
        raise TypeError(f"Expected keyword arguments as a dict. Received: {type(kwargs).__name__}")
    return JOBS[name].func(ctx, **kwargs)


# -- facts (quick) ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeviceFacts:
    """The engine's devices, the strategies its backend offers, and the backend's name."""

    backend: str
    devices: list[Any]
    strategies: list[Any]


@_job("warm_up", "quick")
def warm_up(ctx: JobContext, backbones: Sequence[tuple[str, int | None]] = ()) -> str:
    """Imports Keras and caches each ``(backbone, input_size)``'s facts; returns the backend's name."""
    import keras  # noqa: F401  (the backend comes with it)

    from tl_widgets.core.models.facts import backbone_facts as facts
    from tl_widgets.core.training.strategy_planning import backend

    for name, size in backbones:
        facts(ctx.scope.backbone(name), size)
    return backend()


@_job("backbone_facts", "quick")
def backbone_facts(ctx: JobContext, backbone: str, input_size: int | None = None) -> Any:
    """The backbone's :class:`~tl_widgets.core.models.facts.BackboneFacts` (layers, blocks, parameters, graph)."""
    from tl_widgets.core.models.facts import backbone_facts as facts

    return facts(ctx.scope.backbone(backbone), input_size)


@_job("devices", "quick")
def devices(ctx: JobContext) -> DeviceFacts:
    """The devices the engine trains on and the strategies its backend offers."""
    from tl_widgets.core.training.strategy_planning import available_strategies, backend, discover_devices

    found = discover_devices()
    return DeviceFacts(backend(), found, available_strategies(found))


@_job("augment_preview", "quick")
def augment_preview(ctx: JobContext, image: Any, augmentation: Any, n: int = 8, seed: int = 0) -> Any:
    """``n`` augmented versions of one image (uint8 ``[n, H, W, 3]``)."""
    import numpy as np

    from tl_widgets.core.data.augment import preview_augmentations

    arr = np.asarray(image)
    if arr.size > 4096 * 4096 * 4:
        raise ValueError(f"Expected a preview image of at most 4096x4096. Received: shape {arr.shape}")
    return preview_augmentations(arr, augmentation, n=min(int(n), 32), seed=int(seed))


# -- a finished run (quick) ------------------------------------------------------------------------------------


@_job("evaluate", "quick")
def evaluate(ctx: JobContext, run_dir: str) -> Any:
    """The run's :class:`~tl_widgets.core.evaluation.evaluate.EvalReport` on its validation split."""
    from tl_widgets.core.evaluation.evaluate import evaluate_run

    return evaluate_run(ctx.scope.run_dir(run_dir))


@_job("gradcam", "quick")
def gradcam(ctx: JobContext, run_dir: str, images: Any) -> Any:
    """Grad-CAM of the run's model on ``images`` (at most 64, each grey or RGB in 0..255, any size: resized to
    the model's input)."""
    import numpy as np

    from tl_widgets.core.data.preview import square_thumbnails
    from tl_widgets.core.evaluation.gradcam import gradcam as cam
    from tl_widgets.core.evaluation.try_images import predictor_for_run

    if len(images) > 64 or any(np.asarray(im).ndim not in (2, 3) or np.asarray(im).size > 4096 * 4096 * 4
                               for im in images):
        raise ValueError(f"Expected at most 64 images of at most 4096x4096. Received: {len(images)} images")
    predictor = predictor_for_run(ctx.scope.run_dir(run_dir))
    batch = square_thumbnails(images, predictor.input_size).astype("float32")
    return cam(predictor.model, batch)


@_job("try_images", "quick")
def try_images(ctx: JobContext, run_dir: str, items: Sequence[tuple[str, bytes]], k: int = 5,
               gradcam: bool = True, max_bytes: int | None = None, max_pixels: int | None = None) -> Any:
    """Decodes and predicts each ``(name, bytes)`` with the run's saved model (a :class:`TryOutcome`)."""
    from tl_widgets.core.evaluation.try_images import DEFAULT_MAX_PIXELS, MAX_TRY_IMAGES, predictor_for_run

    items = list(items)[:MAX_TRY_IMAGES]
    predictor = predictor_for_run(ctx.scope.run_dir(run_dir))
    return predictor.try_images(items, k=int(k), gradcam=bool(gradcam), max_bytes=max_bytes,
                                max_pixels=int(max_pixels or DEFAULT_MAX_PIXELS))


@_job("export_preview", "quick")
def export_preview(ctx: JobContext, run_dir: str, fmt: str, files: Sequence[tuple[str, bytes]] = ()) -> Any:
    """Keras beside the run's ``fmt`` export on uploaded ``files`` (or the validation split when none)."""
    from tl_widgets.core.evaluation.evaluate import load_run
    from tl_widgets.core.export.preview import images_from_bytes, preview_export

    folder = ctx.scope.run_dir(run_dir)
    images = names = None
    if files:
        images, names = images_from_bytes(list(files), load_run(folder).input_size)
    return preview_export(folder, fmt, images=images, names=names)


# -- heavy: through the room's fair queue ----------------------------------------------------------------------


@_job("check_dataset", "heavy")
def check_dataset(ctx: JobContext, path: str, **options: Any) -> Any:
    """The dataset health check (:class:`~tl_widgets.core.data.health.HealthReport`) of a folder or zip."""
    from tl_widgets.core.data.health import check_dataset as check

    allowed = {"val_path", "validation_split", "seed", "input_size", "embeddings", "backbone", "similarity",
               "curation", "run_dir"}
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise TypeError(f"Expected health-check options from {sorted(allowed)}. Received: {unknown}")
    for name in ("val_path", "curation"):
        if options.get(name):
            options[name] = ctx.scope.read_path(options[name], name)
    if options.get("run_dir"):
        options["run_dir"] = ctx.scope.run_dir(options["run_dir"])
    if "backbone" in options:
        options["backbone"] = ctx.scope.backbone(options["backbone"])
    return check(ctx.scope.read_path(path, "dataset"), **options)


@_job("find_lr", "heavy")
def find_lr(ctx: JobContext, config: Any, steps: int = 100, min_lr: float = 1e-7, max_lr: float = 1.0) -> Any:
    """The learning-rate sweep of ``config``'s first phase."""
    from tl_widgets.core.training.lr_finder import find_lr as sweep

    return sweep(ctx.scope.config(config), steps=int(steps), min_lr=float(min_lr), max_lr=float(max_lr))


@_job("export", "heavy")
def export(ctx: JobContext, run_dir: str, fmt: str) -> Any:
    """Exports the run's model to ``fmt`` and verifies it against Keras (an ExportReport)."""
    from tl_widgets.core.export.formats import export_run

    return export_run(ctx.scope.run_dir(run_dir), fmt)


@_job("model_card", "heavy")
def model_card(ctx: JobContext, run_dir: str) -> Any:
    """Writes the run's MODEL_CARD.md (evaluating it first when needed)."""
    from tl_widgets.core.export.model_card import write_model_card

    return write_model_card(ctx.scope.run_dir(run_dir))


@_job("train", "heavy")
def train(ctx: JobContext, run_id: str, config: Any = None, resume_dir: str | None = None,
          source: str = "studio") -> Any:
    """Trains ``config`` (or resumes the run in ``resume_dir``) as run ``run_id``, emitting every event.

    Returns:
        The :class:`~tl_widgets.core.training.control.RunResult` without the model (it stays in the run folder).
    """
    from tl_widgets.core.events import EventBus
    from tl_widgets.core.training.session import TrainingSession

    bus = EventBus()
    bus.subscribe(ctx.emit)
    if resume_dir is not None:
        session = TrainingSession.resume(ctx.scope.run_dir(resume_dir), bus=bus, record=False, source=source)
        ctx.scope.config(session.config)
    else:
        session = TrainingSession(ctx.scope.config(config), bus=bus, record=False, source=source, run_id=run_id)
    session.start()
    while session.wait(0.2) is None:
        if ctx.stop.is_set():
            session.stop()
    assert session.result is not None
    return dataclasses.replace(session.result, model=None)
