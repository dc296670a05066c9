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


def _numeric_fields():
    import dataclasses

    from tl_widgets.core.config.checks import type_hints

    hints = type_hints(Workshop)
    for f in dataclasses.fields(Workshop):
        if f.metadata.get("min") is not None and f.metadata.get("file", True):
            yield f.name, f.metadata["min"], f.metadata["max"], int in getattr(hints[f.name], "__args__", (hints[f.name],))


def _with(name: str, value: object) -> str:
    import json

    return "\n".join([line for line in GOOD.splitlines() if not line.startswith(f"{name}:")]
                     + [f"{name}: {json.dumps(value)}"]) + "\n"


@pytest.mark.parametrize("name, lo, hi, integer", list(_numeric_fields()))
def test_every_limit_is_declared_once_and_checked_from_its_declaration(tmp_path, name, lo, hi, integer):
    """Each field's bounds live in its metadata (no restated defaults): the file check reads them, every field."""
    kind = "an integer" if integer else "a number"
    for bad in (lo - 1, hi * 2, "lots", True):
        with pytest.raises(WorkshopError, match=rf"Expected {name} to be {kind} between {lo} and {hi}.*"
                                                 rf"Received: {name}="):
            load_workshop(_write(tmp_path, _with(name, bad)))
    assert getattr(load_workshop(_write(tmp_path, _with(name, lo))), name) == lo


def test_new_room_limits_and_their_schema_bounds():
    """#25: max_seats, model size, slot time and the feature cache are workshop fields; bounds that mirror a config
    field come from the schema, defaults from one place."""
    from tl_widgets.core.config.checks import field_bounds
    from tl_widgets.core.config.schema import ModelConfig, StrategyConfig
    from tl_widgets.core.room.workshop import (
        RESERVED_MEMORY_BYTES, SEAT_MEMORY_BYTES, seats_for_memory, served_defaults, workshop_default,
    )

    import dataclasses

    fields = {f.name: f for f in dataclasses.fields(Workshop)}
    assert fields["max_hidden_units"].metadata["max"] == field_bounds(ModelConfig, "hidden_units")[1]
    assert fields["max_logical_cpus"].metadata["max"] == field_bounds(StrategyConfig, "logical_cpus")[1]
    assert fields["max_steps_per_execution"].metadata["max"] == field_bounds(StrategyConfig, "steps_per_execution")[1]
    ws = Workshop(data_roots=[], allowed_backbones=["demo_cnn"], max_epochs=1, max_batch_size=8)
    for name in ("max_seats", "max_hidden_units", "max_logical_cpus", "max_steps_per_execution",
                 "max_training_minutes", "max_feature_cache_mb", "unconnected_minutes"):
        assert getattr(ws, name) == workshop_default(name)
    with pytest.raises(KeyError, match="required"):
        workshop_default("max_epochs")
    assert seats_for_memory(RESERVED_MEMORY_BYTES + 30 * SEAT_MEMORY_BYTES) == 30
    assert seats_for_memory(RESERVED_MEMORY_BYTES // 2) == 1
    assert ws.seats == seats_for_memory()
    served = served_defaults([Path("/srv/data")])
    assert served.summary() == "" and "demo_cnn" in served.allowed_backbones and served.data_roots == [Path("/srv/data")]


def test_serve_reads_the_workshop_defaults_and_checks_flags_against_the_same_bounds(tmp_path):
    import argparse

    from tl_widgets.cli import serve
    from tl_widgets.core.room.workshop import workshop_default

    parser = argparse.ArgumentParser()
    serve.register(parser.add_subparsers())
    opts = serve.build_options(parser.parse_args(["serve", "--data-root", str(tmp_path)]))
    assert opts.max_upload_bytes == int(workshop_default("max_upload_mb") * 2**20)
    assert opts.cull_idle_s == int(workshop_default("idle_timeout_minutes") * 60)
    assert opts.cull_unconnected_s == int(workshop_default("unconnected_minutes") * 60) and opts.max_seats >= 1
    with pytest.raises(WorkshopError, match=r"Expected --max-seats to be an integer between 1 and 10000\. "
                                            r"Received: --max-seats=0"):
        serve.build_options(parser.parse_args(["serve", "--data-root", str(tmp_path), "--max-seats", "0"]))
    with pytest.raises(WorkshopError, match=r"Expected --max-upload-mb to be a number between 0.01 and 1024"):
        serve.build_options(parser.parse_args(["serve", "--data-root", str(tmp_path), "--max-upload-mb", "2000"]))
    ws = _write(tmp_path, GOOD + "max_seats: 3\nunconnected_minutes: 0.5\n")
    opts = serve.build_options(parser.parse_args(["serve", "--workshop", str(ws), "--skip-weights-check"]))
    assert (opts.max_seats, opts.cull_unconnected_s) == (3, 30)
    assert serve.build_options(parser.parse_args(["serve", "--workshop", str(ws), "--skip-weights-check",
                                                  "--max-seats", "5"])).max_seats == 5
