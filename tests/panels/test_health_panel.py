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


def test_a_finding_opens_the_grid_on_all_its_files_page_by_page_worst_first(tmp_path):
    """#27: the grid showed the first 12 files of a finding; it pages through all of them by the finding's score."""
    from health_data import add_blurred, make_dirty_folder

    from tl_widgets.core.config.schema import TrainConfig

    root = tmp_path / "data"
    make_dirty_folder(root, per_class=30, each=4)
    add_blurred(root, 14)
    cfg = DataConfig(source="folder", path=str(root))
    run_dir = tmp_path / "runs" / "r1"  # a run on the same data: the grid can retrain it
    run_dir.mkdir(parents=True)
    TrainConfig(data=cfg).save(run_dir / "config.json")
    retrained = []
    panel = HealthPanel(lambda: cfg, last_run=lambda: str(run_dir),
                        on_retrain=lambda run, cur: retrained.append((run, cur)) or "child-1")
    panel.start()
    panel.wait(180)
    assert panel.error is None, panel.error
    kinds = [f.kind for f in panel.report.findings]
    weak = panel.report.findings[kinds.index("weak_groups")]  # the fake run saved no model: said, not fatal
    assert weak.severity == "info" and "Expected model.keras" in weak.message and panel.report.run_id == "r1"
    blurry = panel.report.findings[kinds.index("blurry")]
    assert len(blurry.files) > 12 and blurry.scores == sorted(blurry.scores)  # sharpest last
    grid = panel.review(kinds.index("blurry"))
    grid.wait(60)
    shown = [c.item["key"] for c in grid.cards if c.item is not None]
    assert shown == blurry.files[:12] and "page 1 of 2" in grid.page_label.value
    assert grid.prev_button.disabled and not grid.next_button.disabled
    assert "sharpness" in grid.cards[0].caption.value and "worst sharpness first" in grid.status.value
    grid.next_button.click()
    assert [c.item["key"] for c in grid.cards if c.item is not None] == blurry.files[12:24]
    assert "page 2 of 2" in grid.page_label.value and grid.next_button.disabled
    grid.decide(0, "exclude")
    grid.prev_button.click()
    assert grid.page == 0 and grid.cards[0].item["key"] == blurry.files[0]
    with pytest.raises(PanelError, match="Expected a page step of -1 or 1"):
        grid.turn(2)
    assert grid.retrain_button.layout.display != "none"
    assert grid.retrain() == "child-1" and retrained == [(str(run_dir), str(grid.curation))]
    assert read_decisions(grid.curation)[blurry.files[12]].action == "exclude"
