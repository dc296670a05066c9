from __future__ import annotations

import numpy as np

from tl_widgets.core.config.schema import FreezeConfig
from tl_widgets.core.training.feature_cache import cache_applies, cache_dir, feature_key
from tl_widgets.core.models.backbones import get_backbone
from tl_widgets.core.training.lr_finder import find_lr, suggest_lr
from tl_widgets.core.training.session import TrainingSession, train


def test_lr_finder_restores_weights_exactly(tiny_config):
    from tl_widgets.core.models.assembly import build_model

    am = build_model(tiny_config.model, 5)
    before = [w.copy() for w in am.model.get_weights()]
    res = find_lr(tiny_config, steps=30, model=am.model)
    after = am.model.get_weights()
    assert len(before) == len(after)
    for a, b in zip(before, after):
        np.testing.assert_array_equal(a, b)
    assert 5 <= len(res.lrs) <= 30 and len(res.lrs) == len(res.losses)
    assert res.lrs == sorted(res.lrs) and res.suggested_lr is not None
    assert res.lrs[0] <= res.suggested_lr <= res.lrs[-1]


def test_suggest_lr_finds_the_steepest_drop():
    lrs = list(np.logspace(-6, 0, 60))
    losses = [2.0 if lr < 1e-4 else (2.0 - 1.5 * (np.log10(lr) + 4) / 2 if lr < 1e-2 else 0.5 + (lr * 10)) for lr in lrs]
    s = suggest_lr(lrs, losses, smoothing=0.0)
    assert 1e-4 <= s <= 1e-2


def test_cache_applies_only_when_valid(tiny_config):
    assert cache_applies(tiny_config, FreezeConfig(mode="all")) == (True, "")
    assert not cache_applies(tiny_config, FreezeConfig(mode="top", top_n=1))[0]
    tiny_config.data.augmentation.flip = "horizontal"
    ok, why = cache_applies(tiny_config, FreezeConfig(mode="all"))
    assert not ok and "augmentation" in why


def test_cache_key_changes_with_what_changes_features(tiny_config, tmp_path):
    spec = get_backbone("demo_cnn")
    base = feature_key(tiny_config, spec, 32)
    assert base == feature_key(tiny_config.copy(), spec, 32)
    assert feature_key(tiny_config, spec, 40) != base
    other = tiny_config.copy()
    other.model.pooling = "max"
    assert feature_key(other, spec, 32) != base
    other = tiny_config.copy()
    other.data.max_per_class = 10
    assert feature_key(other, spec, 32) != base
    # a different weights file (same name, other content) changes the key
    src = spec.builder(input_shape=(32, 32, 3))
    path = tmp_path / "w.weights.h5"
    src.save_weights(str(path))
    other = tiny_config.copy()
    other.model.weights = str(path)
    k1 = feature_key(other, spec, 32)
    src.get_layer("stem_conv").kernel.assign(np.zeros(src.get_layer("stem_conv").kernel.shape, "float32"))
    src.save_weights(str(path))
    assert feature_key(other, spec, 32) != k1


def test_cached_run_reuses_features_and_saves_the_whole_model(tiny_config, tmp_path, monkeypatch):
    import keras

    monkeypatch.setenv("TL_WIDGETS_HOME", str(tmp_path / "home"))  # an empty feature cache

    tiny_config.phases[0].epochs = 2
    first = TrainingSession(tiny_config, record=False)
    sub = first.bus.listen()
    first.start()
    r1 = first.wait(300)
    msgs1 = [e.text for e in sub.drain() if e.kind == "message"]
    assert any("computed once" in m for m in msgs1)
    second = TrainingSession(tiny_config, record=False)
    sub2 = second.bus.listen()
    second.start()
    r2 = second.wait(300)
    assert any("loaded from the cache" in e.text for e in sub2.drain() if e.kind == "message")
    assert r1.history["epoch"]["val_accuracy"] == r2.history["epoch"]["val_accuracy"]
    assert [p for p in cache_dir().iterdir() if (p / "meta.json").is_file()]
    model = keras.saving.load_model(r2.run_dir / "model.keras")
    assert model.input_shape == (None, 32, 32, 3) and model.get_layer("backbone") is not None


def test_cache_matches_the_uncached_recipe(tiny_config):
    tiny_config.phases[0].epochs = 3
    tiny_config.data.max_per_class = 60
    cached = train(tiny_config, record=False)
    plain_cfg = tiny_config.copy()
    plain_cfg.feature_cache = False
    plain = train(plain_cfg, record=False)
    assert abs(cached.metrics["val_accuracy"] - plain.metrics["val_accuracy"]) <= 0.1
