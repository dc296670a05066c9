"""Curation files: decisions applied at load, last write wins, nothing lost, originals untouched."""

from __future__ import annotations

import multiprocessing as mp
import os

import numpy as np
import pytest
from health_data import make_noisy_dataset

from tl_widgets.core.config.schema import DataConfig
from tl_widgets.core.data.curation import (Decision, append_decisions, decide, default_curation_path,
                                           export_curated, read_decisions)
from tl_widgets.core.data.images import DataError
from tl_widgets.core.data.loading import load_datasets


def _snapshot(root):
    return {p.relative_to(root).as_posix(): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_curation_changes_class_counts_at_load(tmp_path):
    inj = make_noisy_dataset(tmp_path / "d", big=12, small=3)
    before = _snapshot(inj.train)
    cfg = DataConfig(source="folder", path=str(inj.train), validation_split=0.25, cache="none")
    plain = load_datasets(cfg, 32, seed=1)
    cur = tmp_path / "c.jsonl"
    decide(cur, inj.mislabelled[:3], "relabel", "red", who="t1")     # 3 green -> red
    decide(cur, ["blue/wide.png"], "exclude", who="t1")              # 1 blue out
    decide(cur, [inj.mislabelled[3]], "ambiguous", who="t2")         # 1 green out
    curated = load_datasets(DataConfig(**{**cfg.__dict__, "curation": str(cur)}), 32, seed=1)
    b, a = plain.report.counts, curated.report.counts
    assert a["red"] == b["red"] + 3 and a["green"] == b["green"] - 4 and a["blue"] == b["blue"] - 1
    assert curated.train_count + curated.val_count == plain.train_count + plain.val_count - 2
    assert curated.curation == {"relabelled": 3, "excluded": 1, "ambiguous": 1, "unknown": 0,
                                "before": b, "after": a}
    # The same partition as the uncurated run, minus the images left out.
    assert set(curated.val_keys) <= set(plain.val_keys)
    assert len(set(plain.val_keys) - set(curated.val_keys)) + len(set(plain.train_keys) - set(curated.train_keys)) == 2
    labels = np.concatenate([y for _, y in curated.train] + [y for _, y in curated.val])
    assert np.bincount(labels, minlength=3).tolist() == [a["blue"], a["green"], a["red"]]
    assert _snapshot(inj.train) == before  # originals never moved or changed


def test_last_decision_per_image_wins_and_keep_undoes(tmp_path):
    cur = tmp_path / "c.jsonl"
    decide(cur, ["a/1.png"], "exclude")
    decide(cur, ["a/1.png"], "relabel", "b")
    decide(cur, ["a/2.png"], "exclude")
    decide(cur, ["a/2.png"], "keep")
    got = read_decisions(cur)
    assert got["a/1.png"].action == "relabel" and got["a/1.png"].label == "b"
    assert got["a/2.png"].action == "keep"
    assert all(d.when.endswith("Z") for d in got.values())


def _writer(path: str, tag: int) -> None:
    for i in range(50):
        append_decisions(path, [Decision(f"c/{tag}-{i}.png", "exclude", who=f"tab{tag}")])


def test_two_writers_at_once_lose_nothing(tmp_path):
    cur = str(tmp_path / "c.jsonl")
    procs = [mp.get_context("spawn").Process(target=_writer, args=(cur, t)) for t in (1, 2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert len(read_decisions(cur)) == 100


def test_a_torn_last_line_is_ignored_and_a_bad_line_is_an_error(tmp_path):
    cur = tmp_path / "c.jsonl"
    decide(cur, ["a/1.png"], "exclude")
    with open(cur, "a") as f:
        f.write('{"key": "a/2.png", "act')
    assert list(read_decisions(cur)) == ["a/1.png"]
    cur.write_text('{"key": "a/1.png", "action": "delete"}\n{"key": "a/2.png", "action": "exclude"}\n')
    with pytest.raises(DataError, match="Expected action in"):
        read_decisions(cur)


@pytest.mark.parametrize("key", ["../etc/passwd", "/abs.png", "a/../../x.png", "", "a\\b.png", "~/x"])
def test_keys_outside_the_dataset_are_refused(tmp_path, key):
    with pytest.raises(DataError, match="Expected an image key"):
        decide(tmp_path / "c.jsonl", [key], "exclude")


def test_relabel_to_an_unknown_class_is_refused_at_load(tmp_path):
    inj = make_noisy_dataset(tmp_path / "d", big=6, small=3)
    cur = tmp_path / "c.jsonl"
    decide(cur, ["red/red_000.png"], "relabel", "purple")
    cfg = DataConfig(source="folder", path=str(inj.train), cache="none", curation=str(cur))
    with pytest.raises(DataError, match="'purple'"):
        load_datasets(cfg, 32, seed=1)


def test_export_writes_a_cleaned_copy(tmp_path):
    inj = make_noisy_dataset(tmp_path / "d", big=6, small=3)
    before = _snapshot(inj.train)
    cur = tmp_path / "c.jsonl"
    decide(cur, [inj.mislabelled[0]], "relabel", "red")
    decide(cur, ["red/red_001.png"], "exclude")
    summary = export_curated(inj.train, cur, tmp_path / "clean")
    out = tmp_path / "clean"
    assert (out / "red" / os.path.basename(inj.mislabelled[0])).is_file()
    assert not (out / "green" / os.path.basename(inj.mislabelled[0])).exists()
    assert not (out / "red" / "red_001.png").exists()
    assert sum(1 for _ in out.rglob("*.png")) == sum(summary.after.values())
    assert _snapshot(inj.train) == before
    with pytest.raises(DataError, match="new or empty export folder"):
        export_curated(inj.train, cur, out)


def test_default_curation_path_lives_in_the_home(tmp_path):
    p = default_curation_path("folder", str(tmp_path / "my data"), home=tmp_path / "home")
    assert p.parent == tmp_path / "home" / "curation" and p.name.startswith("my_data-")
    assert default_curation_path("demo", "digits", home=tmp_path / "home").name == "demo-digits.jsonl"
