"""Tracking runs in external experiment trackers (MLflow)."""
