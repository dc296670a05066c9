"""``MODEL_CARD.md`` for a finished run: what it learned from, how well, how sure, how it ships.

Every number comes from the run folder's own files (``summary.json``,
``config.json``, ``eval_report.json``, ``exports/*/export_report.json``): the
card repeats them, it never recomputes them differently. When the run has no
evaluation yet, :func:`write_model_card` evaluates it first (the same
:func:`~tl_widgets.core.evaluation.evaluate.evaluate_run` as ``tl-widgets evaluate``).
The "Intended use" and "Limits" sections are a template for the owner to edit.

Class names, file paths and other values that came from users are escaped
(:func:`md_text` for prose and table cells, :func:`md_code` for code spans):
a class named ``<img src=x onerror=...>`` is shown as text, and a backtick in
a path cannot end its code span.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
import os
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from tl_widgets.core.fileio import atomic_save, atomic_write_text
from tl_widgets.core.i18n import _
from tl_widgets.core.runs.folder import RunFolder

__all__ = ["SECTIONS", "ModelCard", "config_hash", "render_model_card", "write_model_card", "confusion_png",
           "md_text", "md_code"]

SECTIONS = (
    "Summary", "Training data", "Model", "Configuration", "Metrics", "Metrics per class", "Confusion matrix",
    "Calibration", "Export verification", "Intended use", "Limits", "How to reproduce",
)


@dataclass
class ModelCard:
    """What :func:`write_model_card` wrote.

    Attributes:
        path: ``MODEL_CARD.md``.
        confusion_image: The confusion-matrix PNG it shows.
        text: The Markdown.
    """

    path: Path
    confusion_image: Path
    text: str


def config_hash(config: dict[str, Any]) -> str:
    """SHA-256 of the config as canonical JSON (sorted keys), first 16 hex digits."""
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:16]


def _read(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


_MD_SPECIAL = re.compile(r"([\\`\[\]|])")  # code spans, links and images, table cells (emphasis is harmless)


def md_text(value: Any) -> str:
    """``value`` as Markdown text: HTML escaped, and the characters that open code, links or cells; one line."""
    text = html.escape(" ".join(str(value).splitlines()), quote=False)
    return _MD_SPECIAL.sub(r"\\\1", text)


def md_code(value: Any) -> str:
    """``value`` in an inline code span that no backtick inside it can end (one line)."""
    text = " ".join(str(value).splitlines())
    fence = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _cell(text: Any) -> str:
    return md_text(text)


def _table(head: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _num(value: Any, digits: int = 4) -> str:
    return f"{value:.{digits}f}" if isinstance(value, (int, float)) and not isinstance(value, bool) else "—"


def confusion_png(confusion: Sequence[Sequence[int]], class_names: Sequence[str], path: Path) -> Path:
    """Draws the confusion matrix (rows true, columns predicted, counts in the cells) as a PNG with Pillow.

    The core's one confusion-matrix image (core cannot import the Plotly figure of ``views``): the matrix is
    read by :func:`~tl_widgets.core.evaluation.metrics.confusion_fractions` and encoded by
    :func:`~tl_widgets.core.data.images.png_bytes`, as the views do.
    """
    import numpy as np
    from PIL import Image, ImageDraw, ImageFont

    from tl_widgets.core.data.images import png_bytes
    from tl_widgets.core.evaluation.metrics import confusion_fractions

    counts, fractions = confusion_fractions(confusion, class_names)
    n = len(class_names)
    font = ImageFont.load_default()
    cell, left, top = 44, 16 + 7 * max((len(c) for c in class_names), default=1), 40
    img = Image.new("RGB", (left + n * cell + 10, top + n * cell + 30), "white")
    draw = ImageDraw.Draw(img)
    draw.text((left, 4), "predicted ->", fill="black", font=font)
    draw.text((4, top + n * cell + 10), "rows: true class", fill="black", font=font)
    for i, row in enumerate(counts):
        draw.text((4, top + i * cell + cell // 2 - 5), str(class_names[i]), fill="black", font=font)
        draw.text((left + i * cell + 4, 22), str(class_names[i])[:6], fill="black", font=font)
        for j, count in enumerate(row):
            share = float(fractions[i, j])
            shade = (int(247 - 200 * share), int(251 - 150 * share), int(255 - 60 * share))
            box = (left + j * cell, top + i * cell, left + (j + 1) * cell - 1, top + (i + 1) * cell - 1)
            draw.rectangle(box, fill=shade, outline="#ccc")
            draw.text((box[0] + 6, box[1] + cell // 2 - 5), str(int(count)), fill="white" if share > 0.6 else "black",
                      font=font)
    data = png_bytes(np.asarray(img))
    return atomic_save(path, lambda tmp: tmp.write_bytes(data))


def render_model_card(run_dir: Path, summary: dict[str, Any], config: dict[str, Any], evaluation: dict[str, Any],
                      exports: list[dict[str, Any]], confusion_image: str) -> str:
    """The Markdown of the card (every section of :data:`SECTIONS`, in order)."""
    model, data = config.get("model", {}), config.get("data", {})
    metrics = summary.get("metrics") or {}
    names = summary.get("class_names") or evaluation.get("class_names") or []
    counts = summary.get("class_counts") or {}
    skipped = summary.get("skipped_files") or []
    health = RunFolder(run_dir).read_health()
    cal = summary.get("calibration")
    out = [f"# Model card: {md_text(run_dir.name)}", ""]
    out += ["## Summary", "", f"An image classifier over {len(names)} classes ({', '.join(map(md_text, names))}), "
            f"fine-tuned from {md_code(model.get('backbone'))} with tl_widgets. Run status: "
            f"**{md_text(summary.get('status'))}**, {md_text(summary.get('epochs_done', '—'))} epochs.", ""]
    source = data.get("path") or data.get("demo") or data.get("source")
    out += ["## Training data", "", f"Source: {md_code(data.get('source'))} ({md_code(source)}), validation split "
            f"{md_text(data.get('validation_split', '—'))}, seed {md_text(config.get('seed'))}.", ""]
    out += ["Images found per class (before any per-class cap and the validation split):", "",
            _table(["class", "images"], [(c, counts.get(c, "—")) for c in names]), ""]
    out += [f"Skipped files: {len(skipped)}." + ("" if not skipped else " " + "; ".join(
        f"{md_code(s.get('path'))} ({md_text(s.get('reason'))})" for s in skipped[:20])), ""]
    out += _health_section(health)
    out += ["## Model", "", _table(["backbone", "weights", "input size", "pooling", "hidden units", "dropout"], [(
        model.get("backbone"), model.get("weights"), model.get("input_size") or "backbone default",
        model.get("pooling"), model.get("hidden_units") or 0, model.get("dropout"))]), ""]
    out += ["## Configuration", "", f"Config hash (SHA-256 of the canonical JSON, 16 digits): "
            f"`{config_hash(config)}`. The full config is `config.json` in the run folder.", "",
            "<details><summary>config.json</summary>", "", "````json", json.dumps(config, indent=2), "````", "",
            "</details>", ""]
    out += ["## Metrics", "", "Final metrics of training (from `summary.json`; losses before calibration):", "",
            _table(["metric", "value"], [(k, _num(v)) for k, v in sorted(metrics.items())]), ""]
    if evaluation:
        out += [f"Evaluation on {evaluation.get('count')} validation images: accuracy "
                f"{_num(evaluation.get('accuracy'))}, macro F1 {_num(evaluation.get('macro_f1'))}.", ""]
    out += ["## Metrics per class", "", _table(["class", "precision", "recall", "F1", "support"], [
        (r["class"], _num(r["precision"]), _num(r["recall"]), _num(r["f1"]), r["support"])
        for r in evaluation.get("per_class", [])]) if evaluation else "Not evaluated.", ""]
    out += ["## Confusion matrix", "", f"![Confusion matrix: rows are the true class, columns the prediction]"
            f"({confusion_image})", ""]
    out += ["## Calibration", ""]
    if cal:
        how = ("and folded into the model's last layer (every export carries it)." if cal.get("applied") else
               "but not applied: it would not lower the expected calibration error, so the model is unchanged.")
        out += [f"A temperature of {_num(cal.get('temperature'), 3)} was fitted on {cal.get('count')} validation "
                f"images {how}", "",
                _table(["", "expected calibration error", "negative log-likelihood"], [
                    ("before", _num(cal.get("ece_before")), _num(cal.get("nll_before"))),
                    ("after" if cal.get("applied") else "with the temperature (not applied)",
                     _num(cal.get("ece_after")), _num(cal.get("nll_after")))]), ""]
    else:
        out += ["Not calibrated (`calibrate` was off, or the run had no validation split): the probabilities are "
                "the raw softmax.", ""]
    out += ["## Export verification", ""]
    if exports:
        out += [_table(["format", "size (MB)", "top-1 agreement", "max prob. diff", "accuracy drop", "check"], [
            (e["format"], f"{e['file_size'] / 1e6:.2f}", _num(e["verification"].get("top1_agreement")),
             f"{e['verification'].get('max_abs_diff', float('nan')):.2g}",
             _num(e["verification"].get("accuracy_drop")), "ok" if e.get("ok") else "WARNING")
            for e in exports]), "", "Each export was run on the validation images and compared with Keras.", ""]
    else:
        out += ["No exports yet (`tl-widgets export RUN_DIR --format tflite`).", ""]
    out += ["## Intended use", "", "<!-- Edit: who uses this model, for what decision, on which images. -->",
            "_To be written by the model's owner._", ""]
    out += ["## Limits", "", "<!-- Edit: where it must not be used; known failure cases. -->",
            f"- It knows only the {len(names)} classes above and answers one of them for any image, even one "
            "of none of them.",
            "- Validation images come from the same source as the training images: accuracy elsewhere may be lower.",
            ""]
    config_file = RunFolder(run_dir).config_file
    out += ["## How to reproduce", "", "```bash", f"tl-widgets train {shlex.quote(str(config_file))}", "```", ""]
    return "\n".join(out)


def _health_section(health: dict[str, Any] | None) -> list[str]:
    """The data section's health part: ``health.json``'s findings as a table, with the lines drawn."""
    if not health:
        return ["Dataset health: not recorded for this run (check the data with `tl-widgets data check DIR` "
                "before training: the next run then records it in `health.json`).", ""]
    rows = [(f["kind"], f["severity"], len(f.get("files") or []) or "—",
             (f.get("threshold") or {}).get("rule") or "—", f["message"]) for f in health.get("findings", [])]
    curation = health.get("curation")
    cur = "" if not curation else (f" after its curation ({curation.get('relabelled', 0)} relabelled, "
                                   f"{curation.get('excluded', 0)} excluded, {curation.get('ambiguous', 0)} ambiguous)")
    head = (f"Dataset health (`health.json`): {health.get('images', '—')} images checked{cur}, embeddings by "
            f"{md_code(health.get('backbone'))}.")
    return [head, "", _table(["finding", "severity", "files", "threshold", "what"], rows) if rows else
            "No problems found.", ""]


def write_model_card(run_dir: str | os.PathLike[str], *, evaluate: bool = True) -> ModelCard:
    """Writes ``MODEL_CARD.md`` and its confusion-matrix image into a finished run's folder.

    Args:
        run_dir: The run folder.
        evaluate: Evaluate the run first when it has no ``eval_report.json``.

    Raises:
        FileNotFoundError: Not a run folder with ``summary.json`` and ``config.json``.
        ValueError: The run did not finish.
    """
    folder = RunFolder(Path(run_dir))
    summary, config = _read(folder.summary_file), _read(folder.config_file)
    if summary is None or config is None:
        raise FileNotFoundError(_("Expected a run folder with {summary} and {config}. Received: {path!r}").format(
            summary=folder.summary_file.name, config=folder.config_file.name, path=str(folder.path)))
    if summary.get("status") != "finished":
        raise ValueError(_("Expected a finished run. Received: status {status!r} in {path!r}").format(
            status=summary.get("status"), path=str(folder.path)))
    evaluation = _read(folder.eval_report_file)
    if evaluation is None and evaluate:
        from tl_widgets.core.evaluation.evaluate import evaluate_run

        evaluation = evaluate_run(folder.path).to_dict()
    evaluation = evaluation or {}
    exports = [_read(p) for p in folder.export_reports()]
    image = folder.model_card_confusion
    if evaluation.get("confusion"):
        confusion_png(evaluation["confusion"], evaluation["class_names"], image)
    text = render_model_card(folder.path, summary, config, evaluation, [e for e in exports if e], image.name)
    path = atomic_write_text(folder.model_card_file, text)
    return ModelCard(path=path, confusion_image=image, text=text)
