"""The disk-backed feature cache streams to memory-mapped files and trains the same head as in-memory features."""

from __future__ import annotations

from types import SimpleNamespace

import keras
import numpy as np
import pytest

from tl_widgets.core.config.schema import ModelConfig
from tl_widgets.core.models.assembly import build_model
from tl_widgets.core.training.feature_cache import cache_dir, head_fit_args, head_model, load_or_compute
from tl_widgets.core.training.feature_store import FeatureWriter, open_entry


def _data(n_train: int = 40, n_val: int = 16, batch: int = 8) -> SimpleNamespace:
    rng = np.random.default_rng(1)

    def batches(n: int) -> list[tuple[np.ndarray, np.ndarray]]:
        x = rng.uniform(0, 255, (n, 32, 32, 3)).astype("float32")
        y = rng.integers(0, 3, n).astype("int32")
        return [(x[i:i + batch], y[i:i + batch]) for i in range(0, n, batch)]

    return SimpleNamespace(train=batches(n_train), val=batches(n_val), train_count=n_train, val_count=n_val)


def _train_head(data: SimpleNamespace, key: str | None) -> tuple[list[np.ndarray], np.ndarray, object]:
    keras.utils.set_random_seed(0)
    am = build_model(ModelConfig(backbone="demo_cnn", weights="none", input_size=32), 3)
    feats = load_or_compute(am.model, data, key)
    head = head_model(am.model, am.head_input_dim)
    head.compile(keras.optimizers.Adam(1e-2), "sparse_categorical_crossentropy", metrics=["accuracy"])
    keras.utils.set_random_seed(0)
    head.fit(**head_fit_args(feats, 8, seed=0), epochs=3, verbose=0)
    probe = np.random.default_rng(2).uniform(0, 255, (6, 32, 32, 3)).astype("float32")
    return [np.asarray(w) for w in head.get_weights()], am.model.predict(probe, verbose=0), feats


def test_disk_backed_cache_trains_the_same_model_as_in_memory(tmp_path, monkeypatch):
    monkeypatch.setenv("TL_WIDGETS_HOME", str(tmp_path / "home"))
    data = _data()
    mem_weights, mem_pred, mem = _train_head(data, None)
    disk_weights, disk_pred, disk = _train_head(data, "k1")

    assert not mem.on_disk and isinstance(mem.x_train, np.ndarray) and not isinstance(mem.x_train, np.memmap)
    assert disk.on_disk and isinstance(disk.x_train, np.memmap)
    # Features computed twice by the backbone: equal up to float noise, never compared bit for bit.
    np.testing.assert_allclose(np.asarray(disk.x_train), mem.x_train, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(np.asarray(disk.y_val), mem.y_val)
    for a, b in zip(disk_weights, mem_weights):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)
    np.testing.assert_allclose(disk_pred, mem_pred, atol=1e-6)
    assert not np.allclose(mem_weights[-1], 0)  # the head did train

    again = load_or_compute(build_model(ModelConfig(backbone="demo_cnn", weights="none", input_size=32), 3).model,
                            data, "k1")
    assert again.from_cache and len(again.y_train) == 40
    assert [p.name for p in cache_dir().iterdir()] == ["k1"]  # published by rename, no temporary left


def test_writer_records_fewer_rows_and_refuses_more(tmp_path):
    batches = [(np.ones((4, 5)), np.arange(4)), (np.full((2, 5), 2.0), np.arange(2))]
    w = FeatureWriter(tmp_path / "e")
    assert w.write_split("train", iter(batches), rows=10) == 6
    w.publish()
    (x, y), = open_entry(tmp_path / "e").values()
    assert x.shape == (6, 5) and y.tolist() == [0, 1, 2, 3, 0, 1] and x[5, 0] == 2.0

    w2 = FeatureWriter(tmp_path / "f")
    with pytest.raises(ValueError, match="Expected at most 5 images in the train split. Received: 6"):
        w2.write_split("train", iter(batches), rows=5)
    assert open_entry(tmp_path / "f") is None and list(tmp_path.iterdir()) == [tmp_path / "e"]
