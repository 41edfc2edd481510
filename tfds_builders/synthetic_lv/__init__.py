"""Synthetic long videos for spotting (``synthetic_me.long_videos``) as long-video records."""

from tfds_builders.synthetic_lv.synthetic_lv_dataset_builder import SyntheticLv  # noqa: F401
