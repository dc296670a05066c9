"""Fixtures for the jupyter_server extension tests (pytest-jupyter).

pytest-jupyter's fixtures and hooks are imported here rather than listed in
``pytest_plugins``: pytest refuses ``pytest_plugins`` outside the top-level
conftest, and importing them keeps their autouse fixtures (event loop, server
cleanup) and async-test hooks scoped to this folder.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pytest_jupyter.jupyter_server import *  # noqa: F403  (fixtures and hooks, scoped to tests/server)

from tl_widgets.core.runs.store import RunStore


@pytest.fixture
def tlw_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private run-store folder, exported as ``TL_WIDGETS_HOME``."""
    home = tmp_path / "tlw_home"
    monkeypatch.setenv("TL_WIDGETS_HOME", str(home))
    return home


@pytest.fixture
def store(tlw_home: Path) -> RunStore:
    """The run store the server under test reads."""
    return RunStore(tlw_home)


@pytest.fixture
def jp_server_config(tlw_home: Path) -> dict:
    """Enables only this extension (the home is set before the server starts)."""
    return {"ServerApp": {"jpserver_extensions": {"tl_widgets.server": True}}}
