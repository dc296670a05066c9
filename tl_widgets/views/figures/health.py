"""The health check's findings as HTML (plain dicts in: ``Finding.__dict__`` or ``HealthReport.to_dict()['findings']``)."""

from __future__ import annotations

import html
from typing import Any, Mapping, Sequence

from tl_widgets.core.i18n import N_, _

__all__ = ["findings_html", "KIND_LABELS", "kind_label", "score_label", "health_counts_html"]

SHOWN_FILES = 8
"""Files listed per finding (the rest are counted; the grid pages through all of them)."""
KIND_LABELS = {
    "leakage": N_("leakage"), "exact_duplicates": N_("exact duplicates"), "near_duplicates": N_("near duplicates"),
    "small_images": N_("small images"), "label_errors": N_("label errors"), "aspect_ratio": N_("aspect ratio"),
    "mixed_colour": N_("mixed colour"), "unreadable": N_("unreadable"), "imbalance": N_("imbalance"),
    "blurry": N_("blurry"), "dark": N_("dark"), "bright": N_("overly bright"),
    "low_information": N_("low information"), "outliers": N_("outliers"), "far_from_class": N_("far from its class"),
    "weak_class": N_("weak class"), "weak_cluster": N_("weak group"), "weak_groups": N_("weak groups"),
}
"""A finding's kind as the user reads it (other kinds show with spaces for underscores)."""
SCORE_LABELS = {
    "sharpness": N_("sharpness"), "dark": N_("bright pixels (95th percentile)"),
    "bright": N_("dark pixels (5th percentile)"), "entropy": N_("entropy (bits)"),
    "log2 k-NN distance": N_("log2 neighbour distance"), "spreads from the class": N_("spreads from its class"),
    "1 - label quality": N_("1 − label quality"), "similarity": N_("similarity"), "loss": N_("loss"),
    "shorter side (px)": N_("shorter side (px)"), "aspect ratio": N_("aspect ratio"),
}
"""What a finding's score is, as the user reads it."""
SEVERITY_LABELS = {"warning": N_("warning"), "info": N_("info")}


def kind_label(kind: str) -> str:
    """The finding kind in the user's language."""
    return _(KIND_LABELS[kind]) if kind in KIND_LABELS else kind.replace("_", " ")


def score_label(score: str) -> str:
    """What a finding's score is, in the user's language."""
    return _(SCORE_LABELS[score]) if score in SCORE_LABELS else score


def findings_html(findings: Sequence[Mapping[str, Any]]) -> str:
    """One block per finding: kind and severity, the message, what to do, the first files (worst first)."""
    if not findings:
        return "<p class='tlw-health-ok'>" + _("No problems found.") + "</p>"
    blocks = []
    for f in findings:
        files = list(f.get("files", []))
        items = "".join(f"<li><code>{html.escape(str(k))}</code></li>" for k in files[:SHOWN_FILES])
        more = ("<li>" + _("… and {n} more").format(n=len(files) - SHOWN_FILES) + "</li>"
                if len(files) > SHOWN_FILES else "")
        colour = "#b26a00" if f.get("severity") == "warning" else "#455a64"
        kind = html.escape(str(f.get("kind", "")))
        severity = str(f.get("severity", ""))
        severity = _(SEVERITY_LABELS[severity]) if severity in SEVERITY_LABELS else severity
        blocks.append(
            f"<div class='tlw-health-finding tlw-health-{kind}' style='border-left:3px solid {colour};"
            f"padding:2px 8px;margin:6px 0'><b>{html.escape(kind_label(str(f.get('kind', ''))))}</b> "
            f"<span style='color:{colour}'>({html.escape(severity)})</span>: "
            f"{html.escape(str(f.get('message', '')))}<br><i>{html.escape(str(f.get('action', '')))}</i>"
            + (f"<ul style='margin:2px 0'>{items}{more}</ul>" if items else "") + "</div>")
    return "".join(blocks)


def health_counts_html(columns: Sequence[tuple[str, Mapping[str, int] | None]]) -> str:
    """Files per finding kind of several runs' ``health.json``, side by side (``(run_id, counts or None)``)."""
    kinds = sorted({k for _r, counts in columns for k in (counts or {})}, key=lambda k: list(KIND_LABELS).index(k)
                   if k in KIND_LABELS else len(KIND_LABELS))
    pad = "style='padding:1px 12px;text-align:right'"
    heads = "".join(f"<th {pad}><code>{html.escape(run)}</code></th>" for run, _c in columns)
    body = "".join(
        f"<tr><td style='padding:1px 12px'>{html.escape(kind_label(k))}</td>"
        + "".join(f"<td {pad}>{'–' if counts is None else int(counts.get(k, 0))}</td>" for _r, counts in columns)
        + "</tr>" for k in kinds)
    missing = [run for run, counts in columns if counts is None]
    note = ("<div style='font-size:11px;color:#555'>" + html.escape(_(
        "Not recorded for {runs}: check the data in the Data step before training.").format(
        runs=", ".join(missing))) + "</div>") if missing else ""
    summary = _("Data health the runs trained with (files per finding)")
    if not kinds:
        return (f"<details open class='tlw-runs-health'><summary>{summary}</summary>"
                + ("<i>" + _("No problems found.") + "</i>" if not missing else "") + note + "</details>")
    finding = _("finding")
    return (f"<details open class='tlw-runs-health'><summary>{summary}</summary><table style='border-collapse:"
            f"collapse'><tr><th style='padding:1px 12px'>{finding}</th>{heads}</tr>{body}</table>{note}</details>")
