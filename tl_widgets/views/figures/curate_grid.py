"""The curation grid's pieces: prediction bars and the before/after table as HTML. Plain data in, no Keras."""

from __future__ import annotations

import html
from typing import Any, Mapping

from tl_widgets.core.i18n import _

__all__ = ["prediction_bars_html", "before_after_html"]


def prediction_bars_html(item: Mapping[str, Any]) -> str:
    """A caption for one image: its key, given label, and a bar per top class (the given one in red if wrong).

    Args:
        item: ``key``, ``true``, ``predicted``, ``loss`` and ``top`` (``[(class, probability), ...]``); optionally
            ``score``: ``(what, value)``, a health finding's score of the image.
    """
    rows = []
    for name, p in item["top"]:
        colour = "#2e7d32" if name == item["true"] else "#c62828" if name == item["predicted"] else "#90a4ae"
        width = max(1, int(round(100 * float(p))))
        rows.append(
            f"<div class='tlw-bar-row' style='display:flex;align-items:center;gap:4px;font-size:11px'>"
            f"<span style='width:70px;overflow:hidden;text-overflow:ellipsis'>{html.escape(str(name))}</span>"
            f"<span style='display:inline-block;height:8px;width:{width}px;background:{colour}'></span>"
            f"<span>{float(p):.2f}</span></div>")
    key = html.escape(str(item["key"]))
    return (f"<div class='tlw-curate-caption' title='{key}' style='font-size:11px;max-width:190px;"
            f"overflow:hidden;text-overflow:ellipsis;white-space:nowrap'>{key}</div>"
            + "<div style='font-size:11px'>"
            + _("labelled {label}").format(label=f"<b>{html.escape(str(item['true']))}</b>")
            + (_(", loss {loss:.2f}").format(loss=float(item["loss"])) if item.get("loss") is not None else "")
            + "</div>" + _score_html(item.get("score")) + "".join(rows))


def _score_html(score: Any) -> str:
    """A health finding's score of the image (``(what, value)``), or nothing."""
    if not score:
        return ""
    from tl_widgets.views.figures.health import score_label

    what, value = score
    return (f"<div class='tlw-curate-score' style='font-size:11px'>{html.escape(score_label(str(what)))} "
            f"<b>{float(value):.3g}</b></div>")


def before_after_html(parent_id: str, rows: Any) -> str:
    """A child run's per-class F1 and support next to its parent's (rows of ``per_class_before_after``)."""
    def cell(v: Any) -> str:
        return "–" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v)

    pad = "style='padding:1px 12px;text-align:right'"
    body = "".join(
        f"<tr><td style='padding:1px 12px'>{html.escape(str(r['class']))}</td>"
        + "".join(f"<td {pad}>{cell(r[k])}</td>" for k in ("f1_before", "f1_after", "support_before", "support_after"))
        + "</tr>" for r in rows)
    heads = "".join(f"<th {pad}>{h}</th>" for h in (_("F1 before"), _("F1 after"), _("images before"),
                                                     _("images after")))
    summary = _("Retrained with fixes from {parent}: per class, before → after").format(
        parent=f"<code>{html.escape(parent_id)}</code>")
    klass = _("class")
    return (f"<details open class='tlw-before-after'><summary>{summary}</summary>"
            f"<table style='border-collapse:collapse'><tr><th style='padding:1px 12px'>{klass}</th>{heads}</tr>"
            f"{body}</table></details>")
