"""Fixtures for panel tests: data roots with a small image folder."""

from __future__ import annotations

import tempfile

import pytest

from tl_widgets.core.settings import DATA_ROOTS_ENV, HOME_ENV, SEATS_ENV, WORKSHOP_ENV


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


@pytest.fixture
def seat_env(tmp_path, monkeypatch):
    """A served kernel's environment (a fresh seat per Studio), restored afterwards."""
    from tl_widgets.core.room import seat as seat_module
    from tl_widgets.core.training.session import set_start_gate

    (tmp_path / "data").mkdir()
    monkeypatch.setenv(HOME_ENV, str(tmp_path / "home"))
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(tempfile, "tempdir", None)
    monkeypatch.setattr(seat_module, "_CURRENT", None)
    monkeypatch.setenv(SEATS_ENV, str(tmp_path / "seats"))
    monkeypatch.setenv(DATA_ROOTS_ENV, str(tmp_path / "data"))
    monkeypatch.delenv(WORKSHOP_ENV, raising=False)
    yield monkeypatch
    set_start_gate(None)
