"""Exporting a trained classifier, each export verified against the Keras model.

Formats (all take raw 0-255 RGB images, like ``model.keras``):

* ``keras``: the ``.keras`` file.
* ``savedmodel``: ``model.export(..., format="tf_saved_model")``; its
  ``serving_default`` signature takes ``float32 [N, S, S, 3]`` raw images.
* ``tflite`` (float32), ``tflite-fp16`` (float16 weights), ``tflite-int8``
  (dynamic-range int8 weights), ``tflite-int8-full`` (int8 weights and
  activations, uint8 raw-pixel input, calibrated on training images):
  converted from the exported SavedModel (Keras 3 models can't go through
  ``TFLiteConverter.from_keras_model``).
* ``onnx``: ``model.export(..., format="onnx")`` (needs ``tf2onnx``, ``onnx``
  and ``onnxruntime``: ``pip install tl-widgets[onnx]``).
* ``onnx-web``: the same ONNX file for onnxruntime-web, verified by running it
  in headless Chromium (see :mod:`tl_widgets.core.export.onnx_web`; TensorFlow.js'
  converter cannot be installed beside TensorFlow 2.21).

Each export folder holds the model, ``labels.txt`` and ``export_report.json``
(see :mod:`tl_widgets.core.export.verify` for the checks).
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from tl_widgets.core.export.errors import ExportError
from tl_widgets.core.export.verify import predictor_for, verify
from tl_widgets.core.i18n import _
from tl_widgets.core.runs.folder import EXPORT_REPORT_FILE
from tl_widgets.core.fileio import atomic_save, atomic_write_json, atomic_write_text

__all__ = ["FORMATS", "ExportError", "ExportReport", "export_model", "export_run", "take_images", "EXPORT_REPORT_NAME"]

FORMATS = (
    "keras", "savedmodel", "tflite", "tflite-fp16", "tflite-int8", "tflite-int8-full", "onnx", "onnx-web",
)
EXPORT_REPORT_NAME = EXPORT_REPORT_FILE
_FILE_NAMES = {
    "keras": "model.keras", "savedmodel": "saved_model", "onnx": "model.onnx", "onnx-web": "model.onnx",
}


@dataclass
class ExportReport:
    """What an export produced and how it compares with the Keras model.

    Attributes:
        format: One of :data:`FORMATS`.
        path: The exported model (file, or folder for ``savedmodel``).
        folder: The export folder (model, ``labels.txt``, ``export_report.json``).
        file_size: Bytes on disk (all files for a folder).
        conversion_seconds: Time spent converting and writing.
        verification: See :func:`tl_widgets.core.export.verify.verify` (empty when not verified).
        ok: False when any check failed or no verification was possible.
        warnings: One sentence per failed check.
        run_id: The run's id when known.
    """

    format: str
    path: str
    folder: str
    file_size: int
    conversion_seconds: float
    verification: dict[str, Any] = field(default_factory=dict)
    ok: bool = False
    warnings: list[str] = field(default_factory=list)
    run_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return dataclasses.asdict(self)


def _check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise ValueError(f"Expected an export format among {list(FORMATS)}. Received: format={fmt!r}")


def _size(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


def take_images(dataset: Any, limit: int) -> tuple[np.ndarray, np.ndarray]:
    """Up to ``limit`` ``(images, labels)`` from a batched dataset, as numpy arrays."""
    xs, ys, n = [], [], 0
    for x, y in dataset:
        xs.append(np.asarray(x, np.float32))
        ys.append(np.asarray(y).astype(np.int64).reshape(-1))
        n += len(ys[-1])
        if n >= limit:
            break
    if not xs:
        raise ValueError("Expected at least one batch of images. Received: an empty dataset")
    return np.concatenate(xs)[:limit], np.concatenate(ys)[:limit]


def _write_saved_model(model: Any, target: Path) -> None:
    model.export(str(target), format="tf_saved_model", verbose=False)


def _replace_dir(src: Path, final: Path) -> None:
    """Moves folder ``src`` onto ``final``, replacing an earlier one only once the new one is complete."""
    old = None
    if final.exists():
        old = final.with_name(f".old-{uuid.uuid4().hex[:8]}-{final.name}")
        os.replace(final, old)
    os.replace(src, final)
    if old is not None:
        shutil.rmtree(old)


def _tflite_bytes(model: Any, fmt: str, representative: np.ndarray | None) -> bytes:
    import tensorflow as tf

    with tempfile.TemporaryDirectory(prefix="tlw-export-") as tmp:
        saved = Path(tmp) / "saved_model"
        _write_saved_model(model, saved)
        converter = tf.lite.TFLiteConverter.from_saved_model(str(saved))
        if fmt == "tflite-fp16":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.target_spec.supported_types = [tf.float16]
        elif fmt == "tflite-int8":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        elif fmt == "tflite-int8-full":
            if representative is None or not len(representative):
                raise ExportError(_("Expected representative training images for tflite-int8-full. Received: none"))
            samples = representative.astype(np.float32)

            def gen() -> Any:
                for i in range(len(samples)):
                    yield [samples[i:i + 1]]

            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.representative_dataset = gen
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            converter.inference_input_type = tf.uint8  # raw pixels go in as bytes
            converter.inference_output_type = tf.float32
        return converter.convert()


def _check_onnx() -> None:
    missing = []
    for module in ("tf2onnx", "onnx", "onnxruntime"):
        try:
            __import__(module)
        except ImportError as exc:
            missing.append(f"{module} ({exc})")
    if missing:
        raise ExportError(_("Expected the ONNX converter packages tf2onnx, onnx and onnxruntime (`pip install "
                            "tl-widgets[onnx]`). Received: missing {missing}").format(missing=", ".join(missing)))


def _convert(model: Any, fmt: str, folder: Path, representative: np.ndarray | None) -> Path:
    target = folder / _FILE_NAMES.get(fmt, "model.tflite")
    if fmt == "keras":
        atomic_save(target, lambda tmp: model.save(str(tmp)))
    elif fmt == "savedmodel":
        tmp = folder / f".tmp-{uuid.uuid4().hex[:12]}-saved_model"
        try:
            _write_saved_model(model, tmp)
            _replace_dir(tmp, target)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp)
    elif fmt.startswith("tflite"):
        data = _tflite_bytes(model, fmt, representative)
        atomic_save(target, lambda tmp: tmp.write_bytes(data))
    elif fmt in ("onnx", "onnx-web"):
        _check_onnx()
        atomic_save(target, lambda tmp: model.export(str(tmp), format="onnx", verbose=False))
    return target


def export_model(
    model: Any,
    fmt: str,
    out_dir: str | os.PathLike[str],
    *,
    class_names: Sequence[str],
    verify_data: tuple[np.ndarray, np.ndarray] | None = None,
    representative: np.ndarray | None = None,
    run_id: str | None = None,
) -> ExportReport:
    """Exports ``model`` in ``fmt`` into ``out_dir`` and verifies it.

    Args:
        model: Raw 0-255 RGB in, float32 probabilities out.
        fmt: One of :data:`FORMATS`.
        out_dir: The export folder (created; an earlier export there is replaced).
        class_names: Written to ``labels.txt``.
        verify_data: Held-out ``(images, labels)`` to compare Keras and the export on.
            Without it the report says it was not verified (``ok`` is False).
        representative: Training images calibrating ``tflite-int8-full``.
        run_id: Recorded in the report.

    Raises:
        ValueError: Unknown format or mismatched class names.
        ExportError: The converter is missing or failed.
    """
    _check_format(fmt)
    n_out = int(model.output_shape[-1])
    if len(class_names) != n_out:
        raise ValueError(f"Expected {n_out} class names (the model's outputs). Received: {len(class_names)}")
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    size = int(model.input_shape[1])
    model.predict_on_batch(np.zeros((1, size, size, 3), np.float32))  # builds traced state some exporters need
    started = time.perf_counter()
    try:
        path = _convert(model, fmt, folder, representative)
    except (ExportError, OSError):
        raise
    except Exception as exc:  # converters raise many types; say which format failed and why
        raise ExportError(_("Expected {format} conversion to succeed. Received: {error}").format(
            format=fmt, error=f"{type(exc).__name__}: {exc}")) from exc
    seconds = time.perf_counter() - started
    atomic_write_text(folder / "labels.txt", "\n".join(class_names) + "\n")

    report = ExportReport(format=fmt, path=str(path), folder=str(folder), file_size=_size(path),
                          conversion_seconds=round(seconds, 3), run_id=run_id)
    if verify_data is None:
        report.warnings = ["Not verified: no held-out images were given."]
    else:
        images, labels = verify_data
        keras_probs = np.concatenate([
            np.asarray(model.predict_on_batch(images[i:i + 32]), np.float32) for i in range(0, len(images), 32)
        ])
        predictor = predictor_for(fmt, path)
        export_probs = predictor(images.astype(np.float32))
        report.verification = verify(fmt, keras_probs, export_probs, labels)
        if getattr(predictor, "backend", None):  # onnx-web: what ran it in the browser, and how fast
            report.verification["runtime"] = predictor.backend
            report.verification["browser_ms_per_image"] = predictor.ms_per_image
        report.warnings = list(report.verification["warnings"])
        report.ok = bool(report.verification["ok"])
    atomic_write_json(folder / EXPORT_REPORT_NAME, report.to_dict())
    return report


def export_run(
    run_dir: str | os.PathLike[str],
    fmt: str,
    *,
    out_dir: str | os.PathLike[str] | None = None,
    max_verify: int = 512,
    representative_count: int = 128,
    record: bool = True,
) -> ExportReport:
    """Exports a run folder's model and verifies it on the run's validation split.

    Args:
        run_dir: The run folder.
        fmt: One of :data:`FORMATS`.
        out_dir: The export folder (default ``<run_dir>/exports/<fmt>``).
        max_verify: At most this many validation images are compared.
        representative_count: Training images calibrating ``tflite-int8-full``.
        record: Record the export in the run store (when the run is there).

    Raises:
        ValueError: Unknown format, or data that can't be rebuilt from the config.
        FileNotFoundError: Not a complete run folder.
        ExportError: The converter is missing or failed.
    """
    from tl_widgets.core.evaluation.evaluate import load_run, record_artifact, run_datasets
    from tl_widgets.core.runs.folder import RunFolder

    _check_format(fmt)
    if max_verify < 1 or representative_count < 1:
        raise ValueError(
            f"Expected max_verify >= 1 and representative_count >= 1. Received: {max_verify}, {representative_count}"
        )
    if fmt in ("onnx", "onnx-web"):
        _check_onnx()  # fail before loading data
    if fmt == "onnx-web":
        from tl_widgets.core.export.onnx_web import check_onnx_web

        check_onnx_web()
    run = load_run(run_dir)
    ds = run_datasets(run)
    verify_data = take_images(ds.val, max_verify)
    representative = take_images(ds.train, representative_count)[0] if fmt == "tflite-int8-full" else None
    folder = Path(out_dir) if out_dir is not None else RunFolder(run.run_dir).export_dir(fmt)
    report = export_model(run.model, fmt, folder, class_names=run.class_names, verify_data=verify_data,
                          representative=representative, run_id=run.run_id)
    if record:
        record_artifact(run.run_id, f"export:{fmt}", Path(report.path))
    return report
