"""The fix-the-data loop in the panels: click a confusion cell, decide per image, retrain as a child run."""

from __future__ import annotations

import numpy as np
import pytest

from tl_widgets.core.data.curation import default_curation_path, read_decisions
from tl_widgets.panels.curate import PAGE_SIZE, CuratePanel
from tl_widgets.panels.evaluate import EvaluatePanel
from tl_widgets.panels.kit.validation import PanelError


def _click(chart, x, y, trace=0):
    chart._on_browser_msg(None, {"type": "click", "trace": trace, "x": x, "y": y}, [])


@pytest.fixture
def clean_default_curation():
    path = default_curation_path("demo", "digits")
    path.unlink(missing_ok=True)
    yield path
    path.unlink(missing_ok=True)


@pytest.mark.slow
def test_click_a_cell_decide_and_the_decisions_persist(trained_demo_result, clean_default_curation):
    panel = EvaluatePanel(trained_demo_result)
    panel.start()
    panel.wait(120)
    cm = np.array(panel.report.confusion)
    np.fill_diagonal(cm, 0)
    t, p = np.unravel_index(int(cm.argmax()), cm.shape)
    assert cm[t, p] > 0, "the tiny run should make some mistakes"
    names = panel.report.class_names
    _click(panel._confusion_chart, names[p], names[t])
    curate = panel.curate
    assert curate is not None and curate in panel.children
    curate.wait(120)
    assert curate.error is None, curate.error
    assert curate.filter.value == f"cell:{t}:{p}"
    shown = [c for c in curate.cards if c.item is not None]
    assert len(shown) == min(PAGE_SIZE, int(cm[t, p]))
    assert all(c.item["true"] == names[t] and c.item["predicted"] == names[p] for c in shown)
    assert all(bytes(c.image.value).startswith(b"\x89PNG") for c in shown)
    losses = [c.item["loss"] for c in shown]
    assert losses == sorted(losses, reverse=True)

    # Decide: relabel the first to the predicted class; exclude the second when there is one.
    curate.decide(0, f"relabel:{names[p]}")
    keys = [shown[0].item["key"]]
    if len(shown) > 1:
        curate.decide(1, "exclude")
        keys.append(shown[1].item["key"])
    got = read_decisions(clean_default_curation)
    assert got[keys[0]].action == "relabel" and got[keys[0]].label == names[p]
    # A value the dropdown never offered is refused and not written.
    import traitlets

    with pytest.raises(traitlets.TraitError):
        curate.cards[0].action.value = "relabel:../../etc"
    assert curate.cards[0].action.value == f"relabel:{names[p]}"
    assert len(read_decisions(clean_default_curation)) == len(keys)

    # Switching filters and back shows the saved decisions.
    curate.filter.value = "wrong"
    curate.filter.value = f"cell:{t}:{p}"
    assert curate.cards[0].action.value == f"relabel:{names[p]}"
    # A new panel (a restarted kernel, another tab) reads the same decisions; its write wins (last per image).
    other = CuratePanel(trained_demo_result.run_dir)
    other.load(then=f"cell:{t}:{p}")
    other.wait(120)
    assert other.cards[0].action.value == f"relabel:{names[p]}"
    other.decide(0, "ambiguous")
    assert read_decisions(clean_default_curation)[keys[0]].action == "ambiguous"

    # Bad clicks from the browser are refused.
    before = panel._confusion_chart.requests_rejected
    _click(panel._confusion_chart, {"evil": 1}, names[0])
    _click(panel._confusion_chart, names[0], names[0], trace=7)
    assert panel._confusion_chart.requests_rejected == before + 2
    _click(panel._confusion_chart, "not-a-class", names[0])
    assert "Refused" in panel.notice.text


def test_retrain_with_fixes_starts_a_child_run(trained_demo_result, tmp_path):
    from tl_widgets.core.runs.store import RunStore
    from tl_widgets.core.training.session import TrainingSession

    cur = tmp_path / "fixes.jsonl"
    panel = CuratePanel(trained_demo_result.run_dir, curation=cur, data_roots=[tmp_path])
    assert panel.retrain() is None and "at least one decision" in panel.notice.text
    panel.load()
    panel.wait(120)
    panel.decide(0, "exclude")
    started = []
    panel.on_retrain = lambda run_dir, curation: started.append((run_dir, curation)) or "child-id"
    assert panel.retrain() == "child-id"
    assert started == [(str(trained_demo_result.run_dir), str(cur.resolve()))]

    from tl_widgets.core.runs.lineage import child_config

    cfg = child_config(trained_demo_result.run_dir, cur)
    session = TrainingSession(cfg)
    session.start()
    result = session.wait(300)
    assert result.status == "finished", result.error
    run = RunStore().get_run(result.run_id)
    assert run["config"]["parent_run_id"] == trained_demo_result.run_id
    # The child's evaluation shows per-class F1 and image counts next to the parent's.
    child_eval = EvaluatePanel(result.run_dir)
    child_eval.start()
    child_eval.wait(120)
    assert child_eval.error is None, child_eval.error
    assert trained_demo_result.run_id in child_eval.lineage.value and "F1 before" in child_eval.lineage.value

    # The Runs tab: picking the child shows the same per-class numbers, read from both runs' evaluations.
    import json

    from tl_widgets.core.runs.folder import RunFolder
    from tl_widgets.panels.runs import RunsPanel

    runs = RunsPanel(RunStore())
    runs.picker.value = (result.run_id,)
    runs.wait(120)
    assert runs.error is None, runs.error
    html = runs.lineage.value
    assert "tlw-before-after" in html and trained_demo_result.run_id in html
    before = json.loads(RunFolder(trained_demo_result.run_dir).eval_report_file.read_text())["per_class"]
    after = json.loads(RunFolder(result.run_dir).eval_report_file.read_text())["per_class"]
    assert [r["class"] for r in before] == [r["class"] for r in after]
    for b, a in zip(before, after):
        cells = [f"{b['f1']:.3f}", f"{a['f1']:.3f}", str(b["support"]), str(a["support"])]
        row = "".join(f"<td style='padding:1px 12px;text-align:right'>{c}</td>" for c in cells)
        assert f"{b['class']}</td>{row}" in html, (b, a)
    runs.picker.value = (trained_demo_result.run_id,)  # a run without a parent: no table
    assert runs.lineage.value == ""


def test_curation_files_outside_home_and_roots_are_refused(trained_demo_result, tmp_path):
    with pytest.raises(PanelError, match="curation file"):
        CuratePanel(trained_demo_result.run_dir, curation=tmp_path / "x.jsonl", data_roots=[])


def test_a_run_whose_data_lie_outside_the_data_roots_is_refused(tmp_path):
    from tl_widgets.core.config.schema import DataConfig, TrainConfig
    from tl_widgets.core.runs.folder import CONFIG_FILE

    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "a").mkdir(parents=True)
    run = tmp_path / "run"
    run.mkdir()
    TrainConfig(data=DataConfig(source="folder", path=str(elsewhere))).save(run / CONFIG_FILE)
    roots = tmp_path / "roots"
    roots.mkdir()
    with pytest.raises(PanelError, match="run's data"):
        CuratePanel(run, data_roots=[roots])
