"""Every field of `TrainConfig` survives the Studio: a round trip generated from the schema.

The config is built by walking ``dataclasses.fields(TrainConfig)`` recursively
and giving every leaf a valid value other than its default, derived from its
type (``Literal`` -> another choice, ``bool`` -> flipped, numbers -> another
value within the field's bounds, ``X | None`` -> a value, lists -> three
items). A field added to the schema later is covered without editing this
file. Only values that must also make sense to the Studio (a data folder under
its data roots, block names the backbone has, a ``HOST:PORT``) come from the
small override table, keyed by field path (list indices written ``[]``).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, Literal

import pytest

from tl_widgets.core.config.schema import TrainConfig

BACKBONE = "mobilenet_v3_small"  # not the default (demo_cnn); builds offline with weights=None
INPUT_SIZE = 40
LIST_ITEMS = 3  # head phase, fine-tune phase, and one more that passes through


def _default(f: dataclasses.Field) -> Any:
    return f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]


class Generator:
    """Builds a value for every leaf of a dataclass from its type hints, metadata and the override table."""

    def __init__(self, overrides: dict[str, Any]) -> None:
        self.overrides = overrides
        self.used: set[str] = set()

    def dataclass(self, cls: type, path: str, salt: int = 1) -> Any:
        hints = typing.get_type_hints(cls)
        kwargs = {}
        for f in dataclasses.fields(cls):
            sub = f"{path}.{f.name}" if path else f.name
            kwargs[f.name] = self.value(hints[f.name], _default(f), sub, f.metadata, salt)
        return cls(**kwargs)

    def value(self, tp: Any, default: Any, path: str, meta: Any, salt: int) -> Any:
        if path in self.overrides:
            self.used.add(path)
            return self.overrides[path]
        origin = typing.get_origin(tp)
        if origin in (typing.Union, types.UnionType):
            for arm in typing.get_args(tp):
                if arm is type(None):
                    continue
                arm_default = default if _fits(arm, default) else None
                candidate = self.value(arm, arm_default, path, meta, salt)
                if not _same(candidate, default):
                    return candidate
            raise AssertionError(f"no non-default value for {path} ({tp})")
        if origin is Literal:
            choices = [c for c in typing.get_args(tp) if not _same(c, default)]
            return choices[(salt - 1) % len(choices)] if choices else default  # a union tries its next arm
        if dataclasses.is_dataclass(tp):
            return self.dataclass(tp, path, salt)
        if origin is list:
            (item,) = typing.get_args(tp)
            return [self.value(item, None, f"{path}[]", {}, i + 1) for i in range(LIST_ITEMS)]
        if origin is dict:
            key_tp, val_tp = typing.get_args(tp)
            return {self.value(key_tp, None, f"{path}.<key>", {}, salt): self.value(val_tp, None, f"{path}[]", {}, salt)}
        if tp is bool:
            return not default if isinstance(default, bool) else True
        lo, hi = meta.get("min"), meta.get("max")
        if tp is int:
            base = default if default is not None else (lo if lo is not None else 0)
            for candidate in (base + salt, base - salt, lo, hi):
                if candidate is not None and candidate != default and (lo is None or candidate >= lo) \
                        and (hi is None or candidate <= hi):
                    return candidate
            raise AssertionError(f"no in-bounds int for {path}")
        if tp is float:
            d = float(default) if default is not None else (lo if lo is not None else 0.0)
            top = hi if hi is not None else d + 10.0
            bottom = lo if lo is not None else d - 10.0
            value = d + (top - d) / (salt + 1) if top > d else d - (d - bottom) / (salt + 1)
            assert value != default and (lo is None or value >= lo) and (hi is None or value <= hi), path
            return value
        if tp is str:
            leaf = path.rsplit(".", 1)[-1]
            return f"{default or leaf}-{salt}"
        raise AssertionError(f"the generator does not know the type {tp!r} of {path}: teach it (here)")


def _fits(arm: Any, value: Any) -> bool:
    if value is None:
        return False
    origin = typing.get_origin(arm)
    if origin is Literal:
        return any(_same(value, c) for c in typing.get_args(arm))
    return isinstance(value, origin or arm) and not (arm is int and isinstance(value, bool))


def _same(a: Any, b: Any) -> bool:
    return a == b and type(a) is type(b)


def _leaves(obj: Any, path: str = ""):
    """(path, value, default) of every leaf field of a config, recursing into parts, phases and plans."""
    for f in dataclasses.fields(obj):
        value, sub = getattr(obj, f.name), f"{path}.{f.name}" if path else f.name
        if dataclasses.is_dataclass(value):
            yield from _leaves(value, sub)
        elif isinstance(value, list) and value and dataclasses.is_dataclass(value[0]):
            for i, item in enumerate(value):
                yield from _leaves(item, f"{sub}[{i}]")
        else:
            yield sub, value, _default(f)


@pytest.fixture
def overrides(data_root, tmp_path):
    """The only hand-picked values: those that must mean something to the Studio."""
    from tl_widgets.core.models.facts import block_names
    from tl_widgets.core.training.strategy_planning import available_strategies, discover_devices

    blocks = block_names(BACKBONE, INPUT_SIZE)
    folder = str((data_root / "digits_target").resolve())
    kind = next(o.kind for o in available_strategies(discover_devices()) if o.available and o.kind != "auto")
    return {
        "data.source": "folder",  # "demo" is the default; "zip" needs an upload; "code" needs data from Python
        "data.path": folder,
        "data.val_path": folder,
        "model.backbone": BACKBONE,
        "model.weights": str((data_root / "weights" / "w.weights.h5").resolve()),
        "model.input_size": INPUT_SIZE,
        "freeze.block": blocks[2],
        "freeze.overrides": {blocks[-1]: True},
        "phases[].freeze.block": blocks[1],
        "phases[].freeze.overrides": {blocks[3]: True},
        "phases[].block_lr_multipliers": {blocks[-1]: 0.5, blocks[-2]: 0.0},
        "strategy.kind": kind,  # one that works on this machine (the Strategy panel refuses the others)
        "strategy.coordinator": "127.0.0.1:29500",
        "output_dir": str(tmp_path / "runs"),
    }


@pytest.fixture
def every_field_config(overrides):
    gen = Generator(overrides)
    cfg = gen.dataclass(TrainConfig, "")
    assert gen.used == set(overrides), f"overrides naming no field: {set(overrides) - gen.used}"
    return cfg


def test_every_leaf_differs_from_its_default(every_field_config):
    leaves = list(_leaves(every_field_config))
    same = [p for p, value, default in leaves if _same(value, default)]
    assert not same, f"left at their default: {same}"
    names = {p.split(".")[-1] for p, _, _ in leaves}
    assert {"lr_decay_per_block", "block_lr_multipliers", "train_batchnorm", "coordinator", "brightness"} <= names
    assert len(every_field_config.phases) == LIST_ITEMS
    assert all(p.freeze is not None for p in every_field_config.phases)


def test_studio_round_trips_every_field(every_field_config, data_root):
    from tl_widgets.studio import Studio

    cfg = every_field_config
    studio = Studio(config=cfg, data_roots=[data_root])
    got = studio.config
    diffs = {p: (g, w) for (p, g, _), (_, w, _) in zip(_leaves(got), _leaves(cfg)) if not _same(g, w)}
    assert not diffs, diffs
    assert [p for p, _, _ in _leaves(got)] == [p for p, _, _ in _leaves(cfg)]
    assert got == cfg
    # Nothing the Studio hands out is shared with its panels, and asking twice gives the same config.
    got.phases[0].block_lr_multipliers.clear()
    got.strategy.num_processes = 1
    assert studio.config == cfg


def test_set_config_is_the_inverse_of_config(every_field_config, data_root):
    """``s.set_config(cfg); s.config == cfg`` for the schema-generated config, from a Studio showing the demo."""
    from tl_widgets.studio import Studio

    studio = Studio(data_roots=[data_root])
    demo = studio.config
    studio.set_config(every_field_config)
    assert studio.config == every_field_config
    studio.set_config(demo)  # and back: nothing of the first config is left in the panels
    assert studio.config == demo


def test_a_refused_set_config_leaves_the_panels_as_they_were(every_field_config, data_root, tmp_path):
    """A value one panel refuses (a data folder outside the roots) changes no panel, also those set before it."""
    from tl_widgets.panels.kit.validation import PanelError
    from tl_widgets.studio import Studio

    studio = Studio(data_roots=[data_root])
    before = studio.config
    outside = tmp_path / "outside"
    (outside / "a").mkdir(parents=True)
    bad = dataclasses.replace(every_field_config, data=dataclasses.replace(every_field_config.data,
                                                                            path=str(outside)))
    with pytest.raises(PanelError, match="data folder"):
        studio.set_config(bad)
    assert studio.config == before
    with pytest.raises(TypeError, match="Expected a TrainConfig"):
        studio.set_config(bad.to_dict())  # type: ignore[arg-type]


def test_generator_fails_on_a_field_left_at_default(every_field_config):
    """The check above can fail: a config with one field at its default is caught."""
    cfg = dataclasses.replace(every_field_config, rollback=True)
    same = [p for p, value, default in _leaves(cfg) if _same(value, default)]
    assert same == ["rollback"]


def _at(cfg: Any, path: str) -> Any:
    """The value at a field path such as ``phases[1].schedule`` or ``model.dropout``."""
    value = cfg
    for part in path.split("."):
        name, _, index = part.partition("[")
        value = getattr(value, name)
        if index:
            value = value[int(index.rstrip("]"))]
    return value


def test_every_advanced_widget_edits_the_config_and_a_restore_shows_it(data_root):
    """Each "Advanced" widget, set as the browser would, changes `Studio.config`; `Studio(config=...)` shows it.

    The widgets are found in the Studio's widget tree (a new one is covered without editing this test); the value
    set is derived from the field's type and bounds like the round trip's, other than what the Studio shows.
    """
    from tl_widgets.panels.kit.field_editor import find_editors
    from tl_widgets.studio import Studio

    studio = Studio(data_roots=[data_root])
    studio.train.fine_tune.value = True  # the fine-tune phase's editors edit phases[1]
    editors = find_editors(studio)
    assert len(editors) >= 17 and len({e.path for e in editors}) == len(editors)
    gen = Generator({"data.val_path": str((data_root / "digits_target").resolve())})
    wanted = {}
    for editor in editors:
        before = _at(studio.config, editor.path)
        value = gen.value(editor.hint, before, editor.path, editor.meta, salt=2)
        assert not _same(value, before), editor.path
        editor.control.value = editor.widget_value(value)  # as the browser sends it
        got = _at(studio.config, editor.path)
        assert _same(got, value), (editor.path, got, value)
        wanted[editor.path] = value
    cfg = studio.config
    restored = Studio(config=cfg, data_roots=[data_root])
    shown = {e.path: e.value for e in find_editors(restored)}
    assert shown == wanted
    assert restored.config == cfg
