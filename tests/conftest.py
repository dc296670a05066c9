"""Suite-wide set-up: quiet TensorFlow, and a private run-store home and Keras cache.

Set at import time so every subprocess a test starts inherits them: tests never
write to the user's ~/.tl_widgets or ~/.keras, and ImageNet weights are never
found cached (this machine has no network, which the weights tests rely on).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

_ROOT = Path(tempfile.mkdtemp(prefix="tlw-tests-"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ["TL_WIDGETS_HOME"] = str(_ROOT / "home")
os.environ["KERAS_HOME"] = str(_ROOT / "keras")
# The suite speaks English whatever the machine's locale (the zh-CN tests set the language themselves).
os.environ["TL_WIDGETS_LANG"] = "en"
# Two cores: keep TensorFlow from oversubscribing when several processes train.
os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")


_TESTS = Path(__file__).resolve().parent
#: Tiers by folder: every test in these folders gets the marker (a new file there is in its tier by itself).
FOLDER_MARKERS = {"browser": "browser", "notebooks": "notebook"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Marks each test under ``tests/browser`` ``browser`` and under ``tests/notebooks`` ``notebook``."""
    for item in items:
        try:
            folder = Path(item.path).resolve().relative_to(_TESTS).parts[0]
        except ValueError:  # a test outside tests/
            continue
        if folder in FOLDER_MARKERS:
            item.add_marker(FOLDER_MARKERS[folder])


@pytest.fixture
def tiny_config(tmp_path):
    """A demo config small enough to train in seconds (code data from the demo arrays)."""
    from tl_widgets.core.config.schema import DataConfig, ModelConfig, PhaseConfig, TrainConfig

    return TrainConfig(
        data=DataConfig(source="demo", demo="digits", batch_size=32, max_per_class=40),
        model=ModelConfig(backbone="demo_cnn", weights="pretrained", input_size=32),
        phases=[PhaseConfig(name="head", epochs=1, learning_rate=3e-3)],
        output_dir=str(tmp_path / "runs"),
        run_name="tiny",
    )


@pytest.fixture(scope="session")
def trained_demo_result(tmp_path_factory):
    """The RunResult of one tiny finished demo run, trained once per test session (read-mostly: tests may
    add exports and reports to its folder, never change what training wrote)."""
    from tl_widgets.core.config.schema import DataConfig, ModelConfig, PhaseConfig, TrainConfig
    from tl_widgets.core.training.session import train

    cfg = TrainConfig(
        data=DataConfig(source="demo", demo="digits", batch_size=32, max_per_class=40),
        model=ModelConfig(backbone="demo_cnn", weights="pretrained", input_size=32),
        phases=[PhaseConfig(name="head", epochs=1, learning_rate=3e-3)],
        output_dir=str(tmp_path_factory.mktemp("shared-runs")), run_name="shared",
    )
    result = train(cfg)
    assert result.status == "finished", result.error
    return result


@pytest.fixture(scope="session")
def trained_demo_run(trained_demo_result):
    """The folder of :func:`trained_demo_result`."""
    return trained_demo_result.run_dir


@pytest.fixture(autouse=True)
def _pixel_limit_restored(monkeypatch):
    """A Studio built with a workshop lowers the process's pixel limit (and Pillow's): undone after each test."""
    from PIL import Image

    from tl_widgets.core.data import image_open

    monkeypatch.setattr(image_open, "_PROCESS_MAX_PIXELS", image_open._PROCESS_MAX_PIXELS)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", Image.MAX_IMAGE_PIXELS)
