"""Workshop files: the limits a teacher sets for a shared Studio (YAML).

Example file::

    name: Intro to transfer learning
    data_roots: [data]              # relative paths are relative to this file
    allowed_backbones: [demo_cnn, mobilenet_v2]
    max_epochs: 10                  # per phase
    max_batch_size: 64
    max_upload_mb: 8                # every other field is optional: see the Workshop fields for defaults
    max_seats: 30                   # kernels at once (default: sized from the machine's memory)

Each field is declared once, on :class:`Workshop`, with its default and its
bounds (``min``/``max`` field metadata, as the config schema does; the bounds
that mirror a config field are read from the schema). :func:`workshop_from_dict`
checks a file against those declarations through the one validator
(:mod:`tl_widgets.core.config.checks`) and names the field and the value it
refuses; :meth:`Workshop.check_weights` checks that every allowed backbone's
ImageNet weights are already in the cache (a workshop room may have no
network). The served Studio finds the file through ``$TL_WIDGETS_WORKSHOP``;
a served seat without one gets :func:`served_defaults` (``serve`` without
``--workshop`` is hardened the same way).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tl_widgets.core.config.checks import ConfigError, bounds_rule, check_text, check_value, field_bounds, type_hints
from tl_widgets.core.config.schema import DataConfig, ModelConfig, StrategyConfig
from tl_widgets.core.settings import DATA_ROOTS_ENV, SEATS_ENV, WORKSHOP_ENV

__all__ = ["Workshop", "WorkshopError", "load_workshop", "workshop_from_dict", "workshop_from_env", "served_defaults",
           "workshop_default", "check_workshop_value", "seats_for_memory", "WORKSHOP_ENV", "SEAT_MEMORY_BYTES",
           "THIN_SEAT_MEMORY_BYTES", "WORKER_MEMORY_BYTES"]

SEAT_MEMORY_BYTES = 2**30
"""Memory one seat is given when ``max_seats`` is sized from the machine and every kernel trains itself
(``serve --engine in-process``: a Studio kernel after a run holds ~0.6-0.9 GiB)."""
THIN_SEAT_MEMORY_BYTES = 2**28
"""Memory one seat is given when the room's engine workers do the Keras work (a thin Studio kernel: ~0.1 GiB PSS)."""
WORKER_MEMORY_BYTES = 2**30
"""Memory one engine worker is given (TensorFlow warm, a run's model and data: ~0.4-0.9 GiB)."""
RESERVED_MEMORY_BYTES = 2 * 2**30
"""Memory kept for the system and the server before seats are counted."""


class WorkshopError(ValueError):
    """A workshop file is missing, unreadable or has an invalid field."""


def _required(lo: float | None = None, hi: float | None = None) -> Any:
    return field(metadata={"min": lo, "max": hi})


def _limit(default: Any, lo: float | None = None, hi: float | None = None) -> Any:
    return field(default=default, metadata={"min": lo, "max": hi})


def _schema_max(cls: type, name: str) -> Any:
    return field_bounds(cls, name)[1]


@dataclass
class Workshop:
    """The limits of one workshop (see the module doc for the file format).

    Attributes:
        data_roots: Folders students may pick data from (resolved, existing).
        allowed_backbones: Registered backbone names students may pick.
        max_epochs: Most epochs per phase.
        max_batch_size: Largest batch size.
        name: A title shown in the Studio ("" for none).
        path: The file it was read from (None when built in code; not a file field).
        max_upload_mb: Largest zip a student may upload, in MiB.
        threads_per_kernel: CPU threads each student's kernel may use.
        idle_timeout_minutes: An idle kernel (no tab attached) is shut down after this.
        unconnected_minutes: A kernel whose page never connected (a bare GET, a closed tab) is shut down
            this long after its page was sent.
        max_extract_ratio: An upload may extract to at most this many times :attr:`max_upload_mb`.
        max_files: Most files in one upload.
        max_image_megapixels: Most pixels per image (larger ones are skipped, with the reason).
        max_input_size: Largest model input side (None: the schema's bound).
        max_seat_disk_mb: Disk one seat may fill; Start, uploads and webcam frames are refused beyond it.
        max_trainings: Trainings running at once in the room; more wait in a fair queue
            (None: CPU cores // :attr:`threads_per_kernel`).
        max_seats: Student kernels at once; more visitors get a "room full" page (None: :func:`seats_for_memory`).
        max_hidden_units: Largest hidden dense layer of the head.
        max_logical_cpus: Most logical CPU devices a run may split the CPU into.
        max_steps_per_execution: Most batches per compiled call (Stop and the time limit act between calls).
        max_training_minutes: How long one run may hold a training slot before it is stopped.
        max_feature_cache_mb: Size of the room's shared feature cache; the least recently used entries go first.
    """

    data_roots: list[Path] = _required()
    allowed_backbones: list[str] = _required()
    max_epochs: int = _required(1, 10_000)
    max_batch_size: int = _required(1, _schema_max(DataConfig, "batch_size"))
    name: str = "Workshop"
    path: Path | None = field(default=None, compare=False, metadata={"file": False})
    max_upload_mb: float = _limit(8.0, 0.01, 1024)
    threads_per_kernel: int = _limit(1, 1, 256)
    idle_timeout_minutes: float = _limit(30.0, 1, 7 * 24 * 60)
    unconnected_minutes: float = _limit(2.0, 0.1, 60)
    max_extract_ratio: float = _limit(4.0, 1, 100)
    max_files: int = _limit(5000, 2, 10_000_000)
    max_image_megapixels: float = _limit(16.0, 0.01, 1000)
    max_input_size: int | None = _limit(None, 32, _schema_max(ModelConfig, "input_size"))
    max_seat_disk_mb: float = _limit(1024.0, 1, 10**7)
    max_trainings: int | None = _limit(None, 1, 1024)
    max_seats: int | None = _limit(None, 1, 10_000)
    max_hidden_units: int = _limit(1024, 0, _schema_max(ModelConfig, "hidden_units"))
    max_logical_cpus: int = _limit(2, 0, _schema_max(StrategyConfig, "logical_cpus"))
    max_steps_per_execution: int = _limit(32, 1, _schema_max(StrategyConfig, "steps_per_execution"))
    max_training_minutes: float = _limit(60.0, 0.01, 7 * 24 * 60)
    max_feature_cache_mb: float = _limit(4096.0, 1, 10**7)

    @property
    def max_extract_bytes(self) -> int:
        """Most bytes one upload may extract to."""
        return int(self.max_extract_ratio * self.max_upload_bytes)

    @property
    def max_pixels(self) -> int:
        """:attr:`max_image_megapixels` in pixels."""
        return int(self.max_image_megapixels * 1_000_000)

    @property
    def training_slots(self) -> int:
        """Trainings at once: :attr:`max_trainings`, else CPU cores // threads per kernel (at least 1)."""
        if self.max_trainings is not None:
            return self.max_trainings
        return max(1, (os.cpu_count() or 1) // max(1, self.threads_per_kernel))

    @property
    def seats(self) -> int:
        """Student kernels at once: :attr:`max_seats`, else :func:`seats_for_memory`."""
        return self.max_seats if self.max_seats is not None else seats_for_memory()

    @property
    def max_upload_bytes(self) -> int:
        """:attr:`max_upload_mb` in bytes."""
        return int(self.max_upload_mb * 1024 * 1024)

    @property
    def max_feature_cache_bytes(self) -> int:
        """:attr:`max_feature_cache_mb` in bytes."""
        return int(self.max_feature_cache_mb * 2**20)

    def summary(self) -> str:
        """One line for the Studio header ("" for an unnamed workshop, e.g. :func:`served_defaults`)."""
        if not self.name:
            return ""
        return (f"{self.name}: backbones {', '.join(self.allowed_backbones)}; at most {self.max_epochs} epochs "
                f"per phase, batch size at most {self.max_batch_size}, uploads up to {self.max_upload_mb:g} MiB")

    def missing_weights(self, cache_dir: str | os.PathLike[str] | None = None) -> list[str]:
        """Allowed backbones whose ImageNet weights are not cached (bundled ones need nothing)."""
        from tl_widgets.core.models.backbones import get_backbone
        from tl_widgets.core.models.weights import weights_file

        missing = []
        for name in self.allowed_backbones:
            if get_backbone(name).pretrained != "imagenet":
                continue
            if not weights_file(name).is_cached(cache_dir):
                missing.append(name)
        return missing

    def check_weights(self, cache_dir: str | os.PathLike[str] | None = None) -> None:
        """Raises unless every allowed backbone can start without a download.

        Raises:
            WorkshopError: Naming the backbones to prefetch, with the command.
        """
        missing = self.missing_weights(cache_dir)
        if missing:
            raise WorkshopError(
                f"Expected the ImageNet weights of every allowed backbone in the cache. Received: not cached for "
                f"{missing}; run `tl-widgets weights prefetch {' '.join(missing)}` on this machine first "
                f"(or remove them from allowed_backbones in {str(self.path) if self.path else 'the workshop'})")


_FIELDS = {f.name: f for f in dataclasses.fields(Workshop) if f.metadata.get("file", True)}
_REQUIRED = tuple(n for n, f in _FIELDS.items()
                  if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING)


def seats_for_memory(total_bytes: int | None = None, *, workers: int | None = None) -> int:
    """The default ``max_seats``, from the machine's memory, at least 1.

    With the room's engine (``workers`` engine worker processes): (memory − 2 GiB − 1 GiB per worker) // 0.25 GiB
    per thin seat. Without (``workers=None``: every kernel trains itself): (memory − 2 GiB) // 1 GiB per seat.
    """
    if total_bytes is None:
        import psutil

        total_bytes = int(psutil.virtual_memory().total)
    if workers is None:
        return max(1, (int(total_bytes) - RESERVED_MEMORY_BYTES) // SEAT_MEMORY_BYTES)
    left = int(total_bytes) - RESERVED_MEMORY_BYTES - int(workers) * WORKER_MEMORY_BYTES
    return max(1, left // THIN_SEAT_MEMORY_BYTES)


def workshop_default(name: str) -> Any:
    """The default of the optional workshop field ``name`` (the one place it is written).

    Raises:
        KeyError: Not an optional workshop field.
    """
    f = _FIELDS[name]
    if f.default is dataclasses.MISSING:
        raise KeyError(f"Expected an optional workshop field. Received: {name!r} (required)")
    return f.default


def _where(path: Path | None) -> str:
    return f" in {str(path)!r}" if path else ""


def check_workshop_value(name: str, value: Any, label: str | None = None, path: Path | None = None) -> Any:
    """``value`` checked against the type and bounds the workshop field ``name`` declares.

    Args:
        name: A numeric workshop field.
        value: The value (from YAML, or a command-line flag).
        label: What the message calls it (default ``name``; e.g. ``--max-upload-mb``).
        path: The file it came from (named in the message).

    Raises:
        WorkshopError: Naming the field, its rule and the value.
    """
    f, label = _FIELDS[name], label or name
    hint = type_hints(Workshop)[name]
    lo, hi = f.metadata.get("min"), f.metadata.get("max")
    try:
        return check_value(hint, value, name, f.metadata)
    except ConfigError as exc:
        kind = "an integer" if int in getattr(hint, "__args__", (hint,)) else "a number"
        raise WorkshopError(f"Expected {label} to be {kind} {bounds_rule(lo, hi)}{_where(path)}. "
                            f"Received: {label}={value!r}") from exc


def _is_text(value: Any) -> bool:
    """True for a string without NUL characters (the one validator's rule)."""
    try:
        check_text(value, "value")
    except ConfigError:
        return False
    return True


def _roots(value: Any, base: Path, path: Path | None) -> list[Path]:
    roots_in = [value] if isinstance(value, str) else value
    if not isinstance(roots_in, list) or not roots_in or not all(_is_text(r) and r.strip() for r in roots_in):
        raise WorkshopError(f"Expected data_roots to be a non-empty list of folders{_where(path)}. "
                            f"Received: data_roots={value!r}")
    roots: list[Path] = []
    for root in roots_in:
        resolved = (base / Path(root).expanduser()).resolve()
        if not resolved.is_dir():
            raise WorkshopError(f"Expected each data root to be an existing folder{_where(path)}. "
                                f"Received: data_roots entry {root!r} (resolves to {str(resolved)!r})")
        if resolved not in roots:
            roots.append(resolved)
    return roots


def _backbones(names: Any, path: Path | None) -> list[str]:
    from tl_widgets.core.models.backbones import list_backbones

    known = [s.name for s in list_backbones()]
    if not isinstance(names, list) or not names or not all(_is_text(n) for n in names):
        raise WorkshopError(f"Expected allowed_backbones to be a non-empty list of backbone names{_where(path)}. "
                            f"Received: allowed_backbones={names!r}")
    bad = [n for n in names if n not in known]
    if bad:
        raise WorkshopError(f"Expected allowed_backbones from `tl-widgets backbones` (e.g. {known[:4]}){_where(path)}. "
                            f"Received: unknown {bad}")
    return list(dict.fromkeys(names))


def _name(value: Any, path: Path | None) -> str:
    if not _is_text(value) or not value.strip() or len(value) > 200:
        raise WorkshopError(f"Expected name to be a short text{_where(path)}. Received: name={value!r}")
    return value.strip()


def workshop_from_dict(data: Any, path: Path | None = None) -> Workshop:
    """Checks a parsed workshop mapping and returns the :class:`Workshop`.

    Every field the mapping gives is checked against its declaration on
    :class:`Workshop`; the others keep their declared defaults.

    Args:
        data: The mapping (e.g. from YAML).
        path: The file it came from; relative data roots resolve against its folder.

    Raises:
        WorkshopError: Naming the field and the value refused.
    """
    if not isinstance(data, dict):
        raise WorkshopError(f"Expected a mapping of workshop settings{_where(path)}. Received: {type(data).__name__}")
    unknown = sorted(set(map(str, data)) - set(_FIELDS))
    if unknown:
        raise WorkshopError(f"Expected only the fields {list(_FIELDS)}{_where(path)}. Received: unknown {unknown}")
    absent = [k for k in _REQUIRED if k not in data]
    if absent:
        raise WorkshopError(f"Expected the fields {list(_REQUIRED)}{_where(path)}. Received: {absent} missing")
    base = path.parent if path is not None else Path.cwd()
    special = {"data_roots": lambda v: _roots(v, base, path), "allowed_backbones": lambda v: _backbones(v, path),
               "name": lambda v: _name(v, path)}
    values = {key: special[key](value) if key in special else check_workshop_value(key, value, path=path)
              for key, value in data.items()}
    return Workshop(**values, path=path)


def load_workshop(path: str | os.PathLike[str]) -> Workshop:
    """Reads and checks a workshop YAML file.

    Raises:
        WorkshopError: The file is missing, not YAML, or a field is invalid.
    """
    import yaml

    p = Path(path).expanduser().resolve()
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise WorkshopError(f"Expected a readable workshop file. Received: {str(path)!r} ({exc})") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise WorkshopError(f"Expected a YAML workshop file. Received: {str(path)!r} ({exc})") from exc
    return workshop_from_dict(data, p)


def served_defaults(data_roots: list[Path] | None = None) -> Workshop:
    """The limits of a room served without a workshop file: every default, every backbone, the schema's bounds.

    Args:
        data_roots: The room's data roots (None: ``$TL_WIDGETS_DATA_ROOTS``).
    """
    from tl_widgets.core.config.schema import PhaseConfig
    from tl_widgets.core.models.backbones import list_backbones

    if data_roots is None:
        data_roots = [Path(p) for p in os.environ.get(DATA_ROOTS_ENV, "").split(os.pathsep) if p.strip()]
    return Workshop(data_roots=list(data_roots), allowed_backbones=[s.name for s in list_backbones()],
                    max_epochs=_schema_max(PhaseConfig, "epochs"), max_batch_size=_FIELDS["max_batch_size"].metadata["max"],
                    name="")


def workshop_from_env() -> Workshop | None:
    """The workshop named by ``$TL_WIDGETS_WORKSHOP``; in a served seat without one, :func:`served_defaults`.

    Returns None outside a served room with no workshop (a personal Studio).

    Raises:
        WorkshopError: The variable names an invalid file.
    """
    value = os.environ.get(WORKSHOP_ENV, "").strip()
    if value:
        return load_workshop(value)
    return served_defaults() if os.environ.get(SEATS_ENV, "").strip() else None
