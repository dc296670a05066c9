"""The Runs panel over a real run store: newest runs drawn on open, an empty state, overlays, a settings diff."""

from __future__ import annotations

import dataclasses

import pytest

from tl_widgets.core.config.schema import demo_config
from tl_widgets.core.events import EpochEnd, RunFinished, RunStarted


@pytest.fixture
def store(tmp_path):
    from tl_widgets.core.runs.store import RunStore

    return RunStore(tmp_path / "home")


def _record(store, run_id, cfg, accs):
    """Records a run as a training session would: its config, one epoch event per value, the end."""
    from tl_widgets.core.runs.store import RunRecorder

    rec = RunRecorder(store)
    rec(RunStarted(run_id, config=cfg.to_dict(), run_dir=None, total_epochs=len(accs), steps_per_epoch=1))
    for epoch, acc in enumerate(accs):
        rec(EpochEnd(run_id, phase=0, epoch=epoch, metrics={"val_accuracy": acc, "loss": 1 - acc}, duration=1.0,
                     learning_rate=1e-3))
    rec(RunFinished(run_id, metrics={"val_accuracy": accs[-1]}, run_dir=None, duration=1.0))
    rec.flush()


def test_no_runs_shows_an_empty_state_not_empty_axes(store):
    from tl_widgets.panels.runs import RunsPanel

    panel = RunsPanel(store)
    assert "No runs yet — press Start" in panel.empty.value
    assert panel.chart.layout.display == "none" and panel.picker.layout.display == "none"
    assert panel.hint.layout.display == "none"
    assert panel.selected == () and panel.diff.value == ""
    _record(store, "20261130-000001-a", demo_config(), [0.5, 0.6])
    panel.refresh()  # the Studio refreshes when the tab opens
    assert panel.empty.value == "" and panel.chart.layout.display is None
    assert "Ctrl or Shift" in panel.hint.value and panel.hint.layout.display is None  # how to pick several
    assert panel.selected == ("20261130-000001-a",) and panel.chart.n_traces == 1


def test_newest_runs_are_drawn_then_the_users_pick_is_kept(store):
    from tl_widgets.panels.runs import NEWEST_SHOWN, RunsPanel

    base = demo_config()
    ids = [f"20261130-00000{i}-run" for i in range(1, 6)]
    for i, run_id in enumerate(ids):
        _record(store, run_id, dataclasses.replace(base, seed=i), [0.1 * i, 0.1 * i + 0.05])
    panel = RunsPanel(store)
    newest = tuple(reversed(ids))[:NEWEST_SHOWN]
    assert panel.picker.value == newest and panel.selected == newest
    figure = panel.chart.snapshot()
    assert [t["name"] for t in figure["data"]] == list(newest)  # the legend names the runs
    assert figure["layout"]["showlegend"] is True
    # The diff compares the two newest picked: only the seed differs.
    assert "<code>seed</code>" in panel.diff.value and panel.diff.value.count("<tr>") == 2
    # The user's pick survives a refresh, even after a new run; an automatic pick follows the newest.
    panel.picker.value = (ids[0], ids[2])
    _record(store, "20261130-000009-new", base, [0.9])
    panel.refresh()
    assert set(panel.picker.value) == {ids[0], ids[2]}
    assert panel.chart.n_traces == 2
    panel.picker.value = ()
    panel.refresh()
    assert panel.picker.value[0] == "20261130-000009-new"


def test_two_runs_picked_show_the_settings_that_differ(store):
    from tl_widgets.panels.runs import RunsPanel

    a = demo_config()
    b = dataclasses.replace(a, early_stopping_patience=2, model=dataclasses.replace(a.model, dropout=0.5))
    _record(store, "20261130-000001-a", a, [0.5])
    _record(store, "20261130-000002-b", b, [0.6])
    _record(store, "20261130-000003-c", a, [0.7])
    panel = RunsPanel(store)
    panel.picker.value = ("20261130-000001-a", "20261130-000002-b")
    diff = panel.diff.value
    assert "<code>model.dropout</code>" in diff and "<code>early_stopping_patience</code>" in diff
    assert diff.count("<tr>") == 3  # the header and two fields
    assert diff.index("20261130-000001-a") < diff.index("20261130-000002-b")  # the older run's column first
    panel.picker.value = ("20261130-000001-a",)
    assert "Pick two runs" in panel.diff.value
    panel.picker.value = ("20261130-000001-a", "20261130-000003-c")
    assert "same settings" in panel.diff.value


def test_delete_removes_the_picked_runs_files_first_and_refuses_a_training_one(store, tmp_path):
    """#25 L5: the quota refusal says "delete runs in the Runs step", which had no delete button."""
    from tl_widgets.core.runs.store import RunRecorder
    from tl_widgets.panels.runs import RunsPanel

    runs = tmp_path / "runs"
    for run_id in ("old-run", "live-run"):
        (runs / run_id).mkdir(parents=True)
        (runs / run_id / "model.keras").write_bytes(b"x" * 4096)
    rec = RunRecorder(store)
    for run_id in ("old-run", "live-run"):
        rec(RunStarted(run_id, config=demo_config().to_dict(), run_dir=str(runs / run_id), total_epochs=3,
                       steps_per_epoch=1))
    rec(RunFinished("old-run", metrics={}, run_dir=str(runs / "old-run"), duration=1.0))
    rec.flush()  # live-run stays "running" (this process is alive)
    panel = RunsPanel(store)
    panel.picker.value = ("old-run", "live-run")
    panel.delete_button.click()
    assert panel.confirm_button.layout.display is None and "2 runs" in panel.confirm_button.description
    panel.confirm_button.click()
    ids = [r["run_id"] for r in store.list_runs()]
    assert ids == ["live-run"] and (runs / "live-run" / "model.keras").exists() and not (runs / "old-run").exists()
    assert "stop it first" in panel.notice.text and "Deleted 1 runs" in panel.notice.text
    assert panel.confirm_button.layout.display == "none"
    assert panel.delete(["not-a-run"]) == [] and "Expected run ids" in panel.notice.text


def test_picked_runs_show_the_data_health_they_trained_with(store, tmp_path):
    """#27: each run's health.json, side by side (oldest first); a run without one says so."""
    from tl_widgets.core.runs.folder import RunFolder
    from tl_widgets.core.runs.store import RunRecorder
    from tl_widgets.panels.runs import RunsPanel

    rec = RunRecorder(store)
    for run_id, blurry in (("20261130-000001-a", 5), ("20261130-000002-b", 3), ("20261130-000003-c", None)):
        folder = RunFolder.create(tmp_path / "runs" / run_id)
        if blurry is not None:
            folder.write_health({"findings": [{"kind": "blurry", "files": [f"x/{i}.png" for i in range(blurry)]},
                                              {"kind": "imbalance", "files": []}]})
        rec(RunStarted(run_id, config=demo_config().to_dict(), run_dir=str(folder.path), total_epochs=1,
                       steps_per_epoch=1))
        rec(RunFinished(run_id, metrics={"val_accuracy": 0.5}, run_dir=str(folder.path), duration=1.0))
    rec.flush()
    panel = RunsPanel(store)
    html = panel.health.value
    assert html.index("20261130-000001-a") < html.index("20261130-000002-b") < html.index("20261130-000003-c")
    row = html[html.index("blurry"):].split("</tr>")[0]
    assert [c.split(">")[-1] for c in row.split("</td>")[1:4]] == ["5", "3", "–"]
    assert "Not recorded for 20261130-000003-c" in html
    panel.picker.value = ("20261130-000002-b",)
    assert "20261130-000001-a" not in panel.health.value
