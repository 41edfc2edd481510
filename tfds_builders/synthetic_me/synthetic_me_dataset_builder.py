"""TFDS builder: deterministic synthetic micro-expression clips -> flow/apex records.

Each record is one clip of ``tfds_builders.synthetic_me.synthetic_faces`` (a subject's
own face, one of three expressions as a local motion of at most 1.5 px at
128x128, head shift, distractors, sensor noise). The flow is NOT the generator's
ground truth: it is computed from the onset and apex frames by the project's
JAX TV-L1, exactly as for a real database. With ``clip_frames`` T > 0 a record
also holds ``frames``: T of the clip's frames at uniform positions over its
onset..offset (``features.clip_frame_numbers``; a clip has 9 frames, onset 0,
offset 8), the whole rendered image (there is no face box to crop).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow_datasets as tfds

from tfds_builders import source_fingerprint
from tfds_builders.synthetic_me import synthetic_faces
from faceslueth_jax.preprocess import tvl1
from tfds_builders.features import MEGC_CLASSES, clip_frame_numbers, me_features
from tfds_builders.local_builder import LocalBuilder

FLOW_BATCH = 32


@dataclasses.dataclass
class SyntheticMeConfig(tfds.core.BuilderConfig):
    num_subjects: int = 16
    clips_per_subject: int = 12
    orientation_deg: float = 90.0
    seed: int = 0
    size: int = 128
    clip_frames: int = 0  # T > 0: also T frames uniform over the clip (``frames``)
    # the 'aligned' variant: faces centred and equally scaled across subjects (as a
    # face chain's alignment leaves them), the peak displacement scaled, clips of
    # clip_length frames; the defaults are the original data
    aligned: bool = False
    peak_scale: float = 1.0
    clip_length: int = 9

    @classmethod
    def named(cls, **fields) -> "SyntheticMeConfig":
        """A config whose name spells its fields, so each variant gets its own folder
        (clip_frames only when set, so the names that predate it are unchanged)."""
        c = cls(name="tmp", **fields)
        if not isinstance(c.clip_frames, int) or c.clip_frames < 0 or c.clip_frames == 1:
            raise ValueError(f"clip_frames must be 0 (off) or an integer >= 2, "
                             f"got {c.clip_frames!r}")
        if not isinstance(c.clip_length, int) or c.clip_length < 3:
            raise ValueError(f"clip_length must be an integer >= 3, got {c.clip_length!r}")
        if not c.peak_scale > 0:
            raise ValueError(f"peak_scale must be > 0, got {c.peak_scale!r}")
        name = (f"n{c.num_subjects}_c{c.clips_per_subject}_o{c.orientation_deg:g}"
                f"_seed{c.seed}_px{c.size}"
                + (f"_frames{c.clip_frames}" if c.clip_frames else "")
                + ("_aligned" if c.aligned else "")
                + (f"_peak{c.peak_scale:g}" if c.peak_scale != 1.0 else "")
                + (f"_len{c.clip_length}" if c.clip_length != 9 else "")
                ).replace(".", "p").replace("-", "m")
        return cls(name=name, **fields)


class SyntheticMe(LocalBuilder):
    """Synthetic face-like micro-expression clips (3 classes)."""

    VERSION = tfds.core.Version("1.2.0")
    RELEASE_NOTES = {
        "1.0.0": "First release.",
        "1.1.0": "Harder: faces misaligned by up to 16 px and scaled 0.85-1.15 across subjects, "
                 "peaks from 0.3 px, "
                 "head shift up to 1 px, stronger and more frequent distractors, more noise.",
        "1.2.0": "New config field clip_frames: T > 0 stores T frames uniform over the clip "
                 "(frames, FDP's input). Records without it are unchanged.",
    }
    BUILDER_CONFIGS = [SyntheticMeConfig.named(),                       # vertical motion
                       SyntheticMeConfig.named(orientation_deg=0.0)]    # horizontal motion

    @classmethod
    def from_fields(cls, data_dir: str, **fields) -> "SyntheticMe":
        """The builder for these generator settings (registered config or a custom one)."""
        config = SyntheticMeConfig.named(**fields)
        registered = {c.name for c in cls.BUILDER_CONFIGS}
        return cls(config=config.name if config.name in registered else config,
                   data_dir=data_dir, file_format="array_record")

    def _info(self) -> tfds.core.DatasetInfo:
        s = self.builder_config.size
        return tfds.core.DatasetInfo(
            builder=self,
            description=__doc__,
            features=me_features(s, s, MEGC_CLASSES, with_onset=True,
                                 clip_frames=self.builder_config.clip_frames),
            metadata=tfds.core.MetadataDict(flow_units="pixels per onset-apex interval"),
        )

    def _split_generators(self, dl_manager):
        del dl_manager
        source_fingerprint.record(self)  # generated: the options and version say it all
        return {"train": self._generate_examples()}

    def _generate_examples(self):
        c = self.builder_config
        samples = synthetic_faces.make_dataset(
            seed=c.seed, num_subjects=c.num_subjects, clips_per_subject=c.clips_per_subject,
            orientation_deg=c.orientation_deg, size=c.size, num_frames=c.clip_length,
            aligned=c.aligned, peak_scale=c.peak_scale)
        for start in range(0, len(samples), FLOW_BATCH):
            chunk = samples[start:start + FLOW_BATCH]
            onsets = np.stack([s.clip.frames[s.clip.onset] for s in chunk])
            apexes = np.stack([s.clip.frames[s.clip.apex] for s in chunk])
            flows = np.asarray(tvl1.flow_uvs_batch(_pad(onsets), _pad(apexes)))[: len(chunk)]
            for sample, onset, apex, flow in zip(chunk, onsets, apexes, flows):
                extra = {}
                if c.clip_frames:
                    clip = sample.clip
                    numbers = clip_frame_numbers(clip.onset, clip.offset, c.clip_frames)
                    extra["frames"] = np.stack([_to_uint8(clip.frames[n]) for n in numbers])
                yield sample.sample_id, {
                    **extra,
                    "flow": flow.astype(np.float32),
                    "apex": _to_uint8(apex),
                    "onset": _to_uint8(onset),
                    "label": int(sample.label),
                    "subject": sample.subject,
                    "dataset": "synthetic",
                    "sample_id": sample.sample_id,
                }


def _pad(frames: np.ndarray) -> np.ndarray:
    """Pad the last batch to FLOW_BATCH so TV-L1 compiles for one shape only."""
    return np.concatenate([frames, np.repeat(frames[-1:], FLOW_BATCH - len(frames), 0)])


def _to_uint8(frame: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(frame), 0, 255).astype(np.uint8)[..., None]
