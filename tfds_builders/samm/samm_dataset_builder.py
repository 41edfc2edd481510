"""TFDS builder: SAMM (Davison et al. 2018), 32 subjects, 159 micro-expressions, 200 fps.

manual_dir holds, as the database is released:
  SAMM_Micro_FACS_Codes_v2.xlsx   header on row 14: Subject, Filename, Inducement Code,
                                  Onset Frame, Apex Frame, Offset Frame, Duration,
                                  Micro, Objective Classes, Notes, Action Units,
                                  Estimated Emotion
  SAMM/006/006_1_2/006_05562.jpg  raw frames (960x650 grey); face detected on onset
Frame numbers in the sheet are the trailing number of the file names. The sheet
codes an unknown apex or offset as -1: such an apex is spotted, such an offset
is the clip's last frame.
Sample ids are '<subject>_<Filename>' (006_006_1_2), as in the MEGC2019 composite.
Action Units become the records' ``au`` (the sheet's symbol key: '/' = or,
L/R unilateral, A asymmetric; see ``tfds_builders.action_units``).
Class set 'five' is the reference's SAMM_5.py: 0 happiness, 1 anger, 2 contempt,
3 surprise, 4 other (disgust, fear and sadness excluded).
"""

from __future__ import annotations

import pathlib

from faceslueth_jax.preprocess import frames
from tfds_builders import sheets
from tfds_builders.features import MEGC_CLASSES
from tfds_builders.me_database import (AU_RELEASE_NOTES, AU_VERSION, Clip, MEDatabaseBuilder,
                                       Problems, check_unique, row_fault,
                                       subject_folders_without_clips)

SHEET = "SAMM_Micro_FACS_Codes_v2.xlsx"
HEADER_ROW = 14
COLUMNS = ("Subject", "Filename", "Onset Frame", "Apex Frame", "Offset Frame",
           "Action Units", "Estimated Emotion")
FRAME_COLUMNS = ("Onset Frame", "Apex Frame", "Offset Frame")


class Samm(MEDatabaseBuilder):
    """SAMM micro-expressions -> flow/apex records."""

    DATABASE = "samm"
    MANUAL_DOWNLOAD_INSTRUCTIONS = (
        "SAMM is licensed: request it from Manchester Metropolitan University "
        "(http://www2.docm.mmu.ac.uk/STAFF/M.Yap/dataset.php). Pass as manual_dir the folder "
        "holding SAMM_Micro_FACS_Codes_v2.xlsx and SAMM/006/006_1_2/006_05562.jpg ...")
    NATIVE_CLASSES = ("anger", "contempt", "disgust", "fear", "happiness", "sadness",
                      "surprise", "other")
    CLASS_NAMES = {"megc3": MEGC_CLASSES,
                   "five": ("happiness", "anger", "contempt", "surprise", "other")}
    CLASS_MAPS = {"megc3": {"anger": "negative", "contempt": "negative", "disgust": "negative",
                            "fear": "negative", "sadness": "negative",
                            "happiness": "positive", "surprise": "surprise"},
                  "five": {e: e for e in CLASS_NAMES["five"]}}
    HAS_ACTION_UNITS = True  # "Action Units" ('R14', 'A12B+7C', '(R6 or R12)+R15')
    VERSION, RELEASE_NOTES = AU_VERSION, AU_RELEASE_NOTES

    @classmethod
    def list_clips(cls, manual_dir: pathlib.Path, problems: Problems) -> list[Clip]:
        rows, root = sheets.sheet_and_frames(manual_dir, SHEET, "SAMM", cls.DATABASE, COLUMNS,
                                             header_row=HEADER_ROW)
        subject_folders_without_clips(root.iterdir(), problems)
        clips = []
        for row in rows:
            number = sheets.cell_int(row["Subject"])
            subject = f"{number:03d}" if number is not None else sheets.cell_text(row["Subject"])
            filename = sheets.cell_text(row["Filename"])
            sample_id = f"{subject}_{filename}"
            folder = root / subject / filename
            onset, offset = sheets.cell_int(row["Onset Frame"]), sheets.cell_int(row["Offset Frame"])
            apex = sheets.cell_int(row["Apex Frame"])
            fault = row_fault(subject if number is not None else "", filename, onset, offset,
                              folder, cells={c: row[c] for c in FRAME_COLUMNS})
            if fault:
                problems.add(sample_id, row["where"], fault)
                continue
            numbered = frames.numbered_frames(folder, f"{subject}_")
            clips.append(Clip(
                subject=subject, sample_id=sample_id,
                emotion=sheets.cell_text(row["Estimated Emotion"]), frames=numbered,
                onset=onset, apex=apex if apex is not None and apex >= 0 else None,
                offset=offset if offset >= 0 else max(numbered, default=onset),
                cropped=False, where=row["where"], folder=folder,
                action_units=sheets.cell_text(row["Action Units"])))
        return check_unique(clips, problems)
