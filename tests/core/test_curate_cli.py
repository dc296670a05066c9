"""The fix-the-data loop headless: a trained run's label-error list, a child run with fixes, a cleaned export."""

from __future__ import annotations

import json

import pytest
from health_data import make_noisy_dataset

from tl_widgets.cli import main
from tl_widgets.core.config.schema import DataConfig, ModelConfig, PhaseConfig, TrainConfig
from tl_widgets.core.data.curation import decide
from tl_widgets.core.runs.store import RunStore
from tl_widgets.core.training.session import train


@pytest.fixture(scope="module")
def parent(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("curate")
    inj = make_noisy_dataset(tmp / "data", big=24, small=6)
    cfg = TrainConfig(
        data=DataConfig(source="folder", path=str(inj.train), val_path=str(inj.val), batch_size=16),
        model=ModelConfig(backbone="demo_cnn", weights="pretrained", input_size=32),
        # 12 epochs on cached features: 3-4 of the 4 mislabels ranked in the top 8 for every seed tried (0-3, 42);
        # at 6 epochs one seed in five found only 2.
        phases=[PhaseConfig(name="head", epochs=12, learning_rate=1e-2)],
        output_dir=str(tmp / "runs"), run_name="parent",
    )
    result = train(cfg)
    assert result.status == "finished", result.error
    return inj, result, tmp


def test_list_ranks_injected_mislabels_first(parent, capsys):
    inj, result, _ = parent
    assert main(["curate", str(result.run_dir), "--list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    top = [r["key"] for r in rows[: 2 * len(inj.mislabelled_val)]]
    hits = [k for k in inj.mislabelled_val if k in top]
    assert len(hits) >= 0.75 * len(inj.mislabelled_val), (rows[:10], inj.mislabelled_val)
    assert all(r["given"] == "green" and r["predicted"] == "red" for r in rows if r["key"] in hits)


@pytest.mark.slow
def test_apply_trains_a_child_run_linked_to_its_parent(parent, capsys):
    inj, result, tmp = parent
    cur = tmp / "fixes.jsonl"
    decide(cur, [inj.mislabelled_val[0]], "relabel", "red")
    decide(cur, [inj.mislabelled_val[1]], "exclude")
    assert main(["curate", str(result.run_dir), "--apply", str(cur), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert f"(child of {result.run_id})" in out
    # Per class before/after: 'green' loses the relabelled and the excluded image, 'red' gains one.
    table = out[out.index("per class"):].splitlines()[2:]
    rows = {line.split()[0]: line.split() for line in table}
    assert int(rows["green"][4]) == int(rows["green"][3]) - 2, out
    assert int(rows["red"][4]) == int(rows["red"][3]) + 1, out
    store = RunStore()
    children = [r for r in store.list_runs() if r["parent_run_id"] == result.run_id]
    assert len(children) == 1 and children[0]["status"] == "finished"
    assert store.get_run(children[0]["run_id"])["config"]["data"]["curation"] == str(cur.resolve())


def test_export_and_bad_arguments(parent, tmp_path, capsys):
    inj, result, tmp = parent
    # The parent used a separate validation folder; export copies the training folder with the fixes.
    cur = tmp / "export.jsonl"
    decide(cur, [inj.mislabelled[0]], "relabel", "red")
    assert main(["curate", str(result.run_dir), "--export", str(tmp_path / "clean"), "--curation", str(cur)]) == 0
    assert "1 relabelled" in capsys.readouterr().out
    assert (tmp_path / "clean" / "red" / "oops_0.png").is_file()
    assert main(["curate", str(result.run_dir), "--apply", str(tmp_path / "missing.jsonl")]) == 1
    assert "Expected a curation file" in capsys.readouterr().err
    assert main(["curate", str(tmp_path / "no-run"), "--list"]) == 1


def test_data_check_cli(parent, capsys):
    inj, _, _ = parent
    assert main(["data", "check", str(inj.train), "--val", str(inj.val), "--json", "--no-embeddings"]) == 0
    report = json.loads(capsys.readouterr().out)
    kinds = {f["kind"] for f in report["findings"]}
    assert {"leakage", "exact_duplicates", "imbalance", "unreadable"} <= kinds
    assert main(["data", "check", str(inj.train / "nope")]) == 1
