"""Resume an interrupted run from its last epoch checkpoint; out-of-memory errors say what to change."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from tl_widgets.core.config.schema import FreezeConfig, PhaseConfig
from tl_widgets.core.runs.store import RunStore
from tl_widgets.core.training.session import TrainingSession, explain_error, train


def _kill_after_first_epoch(tiny_config, tmp_path):
    """Trains in a subprocess and SIGKILLs it once an epoch checkpoint exists; returns the run folder."""
    tiny_config.phases = [PhaseConfig(name="head", epochs=2, learning_rate=3e-3),
                          PhaseConfig(name="fine_tune", epochs=40, learning_rate=3e-4,
                                      freeze=FreezeConfig(mode="top", top_n=1))]
    cfg_path = tmp_path / "cfg.json"
    tiny_config.save(cfg_path)
    code = textwrap.dedent(f"""
        from tl_widgets.core.config.schema import TrainConfig
        from tl_widgets.core.training.session import train
        train(TrainConfig.load({str(cfg_path)!r}), source="studio")
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], env=os.environ.copy())
    out = tmp_path / "runs"
    deadline = time.time() + 300
    while time.time() < deadline:
        found = list(out.glob("*/history_epochs.csv"))
        if found and len(found[0].read_text().strip().splitlines()) >= 4:  # header + 3 epochs
            break
        assert proc.poll() is None, "training ended before it could be killed"
        time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail("no epoch checkpoint within 300 s")
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    return found[0].parent


@pytest.mark.slow
def test_killed_run_is_interrupted_then_resumes_to_finished(tiny_config, tmp_path):
    run_dir = _kill_after_first_epoch(tiny_config, tmp_path)
    store = RunStore()
    row = store.get_run(run_dir.name)
    assert row["status"] == "interrupted"
    assert run_dir.name in [r["run_id"] for r in store.list_runs(status="interrupted")]

    session = TrainingSession.resume(run_dir, source="studio")
    done = session.resume_point.epochs_done
    assert 2 <= done < 42  # the head phase (2 epochs) is always checkpointed at its end
    session.config.phases[1].epochs = done  # finish quickly: the fine-tune phase ends right after the restart
    session.resume_point.config.phases[1].epochs = done
    sub = session.bus.listen()
    session.start()
    result = session.wait(300)
    assert result.status == "finished", result.error
    events = sub.drain()
    started = next(e for e in events if e.kind == "run_started")
    assert started.run_id == run_dir.name and started.resumed_from_epoch == done
    epochs = [e.epoch for e in events if e.kind == "epoch_end"]
    assert epochs and epochs[0] == done  # no epoch repeated
    assert result.history["epoch"]["epoch"] == list(range(done + len(epochs)))
    assert store.get_run(run_dir.name)["status"] == "finished"
    assert json.loads((run_dir / "summary.json").read_text())["status"] == "finished"


def test_resume_starts_from_the_checkpoint_weights(tiny_config, tmp_path):
    import keras

    tiny_config.phases = [PhaseConfig(epochs=1), PhaseConfig(name="more", epochs=1)]
    first = train(tiny_config, record=False)
    # Pretend the second epoch never happened: keep the checkpoint of epoch 1 and its history row.
    csv = first.run_dir / "history_epochs.csv"
    csv.write_text("\n".join(csv.read_text().splitlines()[:2]) + "\n")
    (first.run_dir / "checkpoints" / "best.weights.h5").replace(first.run_dir / "checkpoints" / "last.weights.h5")
    session = TrainingSession.resume(first.run_dir, record=False)
    assert session.resume_point.epochs_done == 1
    seen = []
    session.bus.subscribe(lambda e: seen.append(e))
    session.start()
    result = session.wait(120)
    assert result.status == "finished"
    assert [e.epoch for e in seen if e.kind == "epoch_end"] == [1]
    assert any("Resumed from the checkpoint of epoch 1" in e.text for e in seen if e.kind == "message")
    assert isinstance(result.model, keras.Model)


def test_resume_refuses_folders_without_checkpoint(tmp_path, tiny_config):
    with pytest.raises(FileNotFoundError, match="config.json"):
        TrainingSession.resume(tmp_path)
    tiny_config.save(tmp_path / "config.json")
    with pytest.raises(FileNotFoundError, match="epoch checkpoint"):
        TrainingSession.resume(tmp_path)


def test_out_of_memory_error_says_what_to_change(tiny_config):
    msg = explain_error(MemoryError(), tiny_config)
    assert msg.startswith("Out of memory") and "batch size (now 32)" in msg and "input size (now 32)" in msg

    class ResourceExhaustedError(Exception):
        pass

    assert explain_error(ResourceExhaustedError("OOM when allocating tensor"), tiny_config).startswith("Out of memory")
    assert explain_error(ValueError("bad"), tiny_config) == "ValueError: bad"


def test_out_of_memory_during_a_run_fails_cleanly(tiny_config, monkeypatch):
    import tl_widgets.core.models.assembly as model_mod

    def boom(*args, **kwargs):
        raise MemoryError("Unable to allocate 64.0 GiB")

    monkeypatch.setattr(model_mod, "build_model", boom)
    result = train(tiny_config, record=False)
    assert result.status == "failed" and result.error.startswith("Out of memory")
    # the process (the kernel) is still fine: another run works
    monkeypatch.undo()
    assert train(tiny_config, record=False).status == "finished"


def test_checkpoints_are_throttled_but_always_written_at_phase_ends(tiny_config):
    from tl_widgets.core.runs.folder import last_checkpoint_epoch

    tiny_config.phases = [PhaseConfig(name="head", epochs=4, learning_rate=3e-3)]
    session = TrainingSession(tiny_config, record=False)
    session.start()
    result = session.wait(120)
    assert result.status == "finished"
    # 4 epochs in well under the 20 s interval: one 'last' write (at the phase end), not four
    assert last_checkpoint_epoch(result.run_dir) == 3
    assert (result.run_dir / "checkpoints" / "best.weights.h5").is_file()


def test_resume_point_reads_the_history_the_folder_wrote(tiny_config, tmp_path):
    from tl_widgets.core.runs.folder import ResumePoint, RunFolder

    tiny_config.phases = [PhaseConfig(name="head", epochs=4)]
    folder = RunFolder.create(tmp_path / "run-1")
    folder.write_config(tiny_config)
    folder.checkpoint("last").parent.mkdir()
    folder.checkpoint("last").write_bytes(b"weights")
    folder.mark_last_checkpoint(1)
    folder.write_epoch_history({"epoch": [0, 1, 2], "phase": [0, 0, 0], "global_step": [float("nan"), 4, 6],
                                "loss": [1.5, 1.0, 0.5]})
    point = ResumePoint.read(folder.path)
    assert (point.run_id, point.epochs_done, point.checkpoint) == ("run-1", 2, folder.checkpoint("last"))
    assert point.epoch_history["epoch"] == [0, 1] and point.epoch_history["loss"] == [1.5, 1.0]
    assert point.epoch_history["global_step"][1] == 4 and isinstance(point.epoch_history["global_step"][1], int)
    assert folder.last_checkpoint_epoch() == 1 and folder.export_dir("onnx") == folder.path / "exports" / "onnx"
