"""Runs: the run folder (its layout, checkpoints and resume points), the SQLite run store and
the event subscriber that records runs into it."""
