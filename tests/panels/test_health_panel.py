"""The Data step's health check: findings drawn, an action writes curation decisions, the Studio applies them."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "core"))
from health_data import make_noisy_dataset  # noqa: E402

from tl_widgets.core.config.schema import DataConfig  # noqa: E402
from tl_widgets.core.data.curation import read_decisions  # noqa: E402
from tl_widgets.panels.health import HealthPanel  # noqa: E402
from tl_widgets.panels.kit.validation import PanelError  # noqa: E402


def test_check_show_and_exclude_the_leaks(tmp_path):
    inj = make_noisy_dataset(tmp_path / "data", big=10, small=3)
    used = []
    cfg = DataConfig(source="folder", path=str(inj.train), val_path=str(inj.val))
    panel = HealthPanel(lambda: cfg, on_curation=used.append)
    panel.start()
    panel.wait(120)
    assert panel.error is None, panel.error
    assert "leakage" in panel.findings.value and "&lt;" not in panel.notice.text
    kinds = [f.kind for f in panel.report.findings]
    leak = kinds.index("leakage")
    assert leak in [v for _, v in panel.pick.options] and not panel.apply_button.disabled
    panel.pick.value = leak
    panel.apply_button.click()
    decisions = read_decisions(used[0])
    assert set(decisions) == set(panel.report.findings[leak].files)
    assert all(d.action == "exclude" for d in decisions.values())
    assert all(k.startswith("@val/") for k in decisions)  # the validation copy goes, training keeps its image
    with pytest.raises(PanelError):
        panel.act(kinds.index("imbalance"))  # nothing to apply to

    # "Review" on a finding opens the curate grid on its files; decisions go to the same curation file.
    reviews = panel.review_buttons.children
    assert len(reviews) == sum(1 for f in panel.report.findings if f.files and f.kind != "unreadable")
    leak_files = panel.report.findings[leak].files
    button = next(b for b in reviews if b.description.endswith("leakage"))
    button.click()
    grid = panel.curate
    assert grid is not None and panel.grid_box.children == (grid,)
    grid.wait(60)
    assert grid.error is None, grid.error
    assert grid.filter.value == "files" and grid.curation == Path(used[0])
    shown = [c.item["key"] for c in grid.cards if c.item is not None]
    assert shown == leak_files[:len(shown)] and len(shown) == min(len(leak_files), len(grid.cards))
    first = grid.cards[0].item
    assert first["true"] == shown[0].split("/")[-2] and first["true"] in panel.report.class_names
    other = next(n for n in panel.report.class_names if n != first["true"])
    calls = len(used)
    grid.decide(0, f"relabel:{other}")
    grid.decide(1, "ambiguous")
    decisions = read_decisions(used[0])
    assert (decisions[shown[0]].action, decisions[shown[0]].label) == ("relabel", other)  # the last decision wins
    assert decisions[shown[1]].action == "ambiguous" and len(used) == calls + 2
    assert grid.retrain() is None and "Expected a run" in grid.notice.text
    with pytest.raises(PanelError):
        panel.review(kinds.index("imbalance"))


def test_demo_data_need_no_check():
    panel = HealthPanel(lambda: DataConfig())
    panel.start()
    assert panel.report is None and "built-in demo" in panel.notice.text


def test_the_studio_shows_it_and_uses_its_curation(tmp_path):
    from tl_widgets.studio import Studio

    studio = Studio()
    assert studio.health in studio.data_tab.children[2].children
    studio._use_curation(str(tmp_path / "c.jsonl"))
    assert studio.config.data.curation == str(tmp_path / "c.jsonl")
