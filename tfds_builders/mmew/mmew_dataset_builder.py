"""TFDS builder: MMEW's micro-expressions (Ben et al., TPAMI 2021), 300 clips, 90 fps.

manual_dir holds, as the database is released:
  MMEW_Micro_Exp.xlsx   header on row 1: Subject, Filename, OnsetFrame, ApexFrame,
                        OffsetFrame, Action Units ('+'-separated), Estimated Emotion,
                        remarks
  Micro_Expression/<emotion>/<Filename>/<n>.jpg     e.g. surprise/S13-07-001/1.jpg
    (the layout tvaranka/meb reads); the subject-rooted layout of MMEW's own page,
    Micro_Expression/<Subject>/<emotion>/<Filename>/<n>.jpg, is read as well.
The emotion folders are happiness, surprise, disgust, fear, sadness, anger and
repression; the sheet calls the last one 'others'.

Frame numbers: the sheet's OnsetFrame..OffsetFrame are file numbers when the clip's
files carry them; a clip folder whose files are numbered from 1 without the onset
among them is read as frame onset + n - 1 = file n. An apex the sheet lacks, or
one outside onset..offset (some rows of the released sheet), is spotted; an
offset that is missing or past the clip's last file is that last file. Faces are detected on the
onset frame (``preprocess.face``, which also finds a face that fills the frame).

Class sets: 'native' (the seven emotions), 'megc3' (happiness -> positive,
surprise -> surprise, disgust / fear / sadness / anger -> negative, others left
out). Sample ids are the Filename (S13-07-001); subjects S01, S02, ...
"""

from __future__ import annotations

import pathlib

from faceslueth_jax.preprocess import frames
from tfds_builders import sheets
from tfds_builders.features import MEGC_CLASSES
from tfds_builders.me_database import (AU_RELEASE_NOTES, AU_VERSION, Clip, MEDatabaseBuilder,
                                       Problems, check_unique, row_fault)

SHEET = "MMEW_Micro_Exp.xlsx"
FRAMES = "Micro_Expression"
FRAME_COLUMNS = ("OnsetFrame", "ApexFrame", "OffsetFrame")
COLUMNS = ("Subject", "Filename", "OnsetFrame", "ApexFrame", "OffsetFrame", "Action Units",
           "Estimated Emotion")
FOLDER_OF_EMOTION = {"others": "repression"}  # the sheet's label -> its frame folder


def subject_name(cell) -> str:
    """'S13' for the cells 13, 'S13', 's13'; '' for an empty cell."""
    text = sheets.cell_text(cell)
    digits = text[1:] if text[:1] in "Ss" else text
    return f"S{int(digits):02d}" if digits.isdigit() else text


def clip_folder(root: pathlib.Path, subject: str, emotion: str, filename: str) -> pathlib.Path:
    """The clip's folder in either released layout (emotion-rooted first)."""
    emotion_folder = FOLDER_OF_EMOTION.get(emotion, emotion)
    for folder in (root / emotion_folder / filename, root / subject / emotion_folder / filename):
        if folder.is_dir():
            return folder
    return root / emotion_folder / filename  # named in the error


def sheet_numbered(found: dict, onset: int) -> dict:
    """{sheet frame number: path}: the files' own numbers when they hold the onset, else
    files 1..K read as frames onset..onset+K-1."""
    if not found or onset in found or min(found) != 1:
        return found
    return {n + onset - 1: path for n, path in found.items()}


class Mmew(MEDatabaseBuilder):
    """MMEW micro-expressions -> flow/apex records."""

    DATABASE = "mmew"
    MANUAL_DOWNLOAD_INSTRUCTIONS = (
        "MMEW is licensed: request it from its authors (http://www.dpailab.com/database.html, "
        "signed licence agreement). Pass as manual_dir the folder holding MMEW_Micro_Exp.xlsx "
        "and Micro_Expression/<emotion>/<Filename>/1.jpg ...")
    NATIVE_CLASSES = ("happiness", "surprise", "disgust", "fear", "sadness", "anger", "others")
    CLASS_NAMES = {"megc3": MEGC_CLASSES}
    CLASS_MAPS = {"megc3": {"happiness": "positive", "surprise": "surprise",
                            "disgust": "negative", "fear": "negative", "sadness": "negative",
                            "anger": "negative"}}
    HAS_ACTION_UNITS = True
    VERSION, RELEASE_NOTES = AU_VERSION, AU_RELEASE_NOTES

    @classmethod
    def list_clips(cls, manual_dir: pathlib.Path, problems: Problems) -> list[Clip]:
        rows, root = sheets.sheet_and_frames(manual_dir, SHEET, FRAMES, cls.DATABASE, COLUMNS)
        clips = []
        for row in rows:
            subject = subject_name(row["Subject"])
            filename = sheets.cell_text(row["Filename"])
            emotion = sheets.cell_text(row["Estimated Emotion"]).lower()
            folder = clip_folder(root, subject, emotion, filename)
            onset, apex = sheets.cell_int(row["OnsetFrame"]), sheets.cell_int(row["ApexFrame"])
            offset = sheets.cell_int(row["OffsetFrame"])
            found = frames.numbered_frames(folder) if folder.is_dir() else {}
            numbered = sheet_numbered(found, onset) if onset is not None else found
            last = max(numbered, default=None)
            if last is not None and onset is not None and (
                    offset is None or not onset < offset <= last):
                offset = last  # not coded, or past the clip's last file
            fault = row_fault(subject, filename, onset, offset, folder,
                              cells={c: row[c] for c in FRAME_COLUMNS})
            if fault:
                problems.add(filename or "?", row["where"], fault)
                continue
            clips.append(Clip(
                subject=subject, sample_id=filename, emotion=emotion, frames=numbered,
                onset=onset, apex=apex if apex is not None and onset < apex <= offset else None,
                offset=offset, cropped=False, where=row["where"], folder=folder,
                action_units=sheets.cell_text(row["Action Units"])))
        return check_unique(clips, problems)
