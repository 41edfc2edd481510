"""Spotting micro- and macro-expressions in long videos, on the per-frame motion
features of ``preprocess.video_features``: the training-free spotter (``mdmd``, its
threshold chosen on training subjects), the learned one (``learned``), spotting runs
under LOSO (``experiment``)."""
