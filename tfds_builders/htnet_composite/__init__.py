"""The MEGC2019 composite as released with HTNet (see ``htnet_composite_dataset_builder``)."""

from tfds_builders.htnet_composite.htnet_composite_dataset_builder import HtnetComposite

__all__ = ["HtnetComposite"]
