"""Calibrated probabilities: temperature scaling fitted on the validation split.

A network's softmax is often over-confident: it says 0.99 where it is right
80% of the time. Temperature scaling (Guo et al., 2017) divides the logits by
one number ``T`` fitted to minimise the validation negative log-likelihood; the
top-1 prediction never changes, only how sure the model says it is.

The temperature is folded into the classifier's last layer (a ``Dense`` with a
softmax): ``softmax((W x + b) / T) == softmax((W / T) x + b / T)``. So the
calibrated model is the same plain Keras model with other weights: it saves,
loads (no custom layer, safe mode) and exports in every format unchanged, and
every export's verification compares against the calibrated probabilities.

Expected calibration error (ECE): the images are put in equal-width bins by
their top-1 probability; ECE is the mean over images of
``|accuracy(bin) - confidence(bin)|``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

__all__ = ["CalibrationResult", "expected_calibration_error", "reliability_bins", "fit_temperature",
           "scale_probabilities", "softmax", "apply_temperature", "calibrate_model", "DEFAULT_BINS", "calibration_summary"]

DEFAULT_BINS = 10
_EPS = 1e-12
_LOG_T_RANGE = (math.log(0.05), math.log(20.0))


def _check(probs: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(probs, np.float64)
    y = np.asarray(labels).astype(np.int64).reshape(-1)
    if p.ndim != 2 or len(p) != len(y):
        raise ValueError(f"Expected probabilities (N, classes) and N labels. Received: {p.shape} and {y.shape}")
    if len(y) == 0:
        raise ValueError("Expected at least one image to calibrate on. Received: none")
    if y.min() < 0 or y.max() >= p.shape[1]:
        raise ValueError(f"Expected labels in [0, {p.shape[1] - 1}]. Received: [{y.min()}, {y.max()}]")
    return p, y


def reliability_bins(probs: np.ndarray, labels: np.ndarray, bins: int = DEFAULT_BINS) -> dict[str, list[float]]:
    """Per confidence bin: its edges, mean confidence, accuracy and image count (plain lists).

    Empty bins have ``confidence`` and ``accuracy`` None.
    """
    if bins < 1:
        raise ValueError(f"Expected bins >= 1. Received: bins={bins}")
    p, y = _check(probs, labels)
    conf = p.max(axis=1)
    right = (p.argmax(axis=1) == y).astype(np.float64)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(conf, edges[1:-1], right=True), 0, bins - 1)
    out: dict[str, list[Any]] = {"lower": edges[:-1].tolist(), "upper": edges[1:].tolist(),
                                 "confidence": [], "accuracy": [], "count": []}
    for b in range(bins):
        mask = which == b
        n = int(mask.sum())
        out["count"].append(n)
        out["confidence"].append(float(conf[mask].mean()) if n else None)
        out["accuracy"].append(float(right[mask].mean()) if n else None)
    return out


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, bins: int = DEFAULT_BINS) -> float:
    """ECE: the image-weighted mean gap between accuracy and confidence over confidence bins."""
    table = reliability_bins(probs, labels, bins)
    total = sum(table["count"])
    return float(sum(n * abs(a - c) for n, a, c in zip(table["count"], table["accuracy"], table["confidence"])
                     if n) / total)


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """``softmax(logits / T)`` in float64."""
    if not temperature > 0:
        raise ValueError(f"Expected a temperature > 0. Received: {temperature}")
    z = np.asarray(logits, np.float64) / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def calibration_summary(probs: np.ndarray, labels: np.ndarray, bins: int = DEFAULT_BINS) -> dict[str, Any]:
    """``{"ece": ..., "bins": ...}`` of probabilities as they are (an evaluation's view)."""
    return {"ece": expected_calibration_error(probs, labels, bins), "bins": reliability_bins(probs, labels, bins)}


def scale_probabilities(probs: np.ndarray, temperature: float) -> np.ndarray:
    """``softmax(log(p) / T)``: what probabilities become at temperature ``T`` (log p is the logits up to a shift)."""
    return softmax(np.log(np.clip(np.asarray(probs, np.float64), _EPS, 1.0)), temperature)


def _nll(probs: np.ndarray, labels: np.ndarray) -> float:
    return float(-np.mean(np.log(np.clip(probs[np.arange(len(labels)), labels], _EPS, 1.0))))


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The temperature (0.05..20) minimising the negative log-likelihood of ``labels`` under ``softmax(logits/T)``.

    ``log(p)`` of unsaturated probabilities works as logits too.
    """
    from scipy.optimize import minimize_scalar

    z, y = _check(logits, labels)
    res = minimize_scalar(lambda log_t: _nll(softmax(z, math.exp(log_t)), y),
                          bounds=_LOG_T_RANGE, method="bounded", options={"xatol": 1e-4})
    return float(math.exp(res.x))


@dataclass
class CalibrationResult:
    """A fitted temperature and what it changed on the validation split (``to_dict`` is JSON-ready).

    Attributes:
        temperature: ``T`` (> 1 softens over-confident probabilities, < 1 sharpens them).
        count: Validation images it was fitted on.
        ece_before: ECE of the uncalibrated model.
        ece_after: ECE after scaling.
        nll_before: Negative log-likelihood before.
        nll_after: Negative log-likelihood after.
        bins_before: :func:`reliability_bins` before.
        bins_after: :func:`reliability_bins` after.
        applied: Whether the temperature was folded into the model (only when it lowers the ECE).
    """

    temperature: float
    count: int
    ece_before: float
    ece_after: float
    nll_before: float
    nll_after: float
    bins_before: dict[str, list[Any]] = field(default_factory=dict)
    bins_after: dict[str, list[Any]] = field(default_factory=dict)
    applied: bool = False

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


def _last_dense(model: Any) -> Any:
    import keras

    layer = model.layers[-1]
    activation = getattr(getattr(layer, "activation", None), "__name__", "")
    if not isinstance(layer, keras.layers.Dense) or activation != "softmax":
        raise ValueError("Expected a model ending in a Dense layer with a softmax (the assembled classifier). "
                         f"Received: last layer {layer.name!r} ({type(layer).__name__}, activation {activation!r})")
    return layer


def apply_temperature(model: Any, temperature: float) -> None:
    """Folds ``temperature`` into the model's last Dense-softmax layer (in place): ``W / T``, ``b / T``.

    Raises:
        ValueError: The model doesn't end in a Dense layer with a softmax, or ``T <= 0``.
    """
    if not temperature > 0 or not math.isfinite(temperature):
        raise ValueError(f"Expected a finite temperature > 0. Received: {temperature}")
    layer = _last_dense(model)
    layer.set_weights([np.asarray(w) / temperature for w in layer.get_weights()])


def calibrate_model(model: Any, dataset: Any, *, bins: int = DEFAULT_BINS, apply: bool = True) -> CalibrationResult:
    """Fits a temperature on ``dataset`` (the validation split) and folds it into ``model``.

    Args:
        model: Raw images in, probabilities out, ending in a Dense-softmax layer.
        dataset: Iterable of ``(images, labels)`` batches.
        bins: Confidence bins for ECE and the reliability diagram.
        apply: Fold the temperature into the model when it lowers the ECE (else only measure).

    Raises:
        ValueError: No images, or a model without a Dense-softmax output.
    """
    import keras

    layer = _last_dense(model)  # fail before predicting
    # The logits, exactly: the last layer's input features times its weights, in float64 (saturated float32
    # probabilities would lose them).
    features = keras.Model(model.inputs, layer.input)
    weights = [np.asarray(w, np.float64) for w in layer.get_weights()]
    kernel, bias = weights[0], (weights[1] if len(weights) > 1 else 0.0)
    logits, labels = [], []
    for x, y in dataset:
        # A direct call, not predict_on_batch: under tf.distribute that would return one copy per replica.
        feats = keras.ops.convert_to_numpy(features(keras.ops.convert_to_tensor(np.asarray(x)), training=False))
        logits.append(np.asarray(feats, np.float64) @ kernel + bias)
        labels.append(np.asarray(y).astype(np.int64).reshape(-1))
    if not logits:
        raise ValueError("Expected validation batches to calibrate on. Received: an empty dataset")
    z, y = _check(np.concatenate(logits), np.concatenate(labels))
    p = softmax(z)
    t = fit_temperature(z, y)
    after = softmax(z, t)
    result = CalibrationResult(
        temperature=t, count=int(len(y)),
        ece_before=expected_calibration_error(p, y, bins), ece_after=expected_calibration_error(after, y, bins),
        nll_before=_nll(p, y), nll_after=_nll(after, y),
        bins_before=reliability_bins(p, y, bins), bins_after=reliability_bins(after, y, bins),
    )
    # NLL-optimal is not always ECE-better (e.g. a near-uniform model): keep the model as it is then.
    if apply and result.ece_after < result.ece_before:
        apply_temperature(model, t)
        result.applied = True
    return result
