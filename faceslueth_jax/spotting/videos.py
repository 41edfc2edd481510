"""A spotting run's long videos, read from long-video records (``tfds_builders.long_video``)
built on first use, as the spotters read them."""

from __future__ import annotations

import dataclasses
import os

import numpy as np

from faceslueth_jax.evaluation.spotting_metrics import Interval
from faceslueth_jax.preprocess.video_features import FLOW_SIZE
from tfds_builders import building, registry
from tfds_builders.long_video import KINDS


@dataclasses.dataclass
class SpotVideo:
    """One long video: its block values per span, (T, 36) each, its coded expressions
    (``Interval`` with kind, label and apex) and its eyes' centres in the crop."""
    video_id: str
    subject: str
    dataset: str
    fps: float
    blocks: dict
    truth: list
    eyes: tuple | None = None  # the eyes' centres in the crop, fractions of its side
    head: dict | None = None   # span k -> (T,) the head's displacement
    flow_size: int = FLOW_SIZE  # the crop's side (pixels) the block values are in

    @property
    def num_frames(self) -> int:
        return len(next(iter(self.blocks.values())))

    @property
    def key(self) -> str:
        return f"{self.dataset}/{self.video_id}"


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def from_record(r: dict) -> SpotVideo:
    truth = [Interval(int(on), int(off), KINDS[int(kind)], label=int(label), apex=int(apex))
             for on, apex, off, kind, label in zip(r["event_onset"], r["event_apex"],
                                                   r["event_offset"], r["event_kind"],
                                                   r["event_label"])]
    spans = [int(k) for k in r["spans"]]
    blocks = np.asarray(r["blocks"], np.float32)
    return SpotVideo(_text(r["video_id"]), _text(r["subject"]), _text(r["dataset"]),
                     float(r["fps"]), {k: blocks[:, i] for i, k in enumerate(spans)}, truth,
                     tuple(map(tuple, np.asarray(r["eyes"], float).tolist())),
                     {k: np.asarray(r["head"], np.float32)[:, i] for i, k in enumerate(spans)},
                     int(r["flow_size"]))


def builder_of(data_cfg):
    """The long-video builder of ``data`` (name, data_dir, synthetic or build fields)."""
    build = {k: v for k, v in dict(data_cfg.get("build") or {}).items() if k != "overwrite"}
    with building.quiet():
        return registry.long_video_builder(
            data_cfg.name, os.path.expanduser(data_cfg.data_dir),
            synthetic=dict(data_cfg.get("synthetic") or {}), build=build,
            on_error=data_cfg.get("on_error", "raise"))


def load(data_cfg, say=print) -> tuple[list, tuple, object]:
    """(videos in record order, class names, the builder): records built on first use
    and reused after (``building.prepare``: refused when built from another source)."""
    builder = builder_of(data_cfg)
    manual_dir = data_cfg.get("manual_dir") or None
    overwrite = bool((data_cfg.get("build") or {}).get("overwrite", False))
    builder = building.prepare(builder, manual_dir, "always" if overwrite else "never", say=say)
    source = builder.as_data_source()["train"]
    videos = sorted((from_record(source[i]) for i in range(len(source))), key=lambda v: v.key)
    return videos, tuple(builder.info.metadata["class_names"]), builder
