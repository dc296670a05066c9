"""The Studio's steps (keys, titles, one sentence each) and its starting config."""

from __future__ import annotations

import dataclasses
import os

from tl_widgets.core.config.schema import ConfigError, TrainConfig, demo_config
from tl_widgets.core.i18n import N_
from tl_widgets.core.settings import STUDIO_EPOCHS_ENV, STUDIO_MAX_PER_CLASS_ENV, home_path

__all__ = ["STEPS", "TABS", "ALIASES", "HELP", "default_studio_config"]

STEPS: dict[str, str] = {
    "data": N_("Data"),
    "model": N_("Model"),
    "train": N_("Train"),
    "evaluate": N_("Evaluate"),
    "try": N_("Try it & export"),
}
"""The guided flow's steps, in order: key -> title (shown translated)."""

TABS: dict[str, str] = {**STEPS, "runs": N_("Runs")}
"""Every page: the steps, then "Runs" (every run so far, reachable from any step, not a step of its own)."""

ALIASES = {"backbone": "model", "freeze": "model", "strategy": "model"}  # the tabs before the guided flow

HELP = {
    "data": N_("The images to learn from: the demo digits are ready; or pick a folder, upload a zip, or "
               "capture from your webcam."),
    "model": N_("The pretrained network to start from, which of its layers keep learning, and the device."),
    "train": N_("How long and how fast to learn; live charts while it trains."),
    "evaluate": N_("How the trained model does on images it did not train on."),
    "try": N_("Try the model on your own pictures, then download it."),
    "runs": N_("Every run so far: compare them, resume one."),
}


def default_studio_config() -> TrainConfig:
    """The demo config, writing runs under the run-store home (not the kernel's working folder).

    ``$TL_WIDGETS_STUDIO_EPOCHS`` keeps only the head phase with that many epochs and
    ``$TL_WIDGETS_STUDIO_MAX_PER_CLASS`` caps the training images per class (short runs for tests and demos).

    Raises:
        ConfigError: One of those variables is not a valid value for its field.
    """
    from tl_widgets.core.room.seat import current_seat

    current_seat()  # a served kernel's private home (no-op outside `tl-widgets serve`)
    cfg = demo_config()
    cfg.output_dir = str(home_path("runs"))
    epochs = os.environ.get(STUDIO_EPOCHS_ENV, "").strip()
    if epochs:
        cfg.phases = [dataclasses.replace(cfg.phases[0], epochs=_env_int(STUDIO_EPOCHS_ENV, epochs))]
    per_class = os.environ.get(STUDIO_MAX_PER_CLASS_ENV, "").strip()
    if per_class:
        cfg.data = dataclasses.replace(cfg.data, max_per_class=_env_int(STUDIO_MAX_PER_CLASS_ENV, per_class))
    return TrainConfig.from_dict(cfg.to_dict())


def _env_int(name: str, text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ConfigError(name, f"Expected an integer. Received: {name}={text!r}") from None
