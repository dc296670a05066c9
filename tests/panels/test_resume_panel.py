"""A run whose process was killed mid-run is offered for resume by a new Studio, and resumes with live charts."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

KILLED_RUN = textwrap.dedent("""
    import os, signal, sys, time
    from pathlib import Path
    from tl_widgets.core.config.schema import DataConfig, ModelConfig, PhaseConfig, TrainConfig
    from tl_widgets.core.training.session import TrainingSession
    cfg = TrainConfig(data=DataConfig(source="demo", demo="digits", batch_size=32, max_per_class=30),
                      model=ModelConfig(backbone="demo_cnn", weights="pretrained", input_size=32),
                      phases=[PhaseConfig(name="head", epochs=4, learning_rate=3e-3)],
                      output_dir=sys.argv[1], run_name="killed")
    session = TrainingSession(cfg, source="studio")
    run_id = session.start()
    ckpt = Path(sys.argv[1]) / run_id / "checkpoints" / "last.weights.h5"
    deadline = time.monotonic() + 240
    while not ckpt.is_file() and time.monotonic() < deadline:
        time.sleep(0.005)
    print(run_id, flush=True)
    os.kill(os.getpid(), signal.SIGKILL)  # like a kernel killed mid-run: no end event, no cleanup
""")


@pytest.fixture(scope="module")
def killed_run(tmp_path_factory):
    """(home, run_dir) of a run killed after its first epoch checkpoint."""
    base = tmp_path_factory.mktemp("resume")
    env = {**os.environ, "TL_WIDGETS_HOME": str(base / "home")}
    proc = subprocess.run([sys.executable, "-c", KILLED_RUN, str(base / "runs")], env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == -9, proc.stderr[-2000:]
    run_id = proc.stdout.strip().splitlines()[-1]
    return base / "home", base / "runs" / run_id


@pytest.mark.slow
def test_new_studio_offers_and_resumes_the_killed_run(killed_run):
    from tl_widgets.core.runs.store import RunStore
    from tl_widgets.studio import Studio

    home, run_dir = killed_run
    store = RunStore(home)
    assert [r["run_id"] for r in store.list_runs(status="interrupted")] == [run_dir.name]
    studio = Studio(store=store)
    panel = studio.resume
    assert panel.layout.display is None  # shown
    assert panel.run_dirs == [str(run_dir)]
    assert run_dir.name in panel.runs.options[0][0]

    run_id = panel.resume()
    assert run_id == run_dir.name
    assert studio.tab == "train"
    assert studio.train.status == "running"
    assert studio.train.wait(240) == "finished", studio.train.notice.text
    assert studio.train.session.result.run_dir == run_dir
    assert studio.train.progress_bar.value == 1.0  # the live progress followed the resumed run
    runs = {r["run_id"]: r["status"] for r in store.list_runs()}
    assert runs[run_dir.name] == "finished"
    panel.refresh()
    assert panel.run_dirs == [] and panel.layout.display == "none"


def test_hostile_choice_and_missing_checkpoint_are_refused(tmp_path):
    from tl_widgets.core.runs.store import RunStore
    from tl_widgets.panels.resume import ResumePanel
    from tl_widgets.panels.train import TrainPanel

    calls: list[str] = []
    panel = ResumePanel(lambda d: calls.append(d) or "x", store=RunStore(tmp_path / "home"))
    assert panel.layout.display == "none" and panel.run_dirs == []
    assert panel.resume() is None and "Received: none listed" in panel.notice.text
    panel.run_dirs = [str(tmp_path / "listed")]
    panel.guard.set_options(panel.runs, [("listed", str(tmp_path / "listed"))], str(tmp_path / "listed"))
    with pytest.raises(Exception):
        panel.runs.value = "/etc"  # not an option: the widget refuses
    # a stale option that is no longer a listed run, selected past the guard: Resume re-checks
    panel.guard.set_options(panel.runs, [("listed", str(tmp_path / "listed")), ("stale", "/etc")], "/etc")
    assert panel.resume() is None
    assert "Expected run to resume to be one of" in panel.notice.text and calls == []

    train = TrainPanel()
    (tmp_path / "run").mkdir()
    assert train.resume(str(tmp_path / "run")) is None
    assert train.notice.text.startswith("Cannot resume: Expected a run folder with config.json")
    assert train.status == "idle"
