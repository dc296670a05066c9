"""Training: the `TrainingSession` (a worker thread streaming events), the narrow control it hands
its worker, the history recorder that owns a run's batch/epoch history, the runner that does the
phases, its Keras callback, optimizers and discriminative rates, checkpoints, the feature cache,
the LR finder, devices and strategies, and multi-process job export."""
