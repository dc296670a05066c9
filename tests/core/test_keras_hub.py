"""keras-hub presets as backbones: a small keras-hub backbone saved with its own save_to_preset, trained on, exported."""

from __future__ import annotations

import shutil

import pytest

keras_hub = pytest.importorskip("keras_hub")

from tl_widgets.core.config.schema import DataConfig, FreezeConfig, ModelConfig, PhaseConfig, TrainConfig  # noqa: E402
from tl_widgets.core.models.backbones import resolve_backbone  # noqa: E402
from tl_widgets.core.models.keras_hub_presets import is_preset  # noqa: E402
from tl_widgets.core.models.weights import WeightsUnavailableError, prefetch  # noqa: E402


@pytest.fixture(scope="module")
def preset(tmp_path_factory):
    """A two-stack ResNet (about 0.1M parameters) saved as a keras-hub preset folder."""
    folder = tmp_path_factory.mktemp("hub") / "tiny_resnet"
    backbone = keras_hub.models.ResNetBackbone(
        input_conv_filters=[64], input_conv_kernel_sizes=[3], stackwise_num_filters=[64, 32],
        stackwise_num_blocks=[1, 1], stackwise_num_strides=[1, 2], block_type="basic_block",
        use_pre_activation=False, image_shape=(None, None, 3))
    backbone.save_to_preset(str(folder))
    return folder


def test_a_local_preset_is_a_backbone_with_inferred_blocks(preset):
    assert is_preset(str(preset)) and not is_preset(str(preset.parent)) and is_preset("kaggle://a/b/keras/c")
    spec = resolve_backbone(str(preset))
    assert spec.family == "keras_hub" and spec.name == "tiny_resnet" and spec.params > 100_000
    assert spec.pretrained == str(preset / "model.weights.h5") and spec.preprocess == "torch"
    model = spec.builder(input_shape=(32, 32, 3), weights=spec.pretrained)
    assert [b.name for b in spec.blocks(model)][-2:] == ["stack0", "stack1"]
    assert prefetch([str(preset)]) == {str(preset): preset.resolve()}


def test_train_the_demo_on_a_keras_hub_backbone_and_export_it(tmp_path, preset):
    from tl_widgets.core.export.formats import export_run
    from tl_widgets.core.training.session import train

    cfg = TrainConfig(
        data=DataConfig(source="demo", demo="digits", batch_size=32, max_per_class=20),
        model=ModelConfig(backbone=str(preset), input_size=32),
        phases=[PhaseConfig(name="head", epochs=1, learning_rate=3e-3),
                PhaseConfig(name="fine_tune", epochs=1, learning_rate=1e-4, freeze=FreezeConfig(mode="top", top_n=1))],
        output_dir=str(tmp_path / "runs"), run_name="hub")
    result = train(cfg)
    assert result.status == "finished", result.error
    assert any("features computed once" in m for m in result.summary["messages"])
    backbone = result.model.get_layer("backbone")
    assert type(backbone).__name__ == "ResNetBackbone"
    report = export_run(result.run_dir, "keras", max_verify=32)
    assert report.ok and report.verification["top1_agreement"] == 1.0


def test_a_preset_folder_without_weights_is_the_clear_missing_weights_error(tmp_path, preset):
    broken = tmp_path / "broken"
    shutil.copytree(preset, broken)
    (broken / "model.weights.h5").unlink()
    with pytest.raises(WeightsUnavailableError, match=r"model.weights.h5 is missing.*tl-widgets weights prefetch"):
        resolve_backbone(str(broken))


def test_offline_a_remote_preset_not_cached_is_the_clear_missing_weights_error(tmp_path, monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)  # what HF_HUB_OFFLINE=1 sets
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hf"))
    with pytest.raises(WeightsUnavailableError) as info:
        prefetch(["hf://nobody/no-such-preset"])
    text = str(info.value)
    assert text.startswith("Could not get the keras-hub preset 'hf://nobody/no-such-preset'")
    assert "tl-widgets weights prefetch hf://nobody/no-such-preset" in text and "$HF_HOME" in text
    with pytest.raises(WeightsUnavailableError, match="Could not get the keras-hub preset"):
        resolve_backbone("hf://nobody/no-such-preset")
