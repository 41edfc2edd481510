"""The mmew TFDS builder (see ``mmew_dataset_builder``)."""

from tfds_builders.mmew.mmew_dataset_builder import Mmew

__all__ = ["Mmew"]
