"""The casme3 TFDS builder (see ``casme3_dataset_builder``)."""

from tfds_builders.casme3.casme3_dataset_builder import Casme3

__all__ = ["Casme3"]
