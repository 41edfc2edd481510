"""TFDS builder: the built-in synthetic long videos -> long-video records.

Each record is one subject's long video (``synthetic_me.long_videos``: micro- and
macro-expressions at known intervals among head drift and shifts, blinks, lighting
drift and noise), streamed through the same chain as a database's videos
(``spotting.video_features``, the rendered frame taken as the face). Its events
are the generator's ground truth; labels are the synthetic classes (MEGC's three).
Subject i's video has seed ``seed * 1000 + i``.
"""

from __future__ import annotations

import dataclasses

import tensorflow_datasets as tfds

from faceslueth_jax.preprocess import video_features
from tfds_builders import long_video, source_fingerprint
from tfds_builders.features import MEGC_CLASSES
from tfds_builders.synthetic_me import long_videos
from tfds_builders.local_builder import LocalBuilder


@dataclasses.dataclass(eq=False)
class SyntheticLvConfig(tfds.core.BuilderConfig):
    num_subjects: int = 10
    num_frames: int = 3000
    fps: float = 30.0
    size: int = 128          # rendered side
    flow_size: int = video_features.FLOW_SIZE
    micro_fraction: float = 0.5
    seed: int = 0

    @classmethod
    def named(cls, **fields) -> "SyntheticLvConfig":
        c = cls(name="tmp", **fields)
        for field in ("num_subjects", "num_frames", "size", "flow_size"):
            value = getattr(c, field)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{field} must be a positive integer, got {value!r}")
        return cls(name=(f"n{c.num_subjects}_t{c.num_frames}_fps{c.fps:g}_px{c.size}_"
                         f"flow{c.flow_size}_micro{c.micro_fraction:g}_seed{c.seed}"
                         ).replace(".", "p"), **fields)


def subject_video(config: SyntheticLvConfig, i: int) -> long_videos.LongVideo:
    """Subject i's video under ``config``."""
    return long_videos.make_long_video(seed=config.seed * 1000 + i, num_frames=config.num_frames,
                                       fps=config.fps, size=config.size,
                                       micro_fraction=config.micro_fraction)


class SyntheticLv(LocalBuilder):
    """Synthetic long videos with coded micro- and macro-expressions."""

    VERSION = long_video.VERSION  # its records are long_video.record's
    RELEASE_NOTES = long_video.RELEASE_NOTES
    BUILDER_CONFIGS = [SyntheticLvConfig.named()]

    @classmethod
    def from_fields(cls, data_dir: str, **fields) -> "SyntheticLv":
        config = SyntheticLvConfig.named(**fields)
        registered = {c.name for c in cls.BUILDER_CONFIGS}
        return cls(config=config.name if config.name in registered else config,
                   data_dir=data_dir, file_format="array_record")

    def _info(self) -> tfds.core.DatasetInfo:
        return tfds.core.DatasetInfo(
            builder=self, description=__doc__, features=long_video.long_video_features(),
            metadata=tfds.core.MetadataDict(class_names=list(MEGC_CLASSES)))

    def _split_generators(self, dl_manager):
        del dl_manager
        source_fingerprint.record(self)
        return {"train": self._generate_examples()}

    def _generate_examples(self):
        c = self.builder_config
        for i in range(c.num_subjects):
            video = subject_video(c, i)
            feats = video_features.features(video.frames(), c.fps, c.flow_size, crop="whole")
            name = f"s{i:02d}"
            yield name, long_video.record(name, name, "synthetic_lv", feats, video.events,
                                          [e.label for e in video.events], c.flow_size)
