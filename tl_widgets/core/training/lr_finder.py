"""The learning-rate finder: an exponential sweep on a copy of the weights.

The learning rate grows from ``min_lr`` to ``max_lr`` over ``steps`` batches
while the loss is recorded; the sweep stops early once the loss explodes. The
suggestion is the rate where the smoothed loss falls fastest. The model's
weights (and BatchNorm statistics) are restored exactly afterwards.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tl_widgets.core.config.schema import TrainConfig

__all__ = ["LRFinderResult", "find_lr", "suggest_lr"]


@dataclass
class LRFinderResult:
    """Learning rates tried, the loss at each, and the suggestion."""

    lrs: list[float] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    suggested_lr: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"lrs": self.lrs, "losses": self.losses, "suggested_lr": self.suggested_lr}


def suggest_lr(lrs: list[float], losses: list[float], smoothing: float = 0.9) -> float | None:
    """The rate at the steepest descent of the exponentially smoothed loss (None if too few points)."""
    if len(lrs) < 5:
        return None
    smooth, avg = [], 0.0
    for i, loss in enumerate(losses):
        avg = smoothing * avg + (1 - smoothing) * loss
        smooth.append(avg / (1 - smoothing ** (i + 1)))
    grads = np.gradient(np.array(smooth), np.log(np.array(lrs)))
    skip = max(1, len(lrs) // 10)  # the first points are noise
    i = int(np.argmin(grads[skip:-1])) + skip if len(lrs) > skip + 1 else int(np.argmin(grads))
    return float(lrs[i])


def find_lr(config: TrainConfig, *, data: Any = None, steps: int = 100, min_lr: float = 1e-7,
            max_lr: float = 1.0, model: Any = None) -> LRFinderResult:
    """Sweeps the learning rate for the first phase of ``config``.

    Args:
        config: The run's config (data, model, first phase's freeze and optimizer).
        data: Data from code, as for :class:`~tl_widgets.core.training.session.TrainingSession`.
        steps: Batches in the sweep (the training set is repeated as needed).
        min_lr: First learning rate.
        max_lr: Last learning rate.
        model: An assembled model to sweep on (its weights are restored); built when None.

    Raises:
        ValueError: ``steps`` < 5 or ``min_lr`` >= ``max_lr``.
    """
    if steps < 5:
        raise ValueError(f"Expected steps >= 5. Received: steps={steps}")
    if not 0 < min_lr < max_lr:
        raise ValueError(f"Expected 0 < min_lr < max_lr. Received: min_lr={min_lr}, max_lr={max_lr}")
    from tl_widgets.core.models.backbones import resolve_backbone
    from tl_widgets.core.data.loading import load_datasets
    from tl_widgets.core.models.freezing import FreezePlan
    from tl_widgets.core.models.assembly import backbone_of, build_model, input_size_for
    from tl_widgets.core.training.optimizers import make_optimizer

    spec = resolve_backbone(config.model.backbone)
    size = input_size_for(spec, config.model)
    ds = load_datasets(config.data, size, seed=config.seed, min_size=spec.min_size, code_data=data)
    if model is None:
        model = build_model(config.model, len(ds.class_names)).model
    backbone = backbone_of(model)
    phase = config.phases[0]
    FreezePlan(phase.freeze or config.freeze).apply(backbone, spec.blocks(backbone))
    saved = [w.copy() for w in model.get_weights()]
    factor = (max_lr / min_lr) ** (1.0 / (steps - 1))
    result = LRFinderResult()
    try:
        optimizer = make_optimizer(phase.__class__(**{**phase.__dict__, "schedule": "constant",
                                                       "warmup_epochs": 0.0}), 1)
        model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
        best = math.inf
        batches = iter(ds.train.repeat())
        for i in range(steps):
            lr = min_lr * factor**i
            model.optimizer.learning_rate = lr
            x, y = next(batches)
            loss = float(model.train_on_batch(x, y))
            if not math.isfinite(loss):
                break
            result.lrs.append(lr)
            result.losses.append(loss)
            best = min(best, loss)
            if loss > 4 * best and i > steps // 10:
                break
    finally:
        model.set_weights(saved)
    result.suggested_lr = suggest_lr(result.lrs, result.losses)
    return result
