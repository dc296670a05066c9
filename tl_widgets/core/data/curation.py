"""Curation files: per-image decisions (relabel, exclude, ambiguous) kept beside the data, never in it.

A curation file is JSON Lines, one decision per line::

    {"key": "cat/img_001.jpg", "action": "relabel", "label": "dog", "who": "ana", "when": "2026-11-30T07:10:00Z"}

``key`` names one image: for a class-folder dataset, its path relative to the
dataset root (POSIX separators); for an embedded demo, ``"<demo>/<index>"``.
``action`` is ``"relabel"`` (to ``label``), ``"exclude"`` (left out of
training and validation), ``"ambiguous"`` (left out too, listed apart) or
``"keep"`` (undoes an earlier decision). Lines are only ever appended, under
an exclusive file lock, so two tabs or processes editing at once lose
nothing; when two lines name the same image, the last one wins. Original
image files are never moved or changed: :func:`apply_decisions` works on the
labels in memory at load time (``DataConfig.curation``) and
:func:`export_curated` writes a cleaned *copy*.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Iterable, Sequence

import numpy as np

from tl_widgets.core.data.images import DataError
from tl_widgets.core.i18n import _
from tl_widgets.core.settings import home_path

__all__ = ["ACTIONS", "Decision", "CurationSummary", "curation_dir", "default_curation_path", "read_decisions",
           "append_decisions", "decide", "apply_decisions", "check_key", "export_curated"]

ACTIONS = ("relabel", "exclude", "ambiguous", "keep")
"""What a decision may say about one image."""
_MAX_LINE = 4096


@dataclass(frozen=True)
class Decision:
    """One line of a curation file.

    Attributes:
        key: The image (see the module docstring).
        action: One of :data:`ACTIONS`.
        label: The new class for ``relabel`` (None otherwise).
        who: Who decided (user name or seat).
        when: ISO-8601 UTC time of the decision.
    """

    key: str
    action: str
    label: str | None = None
    who: str = ""
    when: str = ""

    def to_line(self) -> str:
        """The JSON line (no newline)."""
        return json.dumps({k: v for k, v in asdict(self).items() if v is not None}, ensure_ascii=False)


@dataclass
class CurationSummary:
    """What applying a curation did.

    Attributes:
        relabelled: Images whose label changed.
        excluded: Images left out by ``exclude``.
        ambiguous: Images left out by ``ambiguous``.
        unknown: Decisions naming no image of this dataset (stale or mistyped keys).
        before: Images per class before.
        after: Images per class after.
    """

    relabelled: int
    excluded: int
    ambiguous: int
    unknown: int
    before: dict[str, int]
    after: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


def curation_dir(home: str | os.PathLike[str] | None = None) -> Path:
    """``<home>/curation``: where curation files live by default (created)."""
    path = home_path("curation", home)
    path.mkdir(parents=True, exist_ok=True)
    return path


def default_curation_path(source: str, where: str, home: str | os.PathLike[str] | None = None) -> Path:
    """The default curation file of a dataset, in the user's home.

    Args:
        source: ``"demo"``, ``"folder"`` or ``"zip"``.
        where: The demo name, or the folder/zip path.
        home: The home folder (None: the tl_widgets home).
    """
    if source == "demo":
        name = f"demo-{where}"
    else:
        resolved = str(Path(where).expanduser().resolve())
        stem = "".join(c if c.isalnum() or c in "-_" else "_" for c in Path(resolved).stem)[:40] or "data"
        name = f"{stem}-{hashlib.sha1(resolved.encode()).hexdigest()[:10]}"
    return curation_dir(home) / f"{name}.jsonl"


def check_key(key: Any) -> str:
    """Checks an image key: relative, no ``..``, no NUL, at most 1000 characters.

    Raises:
        DataError: The key could name a file outside the dataset.
    """
    if not isinstance(key, str) or not key or len(key) > 1000 or "\x00" in key or "\\" in key:
        raise DataError(_("Expected an image key as a relative POSIX path. Received: {key!r}").format(key=key))
    pure = PurePosixPath(key)
    if pure.is_absolute() or ".." in pure.parts or key.startswith("~"):
        raise DataError(_("Expected an image key inside the dataset (relative, no '..'). Received: {key!r}").format(
            key=key))
    return key


def _decision(obj: Any, where: str) -> Decision:
    if not isinstance(obj, dict):
        raise DataError(_("Expected a JSON object per line in {where}. Received: {kind}").format(
            where=where, kind=type(obj).__name__))
    action = obj.get("action")
    if action not in ACTIONS:
        raise DataError(_("Expected action in {actions} in {where}. Received: {action!r}").format(
            actions=list(ACTIONS), where=where, action=action))
    label = obj.get("label")
    if action == "relabel" and (not isinstance(label, str) or not label):
        raise DataError(_("Expected a class name as 'label' for a relabel in {where}. Received: {label!r}").format(
            where=where, label=label))
    return Decision(check_key(obj.get("key")), action, label if action == "relabel" else None,
                    str(obj.get("who", ""))[:200], str(obj.get("when", ""))[:40])


def read_decisions(path: str | os.PathLike[str]) -> dict[str, Decision]:
    """The decision in force for each image (the last line naming it wins).

    A missing file is an empty curation. A torn last line (a writer killed
    mid-line) is ignored; any other malformed line is an error.

    Raises:
        DataError: A line is not a valid decision (the message names the line).
    """
    file = Path(path)
    if not file.exists():
        return {}
    if not file.is_file():
        raise DataError(_("Expected a curation file (JSON Lines). Received: {path!r} (not a file)").format(
            path=str(file)))
    lines = file.read_text(encoding="utf-8", errors="replace").split("\n")
    out: dict[str, Decision] = {}
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            if n == len(lines):  # the last line has no newline: a torn write
                break
            raise DataError(_("Expected JSON on line {n} of {path!r}. Received: {line!r} ({error})").format(
                n=n, path=str(file), line=line[:80], error=exc.msg)) from exc
        d = _decision(obj, _("line {n} of {path!r}").format(n=n, path=str(file)))
        out[d.key] = d
    return out


def append_decisions(path: str | os.PathLike[str], decisions: Iterable[Decision]) -> int:
    """Appends decisions under an exclusive lock (safe with several writers); returns how many.

    Raises:
        DataError: A decision is invalid.
    """
    rows = []
    for d in decisions:
        checked = _decision(asdict(d), _("a new decision"))
        line = checked.to_line()
        if len(line) > _MAX_LINE:
            raise DataError(_("Expected a decision under {limit} bytes. Received: {n} bytes").format(
                limit=_MAX_LINE, n=len(line)))
        rows.append(line + "\n")
    if not rows:
        return 0
    file = Path(path)
    file.parent.mkdir(parents=True, exist_ok=True)
    data = "".join(rows).encode("utf-8")
    fd = os.open(file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        _lock(fd)
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)  # closing releases the lock
    return len(rows)


def _lock(fd: int) -> None:
    try:
        import fcntl
    except ImportError:  # Windows: O_APPEND writes of one buffer are still whole
        return
    fcntl.flock(fd, fcntl.LOCK_EX)


def decide(path: str | os.PathLike[str], keys: Sequence[str], action: str, label: str | None = None,
           who: str | None = None) -> int:
    """Appends the same decision for several images (stamped with who and when)."""
    if who is None:
        try:
            who = getpass.getuser()
        except (KeyError, OSError):
            who = ""
    when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return append_decisions(path, [Decision(k, action, label, who, when) for k in keys])


def apply_decisions(keys: Sequence[str], labels: np.ndarray, class_names: Sequence[str],
                    decisions: dict[str, Decision]) -> tuple[np.ndarray, np.ndarray, CurationSummary]:
    """Applies decisions to one dataset's labels, in memory.

    Args:
        keys: The key of every image, in label order.
        labels: Integer label of every image.
        class_names: Class names in label order.
        decisions: From :func:`read_decisions`.

    Returns:
        ``(keep, new_labels, summary)``: a boolean mask of the images to use,
        the labels after relabelling, and what changed.

    Raises:
        DataError: A relabel names a class the dataset does not have.
    """
    names = list(class_names)
    labels = np.asarray(labels)
    new = labels.copy()
    keep = np.ones(len(labels), bool)
    index = {k: i for i, k in enumerate(keys)}
    counts = {"relabel": 0, "exclude": 0, "ambiguous": 0}
    unknown = 0
    for key, d in decisions.items():
        i = index.get(key)
        if i is None:
            unknown += 1
            continue
        if d.action == "relabel":
            if d.label not in names:
                raise DataError(_("Expected a relabel to one of the classes {names}. Received: {label!r} for {key!r}")
                                .format(names=names, label=d.label, key=key))
            if new[i] != names.index(d.label):
                new[i] = names.index(d.label)
                counts["relabel"] += 1
        elif d.action in ("exclude", "ambiguous"):
            keep[i] = False
            counts[d.action] += 1
    before = np.bincount(labels, minlength=len(names))
    after = np.bincount(new[keep], minlength=len(names))
    summary = CurationSummary(counts["relabel"], counts["exclude"], counts["ambiguous"], unknown,
                              {n: int(before[i]) for i, n in enumerate(names)},
                              {n: int(after[i]) for i, n in enumerate(names)})
    return keep, new, summary


def _inside(root: Path, key: str) -> Path:
    path = (root / check_key(key)).resolve()
    if not path.is_relative_to(root):
        raise DataError(_("Expected an image inside {root!r}. Received: {key!r} (resolves outside)").format(
            root=str(root), key=key))
    return path


def export_curated(root: str | os.PathLike[str], curation: str | os.PathLike[str],
                   target: str | os.PathLike[str]) -> CurationSummary:
    """Writes a cleaned copy of a class-folder dataset: relabelled images in their new class, the rest left out.

    Args:
        root: The dataset (one sub-folder per class); only read.
        curation: The curation file.
        target: A new or empty folder for the copy.

    Raises:
        DataError: ``target`` is not empty or lies inside ``root``, or a key escapes ``root``.
    """
    from tl_widgets.core.data.images import ImageInfo, check_image
    from tl_widgets.core.data.zipsafe import is_ignored_name

    src = Path(root).resolve()
    dst = Path(target).resolve()
    if not src.is_dir():
        raise DataError(_("Expected a dataset folder of class folders. Received: {path!r}").format(path=str(src)))
    if dst == src or dst.is_relative_to(src) or src.is_relative_to(dst):
        raise DataError(_("Expected an export folder apart from the dataset. Received: {target!r} and {source!r}")
                        .format(target=str(dst), source=str(src)))
    if dst.exists() and (not dst.is_dir() or any(dst.iterdir())):
        raise DataError(_("Expected a new or empty export folder. Received: {path!r} (not empty)").format(
            path=str(dst)))
    names = sorted(d.name for d in src.iterdir() if d.is_dir() and not is_ignored_name(d.name))
    keys, labels = [], []
    for c, name in enumerate(names):
        for p in sorted((src / name).rglob("*")):
            rel = p.relative_to(src)
            if p.is_file() and not any(is_ignored_name(part) for part in rel.parts) \
                    and isinstance(check_image(p), ImageInfo):
                keys.append(rel.as_posix())
                labels.append(c)
    keep, new, summary = apply_decisions(keys, np.array(labels, np.int64), names, read_decisions(curation))
    for name in names:
        (dst / name).mkdir(parents=True, exist_ok=True)
    for key, ok, lab in zip(keys, keep, new):
        if not ok:
            continue
        origin = _inside(src, key)
        out = dst / names[int(lab)] / PurePosixPath(key).name
        if out.exists():  # two classes held the same file name
            out = out.with_name(f"{out.stem}-{hashlib.sha1(key.encode()).hexdigest()[:6]}{out.suffix}")
        shutil.copy2(origin, out)
    return summary
