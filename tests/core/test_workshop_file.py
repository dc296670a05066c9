"""Workshop files: every field checked with a message naming it; weights must be cached; no UI imports."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tl_widgets.core.room.workshop import Workshop, WorkshopError, load_workshop, workshop_from_dict, workshop_from_env

GOOD = """\
name: Friday class
data_roots: [data]
allowed_backbones: [demo_cnn, mobilenet_v2]
max_epochs: 5
max_batch_size: 32
max_upload_mb: 2.5
threads_per_kernel: 2
idle_timeout_minutes: 15
"""


def _write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "data").mkdir(exist_ok=True)
    path = tmp_path / "workshop.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_good_file_loads_with_relative_roots(tmp_path):
    ws = load_workshop(_write(tmp_path, GOOD))
    assert ws.data_roots == [(tmp_path / "data").resolve()]
    assert ws.allowed_backbones == ["demo_cnn", "mobilenet_v2"]
    assert (ws.max_epochs, ws.max_batch_size, ws.threads_per_kernel) == (5, 32, 2)
    assert ws.max_upload_bytes == int(2.5 * 2**20) and ws.idle_timeout_minutes == 15
    assert "Friday class" in ws.summary() and "at most 5 epochs" in ws.summary()


@pytest.mark.parametrize("replace, expected", [
    (("max_epochs: 5", "max_epochs: 0"), r"max_epochs to be an integer between 1 and 10000.*max_epochs=0"),
    (("max_epochs: 5", "max_epochs: five"), r"max_epochs=.five."),
    (("max_batch_size: 32", "max_batch_size: 1.5"), r"max_batch_size=1.5"),
    (("max_batch_size: 32", "max_batch_size: true"), r"max_batch_size=True"),
    (("[demo_cnn, mobilenet_v2]", "[demo_cnn, gpt5]"), r"allowed_backbones.*unknown \['gpt5'\]"),
    (("[demo_cnn, mobilenet_v2]", "[]"), r"non-empty list of backbone names"),
    (("[data]", "[missing]"), r"existing folder.*'missing'"),
    (("[data]", "[]"), r"data_roots to be a non-empty list"),
    (("max_upload_mb: 2.5", "max_upload_mb: -1"), r"max_upload_mb=-1"),
    (("threads_per_kernel: 2", "threads_per_kernel: 0"), r"threads_per_kernel=0"),
    (("name: Friday class", "nme: typo"), r"unknown \['nme'\]"),
    (("max_epochs: 5\n", ""), r"\['max_epochs'\] missing"),
])
def test_each_invalid_field_is_named_with_its_value(tmp_path, replace, expected):
    path = _write(tmp_path, GOOD.replace(*replace))
    with pytest.raises(WorkshopError, match=expected) as info:
        load_workshop(path)
    assert "Expected" in str(info.value) and "Received" in str(info.value)


def test_not_yaml_not_a_mapping_and_missing_file(tmp_path):
    with pytest.raises(WorkshopError, match="Expected a YAML workshop file"):
        load_workshop(_write(tmp_path, "max_epochs: [unclosed"))
    with pytest.raises(WorkshopError, match="Expected a mapping.*list"):
        load_workshop(_write(tmp_path, "- a\n- b\n"))
    with pytest.raises(WorkshopError, match="Expected a readable workshop file.*nope.yaml"):
        load_workshop(tmp_path / "nope.yaml")


def test_weights_check_names_missing_backbones(tmp_path):
    ws = load_workshop(_write(tmp_path, GOOD))
    empty_cache = tmp_path / "keras-cache"
    empty_cache.mkdir()
    assert ws.missing_weights(empty_cache) == ["mobilenet_v2"]  # demo_cnn is bundled
    with pytest.raises(WorkshopError, match=r"not cached for \['mobilenet_v2'\].*tl-widgets weights prefetch mobilenet_v2"):
        ws.check_weights(empty_cache)
    demo_only = workshop_from_dict({"data_roots": [str(tmp_path)], "allowed_backbones": ["demo_cnn"],
                                    "max_epochs": 1, "max_batch_size": 8})
    demo_only.check_weights(empty_cache)  # the bundled backbone needs nothing


def test_weights_check_passes_once_the_file_is_cached(tmp_path):
    from tl_widgets.core.models.weights import weights_file

    ws = Workshop(data_roots=[tmp_path], allowed_backbones=["mobilenet_v2"], max_epochs=1, max_batch_size=8)
    cache = tmp_path / "cache"
    target = weights_file("mobilenet_v2").path(cache)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(b"stand-in for the weights file")
    assert ws.missing_weights(cache) == []


def test_env_variable(tmp_path, monkeypatch):
    monkeypatch.delenv("TL_WIDGETS_WORKSHOP", raising=False)
    assert workshop_from_env() is None
    monkeypatch.setenv("TL_WIDGETS_WORKSHOP", str(_write(tmp_path, GOOD)))
    assert workshop_from_env().max_epochs == 5


def test_workshop_module_imports_no_ui():
    code = ("import sys, tl_widgets.core.room.workshop; "
            "bad = [m for m in ('ipywidgets', 'plotly', 'IPython') if m in sys.modules]; print(bad); assert not bad")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_nul_characters_are_refused_by_the_one_validator(tmp_path):
    """Text fields go through core/config/checks.py: a NUL is refused with a WorkshopError, not a crash."""
    for replace, expected in ((("[data]", '["da\\0ta"]'), r"data_roots to be a non-empty list"),
                              (("name: Friday class", 'name: "Fri\\0day"'), r"name to be a short text"),
                              (("[demo_cnn, mobilenet_v2]", '[demo_cnn, "mobile\\0net"]'),
                               r"non-empty list of backbone names")):
        path = _write(tmp_path, GOOD.replace(*replace))
        with pytest.raises(WorkshopError, match=expected):
            load_workshop(path)
