from __future__ import annotations

import json

import numpy as np
import pytest

from tl_widgets.core.config.schema import FreezeConfig, PhaseConfig
from tl_widgets.core.events import BatchEnd, PhaseStarted, RunFailed, RunStarted
from tl_widgets.core.training.session import SessionBusyError, TrainingSession, train


def _kinds(events):
    return [e.kind for e in events]


def test_train_writes_run_folder_and_streams_events(tiny_config):
    tiny_config.phases.append(PhaseConfig(name="fine_tune", epochs=1, learning_rate=1e-4,
                                          freeze=FreezeConfig(mode="top", top_n=2)))
    session = TrainingSession(tiny_config, record=False)
    sub = session.bus.listen()
    session.start()
    result = session.wait(timeout=300)
    assert result is not None and result.status == "finished", result and result.error
    events = sub.drain()
    kinds = _kinds(events)
    assert kinds[0] == "run_started" and kinds[-1] == "run_finished"
    assert kinds.count("phase_started") == 2 and kinds.count("epoch_end") == 2
    batches = [e for e in events if isinstance(e, BatchEnd)]
    assert batches and all(b.images_per_sec > 0 and b.learning_rate > 0 for b in batches)
    assert [b.global_step for b in batches] == sorted(b.global_step for b in batches)
    phases = [e for e in events if isinstance(e, PhaseStarted)]
    assert phases[1].trainable_params > phases[0].trainable_params
    started = next(e for e in events if isinstance(e, RunStarted))
    assert started.class_names == ("five", "six", "seven", "eight", "nine")

    run_dir = result.run_dir
    for name in ("config.json", "model.keras", "summary.json", "labels.txt", "history_batches.csv",
                 "history_epochs.csv", "checkpoints/last.weights.h5", "checkpoints/best.weights.h5"):
        assert (run_dir / name).is_file(), name
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "finished"
    assert 0.0 <= summary["metrics"]["val_accuracy"] <= 1.0
    assert summary["skipped_files"] == [] and summary["timings"]["total_s"] > 0
    assert len(result.history["epoch"]["val_accuracy"]) == 2
    assert len(result.history["batch"]["loss"]) == len(batches)


def test_saved_model_takes_raw_images_and_matches(tiny_config):
    import keras

    result = train(tiny_config, record=False)
    loaded = keras.saving.load_model(result.run_dir / "model.keras")
    x = np.random.default_rng(0).uniform(0, 255, (4, 32, 32, 3)).astype("float32")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), result.model.predict(x, verbose=0), atol=1e-5)
    assert loaded.get_layer("backbone") is not None and loaded.input_shape == (None, 32, 32, 3)


def test_stop_ends_after_current_batch_and_keeps_model(tiny_config):
    tiny_config.feature_cache = False
    tiny_config.data.max_per_class = None
    tiny_config.phases[0].epochs = 20
    session = TrainingSession(tiny_config, record=False)
    sub = session.bus.listen()
    session.start()
    while True:
        e = sub.get(timeout=120)
        assert e is not None, "no batch within 120 s"
        if isinstance(e, BatchEnd):
            break
    import time

    t_stop = time.time()
    session.stop()
    result = session.wait(timeout=120)
    assert result.status == "stopped" and session.status == "stopped"
    assert result.model is not None and session.model is result.model
    after = [x for x in sub.drain() if isinstance(x, BatchEnd)]
    # Batches are read to the host in bursts, each stamped with the time its step ended: at most the batch
    # under way when Stop was pressed ended after it; every batch trained is in the history.
    assert len([x for x in after if x.time > t_stop]) <= 1
    last_step = after[-1].global_step if after else e.global_step
    assert len(session.history["batch"]["loss"]) == last_step
    assert json.loads((result.run_dir / "summary.json").read_text())["status"] == "stopped"
    assert (result.run_dir / "model.keras").is_file()


def test_second_start_while_running_is_refused(tiny_config):
    tiny_config.phases[0].epochs = 3
    a = TrainingSession(tiny_config, record=False)
    b = TrainingSession(tiny_config, record=False)
    a.start()
    try:
        with pytest.raises(SessionBusyError, match="already active"):
            a.start()
        with pytest.raises(SessionBusyError, match="Another run is active"):
            b.start()
    finally:
        a.stop()
        a.wait(120)


def test_failure_is_an_event_with_reason_and_summary(tiny_config, tmp_path):
    tiny_config.data.source = "folder"
    tiny_config.data.path = str(tmp_path / "nope")
    session = TrainingSession(tiny_config, record=False)
    sub = session.bus.listen()
    session.start()
    result = session.wait(120)
    assert result.status == "failed" and "does not exist" in result.error
    failed = [e for e in sub.drain() if isinstance(e, RunFailed)]
    assert len(failed) == 1 and "Traceback" in failed[0].traceback
    summary = json.loads((result.run_dir / "summary.json").read_text())
    assert summary["status"] == "failed" and "does not exist" in summary["error"]


def test_non_finite_loss_fails_the_run_clearly(tiny_config, tmp_path):
    from tl_widgets.core.models.demo_backbone import build_demo_backbone

    backbone = build_demo_backbone((32, 32, 3))
    kernel = backbone.get_layer("block4_conv").kernel
    kernel.assign(np.full(kernel.shape, np.nan, "float32"))
    backbone.save_weights(str(tmp_path / "nan.weights.h5"))
    tiny_config.model.weights = str(tmp_path / "nan.weights.h5")
    tiny_config.feature_cache = False
    result = train(tiny_config, record=False)
    assert result.status == "failed"
    assert "Loss became nan" in result.error and "learning rate" in result.error


def test_same_seed_same_history(tiny_config):
    a = train(tiny_config, record=False)
    b = train(tiny_config, record=False)
    assert a.history["epoch"]["val_accuracy"] == b.history["epoch"]["val_accuracy"]
    np.testing.assert_allclose(a.history["batch"]["loss"], b.history["batch"]["loss"], rtol=1e-4)


def test_rollback_when_fine_tuning_hurts(tiny_config):
    tiny_config.phases[0].epochs = 2
    tiny_config.phases.append(PhaseConfig(name="fine_tune", epochs=1, learning_rate=0.5, optimizer="sgd",
                                          freeze=FreezeConfig(mode="none", train_batchnorm=True)))
    session = TrainingSession(tiny_config, record=False)
    sub = session.bus.listen()
    session.start()
    result = session.wait(300)
    assert result.status == "finished", result.error
    assert result.summary["rollback"] is not None
    rb = result.summary["rollback"]
    assert rb["best_phase"] == 0 and rb["final"] < rb["best"]
    msgs = [e.text for e in sub.drain() if e.kind == "message"]
    assert any("rolled back" in m for m in msgs)
    # The model really holds the best weights again.
    import keras

    best = keras.saving.load_model(result.run_dir / "model.keras")
    ref = result.model
    for w1, w2 in zip(best.weights, ref.weights):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(w1), keras.ops.convert_to_numpy(w2))


def test_worker_thread_never_prints(tiny_config, capfd):
    train(tiny_config, record=False)
    out, err = capfd.readouterr()
    assert out == ""
    assert "Epoch" not in err


def test_discriminative_learning_rates_per_block(tiny_config):
    import keras

    from tl_widgets.core.models.assembly import backbone_of

    tiny_config.feature_cache = False
    tiny_config.phases = [PhaseConfig(name="ft", epochs=1, learning_rate=1e-3,
                                      freeze=FreezeConfig(mode="none", train_batchnorm=True),
                                      block_lr_multipliers={"stem": 0.0, "block1": 0.0})]
    from tl_widgets.core.models.demo_backbone import DEMO_WEIGHTS, build_demo_backbone

    ref = build_demo_backbone((32, 32, 3), weights=DEMO_WEIGHTS)
    result = train(tiny_config, record=False)
    assert result.status == "finished", result.error
    bb = backbone_of(result.model)
    same = keras.ops.convert_to_numpy(bb.get_layer("block1_conv").kernel)
    moved = keras.ops.convert_to_numpy(bb.get_layer("block4_conv").kernel)
    np.testing.assert_array_equal(same, keras.ops.convert_to_numpy(ref.get_layer("block1_conv").kernel))
    assert not np.array_equal(moved, keras.ops.convert_to_numpy(ref.get_layer("block4_conv").kernel))
    # the saved model loads with plain Keras (no custom optimizer class inside)
    keras.saving.load_model(result.run_dir / "model.keras")


def test_lr_decay_per_block_factors():
    from tl_widgets.core.models.backbones import get_backbone
    from tl_widgets.core.config.schema import FreezeConfig as FC
    from tl_widgets.core.models.freezing import FreezeError, FreezePlan
    from tl_widgets.core.training.optimizers import block_multipliers

    spec = get_backbone("demo_cnn")
    bb = spec.builder(input_shape=(32, 32, 3))
    blocks = spec.blocks(bb)
    rep = FreezePlan(FC(mode="top", top_n=3)).apply(bb, blocks)
    m = block_multipliers(PhaseConfig(lr_decay_per_block=0.5), rep, blocks, bb)
    assert m[bb.get_layer("block2_conv").kernel.path] == 0.25
    assert m[bb.get_layer("block3_conv").kernel.path] == 0.5
    assert bb.get_layer("block4_conv").kernel.path not in m  # top block: factor 1
    with pytest.raises(FreezeError, match="'nope'"):
        block_multipliers(PhaseConfig(block_lr_multipliers={"nope": 2.0}), rep, blocks, bb)


def test_history_recorder_keeps_columns_aligned_and_seeds_resumed_epochs():
    import math

    from tl_widgets.core.events import EpochEnd
    from tl_widgets.core.training.history import HistoryRecorder

    rec = HistoryRecorder()
    rec.begin("r", {"epoch": [0, 1], "phase": [0, 0], "val_accuracy": [0.5, 0.6]})  # an older CSV: no step column
    assert rec.epochs_done == 2 and all(len(v) == 2 for v in rec.epoch.values())
    assert math.isnan(rec.epoch["global_step"][0])
    rec(RunStarted("r", config={}, run_dir=None, total_epochs=4, steps_per_epoch=2, resumed_from_epoch=2))
    assert rec.epochs_done == 2  # the same run starting keeps the seeded epochs
    rec(BatchEnd("r", phase=1, epoch=2, step=1, global_step=5, metrics={"loss": 1.0}, images_per_sec=1.0,
                 learning_rate=0.1))
    rec(BatchEnd("r", phase=1, epoch=2, step=2, global_step=6, metrics={"loss": 0.5, "auc": 0.7},
                 images_per_sec=1.0, learning_rate=0.1))
    rec(EpochEnd("r", phase=1, epoch=2, metrics={"loss": 0.5, "val_accuracy": 0.7}, duration=1.0, learning_rate=0.1))
    assert rec.batch["global_step"] == [5, 6] and math.isnan(rec.batch["auc"][0]) and rec.batch["auc"][1] == 0.7
    assert rec.epoch["epoch"] == [0, 1, 2] and rec.epoch["global_step"][2] == 6 and rec.epoch["val_accuracy"][2] == 0.7
    assert len({len(v) for v in rec.epoch.values()}) == 1 and math.isnan(rec.epoch["loss"][0])
    assert rec.final_metrics() == {"loss": 0.5, "val_accuracy": 0.7}
    rec(RunStarted("other", config={}, run_dir=None, total_epochs=1, steps_per_epoch=1))
    assert rec.batch["global_step"] == [] and rec.epochs_done == 0


def test_session_history_is_the_one_recorded_from_the_bus(tiny_config):
    session = TrainingSession(tiny_config, record=False)
    steps = []
    session.bus.subscribe(lambda e: steps.append(e.global_step) if isinstance(e, BatchEnd) else None)
    session.start()
    result = session.wait(300)
    assert result.status == "finished", result.error
    assert result.history["batch"] is session.history_recorder.batch is session.history["batch"]
    assert result.history["batch"]["global_step"] == steps
    assert result.history["epoch"]["global_step"][-1] == steps[-1]  # where the epoch ended
    header = (result.run_dir / "history_epochs.csv").read_text().splitlines()[0].split(",")
    assert header[:4] == ["epoch", "phase", "global_step", "learning_rate"] and "val_accuracy" in header
    assert "global_step" not in result.metrics and "learning_rate" not in result.metrics


def test_a_start_refused_by_the_run_store_leaves_no_run_active(tiny_config):
    from tl_widgets.core.training import session as session_module

    session = TrainingSession(tiny_config, source="nowhere")  # the run store refuses this source
    with pytest.raises(ValueError, match="source"):
        session.start()
    assert session_module._ACTIVE == {} and session.status == "idle" and not session.running
