"""Evaluation of a trained classifier: confusion matrix, per-class metrics, top losses, predictions.

Everything here returns plain data (lists, dicts, numpy arrays) that views
draw and the CLI writes. :func:`evaluate_run` works from a run folder alone:
it loads ``model.keras`` and ``config.json`` and rebuilds the same seeded
validation split the run was trained on.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from tl_widgets.core.evaluation.calibration import calibration_summary
from tl_widgets.core.evaluation.metrics import confusion_matrix, per_class_metrics, top_k_accuracy
from tl_widgets.core.runs.folder import CONFIG_FILE, EVAL_REPORT_FILE, MODEL_FILE, RunFolder

__all__ = [
    "LoadedRun",
    "EvalReport",
    "load_run",
    "run_datasets",
    "collect_predictions",
    "confusion_matrix",
    "per_class_metrics",
    "top_k_accuracy",
    "evaluate_model",
    "evaluate_run",
    "predict",
    "record_artifact",
    "EVAL_REPORT_NAME",
]

EVAL_REPORT_NAME = EVAL_REPORT_FILE
_EPS = 1e-7


@dataclass
class LoadedRun:
    """A run folder's model, config and labels, loaded.

    Attributes:
        run_dir: The run folder.
        run_id: The folder's name (the run id).
        model: The Keras model (raw 0-255 RGB in, probabilities out).
        config: The run's :class:`~tl_widgets.core.config.schema.TrainConfig`.
        class_names: Class names in label order.
        input_size: Square input side of the model.
    """

    run_dir: Path
    run_id: str
    model: Any
    config: Any
    class_names: list[str]
    input_size: int


def load_run(run_dir: str | os.PathLike[str]) -> LoadedRun:
    """Loads the model, config and labels of a run folder.

    Raises:
        FileNotFoundError: The folder, its ``model.keras`` or ``config.json`` is missing.
        ValueError: ``labels.txt`` disagrees with the model's outputs.
    """
    import keras

    from tl_widgets.core.config.schema import TrainConfig

    folder = RunFolder(Path(run_dir))
    if not folder.path.is_dir():
        raise FileNotFoundError(f"Expected a run folder (with {MODEL_FILE} and {CONFIG_FILE}). "
                                f"Received: {str(folder.path)!r}")
    for path in (folder.model_file, folder.config_file):
        if not path.is_file():
            raise FileNotFoundError(
                f"Expected {path.name} in the run folder {str(folder.path)!r}. Received: no such file "
                "(was the run stopped before it saved a model?)"
            )
    config = TrainConfig.load(folder.config_file)
    model = keras.models.load_model(folder.model_file, compile=False)
    n_out = int(model.output_shape[-1])
    names = folder.read_labels()
    if names is None:
        names = [str(i) for i in range(n_out)]
    if len(names) != n_out:
        raise ValueError(
            f"Expected {n_out} class names in {str(folder.labels_file)!r} (the model's outputs). Received: {len(names)}"
        )
    size = model.input_shape[1]
    if not isinstance(size, int):
        raise ValueError(f"Expected a model with a fixed square input size. Received: input_shape={model.input_shape}")
    return LoadedRun(folder.path, folder.path.name, model, config, names, size)


def run_datasets(run: LoadedRun) -> Any:
    """Rebuilds the run's datasets (same seeded split as training).

    Raises:
        ValueError: The run was trained on data passed from code (not reproducible
            from its config), or its config has no validation split.
        DataError: The data itself is missing or broken.
    """
    from tl_widgets.core.data.loading import load_datasets

    if run.config.data.source == "code":
        raise ValueError(
            f"Expected a run whose data can be reloaded from its config. Received: data.source='code' in "
            f"{str(run.run_dir)!r}; pass the validation data explicitly (evaluate_model / export_model)"
        )
    ds = load_datasets(run.config.data, run.input_size, seed=run.config.seed)
    if ds.val is None or ds.val_count == 0:
        raise ValueError(
            f"Expected a validation split to evaluate on. Received: 0 validation images "
            f"(data.validation_split={run.config.data.validation_split})"
        )
    if list(ds.class_names) != list(run.class_names):
        raise ValueError(
            f"Expected the data's classes to match the run's labels {run.class_names}. Received: {ds.class_names}"
        )
    return ds


@dataclass
class Predictions:
    """Labels and probabilities over a dataset, plus the most confidently wrong images."""

    labels: np.ndarray
    probs: np.ndarray
    loss_images: np.ndarray  # uint8 [n, S, S, 3], highest loss first
    loss_indices: np.ndarray


def collect_predictions(model: Any, dataset: Any, *, keep_images: int = 16) -> Predictions:
    """Runs ``model`` over ``(images, labels)`` batches, keeping the ``keep_images`` highest-loss images.

    Args:
        model: A Keras classifier returning probabilities.
        dataset: An iterable of ``(images, labels)`` batches (tf.data or a list of numpy pairs).
        keep_images: How many of the highest-loss images to keep (memory stays bounded).
    """
    labels, probs = [], []
    best_loss = np.empty(0, np.float32)
    best_idx = np.empty(0, np.int64)
    best_img: np.ndarray | None = None
    offset = 0
    for x, y in dataset:
        x = np.asarray(x, np.float32)
        y = np.asarray(y).astype(np.int64).reshape(-1)
        p = np.asarray(model.predict_on_batch(x), np.float32)
        if p.ndim != 2 or p.shape[0] != len(y):
            raise ValueError(f"Expected model outputs of shape [batch, classes]. Received: {p.shape}")
        labels.append(y)
        probs.append(p)
        if keep_images > 0:
            loss = -np.log(np.clip(p[np.arange(len(y)), y], _EPS, 1.0))
            imgs = np.clip(np.rint(x), 0, 255).astype(np.uint8)
            cand_loss = np.concatenate([best_loss, loss])
            cand_idx = np.concatenate([best_idx, offset + np.arange(len(y))])
            cand_img = imgs if best_img is None else np.concatenate([best_img, imgs])
            order = np.argsort(-cand_loss, kind="stable")[:keep_images]
            best_loss, best_idx, best_img = cand_loss[order], cand_idx[order], cand_img[order]
        offset += len(y)
    if not labels:
        raise ValueError("Expected at least one batch of (images, labels). Received: an empty dataset")
    if best_img is None:
        best_img = np.empty((0, 0, 0, 3), np.uint8)
    return Predictions(np.concatenate(labels), np.concatenate(probs), best_img, best_idx)


@dataclass
class EvalReport:
    """An evaluation on a validation set (plain data; ``to_dict`` is JSON-ready).

    Attributes:
        class_names: Class names in label order.
        count: Images evaluated.
        accuracy: Top-1 accuracy.
        loss: Mean categorical cross-entropy.
        top_k: ``{"top_3": 0.98, ...}``.
        confusion: ``confusion[i][j]``: true ``i`` predicted ``j``.
        per_class: One dict per class: ``class``, ``precision``, ``recall``, ``f1``, ``support``.
        macro_f1: Unweighted mean F1 over classes.
        top_losses: The most confidently wrong images, highest loss first: ``index``,
            ``true``, ``predicted``, ``probability`` (of the prediction), ``true_probability``, ``loss``.
        top_loss_images: uint8 images matching ``top_losses`` (not in ``to_dict``).
        calibration: ``ece`` and reliability ``bins`` of these probabilities; from a run folder also
            the training-time fit (``temperature``, ``ece_before``, ``bins_before``, ...).
        run_dir: The run folder when known.
    """

    class_names: list[str]
    count: int
    accuracy: float
    loss: float
    top_k: dict[str, float]
    confusion: list[list[int]]
    per_class: list[dict[str, Any]]
    macro_f1: float
    top_losses: list[dict[str, Any]]
    top_loss_images: np.ndarray = field(default_factory=lambda: np.empty((0, 0, 0, 3), np.uint8), repr=False)
    run_dir: str | None = None
    calibration: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (without the images)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "top_loss_images"}


def evaluate_model(
    model: Any,
    dataset: Any,
    class_names: Sequence[str],
    *,
    top_k: Sequence[int] = (3,),
    n_top_losses: int = 16,
) -> EvalReport:
    """Evaluates a classifier on ``(images, labels)`` batches.

    Args:
        model: Raw images in, probabilities out.
        dataset: Iterable of ``(images, labels)`` batches.
        class_names: Class names in label order.
        top_k: The ``k`` values for top-k accuracy.
        n_top_losses: How many confidently wrong images to report.
    """
    if n_top_losses < 0:
        raise ValueError(f"Expected n_top_losses >= 0. Received: n_top_losses={n_top_losses}")
    preds = collect_predictions(model, dataset, keep_images=n_top_losses)
    y, p = preds.labels, preds.probs
    n_cls = len(class_names)
    if p.shape[1] != n_cls:
        raise ValueError(f"Expected the model to output {n_cls} classes. Received: {p.shape[1]}")
    if y.size and (y.min() < 0 or y.max() >= n_cls):
        raise ValueError(f"Expected labels in [0, {n_cls - 1}]. Received: [{y.min()}, {y.max()}]")
    pred = np.argmax(p, axis=1)
    cm = confusion_matrix(y, pred, n_cls)
    rows = per_class_metrics(cm, class_names)
    losses = -np.log(np.clip(p[np.arange(len(y)), y], _EPS, 1.0))
    top: list[dict[str, Any]] = []
    keep = []
    for pos, idx in enumerate(preds.loss_indices):
        if pred[idx] == y[idx]:
            continue  # a high-loss image that is still right is not a "wrong" one
        keep.append(pos)
        top.append({
            "index": int(idx), "true": class_names[int(y[idx])], "predicted": class_names[int(pred[idx])],
            "probability": float(p[idx, pred[idx]]), "true_probability": float(p[idx, y[idx]]),
            "loss": float(losses[idx]),
        })
    images = preds.loss_images[keep] if keep else np.empty((0,) + preds.loss_images.shape[1:], np.uint8)
    return EvalReport(
        class_names=list(class_names),
        count=int(len(y)),
        accuracy=float(np.mean(pred == y)),
        loss=float(np.mean(losses)),
        top_k={f"top_{k}": top_k_accuracy(y, p, k) for k in top_k},
        confusion=cm.tolist(),
        per_class=rows,
        macro_f1=float(np.mean([r["f1"] for r in rows])),
        top_losses=top,
        top_loss_images=images,
        calibration=calibration_summary(p, y) if len(y) else {},
    )


def evaluate_run(
    run_dir: str | os.PathLike[str], *, write: bool = True, top_k: Sequence[int] = (3,), n_top_losses: int = 16
) -> EvalReport:
    """Evaluates a run folder's model on its own validation split.

    Writes ``eval_report.json`` into the run folder when ``write`` is true.

    Raises:
        FileNotFoundError: Not a complete run folder.
        ValueError: The validation data cannot be rebuilt from the config.
    """
    from tl_widgets.core.fileio import atomic_write_json

    run = load_run(run_dir)
    ds = run_datasets(run)
    report = evaluate_model(run.model, ds.val, run.class_names, top_k=top_k, n_top_losses=n_top_losses)
    report.run_dir = str(run.run_dir)
    summary = RunFolder(run.run_dir).summary_file
    fitted = json.loads(summary.read_text(encoding="utf-8")).get("calibration") if summary.is_file() else None
    if fitted:  # the temperature fitted after training: what it changed
        report.calibration = {**fitted, **report.calibration}
    if write:
        path = atomic_write_json(RunFolder(run.run_dir).eval_report_file, report.to_dict())
        record_artifact(run.run_id, "eval_report", path)
    return report


def record_artifact(run_id: str, kind: str, path: Path) -> bool:
    """Records an artifact in the run store; returns False when the run is not in the store.

    A run folder copied from elsewhere, or trained with ``record=False``, has no
    store entry: that is not an error for an evaluation or an export.
    """
    from tl_widgets.core.runs.store import RunNotFoundError, RunStore

    try:
        RunStore().add_artifact(run_id, kind, str(path))
    except RunNotFoundError:
        return False
    return True


def predict(model: Any, image: Any, class_names: Sequence[str], *, k: int = 3) -> list[list[tuple[str, float]]]:
    """Top-``k`` classes for one image or a batch.

    Args:
        model: Raw 0-255 RGB in, probabilities out.
        image: A file path, an ``[H, W, 3]`` array or an ``[N, H, W, 3]`` batch
            (0-255; resized to the model's input size when needed).
        class_names: Class names in label order.
        k: How many classes per image.

    Returns:
        One list of ``(class name, probability)`` per image, most probable first.
    """
    import keras

    if k < 1:
        raise ValueError(f"Expected k >= 1. Received: k={k}")
    size = model.input_shape[1]
    if isinstance(image, (str, os.PathLike)):
        path = Path(image)
        if not path.is_file():
            raise FileNotFoundError(f"Expected an image file. Received: {str(path)!r}")
        batch = keras.utils.img_to_array(keras.utils.load_img(path, color_mode="rgb", target_size=(size, size)))[None]
    else:
        batch = np.asarray(image, np.float32)
        if batch.ndim == 3:
            batch = batch[None]
        if batch.ndim != 4 or batch.shape[-1] != 3:
            raise ValueError(f"Expected an [H, W, 3] image or [N, H, W, 3] batch. Received shape {batch.shape}")
        if batch.shape[1:3] != (size, size):
            batch = np.asarray(keras.ops.image.resize(batch, (size, size)), np.float32)
    probs = np.asarray(model.predict_on_batch(batch.astype(np.float32)), np.float32)
    k = min(k, probs.shape[1])
    out = []
    for row in probs:
        order = np.argsort(-row, kind="stable")[:k]
        out.append([(class_names[i], float(row[i])) for i in order])
    return out
