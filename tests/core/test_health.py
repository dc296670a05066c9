"""The dataset health check on a generated dataset with known, injected problems."""

from __future__ import annotations

import json

import pytest

from health_data import make_noisy_dataset
from tl_widgets.core.data.health import check_dataset


@pytest.fixture(scope="module")
def noisy(tmp_path_factory):
    return make_noisy_dataset(tmp_path_factory.mktemp("noisy"))


@pytest.fixture(scope="module")
def report(noisy):
    return check_dataset(noisy.train, val_path=noisy.val)


def _pairs(finding):
    return {frozenset(g) for g in finding.groups}


def test_duplicates_and_leaks_are_found(noisy, report):
    exact = _pairs(report.of_kind("exact_duplicates")[0])
    injected_exact = {frozenset(p) for p in noisy.exact_leaks}
    assert len(injected_exact & exact) / len(injected_exact) >= 0.9
    near = _pairs(report.of_kind("near_duplicates")[0])
    injected_near = {frozenset(p) for p in noisy.near_leaks}
    assert len(injected_near & near) / len(injected_near) >= 0.9, (near, report.similarity_threshold)
    # Every injected pair crosses train -> validation: each is a leak, and leaks come first.
    leak = report.findings[0]
    assert leak.kind == "leakage"
    injected = injected_exact | injected_near
    assert len(injected & _pairs(leak)) / len(injected) >= 0.9
    # Few false alarms: the generated images are all different otherwise.
    assert len(near) <= 2 * len(injected_near), near


def test_imbalance_and_image_shape_findings(noisy, report):
    imbalance = report.of_kind("imbalance")[0]
    assert "'blue'" in imbalance.message and "class_weights" in imbalance.action
    assert report.counts["blue"] * 8 <= report.counts["green"]
    assert set(noisy.small) <= set(report.of_kind("small_images")[0].files)
    assert set(noisy.wide) <= set(report.of_kind("aspect_ratio")[0].files)
    assert set(noisy.grey) == set(report.of_kind("mixed_colour")[0].files)
    assert set(noisy.corrupt) == set(report.of_kind("unreadable")[0].files)
    json.dumps(report.to_dict())  # plain data


def test_label_errors_rank_injected_mislabels_first(noisy, report):
    found = report.of_kind("label_errors")[0].files
    top = found[: 2 * len(noisy.mislabelled)]
    hits = [k for k in noisy.mislabelled if k in top]
    assert len(hits) >= 0.75 * len(noisy.mislabelled), (found[:12], noisy.mislabelled)


def test_without_embeddings_only_exact_duplicates(noisy, tmp_path):
    rep = check_dataset(noisy.train, val_path=noisy.val, embeddings=False)
    assert rep.similarity_threshold is None and not rep.of_kind("near_duplicates")
    assert rep.of_kind("exact_duplicates") and rep.of_kind("leakage")


def test_a_missing_folder_is_a_clear_error(tmp_path):
    from tl_widgets.core.data.images import DataError

    with pytest.raises(DataError, match="Expected a folder with one sub-folder per class"):
        check_dataset(tmp_path / "nope")


def test_a_zip_is_checked_like_its_folder(noisy, tmp_path):
    import shutil

    archive = shutil.make_archive(str(tmp_path / "data"), "zip", noisy.train.parent, "train")
    rep = check_dataset(archive, embeddings=False, work_dir=tmp_path / "work")
    assert rep.counts == check_dataset(noisy.train, embeddings=False).counts
    assert set(noisy.corrupt) == set(rep.of_kind("unreadable")[0].files)


def test_checking_a_zip_again_reuses_its_extraction(noisy, tmp_path, monkeypatch):
    """#25 L6: each check of an uploaded zip left a new extraction (90 MiB after three checks of a 34 KB zip)."""
    import shutil
    import tempfile

    from tl_widgets.core.settings import HOME_ENV

    monkeypatch.setenv(HOME_ENV, str(tmp_path / "seat"))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    archive = shutil.make_archive(str(tmp_path / "upload"), "zip", noisy.train.parent, "train")
    counts = [check_dataset(archive, embeddings=False).counts for _ in range(3)]
    assert counts[0] == counts[1] == counts[2]
    assert len(list((tmp_path / "seat" / "data_work" / "extracted").iterdir())) == 1  # the one training uses too
    assert not list((tmp_path / "tmp").iterdir())  # nothing outside the seat's home
