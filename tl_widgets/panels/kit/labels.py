"""Labels of config values and run statuses in the user's language: the value stays what the config holds.

(A field's own label and help are the schema's: :func:`tl_widgets.core.config.checks.field_label`.)

A dropdown shows ``choice_label(value)`` and keeps ``value`` (``choice_options``), so a config round-trips
whatever the language. Values that are names users type (optimizer names, precision policies, backbone
names) are not listed here and show as they are.
"""

from __future__ import annotations

from typing import Any, Iterable

from tl_widgets.core.i18n import N_, _

__all__ = ["CHOICE_LABELS", "STATUS_LABELS", "choice_label", "choice_options", "status_label"]

#: Config choice -> its English label (the msgid; English shows the value as before).
CHOICE_LABELS: dict[str, str] = {
    # augmentation flip
    "none": N_("none"), "horizontal": N_("horizontal"), "vertical": N_("vertical"),
    "horizontal_and_vertical": N_("horizontal_and_vertical"),
    # demo datasets, cache, pooling
    "digits": N_("digits"), "shapes": N_("shapes"), "memory": N_("memory"), "disk": N_("disk"),
    "avg": N_("avg"), "max": N_("max"),
    # learning-rate schedule, strategy and precision words
    "constant": N_("constant"), "cosine": N_("cosine"), "onecycle": N_("onecycle"), "auto": N_("auto"),
    "off": N_("off"), "on": N_("on"), "linear": N_("linear"),
    # sweep pruners
    "median": N_("median"), "successive_halving": N_("successive_halving"),
}


#: A run's status word -> the label the status line shows (the status itself stays English for code and tests).
STATUS_LABELS: dict[str, str] = {
    "idle": N_("idle"), "queued": N_("queued"), "running": N_("running"), "finished": N_("finished"),
    "stopped": N_("stopped"), "failed": N_("failed"), "interrupted": N_("interrupted"), "starting": N_("starting"),
}


def status_label(status: str) -> str:
    """A run status as the user reads it (``"failed: why"`` keeps its reason)."""
    word, sep, reason = status.partition(": ")
    if sep and word == "failed":
        return _("failed: {reason}").format(reason=reason)
    text = STATUS_LABELS.get(status)
    return _(text) if text else status


def choice_label(value: Any) -> str:
    """The label of a config choice in the current language (the value itself when it has none)."""
    text = CHOICE_LABELS.get(value) if isinstance(value, str) else None
    return _(text) if text else str(value)


def choice_options(values: Iterable[Any]) -> list[tuple[str, Any]]:
    """``(label, value)`` pairs for a Dropdown/ToggleButtons: labels translated, values kept."""
    return [(choice_label(v), v) for v in values]
