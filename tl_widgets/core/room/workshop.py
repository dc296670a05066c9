"""Workshop files: the limits a teacher sets for a shared Studio (YAML).

Example file::

    name: Intro to transfer learning
    data_roots: [data]              # relative paths are relative to this file
    allowed_backbones: [demo_cnn, mobilenet_v2]
    max_epochs: 10                  # per phase
    max_batch_size: 64
    max_upload_mb: 8                # optional (default 8)
    threads_per_kernel: 1           # optional (default 1)
    idle_timeout_minutes: 30        # optional (default 30)
    max_extract_ratio: 4            # optional: extracted bytes <= this x max_upload_mb (default 4)
    max_files: 5000                 # optional: files in an upload (default 5000)
    max_image_megapixels: 16        # optional: pixels per image (default 16)
    max_input_size: 320             # optional: largest model input side (default: the schema's bound)
    max_seat_disk_mb: 1024          # optional: disk one seat may fill (runs, uploads; default 1024)
    max_trainings: 2                # optional: trainings at once; more wait in a queue (default: cores / threads)

:func:`load_workshop` checks every field and names the field and the value
it refuses; :meth:`Workshop.check_weights` checks that every allowed
backbone's ImageNet weights are already in the cache (a workshop room may
have no network). The served Studio finds the file through
``$TL_WIDGETS_WORKSHOP``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tl_widgets.core.config.checks import ConfigError, bounds_rule, check_number, check_text
from tl_widgets.core.settings import WORKSHOP_ENV

__all__ = ["Workshop", "WorkshopError", "load_workshop", "workshop_from_env", "WORKSHOP_ENV"]

_FIELDS = ("name", "data_roots", "allowed_backbones", "max_epochs", "max_batch_size", "max_upload_mb",
           "threads_per_kernel", "idle_timeout_minutes", "max_extract_ratio", "max_files", "max_image_megapixels",
           "max_input_size", "max_seat_disk_mb", "max_trainings")
_REQUIRED = ("data_roots", "allowed_backbones", "max_epochs", "max_batch_size")


class WorkshopError(ValueError):
    """A workshop file is missing, unreadable or has an invalid field."""


@dataclass
class Workshop:
    """The limits of one workshop (see the module doc for the file format).

    Attributes:
        path: The file it was read from (None when built in code).
        name: A title shown in the Studio.
        data_roots: Folders students may pick data from (resolved, existing).
        allowed_backbones: Registered backbone names students may pick.
        max_epochs: Most epochs per phase.
        max_batch_size: Largest batch size.
        max_upload_mb: Largest zip a student may upload, in MiB.
        threads_per_kernel: CPU threads each student's kernel may use.
        idle_timeout_minutes: An idle kernel (no tab attached) is shut down after this.
        max_extract_ratio: An upload may extract to at most this many times :attr:`max_upload_mb`.
        max_files: Most files in one upload.
        max_image_megapixels: Most pixels per image (larger ones are skipped, with the reason).
        max_input_size: Largest model input side (None: the schema's bound).
        max_seat_disk_mb: Disk one seat may fill; Start and uploads are refused beyond it.
        max_trainings: Trainings running at once in the room; more wait in a fair queue
            (None: CPU cores // :attr:`threads_per_kernel`).
    """

    data_roots: list[Path]
    allowed_backbones: list[str]
    max_epochs: int
    max_batch_size: int
    max_upload_mb: float = 8.0
    threads_per_kernel: int = 1
    idle_timeout_minutes: float = 30.0
    name: str = "Workshop"
    path: Path | None = field(default=None, compare=False)
    max_extract_ratio: float = 4.0
    max_files: int = 5000
    max_image_megapixels: float = 16.0
    max_input_size: int | None = None
    max_seat_disk_mb: float = 1024.0
    max_trainings: int | None = None

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
    def max_upload_bytes(self) -> int:
        """:attr:`max_upload_mb` in bytes."""
        return int(self.max_upload_mb * 1024 * 1024)

    def summary(self) -> str:
        """One line for the Studio header."""
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


def _where(path: Path | None) -> str:
    return f" in {str(path)!r}" if path else ""


def _int(data: dict[str, Any], key: str, lo: int, hi: int, path: Path | None) -> int:
    return _checked(data, key, lo, hi, path, integer=True)


def _number(data: dict[str, Any], key: str, lo: float, hi: float, path: Path | None) -> float:
    return float(_checked(data, key, lo, hi, path, integer=False))


def _checked(data: dict[str, Any], key: str, lo: float, hi: float, path: Path | None, *, integer: bool) -> Any:
    """``data[key]`` checked by the one validator; a refusal names the file and the whole rule."""
    value = data[key]
    try:
        return check_number(value, key, lo, hi, integer=integer)
    except ConfigError as exc:
        kind = "an integer" if integer else "a number"
        raise WorkshopError(f"Expected {key} to be {kind} {bounds_rule(lo, hi)}{_where(path)}. "
                            f"Received: {key}={value!r}") from exc


def _is_text(value: Any) -> bool:
    """True for a string without NUL characters (the one validator's rule)."""
    try:
        check_text(value, "value")
    except ConfigError:
        return False
    return True


def workshop_from_dict(data: Any, path: Path | None = None) -> Workshop:
    """Checks a parsed workshop mapping and returns the :class:`Workshop`.

    Args:
        data: The mapping (e.g. from YAML).
        path: The file it came from; relative data roots resolve against its folder.

    Raises:
        WorkshopError: Naming the field and the value refused.
    """
    from tl_widgets.core.models.backbones import list_backbones

    if not isinstance(data, dict):
        raise WorkshopError(f"Expected a mapping of workshop settings{_where(path)}. Received: {type(data).__name__}")
    unknown = sorted(set(map(str, data)) - set(_FIELDS))
    if unknown:
        raise WorkshopError(f"Expected only the fields {list(_FIELDS)}{_where(path)}. Received: unknown {unknown}")
    absent = [k for k in _REQUIRED if k not in data]
    if absent:
        raise WorkshopError(f"Expected the fields {list(_REQUIRED)}{_where(path)}. Received: {absent} missing")
    base = path.parent if path is not None else Path.cwd()

    roots_in = data["data_roots"]
    if isinstance(roots_in, str):
        roots_in = [roots_in]
    if not isinstance(roots_in, list) or not roots_in or not all(_is_text(r) and r.strip() for r in roots_in):
        raise WorkshopError(f"Expected data_roots to be a non-empty list of folders{_where(path)}. "
                            f"Received: data_roots={data['data_roots']!r}")
    roots: list[Path] = []
    for root in roots_in:
        resolved = (base / Path(root).expanduser()).resolve()
        if not resolved.is_dir():
            raise WorkshopError(f"Expected each data root to be an existing folder{_where(path)}. "
                                f"Received: data_roots entry {root!r} (resolves to {str(resolved)!r})")
        if resolved not in roots:
            roots.append(resolved)

    names = data["allowed_backbones"]
    known = [s.name for s in list_backbones()]
    if not isinstance(names, list) or not names or not all(_is_text(n) for n in names):
        raise WorkshopError(f"Expected allowed_backbones to be a non-empty list of backbone names{_where(path)}. "
                            f"Received: allowed_backbones={names!r}")
    bad = [n for n in names if n not in known]
    if bad:
        raise WorkshopError(f"Expected allowed_backbones from `tl-widgets backbones` (e.g. {known[:4]}){_where(path)}. "
                            f"Received: unknown {bad}")

    name = data.get("name", "Workshop")
    try:
        check_text(name, "name")
    except ConfigError as exc:
        raise WorkshopError(f"Expected name to be a short text{_where(path)}. Received: name={name!r}") from exc
    if not name.strip() or len(name) > 200:
        raise WorkshopError(f"Expected name to be a short text{_where(path)}. Received: name={name!r}")
    opt = {k: data[k] for k in _FIELDS[5:] if k in data}
    return Workshop(
        data_roots=roots,
        allowed_backbones=list(dict.fromkeys(names)),
        max_epochs=_int(data, "max_epochs", 1, 10_000, path),
        max_batch_size=_int(data, "max_batch_size", 1, 8192, path),
        max_upload_mb=_number(opt, "max_upload_mb", 0.01, 1024, path) if "max_upload_mb" in opt else 8.0,
        threads_per_kernel=_int(opt, "threads_per_kernel", 1, 256, path) if "threads_per_kernel" in opt else 1,
        idle_timeout_minutes=(_number(opt, "idle_timeout_minutes", 1, 7 * 24 * 60, path)
                              if "idle_timeout_minutes" in opt else 30.0),
        name=name.strip(),
        path=path,
        max_extract_ratio=_number(opt, "max_extract_ratio", 1, 100, path) if "max_extract_ratio" in opt else 4.0,
        max_files=_int(opt, "max_files", 2, 10_000_000, path) if "max_files" in opt else 5000,
        max_image_megapixels=(_number(opt, "max_image_megapixels", 0.01, 1000, path)
                              if "max_image_megapixels" in opt else 16.0),
        max_input_size=_int(opt, "max_input_size", 32, 1024, path) if "max_input_size" in opt else None,
        max_seat_disk_mb=_number(opt, "max_seat_disk_mb", 1, 10**7, path) if "max_seat_disk_mb" in opt else 1024.0,
        max_trainings=_int(opt, "max_trainings", 1, 1024, path) if "max_trainings" in opt else None,
    )


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


def workshop_from_env() -> Workshop | None:
    """The workshop named by ``$TL_WIDGETS_WORKSHOP`` (None when unset).

    Raises:
        WorkshopError: The variable names an invalid file.
    """
    value = os.environ.get(WORKSHOP_ENV, "").strip()
    return load_workshop(value) if value else None
