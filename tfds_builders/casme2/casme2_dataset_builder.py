"""TFDS builder: CASME II (Yan et al. 2014), 26 subjects, 200 fps.

manual_dir holds, as the database is released:
  CASME2-coding-*.xlsx   header on row 1: Subject, Filename, OnsetFrame, ApexFrame,
                         OffsetFrame, Action Units, Estimated Emotion (some apex
                         cells are empty or '/': those apexes are spotted;
                         Action Units become the records' ``au``)
  Cropped/subXX/EPxx_yy/reg_imgN.jpg        faces cropped by the authors (used when
                                            present; no detection), or
  CASME2_RAW_selected/subXX/EPxx_yy/imgN.jpg  raw frames (face detected on onset), or
  CASME2-RAW/subXX/EPxx_yy/imgN.jpg           raw frames as their own archive unpacks
                                            (likewise)
The first of these folders present is used. Frame numbers in the sheet are the N
of the file names.
Sample ids are '<subXX>_<Filename>', as in the MEGC2019 composite.
Class set 'five' is the reference's CASME2_5.py: 0 happiness, 1 repression,
2 disgust, 3 surprise, 4 others (fear and sadness excluded).
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

SHEET = "CASME2-coding-*.xlsx"
COLUMNS = ("Subject", "Filename", "OnsetFrame", "ApexFrame", "OffsetFrame",
           "Action Units", "Estimated Emotion")
FRAME_COLUMNS = ("OnsetFrame", "ApexFrame", "OffsetFrame")


# frame folders in order of preference: (folder, frame file prefix, already cropped)
FRAME_FOLDERS = (("Cropped", "reg_img", True), ("CASME2_RAW_selected", "img", False),
                 ("CASME2-RAW", "img", False))


def frame_root(manual_dir: pathlib.Path) -> tuple[pathlib.Path, str, bool]:
    """(folder of subject folders, frame file prefix, already cropped) of the first
    of ``FRAME_FOLDERS`` in ``manual_dir``."""
    for folder, prefix, cropped in FRAME_FOLDERS:
        if (manual_dir / folder).is_dir():
            return manual_dir / folder, prefix, cropped
    names = ", ".join(f"{folder}/" for folder, _, _ in FRAME_FOLDERS)
    raise BadInputError(f"casme2: no frame folder ({names}) in {manual_dir}")


class Casme2(MEDatabaseBuilder):
    """CASME II micro-expressions -> flow/apex records."""

    DATABASE = "casme2"
    MANUAL_DOWNLOAD_INSTRUCTIONS = (
        "CASME II is licensed: request it from the CASME team (http://casme.psych.ac.cn/casme/e2). "
        "Pass as manual_dir the folder holding CASME2-coding-*.xlsx and Cropped/subXX/EPxx_yy/"
        "reg_imgN.jpg (or CASME2_RAW_selected/subXX/EPxx_yy/imgN.jpg, or CASME2-RAW/subXX/"
        "EPxx_yy/imgN.jpg).")
    NATIVE_CLASSES = ("happiness", "disgust", "repression", "surprise", "fear", "sadness",
                      "others")
    CLASS_NAMES = {"megc3": MEGC_CLASSES,
                   "five": ("happiness", "repression", "disgust", "surprise", "others")}
    CLASS_MAPS = {"megc3": {"disgust": "negative", "repression": "negative",
                            "happiness": "positive", "surprise": "surprise"},
                  "five": {e: e for e in CLASS_NAMES["five"]}}
    HAS_ACTION_UNITS = True  # the sheet's "Action Units" column ('4+7', 'R12', 'L1+L2')
    VERSION, RELEASE_NOTES = AU_VERSION, AU_RELEASE_NOTES

    @classmethod
    def list_clips(cls, manual_dir: pathlib.Path, problems: Problems) -> list[Clip]:
        rows = sheets.read_sheet(sheets.find_one(manual_dir, SHEET, cls.DATABASE),
                                 cls.DATABASE, COLUMNS)
        root, prefix, cropped = frame_root(manual_dir)
        subject_folders_without_clips(root.iterdir(), problems)
        clips = []
        for row in rows:
            number = sheets.cell_int(row["Subject"])
            filename = sheets.cell_text(row["Filename"])
            subject = f"sub{number:02d}" if number is not None else sheets.cell_text(row["Subject"])
            sample_id = f"{subject}_{filename}"
            folder = root / subject / filename
            onset, offset = sheets.cell_int(row["OnsetFrame"]), sheets.cell_int(row["OffsetFrame"])
            fault = row_fault(subject if number is not None else "", filename, onset,
                              offset or 0, folder,  # some rows give no offset
                              cells={c: row[c] for c in FRAME_COLUMNS})
            if fault:
                problems.add(sample_id, row["where"], fault)
                continue
            numbered = frames.numbered_frames(folder, prefix)
            clips.append(Clip(
                subject=subject, sample_id=sample_id,
                emotion=sheets.cell_text(row["Estimated Emotion"]), frames=numbered,
                onset=onset, apex=sheets.cell_int(row["ApexFrame"]),
                offset=offset if offset is not None else max(numbered, default=onset),
                cropped=cropped, where=row["where"], folder=folder,
                action_units=sheets.cell_text(row["Action Units"])))
        return check_unique(clips, problems)
