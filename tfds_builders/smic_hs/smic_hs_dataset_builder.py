"""TFDS builder: SMIC-HS (Li et al. 2013), high-speed camera, 100 fps, 3 classes.

manual_dir holds, as the database is released:
  HS/s1/micro/{negative,positive,surprise}/s1_ne_01/image######.bmp
(or the authors' cropped faces, reg_image######.bmp, in the same folders; used
without detection). There is no sheet: the emotion is the folder, onset and
offset are the clip's first and last frames, and the apex, which SMIC does not
annotate, is spotted (config ``apex``). Sample ids are '<s1>_<s1_ne_01>'.
"""

from __future__ import annotations

import pathlib

from faceslueth_jax.preprocess import frames
from tfds_builders.errors import BadInputError
from tfds_builders.features import MEGC_CLASSES
from tfds_builders.me_database import Clip, MEDatabaseBuilder, Problems, check_unique


class SmicHs(MEDatabaseBuilder):
    """SMIC-HS micro-expressions -> flow/apex records (apex spotted)."""

    DATABASE = "smic_hs"
    MANUAL_DOWNLOAD_INSTRUCTIONS = (
        "SMIC is licensed: request it from the University of Oulu (https://www.oulu.fi/cmvs). "
        "Pass as manual_dir the folder holding HS/s1/micro/{negative,positive,surprise}/"
        "s1_ne_01/image######.bmp ...")
    NATIVE_CLASSES = MEGC_CLASSES
    CLASS_NAMES = {"megc3": MEGC_CLASSES}
    CLASS_MAPS = {"megc3": {e: e for e in MEGC_CLASSES}}

    @classmethod
    def list_clips(cls, manual_dir: pathlib.Path, problems: Problems) -> list[Clip]:
        root = manual_dir / "HS"
        if not root.is_dir():
            raise BadInputError(f"smic_hs: {root} not found (expected HS/s1/micro/...)")
        subjects = sorted(p for p in root.iterdir() if p.is_dir())
        clips = []
        for subject in subjects:
            micro = subject / "micro"
            folders = sorted(clip for emotion in micro.iterdir() if emotion.is_dir()
                             for clip in emotion.iterdir() if clip.is_dir()) if micro.is_dir() else []
            if not folders:
                problems.add(subject.name, str(subject), "subject folder has no clips in micro/")
            for folder in folders:
                emotion = folder.parent
                where = str(folder.relative_to(manual_dir))
                sample_id = f"{subject.name}_{folder.name}"
                numbered = frames.numbered_frames(folder, "reg_image")
                cropped = bool(numbered)
                numbered = numbered or frames.numbered_frames(folder, "image")
                if not numbered:
                    problems.add(sample_id, where, "clip folder has no frame files")
                    continue
                clips.append(Clip(subject=subject.name, sample_id=sample_id,
                                  emotion=emotion.name, frames=numbered,
                                  onset=min(numbered), apex=None, offset=max(numbered),
                                  cropped=cropped, where=where, folder=folder))
        return check_unique(clips, problems)
