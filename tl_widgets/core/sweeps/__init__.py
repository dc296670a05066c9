"""Hyperparameter sweeps on Optuna: a search space over config fields, each trial a normal run."""
