"""Training: the `TrainingSession` (a worker thread streaming events), the runner that does
the phases, its Keras callbacks, optimizers and discriminative rates, checkpoints, the feature
cache, the LR finder, devices and strategies, and multi-process job export."""
