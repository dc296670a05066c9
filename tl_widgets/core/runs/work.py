"""A student's work as one zip, and back: "Download my work" and ``tl-widgets studio --open WORK.zip``.

:func:`pack_work` writes a home's captures (as class folders), its finished run
folders (config, history, model, labels, summary, evaluation, model card,
exports; not the epoch checkpoints, which only resume an interrupted run) and
its curation files into one zip with a small manifest. :func:`open_work`
brings such a zip into another home: extracted safely (every member inside,
capped sizes, all or nothing), each run moved into the home's runs folder and
recorded in its run store (the run store's own recorder, fed the run's events
read back from its folder), captures and curation files added beside what is
there; nothing existing is overwritten.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from tl_widgets.core.i18n import _
from tl_widgets.core.settings import HOME_LAYOUT

__all__ = ["WorkSummary", "pack_work", "open_work", "MANIFEST", "WorkError"]

MANIFEST = "tl_widgets_work.json"
FORMAT = "tl_widgets-work"
VERSION = 1
_SKIPPED_IN_RUNS = ("checkpoints",)
# A work zip is laid out like a home (the same folder names): runs, captures, curation.
RUNS, CAPTURES, CURATION = HOME_LAYOUT["runs"], HOME_LAYOUT["captures"], HOME_LAYOUT["curation"]
_MAX_BYTES = 4 * 2**30
_MAX_FILES = 100_000


class WorkError(ValueError):
    """A work zip that cannot be opened (not one, or from a newer tl_widgets)."""


@dataclass
class WorkSummary:
    """What a work zip holds (or what opening one added).

    Attributes:
        runs: Run ids.
        captures: Images per capture class (``dataset/class``).
        curation: Curation file names.
        skipped: What was left out, with the reason (a run id already there, a run without a config...).
    """

    runs: list[str] = field(default_factory=list)
    captures: dict[str, int] = field(default_factory=dict)
    curation: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def describe(self) -> str:
        """One line for a notice or the CLI."""
        return _("{runs} run(s), {images} captured image(s) in {classes} class(es), {curation} curation file(s)"
                 ).format(runs=len(self.runs), images=sum(self.captures.values()), classes=len(self.captures),
                          curation=len(self.curation))


def _files(folder: Path) -> Iterator[Path]:
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.is_symlink():
            yield path


def pack_work(home: str | os.PathLike[str], dest: str | os.PathLike[str]) -> WorkSummary:
    """Writes the work of ``home`` into the zip ``dest`` (replaced atomically); returns what it holds."""
    from tl_widgets.core.fileio import atomic_save
    from tl_widgets.core.runs.folder import RunFolder
    from tl_widgets.core.settings import home_path

    home = Path(home)
    summary = WorkSummary()
    entries: list[tuple[Path, str]] = []
    runs = home_path("runs", home)
    for run in sorted(p for p in runs.iterdir() if p.is_dir() and not p.is_symlink()) if runs.is_dir() else []:
        if not RunFolder(run).config_file.is_file():
            summary.skipped.append(_("{run}: no config.json").format(run=run.name))
            continue
        summary.runs.append(run.name)
        for path in _files(run):
            rel = path.relative_to(run)
            if rel.parts[0] not in _SKIPPED_IN_RUNS:
                entries.append((path, f"{RUNS}/{run.name}/{rel.as_posix()}"))
    captures = home_path("captures", home)
    for path in _files(captures) if captures.is_dir() else []:
        rel = path.relative_to(captures)
        entries.append((path, f"{CAPTURES}/{rel.as_posix()}"))
        if len(rel.parts) >= 3:
            key = f"{rel.parts[0]}/{rel.parts[1]}"
            summary.captures[key] = summary.captures.get(key, 0) + 1
    curation = home_path("curation", home)
    for path in _files(curation) if curation.is_dir() else []:
        entries.append((path, f"{CURATION}/{path.relative_to(curation).as_posix()}"))
        summary.curation.append(path.relative_to(curation).as_posix())
    manifest = {"format": FORMAT, "version": VERSION, "created": time.time(), "runs": summary.runs,
                "captures": summary.captures, "curation": summary.curation}

    def write(tmp: Path) -> None:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
            zf.writestr(MANIFEST, json.dumps(manifest, indent=1))
            for path, name in entries:
                zf.write(path, name)

    atomic_save(dest, write)
    return summary


def _unique(target: Path) -> Path:
    """``target``, or ``name-2.ext``, ``name-3.ext``... when it exists."""
    if not target.exists():
        return target
    for n in range(2, 100_000):
        other = target.with_name(f"{target.stem}-{n}{target.suffix}")
        if not other.exists():
            return other
    raise WorkError(_("Expected a free file name beside {path!r}. Received: none left").format(path=str(target)))


def _record(run_dir: Path, store: Any) -> None:
    """Records a finished run folder in ``store`` by replaying its events (the store's recorder is the one owner of
    how a run is recorded)."""
    from tl_widgets.core.config.schema import TrainConfig
    from tl_widgets.core.events import EpochEnd, RunFailed, RunFinished, RunStarted, RunStopped
    from tl_widgets.core.runs.folder import RunFolder
    from tl_widgets.core.runs.recorder import RunRecorder

    folder = RunFolder(run_dir)
    cfg = TrainConfig.load(folder.config_file)
    summary = json.loads(folder.summary_file.read_text(encoding="utf-8")) if folder.summary_file.is_file() else {}
    epochs = folder.read_epoch_history() if folder.epoch_history_file.is_file() else {}
    run_id = run_dir.name
    recorder = RunRecorder(store, source="work")  # brought in from a work zip
    recorder(RunStarted(run_id, config=cfg.to_dict(), run_dir=str(run_dir),
                        total_epochs=sum(p.epochs for p in cfg.phases), steps_per_epoch=None,
                        class_names=tuple(summary.get("class_names") or folder.read_labels() or ())))
    names = [k for k in epochs if k not in ("epoch", "phase", "global_step", "learning_rate")]
    for i in range(len(epochs.get("epoch", []))):
        metrics = {k: float(epochs[k][i]) for k in names if not math.isnan(float(epochs[k][i]))}
        recorder(EpochEnd(run_id, phase=int(epochs["phase"][i]), epoch=int(epochs["epoch"][i]), metrics=metrics,
                          duration=0.0))
    status = str(summary.get("status") or "finished")
    metrics = {k: float(v) for k, v in (summary.get("metrics") or {}).items() if isinstance(v, (int, float))}
    if status == "failed":
        recorder(RunFailed(run_id, error=str(summary.get("error") or ""), traceback="", run_dir=str(run_dir),
                           duration=0.0))
    elif status == "stopped":
        recorder(RunStopped(run_id, metrics=metrics, run_dir=str(run_dir), duration=0.0))
    else:
        recorder(RunFinished(run_id, metrics=metrics, run_dir=str(run_dir), duration=0.0))
    recorder.flush()


def open_work(zip_path: str | os.PathLike[str], home: str | os.PathLike[str], *, store: Any = None,
              max_bytes: int = _MAX_BYTES, max_files: int = _MAX_FILES) -> WorkSummary:
    """Brings the work zip at ``zip_path`` into ``home``; returns what it added (and what it skipped, why).

    Args:
        zip_path: A zip written by :func:`pack_work` ("Download my work").
        home: The tl_widgets home to add it to.
        store: The run store to record the runs in (None: the home's).
        max_bytes: Most bytes the zip may extract to.
        max_files: Most files in it.

    Raises:
        WorkError: Not a work zip, or one from a newer tl_widgets.
        DataError, UnsafeArchiveError: Not a zip, damaged, unsafe, or over a cap (nothing is added then).
    """
    from tl_widgets.core.config.schema import TrainConfig
    from tl_widgets.core.data.zipsafe import safe_extract
    from tl_widgets.core.runs.store import RunStore
    from tl_widgets.core.settings import home_path
    from tl_widgets.core.training.session import check_run_id

    home = Path(home)
    home.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".work-", dir=home))
    added = WorkSummary()
    try:
        root = safe_extract(zip_path, staging / "x", max_total_bytes=max_bytes, max_files=max_files)
        try:
            manifest = json.loads((root / MANIFEST).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise WorkError(_("Expected a work zip from \"Download my work\" (with {manifest}). Received: {zip!r}"
                              ).format(manifest=MANIFEST, zip=str(zip_path))) from exc
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise WorkError(_("Expected a work zip from \"Download my work\". Received: {zip!r}").format(
                zip=str(zip_path)))
        if int(manifest.get("version", 0)) > VERSION:
            raise WorkError(_("Expected a work zip of version {ours} or older. Received: version {theirs} (made by "
                              "a newer tl_widgets: update it)").format(ours=VERSION, theirs=manifest.get("version")))
        store = store if store is not None else RunStore(home)
        runs = home_path("runs", home)
        runs.mkdir(parents=True, exist_ok=True)
        packed_runs = root / RUNS
        for run in sorted(p for p in packed_runs.iterdir() if p.is_dir()) if packed_runs.is_dir() else []:
            try:
                check_run_id(run.name)
                TrainConfig.load(run / "config.json")
            except (OSError, ValueError) as exc:
                added.skipped.append(_("{run}: {reason}").format(run=run.name, reason=exc))
                continue
            if (runs / run.name).exists():
                added.skipped.append(_("{run}: already here").format(run=run.name))
                continue
            shutil.move(str(run), runs / run.name)
            cfg = TrainConfig.load(runs / run.name / "config.json")
            cfg.output_dir = str(runs)  # the run now lives here
            cfg.save(runs / run.name / "config.json")
            _record(runs / run.name, store)
            added.runs.append(run.name)
        for section, dest in ((CAPTURES, home_path("captures", home)), (CURATION, home_path("curation", home))):
            for path in _files(root / section) if (root / section).is_dir() else []:
                rel = path.relative_to(root / section)
                target = _unique(dest / rel)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.move(str(path), target)
                if section == CURATION:
                    added.curation.append(rel.as_posix())
                elif len(rel.parts) >= 3:
                    key = f"{rel.parts[0]}/{rel.parts[1]}"
                    added.captures[key] = added.captures.get(key, 0) + 1
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return added
