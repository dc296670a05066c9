#!/usr/bin/env bash
# Fine-tune MobileNetV2 and EfficientNetB0 at 224 px on synthetic data with KERAS_BACKEND=jax:
# fp32 vs mixed_bfloat16, XLA on/off, plain model.fit vs our event path. Pass --quick for a CPU smoke run.
set -euo pipefail
cd "$(dirname "$0")/.."
export KERAS_BACKEND=jax
export TF_CPP_MIN_LOG_LEVEL=2
exec "${PYTHON:-python}" bench/gpu_check.py "$@"
