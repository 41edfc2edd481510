"""TFDS builder: CAS(ME)^2's micro-expressions (Qu et al., IEEE TAC 2018): 57 micro-
expressions of 22 subjects, coded inside long videos, 30 fps.

manual_dir holds, as the database is released:
  CAS(ME)^2code_final.xlsx (or CAS(ME)^2code_final(Updated).xlsx), three worksheets
  without header rows:
    1 (CASFEcode_final, in some releases CASMEcode_final): participant id, expression
      name (anger1_1), onset, apex, offset, action units, estimated emotion,
      expression type (micro-expression | macro-expression), self-reported emotion
    2 (naming rule1): folder number (15), subject folder (s15), participant id
    3 (naming rule2): video code (0101, read as 4 digits), video name (disgust1)
  rawpic/s15/15_0101disgustingteeth/img1.jpg ...  every frame of each long video

A micro-expression row (expression type 'micro-expression'; macro-expressions are
left out) names its video by the name before '_' (anger1 of anger1_1), whose code
from naming rule2 finds the folder rawpic/s<NN>/<NN>_<code>*; its onset, apex and
offset are frame numbers of that video (the img<N> file numbers), so the clip is cut
from the long video. The sheet codes an unknown apex or offset as 0: such an apex
is spotted over onset..offset, such an offset is the apex (the clip ends at its
peak). Faces are detected on the onset frame.

Class sets: 'native' and 'megc3' are the estimated emotion (negative, positive,
surprise; 'others' left out of megc3). Sample ids: s15_anger1_1.
"""

from __future__ import annotations

import pathlib

from faceslueth_jax.preprocess import frames
from tfds_builders import sheets
from tfds_builders.errors import BadInputError
from tfds_builders.features import MEGC_CLASSES
from tfds_builders.me_database import (AU_RELEASE_NOTES, AU_VERSION, Clip, MEDatabaseBuilder,
                                       Problems, check_unique)

SHEET_GLOB = "CAS(ME)^2code_final*.xlsx"
FRAMES = "rawpic"
MICRO = "micro-expression"


def naming_rules(rule1: list, rule2: list, where: str) -> tuple[dict, dict]:
    """({participant id: (folder number, subject folder)}, {video name: 4-digit code})."""
    subjects, videos = {}, {}
    for number, values in rule1:
        folder_number, folder, participant = (list(values) + [None] * 3)[:3]
        if sheets.cell_int(folder_number) is None or sheets.cell_int(participant) is None:
            raise BadInputError(f"casme2me: {where} 'naming rule1' row {number}: expected "
                                f"folder number, subject folder, participant id; got {values}")
        subjects[sheets.cell_int(participant)] = (sheets.cell_int(folder_number),
                                                  sheets.cell_text(folder))
    for number, values in rule2:
        code, name = (list(values) + [None] * 2)[:2]
        if sheets.cell_int(code) is None or not sheets.cell_text(name):
            raise BadInputError(f"casme2me: {where} 'naming rule2' row {number}: expected "
                                f"video code, video name; got {values}")
        videos[sheets.cell_text(name).lower()] = f"{sheets.cell_int(code):04d}"
    return subjects, videos


class Casme2me(MEDatabaseBuilder):
    """CAS(ME)^2 micro-expressions -> flow/apex records."""

    DATABASE = "casme2me"
    MANUAL_DOWNLOAD_INSTRUCTIONS = (
        "CAS(ME)^2 is licensed: request it from the Institute of Psychology, Chinese Academy "
        "of Sciences (http://casme.psych.ac.cn/casme/e3, licence agreement). Pass as "
        "manual_dir the folder holding CAS(ME)^2code_final.xlsx and "
        "rawpic/s15/15_0101disgustingteeth/img1.jpg ...")
    NATIVE_CLASSES = ("negative", "positive", "surprise", "others")
    CLASS_NAMES = {"megc3": MEGC_CLASSES}
    CLASS_MAPS = {"megc3": {e: e for e in MEGC_CLASSES}}
    HAS_ACTION_UNITS = True
    VERSION, RELEASE_NOTES = AU_VERSION, AU_RELEASE_NOTES

    @classmethod
    def list_clips(cls, manual_dir: pathlib.Path, problems: Problems) -> list[Clip]:
        sheet = sheets.find_one(manual_dir, SHEET_GLOB, cls.DATABASE)
        main, rule1, rule2 = sheets.read_worksheets(sheet, cls.DATABASE, 3)
        subjects, videos = naming_rules(rule1, rule2, sheet.name)
        root = manual_dir / FRAMES
        if not root.is_dir():
            raise BadInputError(f"casme2me: frame folder {root} not found")
        clips = []
        for number, values in main:
            where = f"{sheet.name} row {number}"
            cells = (list(values) + [None] * 9)[:9]
            participant, name, onset, apex, offset, aus, emotion, kind, _ = cells
            if sheets.cell_text(kind).lower() != MICRO:
                continue  # a macro-expression
            name = sheets.cell_text(name)
            video = name.split("_")[0].lower()
            subject = subjects.get(sheets.cell_int(participant))
            sample_id = f"{subject[1] if subject else participant}_{name}"
            fault = sheets.number_fault({"onset": onset, "apex": apex, "offset": offset})
            if fault:
                problems.add(sample_id, where, fault)
                continue
            onset, apex, offset = map(sheets.cell_int, (onset, apex, offset))
            if subject is None:
                problems.add(sample_id, where, f"participant {participant!r} is not in "
                                               "'naming rule1'")
                continue
            if video not in videos:
                problems.add(sample_id, where, f"video name {video!r} is not in 'naming rule2'")
                continue
            folder_number, folder_name = subject
            found = sorted((root / folder_name).glob(f"{folder_number}_{videos[video]}*"))
            if len(found) != 1 or not found[0].is_dir():
                problems.add(sample_id, where, f"expected one video folder "
                             f"{root / folder_name}/{folder_number}_{videos[video]}*, found "
                             f"{[p.name for p in found] or 'none'}")
                continue
            apex = apex or None
            offset = offset or apex
            if not onset or offset is None:
                problems.add(sample_id, where, "onset, or both apex and offset, not coded")
                continue
            clips.append(Clip(
                subject=folder_name, sample_id=sample_id,
                emotion=sheets.cell_text(emotion).lower(),
                frames=frames.numbered_frames(found[0], "img"), onset=onset, apex=apex,
                offset=offset, cropped=False, where=where, folder=found[0],
                action_units=sheets.cell_text(aus)))
        return check_unique(clips, problems)
