"""Tests of export in every format, each verified against the Keras model on the demo validation set."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from tl_widgets.core.export.formats import EXPORT_REPORT_NAME, FORMATS, ExportError, export_model, export_run
from tl_widgets.core.export.verify import THRESHOLDS, verify

_FLOAT32 = ("keras", "savedmodel", "tflite", "onnx", "onnx-web")


@pytest.fixture(scope="module")
def run_dir(trained_demo_run):
    """The tiny demo run shared by the suite (see tests/conftest.py)."""
    return trained_demo_run


@pytest.mark.parametrize("fmt", [pytest.param(f, marks=pytest.mark.slow) if f == "onnx-web" else f  # Chromium
                                 for f in FORMATS])
def test_export_and_verify(run_dir, fmt):
    if fmt in ("onnx", "onnx-web"):
        pytest.importorskip("tf2onnx", reason="ONNX export needs the [onnx] extra (tf2onnx, onnx, onnxruntime)")
        pytest.importorskip("onnxruntime", reason="ONNX export needs the [onnx] extra (tf2onnx, onnx, onnxruntime)")
    report = export_run(run_dir, fmt)
    v = report.verification
    folder = run_dir / "exports" / fmt
    assert report.folder == str(folder)
    assert (folder / "labels.txt").read_text().split() == (run_dir / "labels.txt").read_text().split()
    saved = json.loads((folder / EXPORT_REPORT_NAME).read_text())
    assert saved["verification"] == json.loads(json.dumps(v)) and saved["ok"] == report.ok
    assert report.file_size > 10_000 and report.conversion_seconds > 0
    assert v["count"] > 50  # the whole demo validation split
    assert report.ok, report.warnings
    assert v["keras_accuracy"] - v["export_accuracy"] == pytest.approx(v["accuracy_drop"])
    if fmt == "onnx-web":  # run by onnxruntime-web inside Chromium, not by Python
        assert v["runtime"].startswith("onnxruntime-web") and v["browser_ms_per_image"] > 0
    if fmt in _FLOAT32:
        assert v["max_abs_diff"] < 1e-4
        assert v["top1_agreement"] == 1.0
    elif fmt == "tflite-fp16":
        assert v["max_abs_diff"] < 1e-2 and v["top1_agreement"] >= 0.98
    else:
        assert v["top1_agreement"] >= 0.95
        assert v["accuracy_drop"] <= 0.05
    if fmt.startswith("tflite-int8"):
        float_size = (run_dir / "exports" / "tflite" / "model.tflite")
        if float_size.exists():
            assert report.file_size < 0.5 * float_size.stat().st_size


def test_full_int8_takes_uint8_pixels(run_dir):
    import tensorflow as tf

    path = run_dir / "exports" / "tflite-int8-full" / "model.tflite"
    if not path.exists():
        export_run(run_dir, "tflite-int8-full")
    details = tf.lite.Interpreter(model_path=str(path)).get_input_details()[0]
    assert details["dtype"] == np.uint8


def test_verify_reports_failures_visibly():
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(4), size=100).astype(np.float32)
    labels = probs.argmax(1)
    same = verify("tflite", probs, probs.copy(), labels)
    assert same["ok"] and same["warnings"] == [] and same["max_abs_diff"] == 0.0
    shuffled = verify("tflite-int8", probs, probs[::-1].copy(), labels)
    assert not shuffled["ok"]
    assert any("agreement" in w for w in shuffled["warnings"])
    assert any("Accuracy drops" in w for w in shuffled["warnings"])
    nudged = verify("tflite", probs, probs + 1e-3, labels)
    assert not nudged["ok"] and "exceeds 0.0001" in nudged["warnings"][0]
    bad_shape = verify("onnx", probs, probs[:, :2], labels)
    assert not bad_shape["ok"] and "shape" in bad_shape["warnings"][0]
    assert set(THRESHOLDS) == set(FORMATS)


def test_unverified_export_is_not_ok(run_dir, tmp_path):
    from tl_widgets.core.evaluation.evaluate import load_run

    run = load_run(run_dir)
    report = export_model(run.model, "keras", tmp_path / "k", class_names=run.class_names)
    assert not report.ok and "Not verified" in report.warnings[0]
    with pytest.raises(ValueError, match="class names"):
        export_model(run.model, "keras", tmp_path / "k", class_names=["a"])


def test_bad_inputs(run_dir, tmp_path, monkeypatch):
    with pytest.raises(ValueError, match=r"Expected an export format .* Received: format='pdf'"):
        export_run(run_dir, "pdf")
    with pytest.raises(FileNotFoundError, match="Expected a run folder"):
        export_run(tmp_path / "missing", "keras")
    monkeypatch.setitem(sys.modules, "tf2onnx", None)  # makes `import tf2onnx` raise ImportError
    with pytest.raises(ExportError, match=r"tl-widgets\[onnx\].*tf2onnx"):
        export_run(run_dir, "onnx")


def _cli(*argv):
    from tl_widgets.cli import main

    return main([str(a) for a in argv])


def test_cli_export(run_dir, tmp_path, capsys):
    out = tmp_path / "tfl"
    assert _cli("export", run_dir, "--format", "tflite", "--out", out) == 0
    assert (out / "model.tflite").is_file() and (out / EXPORT_REPORT_NAME).is_file()
    assert "top-1 agreement 100.00%" in capsys.readouterr().out
    assert _cli("export", tmp_path / "missing", "--format", "keras") == 1
    assert capsys.readouterr().err.startswith("tl-widgets: error: Expected a run folder")
    with pytest.raises(SystemExit):
        _cli("export", run_dir, "--format", "pdf")
    assert "invalid choice: 'pdf'" in capsys.readouterr().err
