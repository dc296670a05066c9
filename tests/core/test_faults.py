"""Faults during a run: unwritable output, disk full, out of memory — a clear error, nothing earlier harmed."""

from __future__ import annotations

import errno
import hashlib
from pathlib import Path

import numpy as np
import pytest

from tl_widgets.core.config.schema import DataConfig, PhaseConfig
from tl_widgets.core.training.session import TrainingSession


def _digests(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_unwritable_output_fails_clearly_and_keeps_earlier_runs(tiny_config, tmp_path):
    first = TrainingSession(tiny_config, record=False)
    first.start()
    good = first.wait(240)
    assert good is not None and good.status == "finished"
    before = _digests(tmp_path / "runs")
    assert any(k.endswith("model.keras") for k in before)

    blocker = tmp_path / "a_file"  # a file where a folder should be: unwritable even for root
    blocker.write_text("keep me", encoding="utf-8")
    bad_cfg = tiny_config.copy()
    bad_cfg.output_dir = str(blocker / "runs")
    second = TrainingSession(bad_cfg, record=False)
    second.start()
    bad = second.wait(240)
    assert bad is not None and bad.status == "failed"
    assert bad.error.startswith("OutputNotWritableError: Expected a writable output folder."), bad.error
    assert str(blocker / "runs") in bad.error
    assert _digests(tmp_path / "runs") == before  # the earlier run folder is intact
    assert blocker.read_text(encoding="utf-8") == "keep me"

    # The process (a kernel) carries on: the next run with a good folder trains.
    third = TrainingSession(tiny_config, record=False)
    third.start()
    assert third.wait(240).status == "finished"


def test_unwritable_output_in_the_studio_shows_the_reason(tiny_config, tmp_path):
    from tl_widgets.studio import Studio

    (tmp_path / "a_file").write_text("x", encoding="utf-8")
    tiny_config.output_dir = str(tmp_path / "a_file" / "runs")
    studio = Studio(config=tiny_config)
    assert studio.start() is not None
    status = studio.train.wait(240)
    assert status.startswith("failed: OutputNotWritableError: Expected a writable output folder"), status


def test_a_run_that_fails_before_start_returns_still_shows_failed(tiny_config, tmp_path, monkeypatch):
    """The pump thread may report the failure before the panel's Start call returns: "running" must not win."""
    import time

    import tl_widgets.core.training.session as session_module
    from tl_widgets.studio import Studio

    class SlowToReturn(session_module.TrainingSession):
        def start(self) -> str:
            run_id = super().start()
            self.wait(120)  # the worker has failed (unwritable output) ...
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and studio.train.charts.progress.status != "failed":
                time.sleep(0.02)  # ... and the pump thread has handled RunFailed, all before start() returns
            return run_id

    monkeypatch.setattr(session_module, "TrainingSession", SlowToReturn)
    (tmp_path / "a_file").write_text("x", encoding="utf-8")
    tiny_config.output_dir = str(tmp_path / "a_file" / "runs")
    studio = Studio(config=tiny_config)
    assert studio.start() is not None
    assert studio.train.charts.progress.status == "failed"
    status = studio.train.wait(5)
    assert status.startswith("failed: OutputNotWritableError"), status
    assert not studio.train.start_button.disabled and studio.train.stop_button.disabled


def test_disk_full_while_saving_leaves_the_earlier_file(tmp_path):
    from tl_widgets.core.fileio import OutputNotWritableError, atomic_save, atomic_write_text

    target = atomic_write_text(tmp_path / "run" / "summary.json", '{"ok": true}')

    def fills_the_disk(tmp: Path) -> None:
        tmp.write_bytes(b"{partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OutputNotWritableError, match="No space left on device. Nothing earlier at that path"):
        atomic_save(target, fills_the_disk)
    assert target.read_text() == '{"ok": true}'
    assert sorted(p.name for p in target.parent.iterdir()) == ["summary.json"]  # no temporary left behind


def test_out_of_memory_fails_with_advice_and_the_process_survives(tiny_config, tmp_path):
    import keras

    class RunsOutOfMemory(keras.utils.PyDataset):
        """Yields one batch, then fails the way an allocation does."""

        def __len__(self) -> int:
            return 3

        def __getitem__(self, i: int):
            if i >= 1:
                raise MemoryError("cannot allocate 3.2 GiB")
            return np.zeros((4, 32, 32, 3), "float32"), np.array([0, 1, 0, 1])

    cfg = tiny_config.copy()
    cfg.data = DataConfig(source="code", batch_size=4)
    cfg.phases = [PhaseConfig(name="head", epochs=1)]
    session = TrainingSession(cfg, data=RunsOutOfMemory(), record=False)
    session.start()
    result = session.wait(240)
    assert result is not None and result.status == "failed"
    assert result.error.startswith("Out of memory"), result.error
    assert "smaller batch size (now 4)" in result.error and "input size (now 32)" in result.error

    again = TrainingSession(tiny_config, record=False)
    again.start()
    assert again.wait(240).status == "finished"
