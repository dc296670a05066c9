"""Every field of `TrainConfig` is either reachable from a Studio widget or listed here as not for the GUI, why.

The schema is walked recursively (``dataclasses.fields``); a field added to it
later fails :func:`test_every_field_is_decided` until someone adds it to one of
the two tables below. Phases are written ``phases[].field`` (the Studio edits
the head phase and the fine-tune phase; later phases pass through).
"""

from __future__ import annotations

import dataclasses
import html
import typing

import ipywidgets as widgets
import pytest

from tl_widgets.core.config.schema import TrainConfig

#: Field path -> the widget (or widgets) of a Studio that edit it.
WIDGETS = {
    "data.source": lambda s: s.data.source_picker,
    "data.path": lambda s: s.data._where,  # shows the folder picker or the zip upload, by the source picked
    "data.demo": lambda s: s.data.demo,
    "data.val_path": lambda s: s.data.more.editors["val_path"],
    "data.validation_split": lambda s: s.data.validation_split,
    "data.batch_size": lambda s: s.data.batch_size,
    "data.cache": lambda s: s.data.more.editors["cache"],
    "data.class_weights": lambda s: s.data.more.editors["class_weights"],
    "data.max_per_class": lambda s: s.data.max_per_class,
    "data.augmentation.flip": lambda s: s.data.augment.flip,
    **{f"data.augmentation.{name}": (lambda s, n=name: s.data.augment.factors[n])
       for name in ("rotation", "zoom", "translation", "contrast", "brightness", "crop", "hue", "saturation",
                    "color_jitter")},
    "data.curation": lambda s: s.health,  # the Data health check's Review writes it ("Use the fixes")
    "model.backbone": lambda s: s.backbone.select,
    "model.weights": lambda s: [s.backbone.weights, s.backbone.weights_file],
    "model.input_size": lambda s: s.backbone.size,
    "model.pooling": lambda s: s.backbone.head.editors["pooling"],
    "model.dropout": lambda s: s.backbone.head.editors["dropout"],
    "model.hidden_units": lambda s: s.backbone.head.editors["hidden_units"],
    "freeze.mode": lambda s: s.freeze.mode_picker,
    "freeze.block": lambda s: s.freeze.block_slider,
    "freeze.top_n": lambda s: s.freeze.top_n,
    "freeze.overrides": lambda s: s.freeze.toggles_box,
    "freeze.train_batchnorm": lambda s: s.freeze.train_bn,
    "phases[].epochs": lambda s: [s.train.head.epochs, s.train.ft.epochs],
    "phases[].learning_rate": lambda s: [s.train.head.lr, s.train.ft.lr],
    "phases[].optimizer": lambda s: [s.train.head.optimizer, s.train.ft.optimizer],
    "phases[].freeze": lambda s: [s.train.fine_tune, s.train.ft_top],  # the fine-tune's "top N blocks"
    "phases[].schedule": lambda s: [g.editors["schedule"] for g in s.train.advanced.phase_groups],
    "phases[].warmup_epochs": lambda s: [g.editors["warmup_epochs"] for g in s.train.advanced.phase_groups],
    "phases[].lr_decay_per_block": lambda s: [g.editors["lr_decay_per_block"] for g in s.train.advanced.phase_groups],
    "strategy.kind": lambda s: s.strategy.picker,
    "strategy.logical_cpus": lambda s: s.strategy.logical_cpus,
    "strategy.mixed_precision": lambda s: s.strategy.precision,
    "strategy.jit_compile": lambda s: s.strategy.xla,
    "strategy.steps_per_execution": lambda s: s.strategy.more.editors["steps_per_execution"],
    "strategy.lr_scaling": lambda s: s.strategy.more.editors["lr_scaling"],
    "seed": lambda s: s.train.advanced.run.editors["seed"],
    "run_name": lambda s: s.train.advanced.run.editors["run_name"],
    "feature_cache": lambda s: s.train.advanced.run.editors["feature_cache"],
    "early_stopping_patience": lambda s: s.train.advanced.run.editors["early_stopping_patience"],
    "reduce_lr_patience": lambda s: s.train.advanced.run.editors["reduce_lr_patience"],
    "rollback": lambda s: s.train.advanced.run.editors["rollback"],
    "calibrate": lambda s: s.train.calibrate,
    "tensorboard": lambda s: s.train.tensorboard,
}

#: Field path -> why the Studio shows no widget for it (the value passes through a restored config unchanged).
NOT_FOR_THE_GUI = {
    "output_dir": "the Studio writes runs under the run store's home (a served seat's own); a browser must not "
                  "choose where the server writes",
    "parent_run_id": "set by 'Retrain with fixes' (the Evaluate step) to link a child run to its parent",
    "phases[].name": "the Studio's phases are named by their place: 'head' and 'fine_tune'",
    "phases[].block_lr_multipliers": "per-block factors name blocks of one backbone; the Studio offers the "
                                     "per-block decay (lr_decay_per_block) instead; set them in a config file",
    "strategy.coordinator": "multi-process JAX: each process is launched from the command line, not one kernel",
    "strategy.num_processes": "multi-process JAX (see coordinator)",
    "strategy.process_id": "multi-process JAX (see coordinator)",
}


def schema_paths(cls: type = TrainConfig, prefix: str = "") -> list[str]:
    """Every leaf field path of the schema; a list of config parts recurses as ``name[]``, ``X | None`` is a leaf."""
    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        tp, path = hints[f.name], f"{prefix}{f.name}"
        if dataclasses.is_dataclass(tp):
            out.extend(schema_paths(tp, path + "."))
        elif typing.get_origin(tp) is list and dataclasses.is_dataclass(typing.get_args(tp)[0]):
            out.extend(schema_paths(typing.get_args(tp)[0], path + "[]."))
        else:
            out.append(path)
    return out


def _tree(root: widgets.Widget) -> set[int]:
    seen: set[int] = set()
    stack = [root]
    while stack:
        w = stack.pop()
        if id(w) not in seen:
            seen.add(id(w))
            stack.extend(getattr(w, "children", ()) or ())
    return seen


def test_every_field_is_decided():
    paths = schema_paths()
    assert len(paths) == len(set(paths)) and "phases[].schedule" in paths and "data.augmentation.hue" in paths
    undecided = [p for p in paths if p not in WIDGETS and p not in NOT_FOR_THE_GUI]
    assert not undecided, f"new config fields: give each a widget (WIDGETS) or a reason (NOT_FOR_THE_GUI): {undecided}"
    stale = sorted((set(WIDGETS) | set(NOT_FOR_THE_GUI)) - set(paths))
    assert not stale, f"listed but not in the schema: {stale}"
    assert not set(WIDGETS) & set(NOT_FOR_THE_GUI)


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    from tl_widgets.core.data.demo_datasets import write_demo_data
    from tl_widgets.studio import Studio

    root = tmp_path_factory.mktemp("reach-root")
    write_demo_data(root, "digits", "target")
    return Studio(data_roots=[root])


def test_every_widget_listed_is_in_the_studio(studio):
    shown = _tree(studio)
    for path, get in WIDGETS.items():
        found = get(studio)
        for w in found if isinstance(found, list) else [found]:
            assert isinstance(w, widgets.Widget), path
            assert id(w) in shown, f"{path}: its widget is not in the Studio's widget tree"


def test_advanced_settings_have_help_and_sit_closed_under_advanced(studio):
    from tl_widgets.panels.kit.field_editor import find_editors

    editors = find_editors(studio)
    paths = {e.path for e in editors}
    assert {"model.dropout", "phases[0].schedule", "phases[1].warmup_epochs", "seed", "data.class_weights",
            "strategy.lr_scaling"} <= paths
    for e in editors:
        assert e.control.description and e.control.tooltip == e.help_text and len(e.help_text) > 20, e.path
        assert html.escape(e.help_text) in e.help.value  # visible too, not only on hover
        assert any(c.startswith("tlw-adv-") for c in e.control._dom_classes), e.path
    boxes = [w for w in _walk(studio) if isinstance(w, widgets.Accordion) and "tlw-advanced" in w._dom_classes]
    assert len(boxes) >= 4 and all(b.selected_index is None for b in boxes)  # closed by default
    assert {id(e) for e in editors} <= {i for b in boxes for i in _tree(b)}
    # The fine-tune phase's settings show only while there is a fine-tune phase.
    section = studio.train.advanced._ft_section
    studio.train.fine_tune.value = False
    assert section.layout.display == "none"
    studio.train.fine_tune.value = True
    assert section.layout.display is None


def _walk(root: widgets.Widget):
    stack = [root]
    while stack:
        w = stack.pop()
        yield w
        stack.extend(getattr(w, "children", ()) or ())


def test_a_value_from_the_browser_is_checked_by_the_schema(studio):
    seed = studio.train.advanced.run.editors["seed"]
    seed.control.value = "-3"
    assert seed.control.value == "42" and "seed between 0" in studio.train.notice.text  # refused: the last good one
    seed.control.value = "twelve"
    assert seed.control.value == "42" and "Expected seed to be an integer" in studio.train.notice.text
    seed.control.value = ""
    assert studio.config.seed is None  # blank: no fixed seed
    dropout = studio.backbone.head.editors["dropout"]
    dropout.control.value = 0.5
    assert studio.config.model.dropout == 0.5
    val = studio.data.more.editors["val_path"]
    val.control.options = [*val.control.options, ("evil", "/etc")]
    val.control.value = "/etc"
    assert val.control.value == "" and "data roots" in studio.data.notice.text
