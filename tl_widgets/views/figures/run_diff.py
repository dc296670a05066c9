"""The settings that differ between two runs, as an HTML table (rows from ``core.runs.config_diff``)."""

from __future__ import annotations

import html
import json
from typing import Any, Sequence

from tl_widgets.core.i18n import _

__all__ = ["config_diff_html", "format_value"]


def format_value(value: Any) -> str:
    """A config value as short text: ``None`` as "none", dicts and lists as JSON, a missing field as "—"."""
    from tl_widgets.core.runs.config_diff import MISSING

    if value is MISSING:
        return "—"
    if value is None:
        return _("none")
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def config_diff_html(rows: Sequence[tuple[str, Any, Any]], name_a: str, name_b: str) -> str:
    """A table with one row per differing field: ``path | value in run a | value in run b``.

    Args:
        rows: ``(path, a, b)`` from :func:`~tl_widgets.core.runs.config_diff.config_diff`.
        name_a: The first run's name (column heading).
        name_b: The second run's name.
    """
    a, b = html.escape(name_a), html.escape(name_b)
    if not rows:
        return "<p class='tlw-runs-diff-same'>" + _("{a} and {b} have the same settings.").format(a=a, b=b) + "</p>"
    cell = "style='padding:2px 10px;border-bottom:1px solid #ddd;text-align:left'"
    body = "".join(f"<tr><td {cell}><code>{html.escape(path)}</code></td><td {cell}>{html.escape(format_value(x))}"
                   f"</td><td {cell}>{html.escape(format_value(y))}</td></tr>" for path, x, y in rows)
    title, setting = _("Settings that differ between the two newest runs picked"), _("setting")
    return (f"<b>{html.escape(title)}</b><table class='tlw-runs-diff-table' style='border-collapse:collapse'>"
            f"<thead><tr><th {cell}>{html.escape(setting)}</th><th {cell}>{a}</th><th {cell}>{b}</th></tr>"
            f"</thead><tbody>{body}</tbody></table>")
