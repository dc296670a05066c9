"""Temperature scaling: lowers ECE on an over-confident model, saves with plain Keras, survives export."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tl_widgets.core.evaluation.calibration import (
    apply_temperature,
    calibrate_model,
    expected_calibration_error,
    fit_temperature,
    reliability_bins,
    scale_probabilities,
    softmax,
)

SIZE = 8


def _blobs(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Three classes of noisy 8x8 images whose mean brightness per channel overlaps: not separable."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    x = rng.normal(128.0, 40.0, (n, SIZE, SIZE, 3))
    for c in range(3):
        x[y == c, :, :, c] += 4.0  # the per-image channel mean moves ~0.8 of its spread
    return np.clip(x, 0, 255).astype(np.float32), y


@pytest.fixture(scope="module")
def overconfident():
    """A tiny softmax classifier with logits 12x the Bayes-optimal ones: right ~60%, sure ~100%.

    Per image, the channel means are Gaussian (spread 5/255) and the true class's channel is 4/255 higher,
    so the calibrated logit is about (4/255) / (5/255)^2 = 41 times the channel mean.
    """
    import keras

    inputs = keras.Input((SIZE, SIZE, 3), name="image")
    x = keras.layers.Rescaling(1 / 255.0)(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    out = keras.layers.Dense(3, activation="softmax", name="predictions")(x)
    model = keras.Model(inputs, out)
    model.get_layer("predictions").set_weights([np.eye(3, dtype=np.float32) * 41.0, np.zeros(3, np.float32)])
    apply_temperature(model, 1 / 12)  # sharpen: deliberately over-confident
    return model


def test_ece_and_bins_by_hand():
    probs = np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.6, 0.4]])
    labels = np.array([0, 1, 1, 1])
    table = reliability_bins(probs, labels, bins=2)
    assert table["count"] == [0, 4]
    assert table["confidence"][1] == pytest.approx((0.9 + 0.8 + 0.7 + 0.6) / 4)
    assert table["accuracy"][1] == pytest.approx(0.5)
    assert expected_calibration_error(probs, labels, bins=2) == pytest.approx(0.75 - 0.5)
    with pytest.raises(ValueError, match="Expected labels in"):
        reliability_bins(probs, np.array([0, 1, 2, 1]))


def test_temperature_recovers_a_known_sharpening():
    rng = np.random.default_rng(3)
    logits = rng.normal(0, 1, (4000, 4))
    truth = softmax(logits)
    labels = np.array([rng.choice(4, p=row) for row in truth])  # labels drawn from calibrated probabilities
    assert fit_temperature(logits * 3, labels) == pytest.approx(3.0, rel=0.15)  # 3x over-confident logits
    assert fit_temperature(np.log(scale_probabilities(truth, 1 / 3)), labels) == pytest.approx(3.0, rel=0.15)


def test_calibration_lowers_ece_and_keeps_predictions(overconfident, tmp_path):
    import keras

    x_val, y_val = _blobs(400, 2)
    before = overconfident.predict(x_val, verbose=0)
    batches = [(x_val[i:i + 64], y_val[i:i + 64]) for i in range(0, len(x_val), 64)]
    result = calibrate_model(overconfident, batches)
    after = overconfident.predict(x_val, verbose=0)
    assert result.applied and result.temperature > 2.0  # softened
    assert result.ece_before > result.ece_after
    assert result.ece_before > 0.1 and result.nll_after < result.nll_before
    assert result.ece_before == pytest.approx(expected_calibration_error(before, y_val))
    assert result.ece_after == pytest.approx(expected_calibration_error(after, y_val), abs=1e-4)
    np.testing.assert_array_equal(before.argmax(1), after.argmax(1))  # top-1 never changes
    json.dumps(result.to_dict())  # JSON-ready for summary.json
    # The temperature is in the weights: plain Keras (safe mode, no custom objects) loads the calibrated model.
    path = tmp_path / "calibrated.keras"
    overconfident.save(path)
    np.testing.assert_allclose(keras.models.load_model(path).predict(x_val, verbose=0), after, atol=1e-6)


def test_calibrated_probabilities_survive_export(overconfident, tmp_path):
    from tl_widgets.core.export.formats import export_model
    from tl_widgets.core.export.verify import predictor_for

    x_val, y_val = _blobs(96, 4)
    keras_probs = overconfident.predict(x_val, verbose=0)
    report = export_model(overconfident, "tflite", tmp_path / "tflite", class_names=["r", "g", "b"],
                          verify_data=(x_val, y_val))
    assert report.ok, report.warnings
    exported = predictor_for("tflite", report.path)(x_val)
    np.testing.assert_allclose(exported, keras_probs, atol=1e-4)
    assert expected_calibration_error(exported, y_val) == pytest.approx(
        expected_calibration_error(keras_probs, y_val), abs=1e-3)


def test_a_temperature_that_does_not_help_is_not_applied():
    """Constant logits: no temperature changes the ECE, so the model is left as it is."""
    import keras

    model = keras.Sequential([keras.Input((SIZE, SIZE, 3)), keras.layers.GlobalAveragePooling2D(),
                              keras.layers.Dense(3, activation="softmax", kernel_initializer="zeros")])
    x, y = _blobs(64, 5)
    result = calibrate_model(model, [(x, y)])
    assert not result.applied and result.ece_after == pytest.approx(result.ece_before)
    assert not np.any(model.layers[-1].get_weights()[0])


def test_bad_inputs_say_what_was_expected(overconfident):
    import keras

    with pytest.raises(ValueError, match="temperature > 0"):
        apply_temperature(overconfident, 0.0)
    plain = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="Dense layer with a softmax"):
        apply_temperature(plain, 2.0)
    with pytest.raises(ValueError, match="Expected validation batches"):
        calibrate_model(overconfident, [])


def test_training_calibrates_and_records_it(trained_demo_run):
    """The shared demo run (calibrate on by default): summary.json holds the fit; model.keras is calibrated."""
    from tl_widgets.core.evaluation.evaluate import collect_predictions, load_run, run_datasets

    summary = json.loads((trained_demo_run / "summary.json").read_text())
    cal = summary["calibration"]
    assert cal["temperature"] > 0 and cal["applied"] == (cal["ece_after"] < cal["ece_before"])
    run = load_run(trained_demo_run)
    preds = collect_predictions(run.model, run_datasets(run).val, keep_images=0)
    now = cal["ece_after"] if cal["applied"] else cal["ece_before"]  # the model as saved
    assert expected_calibration_error(preds.probs, preds.labels) == pytest.approx(now, abs=1e-3)


def test_evaluation_shows_calibration(trained_demo_run, tmp_path):
    """evaluate_run carries ECE and the training-time fit; the CLI's HTML report holds the reliability diagram."""
    from tl_widgets.cli import main
    from tl_widgets.views.figures.calibration import reliability_figure_of

    out = tmp_path / "report.html"
    assert main(["evaluate", str(trained_demo_run), "--out", str(out)]) == 0
    saved = json.loads((trained_demo_run / "eval_report.json").read_text())
    fitted = json.loads((trained_demo_run / "summary.json").read_text())["calibration"]
    cal = saved["calibration"]
    now = fitted["ece_after"] if fitted["applied"] else fitted["ece_before"]
    assert cal["temperature"] == fitted["temperature"] and cal["ece"] == pytest.approx(now, abs=1e-3)
    assert sum(cal["bins"]["count"]) == saved["count"]
    fig = reliability_figure_of(cal)
    expected = ["perfectly calibrated", "before calibration", "calibrated"] if fitted["applied"] else [
        "perfectly calibrated", "model"]
    assert [t.name for t in fig.data] == expected
    page = out.read_text()
    assert "Reliability diagram" in page and "expected calibration error" in page
