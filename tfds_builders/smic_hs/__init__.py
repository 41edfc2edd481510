"""The smic_hs TFDS builder (see ``smic_hs_dataset_builder``)."""

from tfds_builders.smic_hs.smic_hs_dataset_builder import SmicHs

__all__ = ["SmicHs"]
