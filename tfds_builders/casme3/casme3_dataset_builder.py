"""TFDS builder: CAS(ME)^3 Part A (Li et al. 2022), 30 fps colour video.

manual_dir holds, as the database is released:
  cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx  header on row 1: Subject, Filename,
      Onset, Apex, Offset, AU, Objective class, emotion
  spNO.1/b/color/175.jpg       frames of subject spNO.1's task video b, numbered as
                               the sheet's Onset/Apex/Offset; face detected on onset
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


class Casme3(MEDatabaseBuilder):
    """CAS(ME)^3 Part A micro-expressions -> flow/apex records."""

    DATABASE = "casme3"
    MANUAL_DOWNLOAD_INSTRUCTIONS = (
        "CAS(ME)^3 is licensed: request it from the CASME team (http://casme.psych.ac.cn/casme/e4). "
        "Pass as manual_dir the Part A folder holding "
        "cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx and spNO.1/a/color/175.jpg ...")
    NATIVE_CLASSES = ("anger", "disgust", "fear", "happy", "others", "sad", "surprise")
    CLASS_NAMES = {"megc3": MEGC_CLASSES}
    CLASS_MAPS = {"megc3": {"anger": "negative", "disgust": "negative", "fear": "negative",
                            "sad": "negative", "happy": "positive", "surprise": "surprise"}}
    HAS_ACTION_UNITS = True  # the sheet's "AU" column ('4+7', 'L14', 'B23')
    VERSION, RELEASE_NOTES = AU_VERSION, AU_RELEASE_NOTES

    @classmethod
    def list_clips(cls, manual_dir: pathlib.Path, problems: Problems) -> list[Clip]:
        sheet = manual_dir / SHEET
        if not sheet.is_file():
            raise BadInputError(f"casme3: {sheet} not found")
        rows = sheets.read_sheet(sheet, cls.DATABASE, COLUMNS)
        subject_folders_without_clips(sorted(manual_dir.glob("spNO.*")), problems)
        clips, videos = [], {}
        for row in rows:
            subject = sheets.cell_text(row["Subject"])
            filename = sheets.cell_text(row["Filename"])
            onset, apex, offset = (sheets.cell_int(row[c]) for c in ("Onset", "Apex", "Offset"))
            sample_id = f"{subject}_{filename}_{onset}"
            folder = manual_dir / subject / filename / "color"
            fault = row_fault(subject, filename, onset, offset, folder)
            if fault:
                problems.add(sample_id, row["where"], fault)
                continue
            if folder not in videos:  # one listing per video, shared by its clips
                videos[folder] = frames.numbered_frames(folder)
            clips.append(Clip(subject=subject, sample_id=sample_id,
                              emotion=sheets.cell_text(row["emotion"]), frames=videos[folder],
                              onset=onset, apex=apex, offset=offset, cropped=False,
                              where=row["where"], action_units=sheets.cell_text(row["AU"])))
        return check_unique(clips, problems)
