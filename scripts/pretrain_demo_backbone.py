"""Pretrains the bundled demo backbone on the demo's source classes.

Usage: python scripts/pretrain_demo_backbone.py [--epochs N] [--out PATH]

Writes tl_widgets/core/models/assets/demo_cnn.weights.h5 (well under 2 MB). The source
classes (digits 0-4, four shape kinds) are disjoint from the target classes the
demo trains on, so the demo shows real transfer.
"""

from __future__ import annotations

import argparse
import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from tl_widgets.core.models.demo_backbone import DEMO_WEIGHTS, pretrain_demo_backbone  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(DEMO_WEIGHTS))
    args = parser.parse_args()
    metrics = pretrain_demo_backbone(args.out, epochs=args.epochs, seed=args.seed)
    size = os.path.getsize(args.out)
    print(json.dumps({**metrics, "file": os.path.basename(args.out), "bytes": size}))


if __name__ == "__main__":
    main()
