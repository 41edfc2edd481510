"""The casme2_lv TFDS builder (see ``casme2_lv_dataset_builder``)."""

from tfds_builders.casme2_lv.casme2_lv_dataset_builder import Casme2Lv

__all__ = ["Casme2Lv"]
