"""Which settings differ between two runs: a field-by-field diff of their configs.

The configs come from the run store (``RunStore.get_run(run_id)["config"]``,
the config each run recorded when it started); fields are compared by their
path in a :class:`~tl_widgets.core.config.schema.TrainConfig` (``model.dropout``,
``phases[1].learning_rate``), and a field one config lacks (an older run, a
phase only one run has) shows as missing.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping

__all__ = ["MISSING", "flatten_config", "config_diff", "run_config_diff"]


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()
"""Stands for a field one of the two configs does not have."""

#: Fields that differ between any two runs by construction; left out unless asked for.
ALWAYS_DIFFERENT = ("run_name", "output_dir")


def flatten_config(config: Any, prefix: str = "") -> dict[str, Any]:
    """``{path: value}`` of every leaf of a config (a TrainConfig or its ``to_dict()``); lists index as ``[i]``.

    A dict-valued field that is not itself a config part (``freeze.overrides``,
    ``block_lr_multipliers``) stays one leaf.
    """
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        config = dataclasses.asdict(config)
    out: dict[str, Any] = {}
    if isinstance(config, Mapping) and (not prefix or _is_part(prefix)):
        for key, value in config.items():
            out.update(flatten_config(value, f"{prefix}.{key}" if prefix else str(key)))
    elif isinstance(config, list) and config and all(isinstance(v, Mapping) for v in config):
        for i, value in enumerate(config):
            out.update(flatten_config(value, f"{prefix}[{i}]"))
    else:
        out[prefix] = config
    return out


_DICT_LEAVES = ("overrides", "block_lr_multipliers")


def _is_part(prefix: str) -> bool:
    """True when the mapping at ``prefix`` is a config part (recursed into), not a dict-valued field."""
    return prefix.rsplit(".", 1)[-1] not in _DICT_LEAVES


def config_diff(a: Any, b: Any, *, include_names: bool = False) -> list[tuple[str, Any, Any]]:
    """``(path, value in a, value in b)`` of every field that differs, in ``a``'s field order.

    Args:
        a: A TrainConfig or its ``to_dict()`` (as stored with a run).
        b: The other one.
        include_names: Also list ``run_name`` and ``output_dir`` (they differ between most runs).

    Raises:
        TypeError: ``a`` or ``b`` is not a config or a mapping.
    """
    for name, value in (("a", a), ("b", b)):
        if not isinstance(value, Mapping) and not dataclasses.is_dataclass(value):
            raise TypeError(f"Expected a TrainConfig or a config dict for {name}. Received: {type(value).__name__}")
    fa, fb = flatten_config(a), flatten_config(b)
    out = []
    for path in [*fa, *(p for p in fb if p not in fa)]:
        if not include_names and path in ALWAYS_DIFFERENT:
            continue
        va, vb = fa.get(path, MISSING), fb.get(path, MISSING)
        if va is MISSING or vb is MISSING or not _equal(va, vb):
            out.append((path, va, vb))
    return out


def _equal(x: Any, y: Any) -> bool:
    return x == y and type(x) is type(y) or (isinstance(x, (int, float)) and isinstance(y, (int, float))
                                            and not isinstance(x, bool) and not isinstance(y, bool) and x == y)


def run_config_diff(store: Any, run_a: str, run_b: str, *, include_names: bool = False) -> list[tuple[str, Any, Any]]:
    """:func:`config_diff` of two runs in a run store, by run id.

    Raises:
        RunNotFoundError: A run id is not in the store.
        ValueError: A run recorded no config.
    """
    configs = []
    for run_id in (run_a, run_b):
        config = store.get_run(run_id).get("config")
        if not isinstance(config, Mapping) or not config:
            raise ValueError(f"Expected run {run_id!r} to have a recorded config. Received: {config!r}")
        configs.append(config)
    return config_diff(configs[0], configs[1], include_names=include_names)
