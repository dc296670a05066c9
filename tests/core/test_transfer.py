"""Transfer is real: the bundled demo backbone beats the same architecture from scratch."""

from __future__ import annotations

import pytest

from tl_widgets.core.config.schema import DataConfig, FreezeConfig, ModelConfig, PhaseConfig, TrainConfig
from tl_widgets.core.training.session import train


def _cfg(tmp_path, weights: str, freeze: str, phases: list[PhaseConfig]) -> TrainConfig:
    return TrainConfig(
        data=DataConfig(source="demo", demo="shapes", batch_size=16, max_per_class=20, validation_split=0.3),
        model=ModelConfig(backbone="demo_cnn", weights=weights, input_size=48),
        freeze=FreezeConfig(mode=freeze), phases=phases, output_dir=str(tmp_path), seed=7,
    )


@pytest.mark.slow
def test_fine_tuned_demo_backbone_beats_scratch_by_15_points(tmp_path):
    # Same budget: 15 epochs over the same 20 images per class of the target shapes.
    fine_tuned = train(_cfg(tmp_path, "pretrained", "all", [
        PhaseConfig(name="head", epochs=8, learning_rate=3e-3),
        PhaseConfig(name="fine_tune", epochs=7, learning_rate=5e-4, freeze=FreezeConfig(mode="top", top_n=2)),
    ]), record=False)
    scratch = train(_cfg(tmp_path, "none", "none", [PhaseConfig(name="train", epochs=15, learning_rate=3e-3)]),
                    record=False)
    a, b = fine_tuned.metrics["val_accuracy"], scratch.metrics["val_accuracy"]
    print(f"\nval_accuracy, 20 images/class of the target shapes: fine-tuned demo backbone {a:.3f}, "
          f"same architecture from scratch {b:.3f}")
    assert fine_tuned.status == scratch.status == "finished"
    assert a - b >= 0.15, (a, b)
