"""Underperforming groups after a run: the classes and the clusters of images where the model is clearly worse.

:func:`weak_groups` takes a run's validation predictions (keyed by image) and
the health check's embeddings of the same images. A group (a class, or a
cluster of the embeddings found by spherical k-means) is reported when its
accuracy is at least :data:`MARGIN` below the run's and the gap is
significant: more than :data:`Z` standard errors of the run's accuracy for a
group that size (a binomial test). Each finding lists the group's images,
highest loss first.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from tl_widgets.core.data.health_findings import Finding
from tl_widgets.core.i18n import _

__all__ = ["weak_groups", "MARGIN", "Z"]

MARGIN = 0.10
Z = 2.0
_MIN_GROUP = 8


def _weak(correct: np.ndarray, idx: np.ndarray, overall: float) -> tuple[bool, float]:
    acc = float(correct[idx].mean())
    se = math.sqrt(max(overall * (1 - overall), 1e-4) / len(idx))
    return len(idx) >= _MIN_GROUP and acc <= overall - MARGIN and (acc - overall) / se < -Z, acc


def weak_groups(keys: Sequence[str], labels: np.ndarray, probs: np.ndarray, emb: np.ndarray | None,
                class_names: Sequence[str], run_id: str, *, seed: int = 0) -> list[Finding]:
    """The classes and embedding clusters where a run is clearly worse than on average.

    Args:
        keys: Validation image keys.
        labels: Their given labels.
        probs: ``[N, C]`` the run's predicted probabilities.
        emb: ``[N, D]`` embeddings of the same images (None: classes only).
        class_names: Class names in label order.
        run_id: The run (named in the messages).
        seed: The clustering's seed.
    """
    from tl_widgets.core.data.neighbours import _kmeans, normalise, standardise

    labels = np.asarray(labels, np.int64)
    probs = np.asarray(probs, np.float64)
    if len(labels) < 2 * _MIN_GROUP:
        return []
    pred = probs.argmax(axis=1)
    correct = (pred == labels).astype(np.float64)
    loss = -np.log(np.clip(probs[np.arange(len(labels)), labels], 1e-7, 1.0))
    overall = float(correct.mean())
    out = []
    for c, name in enumerate(class_names):
        idx = np.flatnonzero(labels == c)
        if len(idx) and (found := _weak(correct, idx, overall))[0]:
            out.append(_finding("weak_class", idx, loss, keys, _(
                "Class {name!r}: run {run} is right on {acc:.0%} of its {n} validation images, against {overall:.0%} "
                "overall.").format(name=name, run=run_id, acc=found[1], n=len(idx), overall=overall)))
    if emb is not None and emb.shape[1] and len(labels) >= 4 * _MIN_GROUP:
        x = normalise(standardise(emb))
        n_groups = int(np.clip(round(len(x) / 40), 2, 16))
        assign = np.argmax(x @ _kmeans(x, n_groups, seed).T, axis=1)
        for g in range(n_groups):
            idx = np.flatnonzero(assign == g)
            if len(idx) and (found := _weak(correct, idx, overall))[0]:
                top = np.bincount(labels[idx], minlength=len(class_names))
                mostly = ", ".join(f"{class_names[c]} {int(top[c])}" for c in np.argsort(-top)[:3] if top[c])
                out.append(_finding("weak_cluster", idx, loss, keys, _(
                    "A group of {n} similar validation images ({mostly}): run {run} is right on {acc:.0%} of them, "
                    "against {overall:.0%} overall.").format(n=len(idx), mostly=mostly, run=run_id, acc=found[1],
                                                           overall=overall)))
    return out


def _finding(kind: str, idx: np.ndarray, loss: np.ndarray, keys: Sequence[str], message: str) -> Finding:
    order = idx[np.argsort(-loss[idx], kind="stable")]
    return Finding(kind, "warning", message, _(
        "Open them: add more images like these, fix wrong labels among them, or check whether they belong in the "
        "dataset."), [keys[i] for i in order], scores=[round(float(loss[i]), 4) for i in order], score="loss")


def run_predictions(run_dir: Any) -> tuple[str, list[str], np.ndarray, np.ndarray]:
    """A run's ``(run_id, validation keys, labels, probabilities)`` (its model predicts its validation split)."""
    from tl_widgets.core.evaluation.label_errors import predictions_with_keys

    run, labels, probs, keys = predictions_with_keys(run_dir)
    return run.run_id, list(keys), np.asarray(labels, np.int64), np.asarray(probs, np.float32)
