"""Issue #27: every image-level problem injected into generated data is found, with few false alarms on clean data.

The folder (``health_data.make_dirty_folder``): the demo backbone's four shapes at 64 px, 150 clean images per
class, and 8 images of each problem (blurred, darkened, blown-out, flat, of another kind, of another class in the
wrong folder) spread over the classes. Measured when this was written: every kind found 7 or 8 of 8; the clean
folder (600 images) raised 3 false alarms of these kinds (1 bright, 2 far from their class).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from health_data import DIRTY_KINDS, make_dirty_folder
from tl_widgets.core.data.health import HealthReport, check_dataset

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    path = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as mp:
        from tl_widgets.core.settings import HOME_ENV

        mp.setenv(HOME_ENV, str(path))
        yield path


@pytest.fixture(scope="module")
def dirty(tmp_path_factory, home):
    root = tmp_path_factory.mktemp("dirty") / "data"
    injected = make_dirty_folder(root)
    return root, injected, check_dataset(root)


@pytest.fixture(scope="module")
def clean(tmp_path_factory, home):
    root = tmp_path_factory.mktemp("clean") / "data"
    make_dirty_folder(root, dirty=False)
    return root, check_dataset(root)


@pytest.mark.parametrize("kind", DIRTY_KINDS)
def test_each_injected_problem_is_found(dirty, kind):
    _root, injected, report = dirty
    found = set(report.of_kind(kind)[0].files) if report.of_kind(kind) else set()
    recall = len(found & set(injected[kind])) / len(injected[kind])
    assert recall >= 0.8, (kind, sorted(found), injected[kind])


def test_few_false_alarms_on_clean_data(clean):
    _root, report = clean
    flagged = {kind: len(report.of_kind(kind)[0].files) if report.of_kind(kind) else 0 for kind in DIRTY_KINDS}
    assert sum(flagged.values()) <= 0.01 * report.images, flagged  # measured: 3 of 600
    assert report.images == 600 and report.decoded == 600


def test_findings_are_ranked_with_their_scores_and_thresholds(dirty):
    _root, _injected, report = dirty
    for kind in ("blurry", "dark", "low_information", "outliers", "far_from_class"):
        f = report.of_kind(kind)[0]
        assert len(f.scores) == len(f.files) and f.score
        worst_high = f.threshold["side"] == "high"
        assert f.scores == sorted(f.scores, reverse=worst_high), (kind, f.scores)
        line = f.threshold["value"]
        assert all(s > line for s in f.scores) if worst_high else all(s < line for s in f.scores)
    for kind in ("blurry", "dark", "bright", "low_information", "outliers", "small_images", "aspect_ratio"):
        t = report.thresholds[kind]
        assert t["rule"] and np.isfinite(t["median"]), (kind, t)  # every adaptive line is shown
    again = HealthReport.from_dict(json.loads(json.dumps(report.to_dict())))
    assert again.to_dict() == report.to_dict()


def test_a_second_check_decodes_nothing_and_a_curation_is_applied(dirty, tmp_path):
    from tl_widgets.core.data.curation import decide

    root, injected, report = dirty
    again = check_dataset(root)
    assert again.decoded == 0 and again.images == report.images
    assert [f.kind for f in again.findings] == [f.kind for f in report.findings]
    curation = tmp_path / "fix.jsonl"
    decide(curation, injected["blurry"], "exclude")
    decide(curation, injected["far_from_class"][:1], "relabel", "circle" if "circle" not in
           injected["far_from_class"][0] else "square")
    cured = check_dataset(root, curation=curation)
    assert cured.decoded == 0 and cured.images == report.images - len(injected["blurry"])
    assert cured.curation["excluded"] == len(injected["blurry"]) and cured.curation["relabelled"] == 1
    assert not set(injected["blurry"]) & {k for f in cured.findings for k in f.files}
    (root / "circle" / "new_one.png").write_bytes((root / injected["dark"][0]).read_bytes()[:-1] + b"\x00")
    newer = check_dataset(root, curation=curation)  # one new file: decoded alone, and the cache keeps the rest
    assert newer.decoded == 1
    assert check_dataset(root).decoded == 0  # the excluded images' rows were kept in the cache
    (root / "circle" / "new_one.png").unlink()


def test_the_report_crosses_the_engine_wire(dirty):
    from tl_widgets.core.engine.wire import dumps, loads

    _root, _injected, report = dirty
    back = loads(dumps(report))
    assert back.to_dict() == report.to_dict()
