"""Running exported models and checking them against the Keras model.

Each export format gets a :data:`Predictor` (raw 0-255 RGB batch in, float32
probabilities out); :func:`verify` compares its outputs with Keras' on held-out
images and states every failed check as a warning, never silently.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, Callable

import numpy as np

__all__ = ["THRESHOLDS", "predictor_for", "verify", "Predictor"]

Predictor = Callable[[np.ndarray], np.ndarray]
"""An exported model as a function: a raw 0-255 RGB batch in, float32 probabilities out."""

# Per format: the largest max |p_export - p_keras| allowed, and the smallest top-1 agreement.
THRESHOLDS: dict[str, dict[str, float]] = {
    "keras": {"max_abs_diff": 1e-5, "min_agreement": 1.0, "max_accuracy_drop": 0.0},
    "savedmodel": {"max_abs_diff": 1e-4, "min_agreement": 0.99, "max_accuracy_drop": 0.01},
    "tflite": {"max_abs_diff": 1e-4, "min_agreement": 0.99, "max_accuracy_drop": 0.01},
    "onnx": {"max_abs_diff": 1e-4, "min_agreement": 0.99, "max_accuracy_drop": 0.01},
    "onnx-web": {"max_abs_diff": 1e-4, "min_agreement": 0.99, "max_accuracy_drop": 0.01},
    "tflite-fp16": {"max_abs_diff": 1e-2, "min_agreement": 0.98, "max_accuracy_drop": 0.02},
    "tflite-int8": {"max_abs_diff": 0.2, "min_agreement": 0.95, "max_accuracy_drop": 0.05},
    "tflite-int8-full": {"max_abs_diff": 0.3, "min_agreement": 0.95, "max_accuracy_drop": 0.05},
}


def _batched(fn: Predictor, batch_size: int = 32) -> Predictor:
    def run(x: np.ndarray) -> np.ndarray:
        return np.concatenate([fn(x[i:i + batch_size]) for i in range(0, len(x), batch_size)])

    return run


def _keras_predictor(path: Path) -> Predictor:
    import keras

    model = keras.models.load_model(path, compile=False)
    return _batched(lambda x: np.asarray(model.predict_on_batch(x), np.float32))


def _savedmodel_predictor(path: Path) -> Predictor:
    import tensorflow as tf

    loaded = tf.saved_model.load(str(path))
    fn = loaded.signatures["serving_default"]
    (out_key,) = list(fn.structured_outputs)

    def run(x: np.ndarray) -> np.ndarray:
        return np.asarray(fn(tf.constant(x))[out_key], np.float32)

    return _batched(run)


def _tflite_predictor(path: Path) -> Predictor:
    import tensorflow as tf

    with warnings.catch_warnings():
        # TF 2.21 announces tf.lite.Interpreter's move to ai_edge_litert; it still works, and we say so once here.
        warnings.filterwarnings("ignore", message=".*tf.lite.Interpreter is deprecated.*", category=UserWarning)
        interp = tf.lite.Interpreter(model_path=str(path), num_threads=2)
    inp = interp.get_input_details()[0]
    out = interp.get_output_details()[0]

    def run(x: np.ndarray) -> np.ndarray:
        interp.resize_tensor_input(inp["index"], list(x.shape))
        interp.allocate_tensors()
        scale, zero = inp["quantization"]
        data = x
        if inp["dtype"] != np.float32:
            info = np.iinfo(inp["dtype"])
            data = np.clip(np.rint(x / (scale or 1.0) + zero), info.min, info.max).astype(inp["dtype"])
        interp.set_tensor(inp["index"], data)
        interp.invoke()
        y = interp.get_tensor(out["index"])
        o_scale, o_zero = out["quantization"]
        if out["dtype"] != np.float32:
            y = (y.astype(np.float32) - o_zero) * o_scale
        return np.asarray(y, np.float32)

    return _batched(run)


def _onnx_predictor(path: Path) -> Predictor:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return _batched(lambda x: np.asarray(session.run(None, {name: x})[0], np.float32))


def predictor_for(fmt: str, path: Path) -> Predictor:
    """A function running the exported model at ``path`` (raw images in, probabilities out).

    Raises:
        ValueError: Unknown format.
    """
    if fmt == "keras":
        return _keras_predictor(path)
    if fmt == "savedmodel":
        return _savedmodel_predictor(path)
    if fmt.startswith("tflite"):
        return _tflite_predictor(path)
    if fmt == "onnx":
        return _onnx_predictor(path)
    if fmt == "onnx-web":
        from tl_widgets.core.export.onnx_web import BrowserPredictor

        return BrowserPredictor(path)
    raise ValueError(f"Expected one of {sorted(THRESHOLDS)}. Received: format={fmt!r}")


def verify(fmt: str, keras_probs: np.ndarray, export_probs: np.ndarray, labels: np.ndarray) -> dict[str, Any]:
    """Compares an export's probabilities with Keras' on the same images.

    Returns:
        ``count``, ``max_abs_diff``, ``mean_abs_diff``, ``top1_agreement``,
        ``keras_accuracy``, ``export_accuracy``, ``accuracy_drop``,
        ``thresholds``, ``ok`` and ``warnings`` (one sentence per failed check).
    """
    if keras_probs.shape != export_probs.shape:
        return {"count": int(len(labels)), "ok": False, "thresholds": THRESHOLDS[fmt],
                "warnings": [f"Expected export outputs of shape {keras_probs.shape}. Received: {export_probs.shape}"]}
    diff = np.abs(keras_probs.astype(np.float64) - export_probs.astype(np.float64))
    k_top, e_top = keras_probs.argmax(1), export_probs.argmax(1)
    k_acc, e_acc = float(np.mean(k_top == labels)), float(np.mean(e_top == labels))
    result: dict[str, Any] = {
        "count": int(len(labels)),
        "max_abs_diff": float(diff.max()),
        "mean_abs_diff": float(diff.mean()),
        "top1_agreement": float(np.mean(k_top == e_top)),
        "keras_accuracy": k_acc,
        "export_accuracy": e_acc,
        "accuracy_drop": k_acc - e_acc,
        "thresholds": THRESHOLDS[fmt],
    }
    t = THRESHOLDS[fmt]
    warnings = []
    if not np.isfinite(export_probs).all():
        warnings.append("The exported model produced NaN or infinite outputs.")
    if result["max_abs_diff"] > t["max_abs_diff"]:
        warnings.append(
            f"Max probability difference {result['max_abs_diff']:.3g} exceeds {t['max_abs_diff']:g} for {fmt}."
        )
    if result["top1_agreement"] < t["min_agreement"]:
        warnings.append(
            f"Top-1 agreement with Keras {result['top1_agreement']:.2%} is below {t['min_agreement']:.0%} for {fmt}."
        )
    if result["accuracy_drop"] > t["max_accuracy_drop"] + 1e-12:
        warnings.append(
            f"Accuracy drops by {result['accuracy_drop']:.2%} (Keras {k_acc:.2%}, export {e_acc:.2%}); "
            f"allowed {t['max_accuracy_drop']:.0%} for {fmt}."
        )
    result["ok"] = not warnings
    result["warnings"] = warnings
    return result
