"""Built-in synthetic micro-expression data (see ``synthetic_me_dataset_builder``)."""

from tfds_builders.synthetic_me.synthetic_me_dataset_builder import SyntheticMe, SyntheticMeConfig

__all__ = ["SyntheticMe", "SyntheticMeConfig"]
