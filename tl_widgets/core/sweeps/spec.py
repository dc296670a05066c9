"""A sweep: a base :class:`TrainConfig` plus a search space over its field paths.

A sweep file is JSON or YAML, kept next to the config it searches around::

    config: demo.yaml            # a TrainConfig file (relative to this file), or an inline mapping
    metric: val_accuracy         # maximised; the best epoch of each trial counts
    trials: 8                    # the study's budget (all processes together)
    pruner: median               # median | successive_halving | none
    space:
      phases[0].learning_rate: {type: float, low: 1.0e-4, high: 1.0e-2, log: true}
      model.dropout:           {type: float, low: 0.0, high: 0.5}
      phases[1].freeze.top_n:  {type: int, low: 0, high: 3}
      model.pooling:           {type: categorical, choices: [avg, max]}

Every path is checked against the base config and every bound against the
schema (:mod:`tl_widgets.core.config.checks`) when the sweep is loaded, so a
bad range fails before the first trial, naming the path.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tl_widgets.core.config.schema import ConfigError, TrainConfig
from tl_widgets.core.i18n import _

__all__ = ["SweepError", "Param", "SweepSpec", "set_path", "get_path", "PRUNERS", "KINDS"]

PRUNERS = ("median", "successive_halving", "none")
KINDS = ("float", "int", "categorical")
_STEP = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)((?:\[\d+\])*)")


class SweepError(ConfigError):
    """A sweep file or search space is invalid (``field`` names where)."""


def _steps(path: str) -> list[str | int]:
    if not isinstance(path, str) or not path:
        raise SweepError("space", f"Expected a config field path such as 'model.dropout'. Received: {path!r}")
    out: list[str | int] = []
    for part in path.split("."):
        m = _STEP.fullmatch(part)
        if m is None:
            raise SweepError(f"space.{path}", f"Expected a field path like 'phases[0].learning_rate'. "
                                              f"Received: {path!r}")
        out.append(m.group(1))
        out.extend(int(i) for i in re.findall(r"\[(\d+)\]", m.group(2)))
    return out


def get_path(data: dict[str, Any], path: str) -> Any:
    """The value at ``path`` (e.g. ``phases[1].freeze.top_n``) of a config dict.

    Raises:
        SweepError: The path does not lead to a field of ``data``.
    """
    node: Any = data
    for step in _steps(path):
        ok = (isinstance(step, int) and isinstance(node, list) and step < len(node)) or \
             (isinstance(step, str) and isinstance(node, dict) and step in node)
        if not ok:
            raise SweepError(f"space.{path}", f"Expected a path to a field of the base config. Received: {path!r} "
                                              f"({step!r} is not there)")
        node = node[step]
    return node


def set_path(data: dict[str, Any], path: str, value: Any) -> None:
    """Sets the field at ``path`` of a config dict in place (the field must exist).

    Raises:
        SweepError: The path does not lead to a field of ``data``.
    """
    get_path(data, path)
    steps = _steps(path)
    node: Any = data
    for step in steps[:-1]:
        node = node[step]
    node[steps[-1]] = value


@dataclass(frozen=True)
class Param:
    """One searched field.

    Attributes:
        path: The config field path (``phases[0].learning_rate``).
        kind: ``"float"``, ``"int"`` or ``"categorical"``.
        low: Lower bound (float/int).
        high: Upper bound (float/int).
        log: Sample on a log scale (float/int).
        choices: The values of a categorical parameter.
    """

    path: str
    kind: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: tuple[Any, ...] = ()

    @classmethod
    def from_dict(cls, path: str, data: Any) -> Param:
        """Parses one entry of ``space`` (see the module docstring)."""
        where = f"space.{path}"
        if not isinstance(data, dict):
            raise SweepError(where, f"Expected a mapping with 'type'. Received: {data!r}")
        unknown = sorted(set(data) - {"type", "low", "high", "log", "choices"})
        if unknown:
            raise SweepError(where, f"Unknown key {unknown[0]!r}. Expected: type, low, high, log, choices")
        kind = data.get("type", "categorical" if "choices" in data else "float")
        if kind not in KINDS:
            raise SweepError(where, f"Expected type in {KINDS}. Received: {kind!r}")
        if kind == "categorical":
            choices = data.get("choices")
            if not isinstance(choices, list) or not choices:
                raise SweepError(where, f"Expected a non-empty list of choices. Received: {choices!r}")
            return cls(path, kind, choices=tuple(choices))
        low, high, log = data.get("low"), data.get("high"), data.get("log", False)
        number = int if kind == "int" else (int, float)
        for name, value in (("low", low), ("high", high)):
            if isinstance(value, bool) or not isinstance(value, number):
                raise SweepError(where, f"Expected {name} to be {'an integer' if kind == 'int' else 'a number'}. "
                                        f"Received: {name}={value!r}")
        if low > high:
            raise SweepError(where, _("Expected low <= high. Received: low={low!r}, high={high!r}").format(
                low=low, high=high))
        if not isinstance(log, bool) or (log and low <= 0):
            raise SweepError(where, _("Expected log true only with low > 0. Received: log={log!r}, low={low!r}").format(
                log=log, low=low))
        return cls(path, kind, float(low) if kind == "float" else low, float(high) if kind == "float" else high, log)

    def to_dict(self) -> dict[str, Any]:
        """The entry as it is written in a sweep file."""
        if self.kind == "categorical":
            return {"type": "categorical", "choices": list(self.choices)}
        out: dict[str, Any] = {"type": self.kind, "low": self.low, "high": self.high}
        if self.log:
            out["log"] = True
        return out

    def extremes(self) -> list[Any]:
        """The values that must all be valid for the field: the bounds or every choice."""
        return list(self.choices) if self.kind == "categorical" else [self.low, self.high]

    def suggest(self, trial: Any) -> Any:
        """Asks an Optuna trial for a value of this parameter."""
        if self.kind == "categorical":
            return trial.suggest_categorical(self.path, list(self.choices))
        if self.kind == "int":
            return trial.suggest_int(self.path, int(self.low), int(self.high), log=self.log)
        return trial.suggest_float(self.path, float(self.low), float(self.high), log=self.log)


@dataclass
class SweepSpec:
    """A base config, a search space and how to search it.

    Attributes:
        config: The base config every trial starts from.
        space: The searched fields.
        metric: The metric maximised (its best epoch counts).
        trials: The study's trial budget, all processes together.
        pruner: ``"median"``, ``"successive_halving"`` or ``"none"``.
        name: The study name (the sweep id); None derives one from the space.
        seed: Seed of the sampler (None: random).
    """

    config: TrainConfig
    space: list[Param] = field(default_factory=list)
    metric: str = "val_accuracy"
    trials: int = 8
    pruner: str = "median"
    name: str | None = None
    seed: int | None = None

    def __post_init__(self) -> None:
        self.check()

    def check(self) -> None:
        """Checks the space against the base config and the schema.

        Raises:
            SweepError: An unknown path, a bound the schema refuses, a bad budget or pruner.
        """
        if not isinstance(self.trials, int) or isinstance(self.trials, bool) or not 1 <= self.trials <= 100_000:
            raise SweepError("trials", f"Expected an integer between 1 and 100000. Received: {self.trials!r}")
        if self.pruner not in PRUNERS:
            raise SweepError("pruner", f"Expected pruner in {PRUNERS}. Received: {self.pruner!r}")
        if not self.space:
            raise SweepError("space", _("Expected at least one searched field. Received: an empty space"))
        if self.name is not None and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}", str(self.name)):
            raise SweepError("name", f"Expected a name of letters, digits, '.', '_' or '-'. Received: {self.name!r}")
        base = self.config.to_dict()
        seen = set()
        for p in self.space:
            if p.path in seen:
                raise SweepError(f"space.{p.path}", "Expected each field once. Received: it twice")
            seen.add(p.path)
            get_path(base, p.path)
            for value in p.extremes():
                trial = self.config.to_dict()
                set_path(trial, p.path, value)
                try:
                    TrainConfig.from_dict(trial)
                except ConfigError as exc:
                    raise SweepError(f"space.{p.path}", _("Expected values the config accepts. Received: {value!r}, "
                                                          "which it refuses: {error}").format(value=value, error=exc)) \
                        from None

    def trial_config(self, values: dict[str, Any], run_name: str | None = None) -> TrainConfig:
        """The base config with ``values`` (path -> value) set."""
        data = self.config.to_dict()
        for path, value in values.items():
            set_path(data, path, value)
        if run_name is not None:
            data["run_name"] = run_name
        return TrainConfig.from_dict(data)

    @property
    def study_name(self) -> str:
        """The sweep id: ``name`` or one derived from the base run name."""
        return self.name or f"sweep-{(self.config.run_name or 'run')}"

    # -- files -----------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """A JSON/YAML-ready dict (the base config inline)."""
        return {"name": self.name, "metric": self.metric, "trials": self.trials, "pruner": self.pruner,
                "seed": self.seed, "config": self.config.to_dict(),
                "space": {p.path: p.to_dict() for p in self.space}}

    @classmethod
    def from_dict(cls, data: Any, base_dir: str | os.PathLike[str] | None = None) -> SweepSpec:
        """Builds a sweep from a dict; ``config`` may be a file path relative to ``base_dir``.

        Raises:
            SweepError: Naming the bad key.
        """
        if not isinstance(data, dict):
            raise SweepError("", f"Expected a mapping (a sweep file). Received: {data!r}")
        unknown = sorted(set(data) - {"name", "metric", "trials", "pruner", "seed", "config", "space"})
        if unknown:
            raise SweepError(unknown[0], f"Unknown key {unknown[0]!r}. Expected: name, metric, trials, pruner, "
                                         "seed, config, space")
        raw = data.get("config")
        if isinstance(raw, str):
            path = Path(raw) if Path(raw).is_absolute() else Path(base_dir or ".") / raw
            config = TrainConfig.load(path)
        elif isinstance(raw, dict):
            config = TrainConfig.from_dict(raw)
        else:
            raise SweepError("config", f"Expected a config file path or mapping. Received: {raw!r}")
        space = data.get("space")
        if not isinstance(space, dict):
            raise SweepError("space", f"Expected a mapping of field path -> range. Received: {space!r}")
        metric = data.get("metric", "val_accuracy")
        if metric not in ("val_accuracy", "accuracy"):
            raise SweepError("metric", f"Expected 'val_accuracy' or 'accuracy'. Received: {metric!r}")
        return cls(config=config, space=[Param.from_dict(k, v) for k, v in space.items()], metric=metric,
                   trials=data.get("trials", 8), pruner=data.get("pruner", "median"), name=data.get("name"),
                   seed=data.get("seed"))

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> SweepSpec:
        """Loads a ``.json``, ``.yaml`` or ``.yml`` sweep file."""
        p = Path(path)
        if not p.is_file():
            raise SweepError("", f"Expected an existing sweep file. Received: {str(path)!r} (not found)")
        text = p.read_text(encoding="utf-8")
        try:
            if p.suffix.lower() in (".yaml", ".yml"):
                import yaml

                data = yaml.safe_load(text)
            else:
                data = json.loads(text)
        except Exception as exc:  # yaml.YAMLError / json.JSONDecodeError: both mean "not parseable"
            raise SweepError("", f"Expected valid JSON or YAML in {str(path)!r}. Received text that fails to "
                                 f"parse: {exc}") from None
        return cls.from_dict(data, base_dir=p.parent)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Writes the sweep (base config inline) as JSON or YAML, by extension."""
        from tl_widgets.core.fileio import atomic_write_text

        p = Path(path)
        if p.suffix.lower() in (".yaml", ".yml"):
            import yaml

            text = yaml.safe_dump(self.to_dict(), sort_keys=False)
        else:
            text = json.dumps(self.to_dict(), indent=2)
        atomic_write_text(p, text)
        return p
