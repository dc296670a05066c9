"""A run's data health: the health report of the data a run trained with, kept in its folder as ``health.json``.

:func:`record_health` runs at the start of a run on folder or zip data when
those data were checked before (``tl-widgets data check``, the Studio's
health check): the decode pass's embeddings and quality are cached by
content, so checking again with the run's split, seed and curation costs
the scan, the hashing and the analysis, not a second decode. A run on data
never checked records nothing (its model card says how to check them).
:func:`health_counts` reads a report back as one count per finding, for the
Runs step, the model card and comparisons between a run and its parent.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tl_widgets.core.i18n import _

__all__ = ["record_health", "checked_before", "health_counts", "CHECK_BACKBONE"]

CHECK_BACKBONE = "demo_cnn"
"""The backbone a run's health check embeds with (the one ``tl-widgets data check`` and the Studio use)."""


def _dataset_key(path: str, val_path: str | None) -> str | None:
    """The dataset name the decode pass's cache uses, without extracting anything (None: never extracted)."""
    p = Path(path)
    if p.is_file() and p.suffix.lower() == ".zip":
        from tl_widgets.core.data.loading import zip_extraction_dir
        from tl_widgets.core.data.zipsafe import find_class_root

        target = zip_extraction_dir(p)
        if not target.is_dir():
            return None
        root = find_class_root(target).resolve()
    else:
        root = p.resolve()
    return str(root) + ("|" + str(Path(val_path).resolve()) if val_path else "")


def checked_before(path: str, val_path: str | None = None, backbone: str = CHECK_BACKBONE) -> bool:
    """Whether the data at ``path`` went through a health check's decode pass (its results are cached)."""
    from tl_widgets.core.data.embeddings import cached_entry

    key = _dataset_key(path, val_path)
    return key is not None and cached_entry(key, backbone, None).is_file()


def record_health(folder: Any, cfg: Any, input_size: int) -> str | None:
    """Checks a run's data as the run sees them and writes ``health.json`` into its folder.

    Args:
        folder: The run's :class:`~tl_widgets.core.runs.folder.RunFolder`.
        cfg: The run's TrainConfig (source, path, validation folder or split, seed, curation).
        input_size: The model's input side (small images are judged against it).

    Returns:
        A message for the run's log, or None when there was nothing to record (not folder/zip data, or data
        never checked).
    """
    from tl_widgets.core.data.health import check_dataset

    data = cfg.data
    if data.source not in ("folder", "zip") or not data.path or not checked_before(data.path, data.val_path):
        return None
    report = check_dataset(data.path, val_path=data.val_path, validation_split=data.validation_split, seed=cfg.seed,
                           input_size=input_size, backbone=CHECK_BACKBONE, curation=data.curation or None)
    folder.write_health(report.to_dict())
    counts = health_counts(report.to_dict())
    found = ", ".join(f"{kind} {n}" for kind, n in counts.items()) or _("no problems")
    return _("Data health recorded in {file}: {found}.").format(file=folder.health_file.name, found=found)


def health_counts(report: dict[str, Any] | None) -> dict[str, int]:
    """Files per finding kind of a report dict (a finding about no file, like imbalance, counts 1)."""
    out: dict[str, int] = {}
    for f in (report or {}).get("findings", []):
        out[f["kind"]] = out.get(f["kind"], 0) + max(1, len(f.get("files") or []))
    return out
