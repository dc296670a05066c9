"""Fixtures for panel tests: data roots with a small image folder."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def data_root(tmp_path_factory):
    """A data root holding ``digits_target/`` (demo digits as PNG, 10 per class) and a weights file."""
    from tl_widgets.core.data.demo_datasets import write_demo_data

    root = tmp_path_factory.mktemp("data-root")
    folder = write_demo_data(root, "digits", "target")
    for class_dir in folder.iterdir():
        for extra in sorted(class_dir.iterdir())[10:]:
            extra.unlink()
    (root / "weights").mkdir()
    (root / "weights" / "w.weights.h5").write_bytes(b"not really weights")
    return root
