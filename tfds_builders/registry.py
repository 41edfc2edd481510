"""Every builder of this package by ``data.name``, and how to make one from plain fields.

``make(name, data_dir, **fields)`` returns a builder ready for ``download_and_prepare``:
the synthetic data takes its generator's fields, the HTNet composite none, a licensed
database its ``MEConfig`` fields (class set, sizes, flow method, apex, on_error ...).
"""

from __future__ import annotations

import dataclasses
import importlib

# data.name -> (module, class) of the builders that read a licensed database from manual_dir
DATABASE_BUILDERS = {
    "casme2": ("tfds_builders.casme2", "Casme2"),
    "samm": ("tfds_builders.samm", "Samm"),
    "smic_hs": ("tfds_builders.smic_hs", "SmicHs"),
    "casme3": ("tfds_builders.casme3", "Casme3"),
    "megc2019_composite": ("tfds_builders.megc2019_composite", "Megc2019Composite"),
    "mmew": ("tfds_builders.mmew", "Mmew"),
    "casme2me": ("tfds_builders.casme2me", "Casme2me"),
}
# data.name -> (module, class) of the builders that need no licensed files
OPEN_BUILDERS = {
    "synthetic_me": ("tfds_builders.synthetic_me", "SyntheticMe"),
    "htnet_composite": ("tfds_builders.htnet_composite", "HtnetComposite"),
}
NAMES = tuple(OPEN_BUILDERS) + tuple(DATABASE_BUILDERS)
# spotting.data.name -> (module, class) of the long-video builders (``long_video``)
LONG_VIDEO_BUILDERS = {
    "synthetic_lv": ("tfds_builders.synthetic_lv", "SyntheticLv"),
    "casme2_lv": ("tfds_builders.casme2_lv", "Casme2Lv"),
    "samm_lv": ("tfds_builders.samm_lv", "SammLv"),
}


class UnknownBuilder(ValueError):
    """``data.name`` names no builder of this package."""


def builder_class(name: str):
    """The builder class of ``name`` (imported on first use)."""
    entry = DATABASE_BUILDERS.get(name) or OPEN_BUILDERS.get(name)
    if entry is None:
        raise UnknownBuilder(f"unknown data.name {name!r}; known: {', '.join(NAMES)}")
    module, cls = entry
    return getattr(importlib.import_module(module), cls)


def long_video_builder(name: str, data_dir: str, *, synthetic: dict | None = None,
                       build: dict | None = None, on_error: str = "raise"):
    """A long-video builder of ``name`` writing under ``data_dir``: the synthetic one
    from its generator's fields, a database's from its ``LongVideoConfig`` fields."""
    entry = LONG_VIDEO_BUILDERS.get(name)
    if entry is None:
        raise UnknownBuilder(f"unknown long-video data {name!r}; known: "
                             f"{', '.join(LONG_VIDEO_BUILDERS)}")
    cls = getattr(importlib.import_module(entry[0]), entry[1])
    if name == "synthetic_lv":
        return cls.from_fields(data_dir, **(synthetic or {}))
    return cls.from_fields(data_dir, on_error=on_error, **(build or {}))


def database_builder(name: str):
    """The builder class for a licensed database's ``data.name``."""
    if name not in DATABASE_BUILDERS:
        raise UnknownBuilder(f"{name!r} is not a licensed database; known: "
                             f"{', '.join(DATABASE_BUILDERS)}")
    return builder_class(name)


def make(name: str, data_dir: str, *, synthetic: dict | None = None,
         build: dict | None = None, on_error: str = "raise"):
    """A builder of ``name`` writing under ``data_dir``. ``synthetic``: the synthetic
    generator's fields; ``build``: a licensed database's record fields (``MEConfig``)."""
    cls = builder_class(name)
    if name == "synthetic_me":
        return cls.from_fields(data_dir, **(synthetic or {}))
    if name == "htnet_composite":
        return cls(data_dir=data_dir, file_format="array_record")
    return cls.from_fields(data_dir, on_error=on_error, **(build or {}))


def clip_chain(name: str, *, synthetic: dict | None = None, build: dict | None = None) -> dict:
    """How the records of ``name`` were made from clips, so that a new clip can be made
    the same way (``faceslueth_jax.preprocess.clip_record``): the ``ChainSettings``
    fields, ``crop`` ('whole': the frames are the face; 'detect': one face box found
    on the onset frame) and a ``note`` where the chain cannot be the same."""
    from faceslueth_jax.preprocess.clip_record import ChainSettings

    builder_class(name)  # an unknown name fails here
    if name == "synthetic_me":
        size = int((synthetic or {}).get("size", 128))
        settings = ChainSettings(face_size=size, flow_size=size, flow_norm="raw",
                                 clip_frames=int((synthetic or {}).get("clip_frames", 0)))
        return dict(dataclasses.asdict(settings), crop="whole", note="")
    if name == "htnet_composite":
        from tfds_builders.htnet_composite.htnet_composite_dataset_builder import (
            FACE_SIZE, FLOW_SIZE)
        settings = ChainSettings(face_size=FACE_SIZE, flow_size=FLOW_SIZE, flow_norm="minmax")
        return dict(dataclasses.asdict(settings), crop="detect",
                    note="trained on the flow images HTNet released, made by HTNet's own "
                         "preprocessing; a new clip's flow comes from this project's chain "
                         "(TV-L1 on Haar-cascade face crops), which is not the same")
    # jitter windows are a training-time augmentation: a model is applied without them
    settings = ChainSettings.of(dict(build or {}, jitter_frames=0))
    # the face chain that ran here (without dlib: the Haar box, as the builder did)
    from faceslueth_jax.preprocess import landmarks
    detector, align, note = landmarks.resolve(settings.face_detector, settings.face_align)
    settings = dataclasses.replace(settings, face_detector=detector, face_align=align)
    return dict(dataclasses.asdict(settings), crop="detect", note=note)
