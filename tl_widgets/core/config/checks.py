"""The one value validator: types, choices, bounds, NUL-free text and finite numbers.

Everything that accepts a value from outside — a config file, a widget in the
browser, a workshop file — checks it here, so a rule is written once:

- :func:`check_number`, :func:`check_choice`, :func:`check_text` check one
  value and raise :class:`ConfigError` (or its :class:`BoundsError` when a
  number of the right type lies outside its bounds);
- :func:`field_choices` and :func:`field_bounds` read the choices (``Literal``
  types) and bounds (``min``/``max`` field metadata) that the config
  dataclasses declare, so no caller restates them;
- :func:`build_dataclass` and :func:`validate_fields` check a whole dataclass
  (recursively) against its type hints and metadata.

The panels wrap these errors in their ``PanelError`` and the workshop file in
its ``WorkshopError``; the messages say what was expected and quote what was
received (``Expected batch_size between 1 and 8192. Received: batch_size=0``).
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
import os
from pathlib import Path
from typing import Any, Iterable, Literal, Mapping, Sequence

from tl_widgets.core.i18n import N_, _

__all__ = [
    "ConfigError",
    "BoundsError",
    "bounds_rule",
    "check_number",
    "check_choice",
    "check_text",
    "check_value",
    "field_bounds",
    "field_choices",
    "field_help",
    "field_label",
    "type_hints",
    "build_dataclass",
    "validate_fields",
]


class ConfigError(ValueError):
    """A configuration value is invalid. ``field`` names where (a path such as ``phases[1].epochs``)."""

    def __init__(self, field_path: str, message: str) -> None:
        super().__init__(f"{field_path}: {message}" if field_path else message)
        self.field = field_path


class BoundsError(ConfigError):
    """A number of the right type lies outside its ``[lo, hi]`` bounds."""

    def __init__(self, field_path: str, message: str, lo: float | None = None, hi: float | None = None) -> None:
        super().__init__(field_path, message)
        self.lo, self.hi = lo, hi


def bounds_rule(lo: float | None, hi: float | None) -> str:
    """The bounds as words: ``"between 1 and 10"``, ``">= 1"``, ``"<= 10"`` (``""`` when unbounded)."""
    if lo is not None and hi is not None:
        return _("between {lo} and {hi}").format(lo=lo, hi=hi)
    if lo is not None:
        return f">= {lo}"
    return f"<= {hi}" if hi is not None else ""


def check_number(value: Any, name: str, lo: float | None = None, hi: float | None = None, *,
                 integer: bool = False, path: str = "") -> Any:
    """Returns ``value`` if it is a finite number (an ``int`` when ``integer``) within ``[lo, hi]``.

    Args:
        value: The value to check (``bool`` is refused: it is not a number here).
        name: The name quoted in the message.
        lo: The smallest accepted value (None: no lower bound).
        hi: The largest accepted value (None: no upper bound).
        integer: Accept ``int`` only.
        path: The field path the :class:`ConfigError` names (``""``: none).

    Raises:
        ConfigError: Not a (finite) number, or not an integer when ``integer``.
        BoundsError: Outside the bounds.
    """
    ok_type = isinstance(value, int) if integer else isinstance(value, (int, float))
    if isinstance(value, bool) or not ok_type:
        kind = _("an integer") if integer else _("a number")
        raise ConfigError(path, _("Expected {name} to be {kind}. Received: {name}={value!r}").format(
            name=name, kind=kind, value=value))
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(path, _("Expected {name} to be a finite number. Received: {name}={value!r}").format(
            name=name, value=value))
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise BoundsError(path, _("Expected {name} {rule}. Received: {name}={value!r}").format(
            name=name, rule=bounds_rule(lo, hi), value=value), lo, hi)
    return value


def _same(value: Any, choice: Any) -> bool:
    return value == choice and type(value) is type(choice)


def check_choice(value: Any, name: str, choices: Iterable[Any], *, path: str = "") -> Any:
    """Returns ``value`` if it is one of ``choices`` (of the same type: ``1`` is not ``True``).

    Raises:
        ConfigError: Listing (up to 8 of) the allowed values.
    """
    allowed = list(choices)
    if not any(_same(value, c) for c in allowed):
        shown = ", ".join(repr(c) for c in allowed[:8]) + (", ..." if len(allowed) > 8 else "")
        raise ConfigError(path, _("Expected {name} to be one of {choices}. Received: {name}={value!r}").format(
            name=name, choices=shown, value=value))
    return value


def check_text(value: Any, name: str, *, path: str = "") -> str:
    """Returns ``value`` if it is a string without NUL characters.

    Raises:
        ConfigError: Not a string, or it holds a NUL.
    """
    if not isinstance(value, str):
        raise ConfigError(path, _("Expected {name} to be a string. Received: {name}={value!r}").format(
            name=name, value=value))
    if "\x00" in value:
        raise ConfigError(path, _("Expected {name} without NUL characters. Received: {name}={value!r}").format(
            name=name, value=value))
    return value


# -- what the dataclasses declare ------------------------------------------------

_HINTS: dict[type, dict[str, Any]] = {}


def check_under_roots(path: Any, roots: Sequence[Path], what: str = N_("folder"),
                      where: str = N_("the data roots")) -> Path:
    """Resolves ``path`` (symlinks, ``..``) and checks it lies inside one of ``roots`` (the one rule for paths
    that come from a browser or a seat).

    Args:
        path: The path to check.
        roots: The folders it may lie in.
        what: What the path is, for the message (an ``N_()`` text: shown translated).
        where: What the roots are, for the message (an ``N_()`` text).

    Raises:
        ConfigError: Not a path, no root configured, or the path escapes every root.
    """
    from tl_widgets.core.settings import DATA_ROOTS_ENV

    thing = _(what)
    if not isinstance(path, (str, os.PathLike)) or "\x00" in str(path):
        raise ConfigError("", _("Expected a {what} path. Received: {path!r}").format(what=thing, path=path))
    if not roots:
        raise ConfigError("", _("Expected a {what} inside a data root, but no data roots are configured (pass "
                                "data_roots= or set {env}). Received: {path!r}").format(
            what=thing, env=DATA_ROOTS_ENV, path=str(path)))
    resolved = Path(path).expanduser().resolve()
    for root in roots:
        if resolved == root or resolved.is_relative_to(root):
            return resolved
    raise ConfigError("", _("Expected a {what} inside {where} {roots}. Received: {path!r} (resolves to "
                            "{resolved!r})").format(what=thing, where=_(where), roots=[str(r) for r in roots],
                                                    path=str(path), resolved=str(resolved)))


def type_hints(cls: type) -> dict[str, Any]:
    """The resolved type hints of a dataclass (cached)."""
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]


def _field(cls: type, name: str) -> dataclasses.Field[Any]:
    for f in dataclasses.fields(cls):
        if f.name == name:
            return f
    raise KeyError(f"Expected a field of {cls.__name__}. Received: {name!r}")


def field_bounds(cls: type, name: str) -> tuple[Any, Any]:
    """The ``(min, max)`` a config dataclass declares for field ``name`` (None: unbounded)."""
    meta = _field(cls, name).metadata
    return meta.get("min"), meta.get("max")


def field_help(cls: type, name: str) -> str:
    """The one-line help a config dataclass declares for field ``name``, in the user's language.

    The schema is the one owner of field help: the panels' tooltips, the field editor and the CLI's options
    read it here.

    Raises:
        KeyError: No such field, or it declares no help.
    """
    text = _field(cls, name).metadata.get("help")
    if not text:
        raise KeyError(f"Expected a field of {cls.__name__} with help. Received: {name!r}")
    return _(text)


def field_label(cls: type, name: str) -> str:
    """The short label a panel shows for field ``name`` (its ``label`` metadata, translated; else the name)."""
    text = _field(cls, name).metadata.get("label")
    return _(text) if text else name


def field_choices(cls: type, name: str) -> tuple[Any, ...]:
    """The values a ``Literal`` (or ``bool``) field accepts, in declaration order; ``None`` is left out.

    Example: ``field_choices(StrategyConfig, "jit_compile") == ("auto", True, False)``.

    Raises:
        KeyError: No such field, or it declares no choices.
    """
    out: list[Any] = []

    def walk(tp: Any) -> None:
        origin = typing.get_origin(tp)
        if origin is Literal:
            out.extend(typing.get_args(tp))
        elif origin in (typing.Union, types.UnionType):
            for arg in typing.get_args(tp):
                walk(arg)
        elif tp is bool:
            out.extend((True, False))

    _field(cls, name)
    walk(type_hints(cls)[name])
    if not out:
        raise KeyError(f"Expected a Literal or bool field of {cls.__name__}. Received: {name!r}")
    return tuple(out)


# -- whole values, by type --------------------------------------------------------

def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return " | ".join(repr(a) for a in typing.get_args(tp))
    if origin in (typing.Union, types.UnionType):
        return " | ".join(_type_name(a) for a in typing.get_args(tp))
    if tp is type(None):
        return "None"
    return getattr(tp, "__name__", str(tp))


def check_value(tp: Any, value: Any, path: str, meta: Mapping[str, Any] | None = None) -> Any:
    """Returns ``value`` converted to type ``tp`` (dataclasses from mappings), checked against ``meta``.

    Args:
        tp: A type hint: a dataclass, ``Literal``, ``X | None``, ``list[X]``,
            ``dict[K, V]``, ``bool``, ``int``, ``float`` or ``str``.
        value: The value (e.g. parsed JSON).
        path: The field path the error names.
        meta: Field metadata with optional ``min``/``max``.

    Raises:
        ConfigError: Naming ``path``, what was expected and what was received.
    """
    meta = meta or {}
    name = path.rsplit(".", 1)[-1] or "value"
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors: list[ConfigError] = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return check_value(arg, value, path, meta)
            except ConfigError as exc:
                errors.append(exc)
        # A branch that matched the type but not the bounds says more than "wrong type".
        for exc in errors:
            if isinstance(exc, BoundsError):
                raise exc
        raise ConfigError(path, _("Expected {types}. Received: {value!r}").format(types=_type_name(tp), value=value))
    if origin is Literal:
        return check_choice(value, name, typing.get_args(tp), path=path)
    if dataclasses.is_dataclass(tp):
        return build_dataclass(tp, value, path)  # type: ignore[arg-type]
    if origin is list:
        (item_tp,) = typing.get_args(tp)
        if not isinstance(value, (list, tuple)):
            raise ConfigError(path, _("Expected a list. Received: {value!r}").format(value=value))
        return [check_value(item_tp, v, f"{path}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        key_tp, val_tp = typing.get_args(tp)
        if not isinstance(value, dict):
            raise ConfigError(path, _("Expected a mapping. Received: {value!r}").format(value=value))
        return {check_value(key_tp, k, f"{path}.<key>"): check_value(val_tp, v, f"{path}[{k!r}]")
                for k, v in value.items()}
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(path, _("Expected true or false. Received: {value!r}").format(value=value))
        return value
    if tp is int:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        return check_number(value, name, meta.get("min"), meta.get("max"), integer=True, path=path)
    if tp is float:
        value = check_number(value, name, path=path)
        return check_number(float(value), name, meta.get("min"), meta.get("max"), path=path)
    if tp is str:
        return check_text(value, name, path=path)
    raise ConfigError(path, f"Unsupported field type {tp!r}")  # a programming error in a schema


def build_dataclass(cls: type, data: Any, path: str = "") -> Any:
    """Builds a ``cls`` from a mapping (or a ``cls``), checking every given field; missing ones take defaults.

    ``__post_init__`` does not run: the caller runs any cross-field checks.

    Raises:
        ConfigError: An unknown key, a wrong type or a value out of range.
    """
    if isinstance(data, cls):
        data = dataclasses.asdict(data)
    if not isinstance(data, dict):
        raise ConfigError(path, _("Expected a mapping for {cls}. Received: {data!r}").format(
            cls=cls.__name__, data=data))
    names = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(names), key=str)
    if unknown:
        where = f"{path}.{unknown[0]}" if path else str(unknown[0])
        raise ConfigError(where, _("Unknown field {field!r} in {cls}. Expected one of: {names}").format(
            field=unknown[0], cls=cls.__name__, names=", ".join(names)))
    hints = type_hints(cls)
    given = {k: check_value(hints[k], v, f"{path}.{k}" if path else k, names[k].metadata) for k, v in data.items()}
    obj = object.__new__(cls)
    for fname, f in names.items():
        if fname in given:
            value = given[fname]
        elif f.default is not dataclasses.MISSING:
            value = f.default
        else:
            value = f.default_factory()  # type: ignore[misc]
        setattr(obj, fname, value)
    return obj


def validate_fields(obj: Any, path: str = "") -> None:
    """Checks (and normalises, e.g. ``int`` -> ``float``) every field of a dataclass instance in place.

    Raises:
        ConfigError: Naming the first bad field.
    """
    hints = type_hints(type(obj))
    for f in dataclasses.fields(obj):
        sub = f"{path}.{f.name}" if path else f.name
        setattr(obj, f.name, check_value(hints[f.name], getattr(obj, f.name), sub, f.metadata))
