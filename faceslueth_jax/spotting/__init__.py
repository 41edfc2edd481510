"""Spotting micro- and macro-expressions in long videos: per-frame motion features
streamed from the frames (``motion_features``) and spotters that turn them into
intervals (``mdmd``: training-free, its threshold chosen on training subjects)."""
