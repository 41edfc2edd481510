"""The casme2 TFDS builder (see ``casme2_dataset_builder``)."""

from tfds_builders.casme2.casme2_dataset_builder import Casme2

__all__ = ["Casme2"]
