"""The health check's findings as HTML (plain dicts in: ``Finding.__dict__`` or ``HealthReport.to_dict()['findings']``)."""

from __future__ import annotations

import html
from typing import Any, Mapping, Sequence

__all__ = ["findings_html"]

SHOWN_FILES = 8
"""Files listed per finding (the rest are counted)."""


def findings_html(findings: Sequence[Mapping[str, Any]]) -> str:
    """One block per finding: kind and severity, the message, what to do, the first files."""
    if not findings:
        return "<p class='tlw-health-ok'>No problems found.</p>"
    blocks = []
    for f in findings:
        files = list(f.get("files", []))
        items = "".join(f"<li><code>{html.escape(str(k))}</code></li>" for k in files[:SHOWN_FILES])
        more = f"<li>… and {len(files) - SHOWN_FILES} more</li>" if len(files) > SHOWN_FILES else ""
        colour = "#b26a00" if f.get("severity") == "warning" else "#455a64"
        kind = html.escape(str(f.get("kind", "")))
        blocks.append(
            f"<div class='tlw-health-finding tlw-health-{kind}' style='border-left:3px solid {colour};"
            f"padding:2px 8px;margin:6px 0'><b>{kind.replace('_', ' ')}</b> "
            f"<span style='color:{colour}'>({html.escape(str(f.get('severity', '')))})</span>: "
            f"{html.escape(str(f.get('message', '')))}<br><i>{html.escape(str(f.get('action', '')))}</i>"
            + (f"<ul style='margin:2px 0'>{items}{more}</ul>" if items else "") + "</div>")
    return "".join(blocks)
