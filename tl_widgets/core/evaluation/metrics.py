"""Metrics from predictions: the confusion matrix, its rows as fractions, per-class metrics, top-k accuracy.

Plain numpy (no Keras): the evaluation, the review of a run, the evaluation figure (``views``) and the
model card's image all read a confusion matrix through these functions.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

__all__ = ["confusion_matrix", "confusion_fractions", "per_class_metrics", "top_k_accuracy"]


def confusion_matrix(y_true: Sequence[int], y_pred: Sequence[int], num_classes: int) -> np.ndarray:
    """``cm[i, j]`` = images of true class ``i`` predicted as ``j`` (int64)."""
    cm = np.zeros((num_classes, num_classes), np.int64)
    np.add.at(cm, (np.asarray(y_true, np.int64), np.asarray(y_pred, np.int64)), 1)
    return cm


def confusion_fractions(confusion: Any, class_names: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """A confusion matrix checked, and each row as fractions of its true class (rows with no images stay 0).

    The one reading of a confusion matrix that the evaluation figure and the model card's image share.

    Returns:
        ``(counts, fractions)``, both float64 ``[n, n]``.

    Raises:
        ValueError: Not a square matrix with one row per class name, or a count that is negative or not finite.
    """
    counts = np.asarray(confusion, dtype=np.float64)
    n = len(class_names)
    if counts.shape != (n, n):
        raise ValueError(f"Expected a square {n}x{n} confusion matrix (one row per class). Received shape "
                         f"{counts.shape}")
    if (counts < 0).any() or not np.isfinite(counts).all():
        raise ValueError("Expected finite counts >= 0 in the confusion matrix. Received: a negative or non-finite "
                         "count")
    rows = counts.sum(axis=1, keepdims=True)
    return counts, np.divide(counts, rows, out=np.zeros_like(counts), where=rows > 0)


def per_class_metrics(cm: np.ndarray, class_names: Sequence[str]) -> list[dict[str, Any]]:
    """Precision, recall, F1 and support per class from a confusion matrix (0 where undefined)."""
    tp = np.diag(cm).astype(np.float64)
    predicted = cm.sum(axis=0).astype(np.float64)
    actual = cm.sum(axis=1).astype(np.float64)
    rows = []
    for i, name in enumerate(class_names):
        precision = tp[i] / predicted[i] if predicted[i] else 0.0
        recall = tp[i] / actual[i] if actual[i] else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        rows.append({"class": name, "precision": float(precision), "recall": float(recall), "f1": float(f1),
                     "support": int(actual[i])})
    return rows


def top_k_accuracy(y_true: np.ndarray, probs: np.ndarray, k: int) -> float:
    """Fraction of images whose true class is among the ``k`` most probable."""
    if k < 1:
        raise ValueError(f"Expected k >= 1. Received: k={k}")
    k = min(k, probs.shape[1])
    top = np.argsort(-probs, axis=1, kind="stable")[:, :k]
    return float(np.mean(np.any(top == np.asarray(y_true)[:, None], axis=1)))
