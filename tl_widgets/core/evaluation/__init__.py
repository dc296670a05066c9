"""Evaluation of a finished run: predictions, confusion matrix, per-class metrics, top losses
and Grad-CAM."""
