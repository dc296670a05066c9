from __future__ import annotations

import numpy as np
import pytest

from tl_widgets.core.models.backbones import get_backbone
from tl_widgets.core.config.schema import ModelConfig
from tl_widgets.core.models.assembly import build_model
from tl_widgets.core.models.weights import (
    WeightsUnavailableError,
    keras_cache_dir,
    load_backbone,
    prefetch,
    resolve_weights,
    weights_file,
)


def test_weights_file_comes_from_keras_itself():
    wf = weights_file("mobilenet_v2", 96)
    assert wf.fname.endswith("_no_top.h5") and "mobilenet_v2" in wf.fname
    assert wf.origin.startswith("https://storage.googleapis.com/") and wf.origin.endswith(wf.fname)
    assert wf.path().parent == keras_cache_dir() / "models"
    assert not wf.is_cached()


@pytest.mark.slow
def test_keras_home_is_honoured(tmp_path):
    import os
    import subprocess
    import sys

    code = "from tl_widgets.core.models.weights import weights_file; print(weights_file('resnet50').path())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                         env={**os.environ, "KERAS_HOME": str(tmp_path)})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == str(tmp_path / "models" / weights_file("resnet50").fname)


def test_offline_error_names_backbone_file_url_and_two_ways():
    # This machine has no network: the download fails and the message must say what to do.
    with pytest.raises(WeightsUnavailableError) as info:
        prefetch(["mobilenet_v2"])
    msg = str(info.value)
    wf = weights_file("mobilenet_v2")
    assert "'mobilenet_v2'" in msg and wf.fname in msg and wf.origin in msg
    assert "tl-widgets weights prefetch mobilenet_v2" in msg and "weights='/path/to/" in msg


def test_building_with_imagenet_offline_gives_the_same_clear_error():
    with pytest.raises(WeightsUnavailableError, match="tl-widgets weights prefetch"):
        build_model(ModelConfig(backbone="mobilenet_v2", weights="imagenet", input_size=96), 3)


def test_cached_file_is_used_without_network(tmp_path):
    import keras

    spec = get_backbone("mobilenet_v2")
    src = keras.applications.MobileNetV2(include_top=False, weights=None, input_shape=(96, 96, 3))
    wf = weights_file("mobilenet_v2", 96)
    wf.path().parent.mkdir(parents=True, exist_ok=True)
    src.save_weights(str(tmp_path / "w.weights.h5"))
    # Keras applications load legacy h5 files by layer name: write one the way Keras' own files are laid out.
    import h5py

    with h5py.File(wf.path(), "w") as f:
        f.attrs["layer_names"] = [l.name.encode() for l in src.layers]
        f.attrs["backend"] = b"tensorflow"
        f.attrs["keras_version"] = b"3"
        for layer in src.layers:
            g = f.create_group(layer.name)
            names = [f"{layer.name}/{w.path.split('/')[-1]}:0".encode() for w in layer.weights]
            g.attrs["weight_names"] = names
            for n, w in zip(names, layer.weights):
                g.create_dataset(n.decode(), data=keras.ops.convert_to_numpy(w))
    try:
        assert prefetch(["mobilenet_v2"], input_size=96) == {"mobilenet_v2": wf.path()}
        model = load_backbone(spec, 96, "imagenet")
        for a, b in zip(model.weights, src.weights):
            np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))
    finally:
        wf.path().unlink()  # other tests rely on an empty cache


def test_local_weights_file_loads_exactly(tmp_path):
    import keras

    spec = get_backbone("demo_cnn")
    src = spec.builder(input_shape=(32, 32, 3))
    for w in src.weights:
        w.assign(np.random.default_rng(1).normal(size=w.shape).astype("float32"))
    path = tmp_path / "mine.weights.h5"
    src.save_weights(str(path))
    got = load_backbone(spec, 32, str(path))
    for a, b in zip(got.weights, src.weights):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))


def test_resolve_weights_values(tmp_path):
    demo = get_backbone("demo_cnn")
    assert resolve_weights(demo, "none") is None
    assert resolve_weights(demo, "pretrained").endswith("demo_cnn.weights.h5")
    assert resolve_weights(get_backbone("resnet50"), "pretrained") == "imagenet"
    with pytest.raises(ValueError, match="no ImageNet weights"):
        resolve_weights(demo, "imagenet")
    with pytest.raises(FileNotFoundError, match="no such file"):
        resolve_weights(demo, str(tmp_path / "missing.h5"))
