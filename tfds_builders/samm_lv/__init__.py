"""The samm_lv TFDS builder (see ``samm_lv_dataset_builder``)."""

from tfds_builders.samm_lv.samm_lv_dataset_builder import SammLv

__all__ = ["SammLv"]
