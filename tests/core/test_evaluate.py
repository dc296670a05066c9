"""Tests of evaluation: metrics by hand, a trained demo run end to end, predict, CLI and bad inputs."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tl_widgets.core.evaluation.evaluate import (
    EVAL_REPORT_NAME,
    confusion_matrix,
    evaluate_model,
    evaluate_run,
    load_run,
    per_class_metrics,
    predict,
    run_datasets,
    top_k_accuracy,
)


@pytest.fixture(scope="module")
def run_dir(trained_demo_run):
    """The tiny demo run shared by the suite (see tests/conftest.py)."""
    return trained_demo_run


def test_metrics_by_hand():
    y_true = [0, 0, 1, 1, 1, 2]
    y_pred = [0, 1, 1, 1, 0, 1]
    cm = confusion_matrix(y_true, y_pred, 3)
    assert cm.tolist() == [[1, 1, 0], [1, 2, 0], [0, 1, 0]]
    rows = per_class_metrics(cm, ["a", "b", "c"])
    assert rows[0] == pytest.approx({"class": "a", "precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2})
    assert rows[1]["precision"] == pytest.approx(0.5) and rows[1]["recall"] == pytest.approx(2 / 3)
    assert rows[2] == {"class": "c", "precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    probs = np.array([[0.6, 0.3, 0.1], [0.3, 0.1, 0.6], [0.5, 0.4, 0.1]])
    y = np.array([1, 1, 1])
    assert top_k_accuracy(y, probs, 1) == 0.0
    assert top_k_accuracy(y, probs, 2) == pytest.approx(2 / 3)
    assert top_k_accuracy(y, probs, 5) == 1.0
    with pytest.raises(ValueError, match="k >= 1"):
        top_k_accuracy(y, probs, 0)


def test_evaluate_run_matches_keras(run_dir):
    import keras

    report = evaluate_run(run_dir)
    run = load_run(run_dir)
    ds = run_datasets(run)
    cm = np.array(report.confusion)
    assert cm.sum() == ds.val_count == report.count
    assert [r["support"] for r in report.per_class] == cm.sum(axis=1).tolist()
    model = run.model
    model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    loss, acc = model.evaluate(ds.val, verbose=0)
    assert report.accuracy == pytest.approx(acc, abs=1e-6)
    assert report.loss == pytest.approx(loss, rel=1e-4)
    assert report.accuracy == pytest.approx(np.trace(cm) / cm.sum())
    assert report.top_k["top_3"] >= report.accuracy
    saved = json.loads((run_dir / EVAL_REPORT_NAME).read_text())
    assert saved["confusion"] == report.confusion and saved["accuracy"] == report.accuracy
    assert "top_loss_images" not in saved
    # Top losses are wrong predictions, highest loss first, with their images.
    losses = [t["loss"] for t in report.top_losses]
    assert losses == sorted(losses, reverse=True)
    assert all(t["true"] != t["predicted"] for t in report.top_losses)
    assert report.top_loss_images.shape == (len(report.top_losses), 32, 32, 3)
    assert len(report.top_losses) == min(16, report.count - int(np.trace(cm)))
    keras.backend.clear_session()


def test_predict_array_and_file(run_dir, tmp_path):
    import keras

    run = load_run(run_dir)
    images, labels = next(iter(run_datasets(run).val))
    images = np.asarray(images)
    top = predict(run.model, images[:3], run.class_names, k=2)
    probs = run.model.predict_on_batch(images[:3])
    assert [t[0][0] for t in top] == [run.class_names[i] for i in np.argmax(probs, axis=1)]
    assert all(len(t) == 2 and t[0][1] >= t[1][1] for t in top)
    path = tmp_path / "digit.png"
    keras.utils.save_img(path, images[0].astype("uint8"), scale=False)
    from_file = predict(run.model, path, run.class_names, k=1)[0][0]
    assert from_file[0] == top[0][0][0]
    # A bigger image is resized to the model's input.
    big = np.repeat(np.repeat(images[:1], 2, axis=1), 2, axis=2)
    assert predict(run.model, big[0], run.class_names, k=1)[0][0][0] in run.class_names
    with pytest.raises(ValueError, match=r"\[H, W, 3\]"):
        predict(run.model, np.zeros((32, 32)), run.class_names)
    with pytest.raises(FileNotFoundError, match="missing.png"):
        predict(run.model, tmp_path / "missing.png", run.class_names)


def test_bad_inputs(tmp_path, run_dir):
    with pytest.raises(FileNotFoundError, match="Expected a run folder"):
        evaluate_run(tmp_path / "nope")
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "config.json").write_text((run_dir / "config.json").read_text())
    with pytest.raises(FileNotFoundError, match="model.keras"):
        evaluate_run(tmp_path / "half")
    run = load_run(run_dir)
    with pytest.raises(ValueError, match="Received: an empty dataset"):
        evaluate_model(run.model, [], run.class_names)
    with pytest.raises(ValueError, match="Expected the model to output 3 classes"):
        x = np.zeros((2, 32, 32, 3), np.float32)
        evaluate_model(run.model, [(x, np.zeros(2, int))], ["a", "b", "c"])


def test_code_data_run_is_refused(run_dir, monkeypatch):
    run = load_run(run_dir)
    d = run.config.to_dict()
    d["data"]["source"] = "code"
    from tl_widgets.core.config.schema import TrainConfig

    run.config = TrainConfig.from_dict(d)
    with pytest.raises(ValueError, match="data.source='code'"):
        run_datasets(run)


def _cli(*argv):
    from tl_widgets.cli import main

    return main([str(a) for a in argv])


def test_cli_evaluate(run_dir, tmp_path, capsys):
    out = tmp_path / "report.html"
    assert _cli("evaluate", run_dir, "--out", out) == 0
    text = out.read_text()
    assert "Confusion matrix" in text and "Per-class" in text and "plotly" in text.lower()
    assert "accuracy=" in capsys.readouterr().out
    assert _cli("evaluate", tmp_path / "missing") == 1
    err = capsys.readouterr().err
    assert err.startswith("tl-widgets: error: Expected a run folder") and err.count("\n") == 1
