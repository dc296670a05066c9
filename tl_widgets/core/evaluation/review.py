"""Reviewing a run's validation images one by one: the data behind the curation grid.

:func:`review_run` predicts a run's validation split once and keeps, for every
image, its key (see :mod:`tl_widgets.core.data.curation`), given label,
probabilities and loss. :class:`ReviewSet` answers the questions the fix loop
asks: the images of one confusion-matrix cell (highest loss first), the wrong
ones, the suspected label errors, and each image's pixels (read back from the
dataset by key, re-checked to lie inside the dataset's folder).
:func:`files_review` is the same set for files without predictions (a health
finding's images), so the same grid shows and decides them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from tl_widgets.core.data.curation import check_key

__all__ = ["ReviewSet", "review_run", "files_review", "image_for_key", "dataset_root"]

_EPS = 1e-7


@dataclass
class ReviewSet:
    """A run's validation predictions, keyed by image.

    Attributes:
        run_dir: The run folder.
        run_id: The run's id.
        config: The run's TrainConfig.
        class_names: Class names in label order.
        keys: Image key per validation image.
        labels: Given label per image.
        probs: ``[N, C]`` predicted probabilities (``[N, 0]``: no predictions, see :func:`files_review`).
    """

    run_dir: Path
    run_id: str
    config: Any
    class_names: list[str]
    keys: list[str]
    labels: np.ndarray
    probs: np.ndarray

    @property
    def predicted(self) -> np.ndarray:
        """Predicted class per image."""
        return self.probs.argmax(axis=1)

    @property
    def losses(self) -> np.ndarray:
        """Cross-entropy of the given label per image."""
        return -np.log(np.clip(self.probs[np.arange(len(self.labels)), self.labels], _EPS, 1.0))

    def confusion(self) -> np.ndarray:
        """``[C, C]`` counts: true row, predicted column."""
        from tl_widgets.core.evaluation.metrics import confusion_matrix

        return confusion_matrix(self.labels, self.predicted, len(self.class_names))

    def _by_loss(self, mask: np.ndarray) -> list[int]:
        idx = np.flatnonzero(mask)
        return [int(i) for i in idx[np.argsort(-self.losses[idx], kind="stable")]]

    def cell(self, true: str, predicted: str) -> list[int]:
        """Images of class ``true`` predicted as ``predicted``, highest loss first.

        Raises:
            ValueError: Unknown class names.
        """
        for name in (true, predicted):
            if name not in self.class_names:
                raise ValueError(f"Expected a class among {self.class_names}. Received: {name!r}")
        t, p = self.class_names.index(true), self.class_names.index(predicted)
        return self._by_loss((self.labels == t) & (self.predicted == p))

    def wrong(self) -> list[int]:
        """Every misclassified image, highest loss first."""
        return self._by_loss(self.labels != self.predicted)

    def label_errors(self, limit: int = 48) -> list[int]:
        """Suspected label errors (confident learning), most likely first."""
        from tl_widgets.core.evaluation.label_errors import rank_label_errors

        rows = rank_label_errors(self.labels, self.probs, self.keys, self.class_names, limit=limit)
        return [r["index"] for r in rows]

    def item(self, i: int, top: int = 3) -> dict[str, Any]:
        """One image's facts: ``key``, ``true``, ``predicted``, ``loss`` and the ``top`` classes with probabilities."""
        if self.probs.shape[1] == 0:  # files without predictions: only the given label
            label = int(self.labels[i])
            return {"key": self.keys[i], "true": self.class_names[label] if label >= 0 else "?",
                    "predicted": None, "loss": None, "top": []}
        order = np.argsort(-self.probs[i], kind="stable")[:top]
        return {"key": self.keys[i], "true": self.class_names[int(self.labels[i])],
                "predicted": self.class_names[int(self.predicted[i])], "loss": float(self.losses[i]),
                "top": [(self.class_names[int(c)], float(self.probs[i, c])) for c in order]}

    def image(self, i: int) -> np.ndarray:
        """The image's ``uint8`` RGB pixels, read from the dataset."""
        return image_for_key(self.config.data, self.keys[i])


def review_run(run_dir: str | os.PathLike[str]) -> ReviewSet:
    """Predicts a run's validation split once and keeps it for review.

    Raises:
        FileNotFoundError, ValueError, DataError: As :func:`~tl_widgets.core.evaluation.evaluate.run_datasets`.
    """
    from tl_widgets.core.evaluation.label_errors import predictions_with_keys

    run, labels, probs, keys = predictions_with_keys(run_dir)
    return ReviewSet(Path(run.run_dir), run.run_id, run.config, list(run.class_names), keys,
                     np.asarray(labels, np.int64), np.asarray(probs, np.float32))


def files_review(data: Any, keys: Sequence[str], class_names: Sequence[str]) -> ReviewSet:
    """A review set of dataset files without a run: each image's given label is its class folder.

    Args:
        data: The DataConfig the keys are relative to.
        keys: Image keys (checked here; ``@val/`` for a validation folder).
        class_names: The dataset's classes (a key in no class folder is labelled ``-1``).

    Raises:
        DataError: A key could name a file outside the dataset.
    """
    names = list(class_names)
    labels = []
    for key in keys:
        parts = check_key(key).split("/")
        labels.append(names.index(parts[-2]) if len(parts) >= 2 and parts[-2] in names else -1)
    from types import SimpleNamespace

    return ReviewSet(Path(), "", SimpleNamespace(data=data), names, list(keys),
                     np.asarray(labels, np.int64), np.zeros((len(keys), 0), np.float32))


def dataset_root(data: Any, key: str) -> Path:
    """The folder an image key is relative to (the data folder, its validation folder or the extracted zip)."""
    if data.source == "zip":
        from tl_widgets.core.data.loading import _zip_root

        return _zip_root(data, None).resolve()
    if key.startswith("@val/"):
        return Path(data.val_path or "").resolve()
    return Path(data.path or "").resolve()


def image_for_key(data: Any, key: str) -> np.ndarray:
    """The ``uint8`` RGB pixels of the image ``key`` of the dataset ``data`` (a DataConfig).

    Raises:
        DataError: The key is malformed, escapes the dataset folder, or the file is not an image.
    """
    from tl_widgets.core.data.images import DataError, load_rgb

    check_key(key)
    if data.source == "demo":
        from tl_widgets.core.data.demo_datasets import demo_arrays

        name, _, index = key.partition("/")
        x, _, _ = demo_arrays(data.demo, "target")
        if name != data.demo or not index.isdigit() or int(index) >= len(x):
            raise DataError(f"Expected a key '{data.demo}/<index below {len(x)}>'. Received: {key!r}")
        img = np.asarray(x[int(index)])
        img = np.repeat(img[..., None], 3, axis=-1) if img.ndim == 2 else img
        img = img[..., :3] if img.shape[-1] >= 3 else np.repeat(img, 3, axis=-1)
        scale = 255.0 if img.dtype.kind == "f" and img.max() <= 1.0 else 1.0
        return np.clip(np.asarray(img, np.float32) * scale, 0, 255).astype(np.uint8)
    root = dataset_root(data, key)
    rel = key[len("@val/"):] if key.startswith("@val/") else key
    path = (root / rel).resolve()
    if not path.is_relative_to(root):
        raise DataError(f"Expected an image inside {str(root)!r}. Received: {key!r} (resolves outside)")
    return load_rgb(path)


def thumbnails(images: Sequence[np.ndarray], side: int = 96) -> list[np.ndarray]:
    """Square ``uint8`` thumbnails of ``side`` pixels."""
    from tl_widgets.core.data.preview import square_thumbnails

    return list(square_thumbnails(images, side)) if len(images) else []
