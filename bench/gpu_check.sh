#!/usr/bin/env bash
# Fine-tune MobileNetV2 and ResNet50 at 224 px, mixed_bfloat16 + XLA, on synthetic data with KERAS_BACKEND=jax:
# plain model.fit vs the engine's per-step event path vs TrainingSession (when TensorFlow is installed),
# images/s and model FLOP utilisation; then tl_widgets.image_dataset over camera photos feeding MobileNetV2 at 224
# (images/s, and whether the GPU waits on input: bench/gpu_input.py). Pass --smoke for a tiny CPU run,
# --input-only for the input case alone. See docs/PERFORMANCE.md.
#
# On a GPU machine without Keras (no network there), carry wheels in .whl/ (pip download keras namex optree
# for that machine's Python, see docs/PERFORMANCE.md); they are installed into /tmp/site first.
set -euo pipefail
cd "$(dirname "$0")/.."
export KERAS_BACKEND=jax
export TF_CPP_MIN_LOG_LEVEL=2
export PYTHONUNBUFFERED=1
if [ -d .whl ] && ! "${PYTHON:-python3}" -c "import keras" 2>/dev/null; then
  "${PYTHON:-python3}" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
  export PYTHONPATH="/tmp/site:${PYTHONPATH:-}"
fi
export PYTHONPATH="$PWD:${PYTHONPATH:-}"
exec "${PYTHON:-python3}" bench/gpu_check.py "$@"
