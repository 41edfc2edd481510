"""The megc2019_composite TFDS builder (see ``megc2019_composite_dataset_builder``)."""

from tfds_builders.megc2019_composite.megc2019_composite_dataset_builder import Megc2019Composite

__all__ = ["Megc2019Composite"]
