"""Miniature ME databases in each database's exact on-disk layout.

Frames are synthetic faces (``tfds_builders.synthetic_me.synthetic_faces``) with one
clear local motion that peaks at a chosen frame, so a spotted apex has a known
answer; grey, or colour (``colour_frame``: R = G = grey, B = grey / 2, so a
swapped channel order shows). Sheets carry the real header rows and column
names, and Action Units cells written as the real sheets write them. Every
writer takes the clips to write, so a test can add the fault it wants to check.
"""

from __future__ import annotations

import dataclasses
import pathlib

import cv2
import numpy as np
import openpyxl

from tfds_builders.synthetic_me import synthetic_faces

NUM_FRAMES = 7
FACE_PX = 64        # synthetic face side
RAW_PAD = (10, 14, 18, 22)  # top, bottom, left, right: a raw frame is the face plus background


@dataclasses.dataclass
class FixtureClip:
    subject: str           # as the database's folders spell it
    filename: str          # clip folder (CASME II EP.., SAMM 006_1_2, SMIC s1_ne_01, CAS(ME)^3 task)
    emotion: str           # as the sheet (or SMIC's folder) spells it
    onset: int = 100       # frame number of the first frame
    apex_index: int = 3    # index of the motion peak within the clip
    action_units: str = "12"  # the sheet's Action Units cell
    num_frames: int = NUM_FRAMES

    @property
    def apex(self) -> int:
        return self.onset + self.apex_index

    @property
    def offset(self) -> int:
        return self.onset + self.num_frames - 1


def colour_frame(grey: np.ndarray) -> np.ndarray:
    """(H, W, 3) BGR for cv2.imwrite: R = G = grey, B = grey // 2."""
    return np.stack([grey // 2, grey, grey], axis=-1)


def clip_frames(seed: int, apex_index: int, raw: bool,
                num_frames: int = NUM_FRAMES) -> np.ndarray:
    """(num_frames, H, W) uint8: a synthetic face whose mouth region moves up by
    up to 3 px, the motion profile peaking at ``apex_index``."""
    rng = np.random.default_rng(seed)
    face = synthetic_faces.make_subject(rng, FACE_PX)
    ys, xs = np.mgrid[0:FACE_PX, 0:FACE_PX].astype(np.float32)
    cx, cy = face.mouth_corner(0)
    bump = np.exp(-((xs - cx) ** 2 + (ys - cy) ** 2) / (2 * 8.0 ** 2))
    field = np.stack([np.zeros_like(bump), -3.0 * bump], axis=-1)
    profile = np.maximum(0.0, 1.0 - np.abs(np.arange(num_frames) - apex_index) / 3.0)
    frames = [synthetic_faces.render(face, p * field) for p in profile]
    frames = np.clip(np.rint(frames), 0, 255).astype(np.uint8)
    if raw:
        top, bottom, left, right = RAW_PAD
        frames = np.stack([cv2.copyMakeBorder(f, top, bottom, left, right, cv2.BORDER_REPLICATE)
                           for f in frames])
    return frames


def write_frames(folder: pathlib.Path, name_of_number, clip: FixtureClip, seed: int,
                 raw: bool, colour: bool = False) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i, frame in enumerate(clip_frames(seed, clip.apex_index, raw, clip.num_frames)):
        cv2.imwrite(str(folder / name_of_number(clip.onset + i)),
                    colour_frame(frame) if colour else frame)


def write_sheet(path: pathlib.Path, header: list, rows: list[list], preamble: int = 0) -> None:
    """An .xlsx whose header sits on row ``preamble + 1`` (SAMM: 13 rows of notes first)."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for i in range(preamble):
        sheet.append([f"note {i + 1}" if i == 0 else None])
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    workbook.save(path)


# ----------------------------------------------------------------- CASME II

CASME2_HEADER = ["Subject", "Filename", None, "OnsetFrame", "ApexFrame", "OffsetFrame", None,
                 "Action Units", "Estimated Emotion"]
CASME2_CLIPS = [FixtureClip("sub01", "EP02_01f", "happiness", 46, 3, "R12"),
                FixtureClip("sub01", "EP19_05f", "disgust", 120, 2, "4+7"),
                FixtureClip("sub02", "EP01_11f", "repression", 30, 4, "L1+L2"),
                FixtureClip("sub02", "EP09_03", "others", 200, 3, "R14A"),
                FixtureClip("sub03", "EP01_5", "surprise", 80, 3, "1+2+25"),
                FixtureClip("sub03", "EP03_03", "fear", 10, 2, "4+38"),
                FixtureClip("sub04", "EP12_02f", "sadness", 55, 4, "15+17")]


CASME2_SHEET = "CASME2-coding-20140508.xlsx"


def casme2_rows(clips, apex_cells: dict | None = None) -> list[list]:
    """The CASME II sheet's rows for ``clips`` (apex_cells: see ``write_casme2``)."""
    apex_cells = apex_cells or {}
    return [[int(c.subject[3:]), c.filename, None, c.onset, apex_cells.get(i, c.apex), c.offset,
             None, c.action_units, c.emotion] for i, c in enumerate(clips)]


# frame folder -> frame file prefix, as CASME II is released
CASME2_FOLDERS = {"Cropped": "reg_img", "CASME2_RAW_selected": "img", "CASME2-RAW": "img"}


def write_casme2(root: pathlib.Path, clips=CASME2_CLIPS, raw: bool = False,
                 apex_cells: dict | None = None, colour: bool = False,
                 folder: str | None = None) -> pathlib.Path:
    """CASME2-coding-20140508.xlsx + Cropped/subXX/EP/reg_imgN.jpg (or the raw
    CASME2_RAW_selected/subXX/EP/imgN.jpg). apex_cells: {clip index: cell value}
    overrides the ApexFrame cell (None or '/' as in the real sheet). folder: the
    frame folder, one of CASME2_FOLDERS (default Cropped, or CASME2_RAW_selected
    with ``raw``; CASME2-RAW holds raw frames too)."""
    root.mkdir(parents=True, exist_ok=True)
    write_sheet(root / CASME2_SHEET, CASME2_HEADER, casme2_rows(clips, apex_cells))
    top = folder or ("CASME2_RAW_selected" if raw else "Cropped")
    prefix = CASME2_FOLDERS[top]
    raw = raw or top != "Cropped"
    for i, c in enumerate(clips):
        write_frames(root / top / c.subject / c.filename, lambda n: f"{prefix}{n}.jpg", c, i, raw,
                     colour)
    return root


# --------------------------------------------------------------------- SAMM

SAMM_HEADER = ["Subject", "Filename", "Inducement Code", "Onset Frame", "Apex Frame",
               "Offset Frame", "Duration", "Micro", "Objective Classes", "Notes",
               "Action Units", "Estimated Emotion"]
SAMM_CLIPS = [FixtureClip("006", "006_1_2", "Anger", 5562, 3, "4A+7B"),
              FixtureClip("006", "006_1_3", "Contempt", 1200, 2, "R14"),
              FixtureClip("007", "007_3_1", "Disgust", 400, 4, "A9E+ref(10)"),
              FixtureClip("007", "007_7_1", "Fear", 900, 3, "ref(5)+20C+25+26"),
              FixtureClip("009", "009_3_8", "Sadness", 300, 3, "A1B+A2C"),
              FixtureClip("011", "011_2_3", "Happiness", 77, 2, "(R6 or R12) + R15"),
              FixtureClip("011", "011_3_1", "Surprise", 150, 4, "1+2+5"),
              FixtureClip("012", "012_6_5", "Other", 60, 3, "T18+39")]


def write_samm(root: pathlib.Path, clips=SAMM_CLIPS, colour: bool = False,
               apex_cells: dict | None = None, offset_cells: dict | None = None) -> pathlib.Path:
    """SAMM_Micro_FACS_Codes_v2.xlsx (header on row 14) + SAMM/006/006_1_2/006_05562.jpg.
    apex_cells, offset_cells: {clip index: cell value} override the Apex Frame and
    Offset Frame cells (-1: not coded, as in the real sheet)."""
    apex_cells, offset_cells = apex_cells or {}, offset_cells or {}
    rows = [[int(c.subject), c.filename, 1, c.onset, apex_cells.get(i, c.apex),
             offset_cells.get(i, c.offset), c.num_frames, "Micro", 1, None, c.action_units,
             c.emotion] for i, c in enumerate(clips)]
    root.mkdir(parents=True, exist_ok=True)
    write_sheet(root / "SAMM_Micro_FACS_Codes_v2.xlsx", SAMM_HEADER, rows, preamble=13)
    for i, c in enumerate(clips):
        write_frames(root / "SAMM" / c.subject / c.filename,
                     lambda n, s=c.subject: f"{s}_{n:05d}.jpg", c, 100 + i, raw=True,
                     colour=colour)
    return root


# ------------------------------------------------------------------ SMIC-HS

SMIC_CLIPS = [FixtureClip("s1", "s1_ne_01", "negative", 1, 3),
              FixtureClip("s1", "s1_po_01", "positive", 1, 2),
              FixtureClip("s2", "s2_sur_01", "surprise", 1, 4),
              FixtureClip("s2", "s2_ne_02", "negative", 1, 3)]


def write_smic(root: pathlib.Path, clips=SMIC_CLIPS, cropped: bool = False) -> pathlib.Path:
    """HS/s1/micro/<emotion>/s1_ne_01/image######.bmp (cropped: reg_image######.bmp)."""
    prefix = "reg_image" if cropped else "image"
    for i, c in enumerate(clips):
        write_frames(root / "HS" / c.subject / "micro" / c.emotion / c.filename,
                     lambda n: f"{prefix}{n:06d}.bmp", c, 200 + i, raw=not cropped)
    return root


# ---------------------------------------------------------------- CAS(ME)^3

CASME3_HEADER = ["Subject", "Filename", "Onset", "Apex", "Offset", "AU", "Objective class",
                 "emotion"]
CASME3_CLIPS = [FixtureClip("spNO.1", "a", "happy", 175, 3, "6+12"),
                FixtureClip("spNO.1", "a", "disgust", 400, 2, "4+9"),
                FixtureClip("spNO.1", "b", "surprise", 90, 4, "1+2"),
                FixtureClip("spNO.2", "c", "fear", 33, 3, "L14"),
                FixtureClip("spNO.2", "d", "anger", 12, 3, "4"),
                FixtureClip("spNO.3", "e", "sad", 60, 2, "B23"),
                FixtureClip("spNO.3", "f", "others", 70, 3, "T28")]


CASME3_SHEET = "cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx"


def write_casme3(root: pathlib.Path, clips=CASME3_CLIPS, archive: bool = False) -> pathlib.Path:
    """cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx + spNO.1/a/color/175.jpg; with
    ``archive`` as Part A unpacks from its archive instead:
    part_A/annotation/cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx +
    part_A/data/part_A/spNO.1/a/color/175.jpg."""
    rows = [[c.subject, c.filename, c.onset, c.apex, c.offset, c.action_units, "1", c.emotion]
            for c in clips]
    sheet_dir = root / "part_A" / "annotation" if archive else root
    frame_dir = root / "part_A" / "data" / "part_A" if archive else root
    sheet_dir.mkdir(parents=True, exist_ok=True)
    write_sheet(sheet_dir / CASME3_SHEET, CASME3_HEADER, rows)
    for i, c in enumerate(clips):
        write_frames(frame_dir / c.subject / c.filename / "color", lambda n: f"{n}.jpg", c,
                     310 + i, raw=True)
    return root


# ----------------------------------------------------- the MEGC2019 composite

# Every emotion string of every database. Ids of mapped clips are MEGC2019 samples
# (tfds_builders/megc2019_composite/megc2019_samples.csv), except EP99_01, which
# the mapping admits but the benchmark does not list.
COMPOSITE_CASME2 = [FixtureClip("sub01", "EP02_01f", "happiness"),
                    FixtureClip("sub01", "EP19_05f", "disgust"),
                    FixtureClip("sub02", "EP01_11f", "repression"),
                    FixtureClip("sub02", "EP11_01", "surprise"),
                    FixtureClip("sub03", "EP03_03", "fear"),
                    FixtureClip("sub03", "EP18_01", "sadness"),
                    FixtureClip("sub04", "EP12_01f", "others"),
                    FixtureClip("sub05", "EP99_01", "disgust")]
COMPOSITE_SAMM = [FixtureClip("006", "006_1_2", "Anger"),
                  FixtureClip("006", "006_1_3", "Contempt"),
                  FixtureClip("006", "006_1_4", "Disgust"),
                  FixtureClip("007", "007_3_1", "Fear"),
                  FixtureClip("006", "006_1_5", "Sadness"),
                  FixtureClip("007", "007_6_1", "Happiness"),
                  FixtureClip("007", "007_7_1", "Surprise"),
                  FixtureClip("009", "009_1_1", "Other")]
COMPOSITE_SMIC = [FixtureClip("s1", "s1_ne_01", "negative"),
                  FixtureClip("s1", "s1_po_01", "positive"),
                  FixtureClip("s2", "s2_sur_01", "surprise")]


def write_composite(root: pathlib.Path, samm_offset_cells: dict | None = None) -> pathlib.Path:
    """casme2/, samm/ and smic_hs/ in their own layouts; samm_offset_cells: see
    ``write_samm``."""
    write_casme2(root / "casme2", COMPOSITE_CASME2)
    write_samm(root / "samm", COMPOSITE_SAMM, offset_cells=samm_offset_cells)
    write_smic(root / "smic_hs", COMPOSITE_SMIC)
    return root


# --------------------------------------------------------------------- MMEW

MMEW_HEADER = ["Subject", "Filename", "OnsetFrame", "ApexFrame", "OffsetFrame", "Action Units",
               "Estimated Emotion", "remarks"]
MMEW_CLIPS = [FixtureClip("S01", "S01-01-001", "happiness", 12, 3, "6+12"),
              FixtureClip("S01", "S01-02-001", "surprise", 40, 2, "1+2+5"),
              FixtureClip("S02", "S02-03-001", "disgust", 7, 4, "4+9"),
              FixtureClip("S02", "S02-04-002", "fear", 1, 3, "4+20"),
              FixtureClip("S03", "S03-05-001", "sadness", 55, 3, "15"),
              FixtureClip("S03", "S03-06-001", "anger", 90, 2, "4+7"),
              FixtureClip("S03", "S03-07-003", "others", 30, 4, "14")]


def write_mmew(root: pathlib.Path, clips=MMEW_CLIPS, subject_rooted: bool = False,
               from_one: tuple = (), apex_cells: dict | None = None,
               offset_cells: dict | None = None) -> pathlib.Path:
    """MMEW_Micro_Exp.xlsx + Micro_Expression/<emotion>/<Filename>/<n>.jpg ('others' in
    the folder 'repression'); ``subject_rooted``: Micro_Expression/<Subject>/<emotion>/...;
    ``from_one``: indices of clips whose files are numbered 1..K instead of
    onset..offset; apex_cells, offset_cells: {clip index: cell} overrides (None: empty)."""
    apex_cells, offset_cells = apex_cells or {}, offset_cells or {}
    rows = [[int(c.subject[1:]), c.filename, c.onset, apex_cells.get(i, c.apex),
             offset_cells.get(i, c.offset), c.action_units, c.emotion, None]
            for i, c in enumerate(clips)]
    root.mkdir(parents=True, exist_ok=True)
    write_sheet(root / "MMEW_Micro_Exp.xlsx", MMEW_HEADER, rows)
    for i, c in enumerate(clips):
        emotion = "repression" if c.emotion == "others" else c.emotion
        folder = root / "Micro_Expression" / (c.subject if subject_rooted else "") / emotion
        shift = 1 - c.onset if i in from_one else 0
        write_frames(folder / c.filename, lambda n, s=shift: f"{n + s}.jpg", c, 400 + i,
                     raw=True)
    return root


# ---------------------------------------------------------------- CAS(ME)^2

# (subject folder, participant id, folder number); videos: (subject, code cell, name, folder)
CASME2ME_SUBJECTS = [("s15", 1, 15), ("s16", 2, 16)]
CASME2ME_VIDEOS = [("s15", 101, "disgust1", "15_0101disgustingteeth"),   # a numeric code cell
                   ("s15", "0401", "anger1", "15_0401girlcrashing"),
                   ("s16", 502, "happy1", "16_0502funnyerrors")]
VIDEO_FRAMES = 60  # every long video: img1.jpg .. img60.jpg
# (participant, expression name, emotion, onset, apex index, AUs, kind); clip = 7 frames
CASME2ME_ROWS = [(1, "disgust1_1", "negative", 10, 3, "4+7", "micro-expression"),
                 (1, "disgust1_2", "negative", 40, 2, "9", "micro-expression"),
                 (1, "anger1_1", "others", 5, 4, "L14", "micro-expression"),
                 (2, "happy1_1", "positive", 20, 3, "12", "micro-expression"),
                 (2, "happy1_2", "positive", 45, 3, "6+12", "macro-expression"),
                 (1, "disgust1_3", "surprise", 25, 3, "1+2", "micro-expression")]


def write_casme2me(root: pathlib.Path, rows=CASME2ME_ROWS, apex_zero: tuple = (),
                   offset_zero: tuple = ()) -> pathlib.Path:
    """CAS(ME)^2code_final.xlsx (three worksheets, no header rows) + rawpic/s15/
    15_0101disgustingteeth/img1.jpg .. img60.jpg, each long video a still face with
    each of its expressions moving at onset..onset+6, peaking at onset + apex index.
    apex_zero, offset_zero: indices of rows whose apex / offset cell is 0 (not coded)."""
    root.mkdir(parents=True, exist_ok=True)
    workbook = openpyxl.Workbook()
    main = workbook.active
    main.title = "CASFEcode_final"
    for i, (participant, name, emotion, onset, apex_index, aus, kind) in enumerate(rows):
        apex = 0 if i in apex_zero else onset + apex_index
        offset = 0 if i in offset_zero else onset + NUM_FRAMES - 1
        main.append([participant, name, onset, apex, offset, aus, emotion, kind, emotion])
    rule1 = workbook.create_sheet("naming rule1")
    for folder, participant, number in CASME2ME_SUBJECTS:
        rule1.append([number, folder, participant])
    rule2 = workbook.create_sheet("naming rule2")
    for _, code, name, _ in CASME2ME_VIDEOS:
        rule2.append([code, name])
    workbook.save(root / "CAS(ME)^2code_final.xlsx")
    for v, (subject, _, name, folder) in enumerate(CASME2ME_VIDEOS):
        video = root / "rawpic" / subject / folder
        video.mkdir(parents=True, exist_ok=True)
        still = clip_frames(500 + v, 100, raw=True, num_frames=1)[0]
        frames = {n: still for n in range(1, VIDEO_FRAMES + 1)}
        for _, expression, _, onset, apex_index, _, _ in rows:
            if expression.split("_")[0] == name:
                for i, f in enumerate(clip_frames(500 + v, apex_index, raw=True)):
                    frames[onset + i] = f
        for n, f in frames.items():
            cv2.imwrite(str(video / f"img{n}.jpg"), f)
    return root
