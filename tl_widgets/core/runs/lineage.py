"""Child runs: retrain a run's config with data fixes, and compare parent and child class by class.

"Retrain with fixes" is the same config as the parent run (read from its
``config.json``) with ``data.curation`` set and ``parent_run_id`` naming the
parent; the run store keeps both in the child's config, so the Runs list and
``tl-widgets runs`` show the link.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any, Callable, Mapping

from tl_widgets.core.runs.folder import RunFolder

__all__ = ["child_config", "per_class_before_after", "parent_report", "compare_with_parent", "before_after_text"]


def child_config(run_dir: str | os.PathLike[str], curation: str | os.PathLike[str]) -> Any:
    """The parent's config with ``data.curation`` and ``parent_run_id`` set (written under the same output folder).

    Raises:
        FileNotFoundError: The run folder has no ``config.json``.
        ValueError: The parent trained on data from code (nothing to curate).
    """
    from tl_widgets.core.config.schema import TrainConfig

    folder = RunFolder(Path(run_dir))
    if not folder.config_file.is_file():
        raise FileNotFoundError(f"Expected a run folder with config.json. Received: {str(folder.path)!r}")
    parent = TrainConfig.load(folder.config_file)
    if parent.data.source == "code":
        raise ValueError("Expected a run on folder, zip or demo data to retrain with fixes. Received: data from code")
    data = dataclasses.replace(parent.data, curation=str(Path(curation).resolve()))
    return dataclasses.replace(parent, data=data, parent_run_id=folder.path.name, run_name=None)


def per_class_before_after(parent: Mapping[str, Any], child: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Per-class F1 and support of two evaluation reports (``EvalReport.to_dict()``), side by side."""
    before = {r["class"]: r for r in parent.get("per_class", [])}
    after = {r["class"]: r for r in child.get("per_class", [])}
    rows = []
    for name in list(before) + [n for n in after if n not in before]:
        b, a = before.get(name, {}), after.get(name, {})
        rows.append({"class": name, "f1_before": b.get("f1"), "f1_after": a.get("f1"),
                     "support_before": b.get("support"), "support_after": a.get("support")})
    return rows


def _evaluator(evaluate: Callable[[Any], Any] | None) -> Callable[[Any], Any]:
    """The function that writes a run's ``eval_report.json`` (an engine's ``evaluate``, else this process's)."""
    if evaluate is not None:
        return evaluate
    from tl_widgets.core.evaluation.evaluate import evaluate_run

    return evaluate_run


def parent_report(run_dir: str | os.PathLike[str],
                  evaluate: Callable[[Any], Any] | None = None) -> tuple[str, dict[str, Any]] | None:
    """``(parent_run_id, parent's eval report dict)`` of a child run, or None for a run without a parent.

    The parent folder is looked up beside the child (same output folder); its
    ``eval_report.json`` is read, or written by evaluating it now.
    """
    import json

    from tl_widgets.core.config.schema import TrainConfig

    folder = RunFolder(Path(run_dir))
    if not folder.config_file.is_file():
        return None
    parent_id = TrainConfig.load(folder.config_file).parent_run_id
    if not parent_id:
        return None
    parent = RunFolder(folder.path.parent / parent_id)
    if not parent.eval_report_file.is_file():
        _evaluator(evaluate)(parent.path)
    return parent_id, json.loads(parent.eval_report_file.read_text())


def compare_with_parent(run_dir: str | os.PathLike[str], evaluate: Callable[[Any], Any] | None = None
                        ) -> tuple[str, list[dict[str, Any]]] | None:
    """``(parent_run_id, per_class_before_after rows)`` of a child run, or None for a run without a parent.

    Both runs' ``eval_report.json`` are read, or written by evaluating the run
    now (seconds for the demo; call it off the main thread in a panel).
    """
    import json

    parent = parent_report(run_dir, evaluate=evaluate)
    if parent is None:
        return None
    folder = RunFolder(Path(run_dir))
    if not folder.eval_report_file.is_file():
        _evaluator(evaluate)(folder.path)
    return parent[0], per_class_before_after(parent[1], json.loads(folder.eval_report_file.read_text()))


def before_after_text(rows: list[dict[str, Any]]) -> str:
    """The per-class comparison as a plain-text table."""
    def f(v: Any) -> str:
        return "   -  " if v is None else f"{v:6.3f}" if isinstance(v, float) else f"{v:6d}"

    lines = [f"{'class':<16} {'F1 before':>9} {'F1 after':>9} {'n before':>8} {'n after':>8}"]
    for r in rows:
        lines.append(f"{str(r['class'])[:16]:<16} {f(r['f1_before']):>9} {f(r['f1_after']):>9} "
                     f"{f(r['support_before']):>8} {f(r['support_after']):>8}")
    return "\n".join(lines)
