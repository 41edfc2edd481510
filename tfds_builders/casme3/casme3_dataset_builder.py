"""TFDS builder: CAS(ME)^3 Part A (Li et al. 2022), 30 fps colour video.

manual_dir holds, as the database is released:
  cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx  header on row 1: Subject, Filename,
      Onset, Apex, Offset, AU, Objective class, emotion
  spNO.1/b/color/175.jpg       frames of subject spNO.1's task video b, numbered as
                               the sheet's Onset/Apex/Offset; face detected on onset
The sheet and the folder of spNO.* folders may each sit up to three folders down,
as Part A unpacks from its archive (part_A/annotation/<sheet> and
part_A/data/part_A/spNO.1/...): manual_dir may be the folder holding part_A/,
part_A/ itself, or one holding both directly. Each is taken at the shallowest
depth it occurs; two candidates at that depth are an error naming them.
One video holds several micro-expressions, so sample ids are
'<Subject>_<Filename>_<Onset>' (spNO.1_b_175). The AU column becomes the
records' ``au``.
"""

from __future__ import annotations

import pathlib

from faceslueth_jax.preprocess import frames
from tfds_builders import sheets
from tfds_builders.errors import BadInputError
from tfds_builders.features import MEGC_CLASSES
from tfds_builders.me_database import (AU_RELEASE_NOTES, AU_VERSION, Clip, MEDatabaseBuilder,
                                       Problems, check_unique, row_fault,
                                       subject_folders_without_clips)

SHEET = "cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx"
COLUMNS = ("Subject", "Filename", "Onset", "Apex", "Offset", "AU", "emotion")
SUBJECTS = "spNO.*"
MAX_DEPTH = 3  # part_A/data/part_A/spNO.* below the folder holding part_A/


def shallowest(manual_dir: pathlib.Path, pattern: str) -> list[pathlib.Path]:
    """The paths matching ``pattern`` in ``manual_dir`` or in the folders 1..MAX_DEPTH
    below it, at the smallest depth where any match (sorted; [] when none)."""
    for depth in range(MAX_DEPTH + 1):
        found = sorted(manual_dir.glob("/".join(["*"] * depth + [pattern])))
        if found:
            return found
    return []


def find_sheet(manual_dir: pathlib.Path) -> pathlib.Path:
    """The annotation sheet, in manual_dir or up to MAX_DEPTH folders below it."""
    found = [p for p in shallowest(manual_dir, SHEET) if p.is_file()]
    if len(found) != 1:
        raise BadInputError(
            f"casme3: expected one {SHEET} in {manual_dir} or up to {MAX_DEPTH} folders "
            f"below it (e.g. part_A/annotation/), found {[str(p) for p in found] or 'none'}")
    return found[0]


def find_frame_root(manual_dir: pathlib.Path) -> pathlib.Path:
    """The folder of spNO.* subject folders, manual_dir or up to MAX_DEPTH folders
    below it (part_A/data/part_A/ as unpacked)."""
    roots = sorted({p.parent for p in shallowest(manual_dir, SUBJECTS) if p.is_dir()})
    if len(roots) != 1:
        raise BadInputError(
            f"casme3: expected one folder of {SUBJECTS} subject folders in {manual_dir} or "
            f"up to {MAX_DEPTH} folders below it (e.g. part_A/data/part_A/), found "
            f"{[str(p) for p in roots] or 'none'}")
    return roots[0]


class Casme3(MEDatabaseBuilder):
    """CAS(ME)^3 Part A micro-expressions -> flow/apex records."""

    DATABASE = "casme3"
    MANUAL_DOWNLOAD_INSTRUCTIONS = (
        "CAS(ME)^3 is licensed: request it from the CASME team (http://casme.psych.ac.cn/casme/e4). "
        "Pass as manual_dir the Part A folder holding "
        "cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx and spNO.1/a/color/175.jpg ..., or the "
        "folder the archive unpacked into (part_A/annotation/, part_A/data/part_A/spNO.1/...).")
    NATIVE_CLASSES = ("anger", "disgust", "fear", "happy", "others", "sad", "surprise")
    CLASS_NAMES = {"megc3": MEGC_CLASSES}
    CLASS_MAPS = {"megc3": {"anger": "negative", "disgust": "negative", "fear": "negative",
                            "sad": "negative", "happy": "positive", "surprise": "surprise"}}
    HAS_ACTION_UNITS = True  # the sheet's "AU" column ('4+7', 'L14', 'B23')
    VERSION, RELEASE_NOTES = AU_VERSION, AU_RELEASE_NOTES

    @classmethod
    def list_clips(cls, manual_dir: pathlib.Path, problems: Problems) -> list[Clip]:
        rows = sheets.read_sheet(find_sheet(manual_dir), cls.DATABASE, COLUMNS)
        root = find_frame_root(manual_dir)
        subject_folders_without_clips(sorted(root.glob(SUBJECTS)), problems)
        clips, videos = [], {}
        for row in rows:
            subject = sheets.cell_text(row["Subject"])
            filename = sheets.cell_text(row["Filename"])
            onset, apex, offset = (sheets.cell_int(row[c]) for c in ("Onset", "Apex", "Offset"))
            sample_id = f"{subject}_{filename}_{onset}"
            folder = root / subject / filename / "color"
            fault = row_fault(subject, filename, onset, offset, folder,
                              cells={c: row[c] for c in ("Onset", "Apex", "Offset")})
            if fault:
                problems.add(sample_id, row["where"], fault)
                continue
            if folder not in videos:  # one listing per video, shared by its clips
                videos[folder] = frames.numbered_frames(folder)
            clips.append(Clip(subject=subject, sample_id=sample_id,
                              emotion=sheets.cell_text(row["emotion"]), frames=videos[folder],
                              onset=onset, apex=apex, offset=offset, cropped=False,
                              where=row["where"], folder=folder,
                              action_units=sheets.cell_text(row["AU"])))
        return check_unique(clips, problems)
