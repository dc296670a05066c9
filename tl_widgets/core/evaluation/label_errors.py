"""Suspected label errors: which images' labels are most likely wrong, by confident learning (cleanlab).

Confident learning (Northcutt et al., the ``cleanlab`` library) compares each
image's given label with out-of-sample predicted probabilities, estimates
per-class noise rates and flags the images whose label disagrees with what
the model is confident about; the flagged ones are ranked by label quality
(self-confidence: the probability the model gives the given label).

* :func:`rank_label_errors` works on any labels and probabilities.
* :func:`run_label_errors` uses a trained run's model on its own validation
  split (images the model never trained on), keyed for curation.
* :func:`feature_label_errors` needs no run: out-of-fold probabilities from a
  logistic regression on backbone embeddings (what the health check uses).
"""

from __future__ import annotations

import os
from typing import Any, Sequence

import numpy as np

__all__ = ["rank_label_errors", "run_label_errors", "feature_label_errors", "oof_probabilities", "softmax_head",
           "predictions_with_keys"]


def rank_label_errors(labels: Sequence[int], probs: np.ndarray, keys: Sequence[str], class_names: Sequence[str],
                      *, limit: int | None = 50) -> list[dict[str, Any]]:
    """Images whose label is probably wrong, most likely first.

    Args:
        labels: Given label per image.
        probs: ``[N, C]`` out-of-sample predicted probabilities.
        keys: The image keys (see :mod:`tl_widgets.core.data.curation`).
        class_names: Class names in label order.
        limit: Keep at most this many (None: all flagged).

    Returns:
        Dicts with ``key``, ``index``, ``given``, ``predicted``, ``quality`` (0..1,
        low = suspicious), ``given_probability``, ``predicted_probability``.

    Raises:
        ValueError: Shapes disagree.
    """
    try:
        from cleanlab.filter import find_label_issues
        from cleanlab.rank import get_label_quality_scores
    except ImportError as exc:
        raise ImportError("Expected the cleanlab package for label errors. Received: not installed "
                          "(pip install 'tl-widgets[curate]')") from exc

    y = np.asarray(labels, np.int64)
    p = np.asarray(probs, np.float64)
    if p.ndim != 2 or len(p) != len(y) or len(keys) != len(y) or p.shape[1] != len(class_names):
        raise ValueError(f"Expected labels [N], probs [N, {len(class_names)}] and N keys. Received: {y.shape}, "
                         f"{p.shape} and {len(keys)} keys")
    if len(y) == 0:
        return []
    p = np.clip(p, 1e-7, 1.0)
    p = p / p.sum(axis=1, keepdims=True)
    present = np.unique(y)
    if len(present) < 2:
        return []
    flagged = find_label_issues(y, p, return_indices_ranked_by="self_confidence",
                                min_examples_per_class=0, filter_by="prune_by_noise_rate")
    quality = get_label_quality_scores(y, p)
    pred = p.argmax(axis=1)
    out = []
    for i in list(flagged)[: limit if limit is not None else None]:
        i = int(i)
        out.append({"key": str(keys[i]), "index": i, "given": class_names[int(y[i])],
                    "predicted": class_names[int(pred[i])], "quality": float(quality[i]),
                    "given_probability": float(p[i, y[i]]), "predicted_probability": float(p[i, pred[i]])})
    return out


FIT_MAX = 10_000
"""Most images a cross-validation head is fitted on (a stratified sample of the other folds; every image is still
predicted)."""


def softmax_head(x: np.ndarray, y: np.ndarray, n_classes: int, *, l2: float | None = None,
                 max_iter: int = 150) -> np.ndarray:
    """Weights ``[D + 1, C]`` (the last row the bias) of a multinomial logistic regression, fitted with L-BFGS.

    The same model as scikit-learn's ``LogisticRegression(C=1)`` (``l2`` defaults to ``1 / N`` on the mean loss),
    written as a numpy loss and gradient for scipy's L-BFGS: measured on 12,000 x 128 embeddings of 10 classes on
    the two shared cores (load ~5), scikit-learn 1.9 took 45 s for 200 iterations, this 3.2 s with one BLAS thread
    (10.7 s with two: on a busy machine the threads only contend). :func:`oof_probabilities` fits it in one thread.
    """
    from scipy.optimize import minimize

    n, d = x.shape
    xb = np.hstack([x, np.ones((n, 1), x.dtype)]).astype(np.float64)
    onehot = np.zeros((n, n_classes))
    onehot[np.arange(n), y] = 1.0
    lam = 1.0 / n if l2 is None else float(l2)

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        weights = w.reshape(d + 1, n_classes)
        z = xb @ weights
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        value = -np.log(np.clip(p[np.arange(n), y], 1e-12, None)).mean() + 0.5 * lam * (weights[:-1] ** 2).sum()
        grad = xb.T @ (p - onehot) / n
        grad[:-1] += lam * weights[:-1]
        return float(value), grad.ravel()

    found = minimize(loss, np.zeros((d + 1) * n_classes), jac=True, method="L-BFGS-B",
                     options={"maxiter": int(max_iter)})
    return found.x.reshape(d + 1, n_classes)


def _softmax(x: np.ndarray, weights: np.ndarray) -> np.ndarray:
    z = x @ weights[:-1] + weights[-1]
    z -= z.max(axis=1, keepdims=True)
    p = np.exp(z)
    return p / p.sum(axis=1, keepdims=True)


def oof_probabilities(features: np.ndarray, labels: Sequence[int], *, folds: int = 5, seed: int = 0,
                      fit_max: int = FIT_MAX) -> np.ndarray | None:
    """Out-of-fold class probabilities ``[N, C]`` of a logistic regression (:func:`softmax_head`) on standardised
    features.

    Each image is predicted by a head fitted on (a stratified sample of at most ``fit_max`` of) the other folds,
    never on itself: the cheap stand-in for a trained model's out-of-sample predictions, over every image. None
    when fewer than 2 classes have 2 images. Classes with no image (curated away) get probability 0.
    """
    from sklearn.model_selection import StratifiedKFold
    from threadpoolctl import threadpool_limits

    y = np.asarray(labels, np.int64)
    counts = np.bincount(y) if len(y) else np.zeros(0, np.int64)
    present = np.flatnonzero(counts > 0)
    k = min(folds, int(counts[present].min()) if len(present) else 0)
    if k < 2 or len(present) < 2:
        return None
    x = np.asarray(features, np.float64)
    x = (x - x.mean(axis=0)) / (x.std(axis=0) + 1e-6)
    rng = np.random.default_rng(seed)
    remap = np.full(len(counts), -1)
    remap[present] = np.arange(len(present))
    full = np.zeros((len(y), len(counts)), np.float64)
    with threadpool_limits(1, user_api="blas"):  # small products: threads only contend (4x slower on 2 busy cores)
        for train_idx, test_idx in StratifiedKFold(k, shuffle=True, random_state=seed).split(x, y):
            _fold(x, y, train_idx, test_idx, present, remap, fit_max, rng, full)
    return full


def _fold(x: np.ndarray, y: np.ndarray, train_idx: np.ndarray, test_idx: np.ndarray, present: np.ndarray,
          remap: np.ndarray, fit_max: int, rng: np.random.Generator, full: np.ndarray) -> None:
    """Fits one fold's head (on a stratified sample of at most ``fit_max``) and predicts its held-out images."""
    if len(train_idx) > fit_max:  # every class keeps its share (and at least 2 images)
        share = fit_max / len(train_idx)
        train_idx = np.concatenate([rng.permutation(idx)[:max(2, int(round(len(idx) * share)))]
                                    for idx in (train_idx[y[train_idx] == c] for c in present)])
    weights = softmax_head(x[train_idx], remap[y[train_idx]], len(present))
    full[np.ix_(test_idx, present)] = _softmax(x[test_idx], weights)


def feature_label_errors(features: np.ndarray, labels: Sequence[int], keys: Sequence[str],
                         class_names: Sequence[str], *, folds: int = 5, seed: int = 0,
                         limit: int | None = 50, probs: np.ndarray | None = None) -> list[dict[str, Any]]:
    """Label errors from out-of-fold logistic-regression probabilities on embeddings (no trained run needed).

    ``probs``: the :func:`oof_probabilities` when already computed.
    """
    if probs is None:
        probs = oof_probabilities(features, labels, folds=folds, seed=seed)
    if probs is None:
        return []
    full = np.zeros((len(probs), len(class_names)), np.float64)
    full[:, :probs.shape[1]] = probs
    return rank_label_errors(labels, full, keys, class_names, limit=limit)


def predictions_with_keys(run_dir: str | os.PathLike[str]) -> tuple[Any, np.ndarray, np.ndarray, list[str]]:
    """A run's validation predictions: ``(loaded run, labels, probs, keys)``, in validation order.

    Raises:
        ValueError: The run's data cannot be rebuilt or have no keys (data from code).
    """
    from tl_widgets.core.evaluation.evaluate import collect_predictions, load_run, run_datasets

    run = load_run(run_dir)
    ds = run_datasets(run)
    if ds.val_keys is None:
        raise ValueError(f"Expected a run on folder, zip or demo data (images with names). Received: "
                         f"data.source={run.config.data.source!r}")
    preds = collect_predictions(run.model, ds.val, keep_images=0)
    if len(preds.labels) != len(ds.val_keys):
        raise ValueError(f"Expected {len(ds.val_keys)} validation predictions. Received: {len(preds.labels)} "
                         "(files changed or became unreadable since the scan?)")
    return run, preds.labels, preds.probs, list(ds.val_keys)


def run_label_errors(run_dir: str | os.PathLike[str], *, limit: int | None = 50) -> list[dict[str, Any]]:
    """Suspected label errors among a run's validation images (its model never trained on them)."""
    run, labels, probs, keys = predictions_with_keys(run_dir)
    return rank_label_errors(labels, probs, keys, run.class_names, limit=limit)
