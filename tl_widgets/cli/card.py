"""``tl-widgets card RUN_DIR``: write MODEL_CARD.md for a finished run."""

from __future__ import annotations

import argparse
from typing import Any

from tl_widgets.cli.errors import USER_ERRORS, fail
from tl_widgets.core.i18n import _

__all__ = ["register"]


def register(sub: Any) -> None:
    """Adds the ``card`` sub-command to ``sub`` (an argparse sub-parsers object)."""
    c = sub.add_parser(
        "card", help=_("write MODEL_CARD.md for a finished run"),
        description=_("Writes MODEL_CARD.md (and its confusion-matrix image) into the run folder: training data, "
                      "backbone, config and its hash, metrics per class, calibration, export verification, intended "
                      "use and limits (a template to edit) and the command that reproduces the run. Evaluates the "
                      "run first when it has no eval_report.json."),
    )
    c.add_argument("run_dir", metavar="RUN_DIR", help=_("a finished run folder"))
    c.add_argument("--no-evaluate", action="store_true", help=_("don't evaluate a run that has no eval_report.json"))
    c.set_defaults(func=_card)


def _card(args: argparse.Namespace) -> int:
    from tl_widgets.core.export.model_card import write_model_card

    try:
        card = write_model_card(args.run_dir, evaluate=not args.no_evaluate)
    except USER_ERRORS as exc:
        return fail(str(exc))
    print(_("model card: {path}  (confusion matrix: {image})").format(path=card.path, image=card.confusion_image.name))
    return 0
