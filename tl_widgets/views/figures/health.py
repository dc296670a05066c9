"""The health check's findings as HTML (plain dicts in: ``Finding.__dict__`` or ``HealthReport.to_dict()['findings']``)."""

from __future__ import annotations

import html
from typing import Any, Mapping, Sequence

from tl_widgets.core.i18n import N_, _

__all__ = ["findings_html", "KIND_LABELS", "kind_label"]

SHOWN_FILES = 8
"""Files listed per finding (the rest are counted)."""
KIND_LABELS = {
    "leakage": N_("leakage"), "exact_duplicates": N_("exact duplicates"), "near_duplicates": N_("near duplicates"),
    "small_images": N_("small images"), "label_errors": N_("label errors"), "aspect_ratio": N_("aspect ratio"),
    "mixed_colour": N_("mixed colour"), "unreadable": N_("unreadable"), "imbalance": N_("imbalance"),
}
"""A finding's kind as the user reads it (other kinds show with spaces for underscores)."""
SEVERITY_LABELS = {"warning": N_("warning"), "info": N_("info")}


def kind_label(kind: str) -> str:
    """The finding kind in the user's language."""
    return _(KIND_LABELS[kind]) if kind in KIND_LABELS else kind.replace("_", " ")


def findings_html(findings: Sequence[Mapping[str, Any]]) -> str:
    """One block per finding: kind and severity, the message, what to do, the first files."""
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
