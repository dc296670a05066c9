"""The sweep panel in the Studio: a real (tiny) Optuna sweep, trials arriving, "Use best" restoring the panels."""

from __future__ import annotations

import pytest

pytest.importorskip("optuna")

from tl_widgets.core.config.schema import DataConfig, FreezeConfig, ModelConfig, PhaseConfig, TrainConfig  # noqa: E402
from tl_widgets.core.runs.store import RunStore  # noqa: E402
from tl_widgets.panels.kit.validation import PanelError  # noqa: E402
from tl_widgets.studio import Studio  # noqa: E402


@pytest.fixture
def studio(tmp_path):
    cfg = TrainConfig(
        data=DataConfig(source="demo", demo="digits", batch_size=32, max_per_class=20),
        model=ModelConfig(backbone="demo_cnn", weights="pretrained", input_size=32),
        phases=[PhaseConfig(name="head", epochs=2, learning_rate=3e-3),
                PhaseConfig(name="fine_tune", epochs=1, learning_rate=3e-4, freeze=FreezeConfig(mode="top", top_n=1))],
        output_dir=str(tmp_path / "runs"), run_name="sw")
    s = Studio(cfg, store=RunStore(tmp_path / "home"))
    s.sweep.storage = f"sqlite:///{tmp_path / 'study.sqlite'}"
    return s


def test_bad_ranges_from_the_browser_are_refused_naming_the_field(studio):
    row = studio.sweep.rows["model.dropout"]
    row.on.value, row.high.value = True, 1.5
    assert studio.sweep.start() is False
    assert "space.model.dropout" in studio.sweep.notice.value and "1.5" in studio.sweep.notice.value
    row.high.value = float("nan")
    with pytest.raises(PanelError, match="finite"):
        studio.sweep.sweep_spec()


@pytest.mark.slow
def test_a_sweep_runs_trials_live_and_use_best_restores_the_panels(studio):
    panel = studio.sweep
    for path, row in panel.rows.items():
        row.on.value = path in ("phases[0].learning_rate", "phases[1].freeze.top_n", "model.dropout")
    panel.rows["phases[1].freeze.top_n"].high.value = 2
    panel.trials.value = 3
    before = studio.config
    assert panel.start() is True
    panel.wait(600)
    assert panel.error is None, panel.error
    assert [o.number for o in panel.outcomes] == [0, 1, 2]
    assert panel.table.value.count("tlw-sweep-trial") == 3 and "done: 3 trials" in panel.status.value
    assert panel.charts["history"].snapshot()["data"], "Optuna's history figure has traces"
    assert panel.best_button.disabled is False
    runs = studio.runs.store.sweep_runs(panel.runner.spec.study_name)
    assert sorted(r["trial"] for r in runs) == [0, 1, 2] and all(r["source"] == "studio" for r in runs)
    best = panel.use_best()
    assert best is not None and studio.config == best
    assert best != before  # the sampled values really reached the panels
    assert studio.train.head.lr.value == pytest.approx(best.phases[0].learning_rate)


def test_sweeps_are_off_in_a_workshop_whatever_the_browser_sends(tmp_path, data_root):
    from tl_widgets.core.room.workshop import load_workshop

    path = tmp_path / "workshop.yaml"
    path.write_text(f"name: Class\ndata_roots: [{str(data_root)!r}]\nallowed_backbones: [demo_cnn]\nmax_epochs: 3\n"
                    "max_batch_size: 16\n",
                    encoding="utf-8")
    s = Studio(workshop=load_workshop(path), store=RunStore(tmp_path / "home"))
    assert s.sweep.start_button.disabled is True
    assert s.sweep.start() is False  # a click message sent anyway is refused in Python
    assert "Sweeps are off in a workshop" in s.sweep.notice.value and s.sweep.runner is None
