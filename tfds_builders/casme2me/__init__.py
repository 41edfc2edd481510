"""The casme2me TFDS builder (see ``casme2me_dataset_builder``)."""

from tfds_builders.casme2me.casme2me_dataset_builder import Casme2me

__all__ = ["Casme2me"]
