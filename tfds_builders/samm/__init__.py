"""The samm TFDS builder (see ``samm_dataset_builder``)."""

from tfds_builders.samm.samm_dataset_builder import Samm

__all__ = ["Samm"]
