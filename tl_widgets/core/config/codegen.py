"""The Python and CLI equivalents of a :class:`TrainConfig`, as text.

Pure string generation (no Keras import): the Studio's "Show code" button
uses it so that what a user clicked together can be run from a script.
"""

from __future__ import annotations

import dataclasses
import shlex
from typing import Any

from tl_widgets.core.config.schema import (
    AugmentConfig,
    DataConfig,
    FreezeConfig,
    ModelConfig,
    PhaseConfig,
    StrategyConfig,
    TrainConfig,
)

__all__ = ["python_code", "cli_command", "config_expression"]

_CLASSES = (TrainConfig, DataConfig, ModelConfig, FreezeConfig, PhaseConfig, StrategyConfig, AugmentConfig)


def _expr(value: Any, indent: int) -> str:
    """A Python expression for ``value``, omitting fields equal to their defaults."""
    pad = "    " * (indent + 1)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        default = type(value)() if not isinstance(value, TrainConfig) else None
        parts = []
        for f in dataclasses.fields(value):
            v = getattr(value, f.name)
            if isinstance(value, TrainConfig):
                ref = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
            else:
                ref = getattr(default, f.name)
            if v == ref:
                continue
            parts.append(f"{pad}{f.name}={_expr(v, indent + 1)},")
        if not parts:
            return f"{type(value).__name__}()"
        return f"{type(value).__name__}(\n" + "\n".join(parts) + "\n" + "    " * indent + ")"
    if isinstance(value, list):
        if not value:
            return "[]"
        inner = "\n".join(f"{pad}{_expr(v, indent + 1)}," for v in value)
        return "[\n" + inner + "\n" + "    " * indent + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k!r}: {_expr(v, indent)}" for k, v in value.items()) + "}"
    return repr(value)


def config_expression(cfg: TrainConfig) -> str:
    """``TrainConfig(...)`` source text that rebuilds ``cfg`` (defaults left out)."""
    return _expr(cfg, 0)


def python_code(cfg: TrainConfig) -> str:
    """A runnable script: build the config, train with live progress, print the result.

    Args:
        cfg: The config to reproduce.

    Returns:
        Python source text.
    """
    used = sorted({c.__name__ for c in _CLASSES if c.__name__ in config_expression(cfg)} | {"TrainConfig"})
    return (
        f"from tl_widgets.core.config.schema import {', '.join(used)}\n"
        "from tl_widgets.core.training.session import train\n"
        "\n"
        f"config = {config_expression(cfg)}\n"
        "\n"
        "result = train(config)\n"
        "print(result.status, result.metrics, result.run_dir)\n"
    )


def cli_command(cfg: TrainConfig, config_path: str = "studio_config.json") -> str:
    """The shell commands that run ``cfg`` headless: save it as JSON, then ``tl-widgets train``.

    Args:
        cfg: The config to reproduce.
        config_path: Where the commands save the config.
    """
    quoted = shlex.quote(config_path)
    return (
        f"cat > {quoted} <<'EOF'\n{cfg.to_json()}\nEOF\n"
        f"tl-widgets train {quoted}\n"
    )
