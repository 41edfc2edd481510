"""Evaluation: metrics from pooled confusion matrices, epoch selection, run reports."""
