"""Micro-expression records in memory: read from TFDS, resized and normalised.

Views (float32, NHWC): ``flow`` (u, v, strain), ``apex`` and, when the database
releases it, ``onset`` (grey or RGB faces); where the records hold them, ``au``
(N, 21) multi-hot FACS action units and the temporal jitter's ``onset_window``,
``apex_window`` (N, K, S, S, C) and ``jitter_span`` (N,), and FDP's ``frames``
(N, T, S, S, 1) grey frames uniform over each clip (see
``tfds_builders.features``). Preparation for a model:

  flow:    resized to flow_size (u, v scaled by the size ratio, so pixel units
           stay pixel units), then per-sample per-channel min-max to 0..1
           (``flow_norm='minmax'``, as STSTNet/HTNet) or left as is ('none');
  faces:   resized to face_size, then (``face_norm``)
             'standardise': per sample (x - mean) / std over all pixels and channels,
             'imagenet':    per RGB channel c (x / 255 - m_c) / s_c with
                            m = (0.485, 0.456, 0.406), s = (0.229, 0.224, 0.225)
                            (torchvision ToTensor + Normalize, as the reference);
  windows: each frame exactly as a face;
  frames:  each frame resized to face_size, then (x / 255 - 0.5) / 0.5 (to -1..1,
           FDP's ToTensor + Normalize(0.5, 0.5)), whatever ``face_norm`` is;
  au, jitter_span: as stored.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from faceslueth_jax.preprocess import clip_flow

FACE_VIEWS = ("apex", "onset")
WINDOW_VIEWS = {"onset_window": "onset", "apex_window": "apex"}  # window -> the face it jitters
JITTER_SPAN = "jitter_span"
AU = "au"
CLIP_VIEWS = ("frames",)  # (T, S, S, 1) per sample: a clip's frames (FDP)
VIEWS = ("flow",) + FACE_VIEWS + tuple(WINDOW_VIEWS) + (JITTER_SPAN, AU) + CLIP_VIEWS
FLOW_NORMS = ("minmax", "none")
FACE_NORMS = ("standardise", "imagenet")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclasses.dataclass(frozen=True)
class MEData:
    """Every sample's label and names; views of the loaded samples.

    ``view_row[i]``: the row of sample i in ``views`` (-1 when not loaded: on a
    multi-host run each host loads only what its devices use); None = all, in order.
    """
    views: dict
    label: np.ndarray
    subject: np.ndarray
    dataset: np.ndarray
    sample_id: np.ndarray
    class_names: tuple
    view_row: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.label)

    @property
    def rows(self) -> np.ndarray:
        return np.arange(len(self)) if self.view_row is None else self.view_row

    @property
    def complete(self) -> bool:
        return bool((self.rows >= 0).all())


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def read_builder(builder, split: str = "train", keep: np.ndarray | None = None) -> MEData:
    """A prepared builder's split via ``as_data_source`` (no TensorFlow): every
    record's label and names, and the views of the records in ``keep`` (all when
    None; none when empty, views then hold 0 rows of the right shape)."""
    source = builder.as_data_source()[split]
    if len(source) == 0:
        raise ValueError(f"{builder.name}: split {split!r} is empty")
    kept = np.arange(len(source)) if keep is None else np.unique(np.asarray(keep, int))
    view_row = np.full(len(source), -1)
    view_row[kept] = np.arange(len(kept))
    names = None
    meta = {"label": [], "subject": [], "dataset": [], "sample_id": []}
    views: dict = {}
    for i in range(len(source)):
        r = source[i]
        if names is None:
            names = [k for k in VIEWS if k in r]
            shapes = {k: np.shape(r[k]) for k in names}
        meta["label"].append(int(r["label"]))
        for k in ("subject", "dataset", "sample_id"):
            meta[k].append(_text(r[k]))
        if view_row[i] >= 0:
            for k in names:
                views.setdefault(k, []).append(np.asarray(r[k], np.float32))
    views = {k: np.stack(views[k]) if views.get(k) else np.zeros((0,) + shapes[k], np.float32)
             for k in names}
    return MEData(
        views=views,
        label=np.array(meta["label"], np.int32),
        subject=np.array(meta["subject"]),
        dataset=np.array(meta["dataset"]),
        sample_id=np.array(meta["sample_id"]),
        class_names=tuple(builder.info.features["label"].names),
        view_row=None if keep is None else view_row,
    )


def read_builders(builders, split: str = "train", keep: np.ndarray | None = None) -> MEData:
    """Several prepared builders' records as one MEData, in builder order: sample
    ``i`` of builder b is sample offset_b + i, ``keep`` counts in those numbers. The
    builders must share their class names; views that not all of them hold (e.g. ``au``
    where a database codes no action units) are left out."""
    if len(builders) == 1:
        return read_builder(builders[0], split, keep)
    sizes = [len(b.as_data_source()[split]) for b in builders]
    starts = np.cumsum([0] + sizes)
    keep = None if keep is None else np.asarray(keep, int)
    parts = []
    for b, start, size in zip(builders, starts, sizes):
        local = None if keep is None else keep[(keep >= start) & (keep < start + size)] - start
        parts.append(read_builder(b, split, local))
    names = {p.class_names for p in parts}
    if len(names) > 1:
        raise ValueError(f"the data sets {[b.name for b in builders]} have different class "
                         f"names {sorted(names)}: build them with the same class set "
                         "(data.build.classes)")
    shared = [k for k in parts[0].views if all(k in p.views for p in parts)]
    loaded = np.cumsum([0] + [len(p.views[shared[0]]) for p in parts])
    view_row = np.concatenate([np.where(p.rows >= 0, p.rows + o, -1)
                               for p, o in zip(parts, loaded)])
    return MEData(
        views={k: np.concatenate([p.views[k] for p in parts]) for k in shared},
        label=np.concatenate([p.label for p in parts]),
        subject=np.concatenate([p.subject for p in parts]),
        dataset=np.concatenate([p.dataset for p in parts]),
        sample_id=np.concatenate([p.sample_id for p in parts]),
        class_names=parts[0].class_names,
        view_row=None if keep is None else view_row)


def subset(data: MEData, samples: np.ndarray) -> MEData:
    """The samples ``samples`` of ``data`` (views only where this process holds them all)."""
    views = ({k: v[data.rows[samples]] for k, v in data.views.items()} if data.complete
             else {k: v[:0] for k, v in data.views.items()})
    return MEData(views=views, label=data.label[samples], subject=data.subject[samples],
                  dataset=data.dataset[samples], sample_id=data.sample_id[samples],
                  class_names=data.class_names,
                  view_row=None if data.complete else np.full(len(samples), -1))


def u_mirror_offset(flow_norm: str, stored_flow_norm: str = "raw") -> float:
    """c in the mirror u -> c - u of prepared flow: 1 where it is in 0..1 (min-max,
    by ``flow_norm`` or, with flow_norm 'none', by how the records store it: a
    min-max u' = (u - lo) / (hi - lo) mirrors to 1 - u'), else 0 (signed flow)."""
    in_unit_range = flow_norm == "minmax" or (flow_norm == "none"
                                              and stored_flow_norm == "minmax")
    return 1.0 if in_unit_range else 0.0


def resize(images: np.ndarray, size: int) -> np.ndarray:
    """(N, H, W, C) -> (N, size, size, C), linear with antialiasing when shrinking (JAX;
    the records themselves were resized by OpenCV, ``clip_flow.resize_flow``, which
    says why both stay)."""
    n, h, w, c = images.shape
    if (h, w) == (size, size):
        return images
    return np.asarray(jax.image.resize(jnp.asarray(images), (n, size, size, c), "linear"))


def normalise_faces(faces: np.ndarray, face_norm: str) -> np.ndarray:
    """(N, S, S, C) 0..255 faces normalised per ``face_norm`` (module docstring)."""
    if face_norm == "standardise":
        mean = faces.mean(axis=(1, 2, 3), keepdims=True)
        std = faces.std(axis=(1, 2, 3), keepdims=True)
        return ((faces - mean) / np.maximum(std, 1e-6)).astype(np.float32)
    if face_norm == "imagenet":
        if faces.shape[-1] != 3:
            raise ValueError(
                f"data.face_norm='imagenet' needs RGB faces (3 channels); these records hold "
                f"{faces.shape[-1]}-channel faces: build them with data.build.face_color=True")
        mean, std = np.array(IMAGENET_MEAN, np.float32), np.array(IMAGENET_STD, np.float32)
        return ((faces / 255.0 - mean) / std).astype(np.float32)
    raise ValueError(f"data.face_norm must be one of {FACE_NORMS}, got {face_norm!r}")


def prepare_clip_frames(frames: np.ndarray, face_size: int) -> np.ndarray:
    """(N, T, S, S, C) 0..255 frames resized to face_size and mapped to -1..1 by
    (x / 255 - 0.5) / 0.5."""
    lead, image = frames.shape[:-3], frames.shape[-3:]
    flat = resize(frames.reshape((-1,) + image), face_size)
    return ((flat / 255.0 - 0.5) / 0.5).astype(np.float32).reshape(lead + flat.shape[1:])


def prepare_faces(faces: np.ndarray, face_size: int, face_norm: str) -> np.ndarray:
    """(N, ..., S, S, C) faces, any leading axes (windows: (N, K, ...)), resized to
    face_size and normalised frame by frame."""
    lead, image = faces.shape[:-3], faces.shape[-3:]
    flat = resize(faces.reshape((-1,) + image), face_size)
    return normalise_faces(flat, face_norm).reshape(lead + flat.shape[1:])


def prepare(data: MEData, flow_size: int, face_size: int, flow_norm: str = "minmax",
            use_onset: bool = True, face_norm: str = "standardise") -> MEData:
    """The views a model reads (module docstring); without ``use_onset`` neither
    the onset face nor its jitter window."""
    views = {}
    flow = data.views["flow"]
    scale = flow_size / flow.shape[1]
    flow = resize(flow, flow_size) * np.array([scale, scale, 1.0], np.float32)
    if flow_norm == "minmax":
        flow = clip_flow.minmax(flow)
    elif flow_norm != "none":
        raise ValueError(f"data.flow_norm must be 'minmax' or 'none', got {flow_norm!r}")
    views["flow"] = flow.astype(np.float32)
    for name in FACE_VIEWS + tuple(WINDOW_VIEWS):
        face = WINDOW_VIEWS.get(name, name)
        if name not in data.views or (face == "onset" and not use_onset):
            continue
        views[name] = prepare_faces(data.views[name], face_size, face_norm)
    for name in CLIP_VIEWS:
        if name in data.views:
            views[name] = prepare_clip_frames(data.views[name], face_size)
    for name in (JITTER_SPAN, AU):
        if name in data.views:
            views[name] = np.asarray(data.views[name], np.float32)
    return dataclasses.replace(data, views=views)
