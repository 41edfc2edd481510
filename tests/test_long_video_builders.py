"""The long-video builders (casme2_lv, samm_lv) on miniature fixtures in each database's
layout: every video folder a record, events as frame indices from the video's first
frame, the sheets' missing-value rules, and bad input named (file and row) or skipped."""

from __future__ import annotations

import pathlib
import shutil

import cv2
import numpy as np
import openpyxl
import pytest

from tests import database_fixtures as fx
from tfds_builders import building, registry
from tfds_builders.casme2_lv import Casme2Lv
from tfds_builders.errors import BadInputError
from tfds_builders.me_database import Problems
from tfds_builders.samm_lv import SammLv
from tfds_builders.samm_lv import samm_lv_dataset_builder as samm_lv

BUILD = {"flow_size": 16}  # tiny face crops keep TV-L1 fast
MEGC = {"negative": 0, "positive": 1, "surprise": 2}


def build(name: str, manual_dir, data_dir, on_error: str = "raise", **fields):
    builder = registry.long_video_builder(name, str(data_dir), build={**BUILD, **fields},
                                          on_error=on_error)
    building.build(builder, str(manual_dir))
    return builder


def by_video(builder) -> dict:
    """{video_id: record} read back (text fields decoded)."""
    source = builder.as_data_source()["train"]
    out = {}
    for i in range(len(source)):
        r = dict(source[i])
        for key in ("video_id", "subject", "dataset"):
            r[key] = r[key].decode() if isinstance(r[key], bytes) else r[key]
        out[r["video_id"]] = r
    return out


def events_of(record) -> list:
    return list(zip(*(record[f"event_{k}"].tolist()
                      for k in ("onset", "apex", "offset", "kind", "label"))))


def nothing_written(data_dir: pathlib.Path) -> bool:
    return not [p for p in data_dir.rglob("*") if p.is_file() and ".config" not in p.parts
                and p.suffix != ".lock"]


# ---------------------------------------------------------------- CAS(ME)^2

CASME2_SHEET = "CAS(ME)^2code_final.xlsx"
APEX_ZERO, OFFSET_ZERO = (1,), (3,)  # disgust1_2's apex and happy1_1's offset coded 0
EXTRA_VIDEO = ("s16", "16_0401girlcrashing")  # a video folder no row codes
VIDEO_OF = {"disgust1": "15_0101disgustingteeth", "anger1": "15_0401girlcrashing",
            "happy1": "16_0502funnyerrors"}
SUBJECT_OF = {1: "s15", 2: "s16"}


def write_casme2(root: pathlib.Path) -> pathlib.Path:
    """database_fixtures' CAS(ME)^2 (s15: two videos, s16: one) and a fourth video
    folder, s16/16_0401girlcrashing, that the coding sheet does not mention."""
    manual = fx.write_casme2me(root, apex_zero=APEX_ZERO, offset_zero=OFFSET_ZERO)
    shutil.copytree(manual / "rawpic" / "s15" / "15_0401girlcrashing",
                    manual / "rawpic" / EXTRA_VIDEO[0] / EXTRA_VIDEO[1])
    return manual


def casme2_expected() -> dict:
    """{video_id: [(onset, apex, offset, kind, megc3 label)]} in frame indices (the
    fixture numbers frames from 1), with the sheet's 0 = not coded rules."""
    out = {v: [] for v in list(VIDEO_OF.values()) + [EXTRA_VIDEO[1]]}
    for i, (_, name, emotion, onset, apex_index, _, kind) in enumerate(fx.CASME2ME_ROWS):
        apex, offset = onset + apex_index, onset + fx.NUM_FRAMES - 1
        if i in OFFSET_ZERO:
            offset = apex
        if i in APEX_ZERO:
            apex = (onset + offset) // 2
        out[VIDEO_OF[name.split("_")[0]]].append(
            (onset - 1, apex - 1, offset - 1, 0 if kind == "micro-expression" else 1,
             MEGC.get(emotion, -1)))
    return {v: sorted(e) for v, e in out.items()}


def edit_workbook(manual: pathlib.Path, edit) -> None:
    path = manual / CASME2_SHEET
    workbook = openpyxl.load_workbook(path)
    edit(workbook)
    workbook.save(path)


def set_cell(row: int, column: int, value):
    """An edit of the coding sheet's cell (1-based row and column)."""
    def edit(workbook):
        workbook.worksheets[0].cell(row=row, column=column, value=value)
    return edit


@pytest.fixture(scope="module")
def casme2_built(tmp_path_factory):
    root = tmp_path_factory.mktemp("casme2_lv")
    return build("casme2_lv", write_casme2(root / "manual"), root / "tfds")


def test_casme2_every_video_folder_is_a_record_with_its_events(casme2_built):
    got = by_video(casme2_built)
    expected = casme2_expected()
    assert sorted(got) == sorted(expected)  # the uncoded video too
    for video_id, events in expected.items():
        r = got[video_id]
        assert r["subject"] == "s" + video_id[:2] and r["dataset"] == "casme2_lv"
        assert events_of(r) == events, video_id
        assert r["fps"] == 30.0 and r["spans"].tolist() == [15, 60]
        assert r["blocks"].shape == (fx.VIDEO_FRAMES, 2, 36) and np.isfinite(r["blocks"]).all()
        assert r["face_box"][2] > 0
    assert events_of(got[EXTRA_VIDEO[1]]) == []
    assert casme2_built.info.metadata["skipped"] == []
    assert list(casme2_built.info.metadata["class_names"]) == ["negative", "positive",
                                                                "surprise"]


def test_casme2_native_labels_and_zero_coded_apex_and_offset(tmp_path):
    manual = write_casme2(tmp_path / "manual")
    problems = Problems()
    videos = {v.video_id: v for v in Casme2Lv.list_videos(manual, problems)}
    assert not problems
    events = {e.where: e for v in videos.values() for e in v.events}
    # row 2 (disgust1_2): onset 40, apex 0, offset 46 -> apex the midpoint 43 (index 42)
    row2 = events[f"{CASME2_SHEET} row 2"]
    assert (row2.onset, row2.apex, row2.offset) == (39, 42, 45)
    # row 4 (happy1_1): onset 20, apex 23, offset 0 -> offset the apex (index 22)
    row4 = events[f"{CASME2_SHEET} row 4"]
    assert (row4.onset, row4.apex, row4.offset) == (19, 22, 22)
    assert [e.kind for e in videos["16_0502funnyerrors"].events] == ["micro", "macro"]
    native = registry.long_video_builder("casme2_lv", str(tmp_path / "tfds"),
                                         build={**BUILD, "classes": "native"})
    assert [native.label(e) for e in ("negative", "positive", "surprise", "others", "?")] == [
        0, 1, 2, 3, -1]


def test_casme2_frame_numbering_padded_names_and_the_naming_rule1_fallback(tmp_path):
    manual = write_casme2(tmp_path / "manual")
    reference = {v.video_id: v.events for v in Casme2Lv.list_videos(manual, Problems())}
    # 15_0401girlcrashing numbered img100.jpg .. img159.jpg (zero-padded to 3 digits), its
    # row shifted by 99: the same frame indices
    folder = manual / "rawpic" / "s15" / "15_0401girlcrashing"
    for n in range(fx.VIDEO_FRAMES, 0, -1):
        (folder / f"img{n}.jpg").rename(folder / f"img{n + 99:03d}.jpg")

    def shift_and_renumber(workbook):
        main = workbook.worksheets[0]
        for row in main.iter_rows(min_row=1):
            if str(row[1].value).startswith("anger1"):
                for cell in row[2:5]:
                    cell.value += 99
            row[0].value = {1: 15, 2: 16}[row[0].value]  # participants as folder numbers
        rule1 = workbook.worksheets[1]
        rule1.delete_rows(1, rule1.max_row)
        rule1.append(["a note, not a naming row"])
    edit_workbook(manual, shift_and_renumber)
    problems = Problems()
    videos = Casme2Lv.list_videos(manual, problems)
    assert not problems
    assert {v.video_id: v.events for v in videos} == reference
    assert {v.video_id: v.subject for v in videos}["15_0401girlcrashing"] == "s15"
    assert len(next(v for v in videos if v.video_id == "15_0401girlcrashing").frames) == 60


# row 1 of the coding sheet: disgust1_1, onset 10, apex 13, offset 16 of 15_0101disgustingteeth
CASME2_ROW_FAULTS = {  # fault -> (edit, the text the problem must hold)
    "frame not a number": (set_cell(1, 5, "/"), "onset, apex or offset is not a number"),
    "onset after offset": (set_cell(1, 3, 20), "onset 20, apex 13, offset 16 (frame numbers)"),
    "outside the video": (set_cell(1, 5, 64), "within the video's frames 1..60"),
    "unknown type": (set_cell(1, 8, "blink"), "type 'blink' is neither"),
    "video not in naming rule2": (set_cell(1, 2, "joy1_1"), "video name 'joy1' is not in"),
    "no video folder": (lambda wb: wb.worksheets[2].append(["0999", "joy1"]),
                        "expected one video folder"),
    "name outside": (set_cell(1, 2, "../../etc_1"), "leads outside the database's folder"),
}


@pytest.mark.parametrize("fault", sorted(CASME2_ROW_FAULTS))
def test_casme2_row_faults_name_file_and_row(tmp_path, fault):
    edit, text = CASME2_ROW_FAULTS[fault]
    manual = write_casme2(tmp_path / "manual")
    if fault == "no video folder":
        edit_workbook(manual, edit)
        edit = set_cell(1, 2, "joy1_1")
    edit_workbook(manual, edit)
    problems = Problems()
    Casme2Lv.list_videos(manual, problems)
    (problem,) = problems
    assert problem.where == f"{CASME2_SHEET} row 1" and text in problem.reason, str(problem)


def test_casme2_onset_after_offset_fails_the_build_naming_file_and_row(tmp_path):
    manual = write_casme2(tmp_path / "manual")
    edit_workbook(manual, set_cell(1, 3, 20))
    with pytest.raises(BadInputError) as raised:
        build("casme2_lv", manual, tmp_path / "tfds")
    message = str(raised.value)
    assert message.startswith("casme2_lv: 1 problem(s)")
    assert f"{CASME2_SHEET} row 1: 15_0101disgustingteeth: onset 20, apex 13" in message
    assert nothing_written(tmp_path / "tfds")


def test_casme2_missing_worksheet_is_one_line_naming_the_file(tmp_path):
    manual = write_casme2(tmp_path / "manual")
    edit_workbook(manual, lambda wb: wb.remove(wb["naming rule2"]))
    with pytest.raises(BadInputError) as raised:
        build("casme2_lv", manual, tmp_path / "tfds")
    message = str(raised.value)
    assert "\n" not in message and CASME2_SHEET in message and "expected 3" in message
    assert nothing_written(tmp_path / "tfds")


def test_casme2_missing_frame_fails_or_leaves_its_video_out(tmp_path):
    manual = write_casme2(tmp_path / "manual")
    gone = manual / "rawpic" / "s16" / "16_0502funnyerrors" / "img30.jpg"
    gone.unlink()
    with pytest.raises(BadInputError) as raised:
        build("casme2_lv", manual, tmp_path / "tfds")
    assert "16_0502funnyerrors: missing frame(s) [30]" in str(raised.value)
    assert str(gone) in str(raised.value)
    assert nothing_written(tmp_path / "tfds")
    assert not building.is_built(registry.long_video_builder("casme2_lv", str(tmp_path / "tfds"),
                                                             build=BUILD))
    skipping = build("casme2_lv", manual, tmp_path / "tfds", on_error="skip")
    assert sorted(by_video(skipping)) == sorted(set(casme2_expected()) - {"16_0502funnyerrors"})
    (skipped,) = skipping.info.metadata["skipped"]
    assert "16_0502funnyerrors" in skipped and "missing frame(s) [30]" in skipped


# ---------------------------------------------------------------- SAMM Long Videos

SAMM_HEADER = ["Subject", "Filename", "Inducement Code", "Onset", "Apex", "Offset", "Duration",
               "Type", "Action Units", "Notes"]
SAMM_FRAMES = 270  # more than the longest span at 200 fps (260) + 1
# (Filename, Onset, Apex, Offset, Type): frame numbers of the video (files from 0001)
SAMM_ROWS = [("006_1_1", 30, 45, 70, "Micro - 1/2"),
             ("006_1_2", 100, -1, 200, "Macro"),        # apex -1: the midpoint 150
             ("006_1_3", 0, 0, 250, "Macro"),           # Macro with onset 0: left out
             ("006_2_1", 10, 20, 0, "Micro - 1/2"),     # offset 0: the apex
             ("006_2_2", 120, 150, 240, "macro")]


def write_samm(root: pathlib.Path, rows=SAMM_ROWS, videos=None, header=SAMM_HEADER,
               worksheet: str = samm_lv.WORKSHEET) -> pathlib.Path:
    """SAMM_LongVideos_V1_Release.xlsx (nine rows of notes, the header on row 10) +
    SAMM_longvideos/006_1/006_1_0001.jpg ...: ``videos`` {video id: frame count}, each
    a still synthetic face."""
    videos = videos or {"006_1": SAMM_FRAMES, "006_2": SAMM_FRAMES}
    root.mkdir(parents=True, exist_ok=True)
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = worksheet
    for i in range(samm_lv.HEADER_ROW - 1):
        sheet.append([f"note {i + 1}" if i in (0, 3) else None])
    sheet.append(header)
    for filename, onset, apex, offset, kind in rows:
        duration = offset - onset + 1 if {type(onset), type(offset)} == {int} else None
        sheet.append([6, filename, 1, onset, apex, offset, duration, kind, "12", None])
    workbook.save(root / samm_lv.SHEET)
    for v, (video_id, count) in enumerate(videos.items()):
        folder = root / samm_lv.FRAMES / video_id
        folder.mkdir(parents=True)
        still = fx.clip_frames(700 + v, 100, raw=True, num_frames=1)[0]
        data = cv2.imencode(".jpg", still)[1].tobytes()
        for n in range(1, count + 1):
            (folder / f"{video_id}_{n:04d}.jpg").write_bytes(data)
    return root


def test_samm_build_events_dropped_rows_and_labels(tmp_path):
    builder = build("samm_lv", write_samm(tmp_path / "manual"), tmp_path / "tfds")
    got = by_video(builder)
    assert sorted(got) == ["006_1", "006_2"]
    assert events_of(got["006_1"]) == [(29, 44, 69, 0, -1), (99, 149, 199, 1, -1)]
    assert events_of(got["006_2"]) == [(9, 19, 19, 0, -1), (119, 149, 239, 1, -1)]
    for r in got.values():
        assert r["subject"] == "006" and r["dataset"] == "samm_lv" and r["fps"] == 200.0
        assert r["spans"].tolist() == [100, 400]
        assert r["blocks"].shape == (SAMM_FRAMES, 2, 36) and np.isfinite(r["blocks"]).all()
    fresh = registry.long_video_builder("samm_lv", str(tmp_path / "tfds"), build=BUILD)
    assert list(fresh.info.metadata["dropped_rows"]) == [
        f"{samm_lv.SHEET} row 13: 006_1_3: Macro with onset 0"]  # kept with the records
    assert builder.info.metadata["skipped"] == []
    native = registry.long_video_builder("samm_lv", str(tmp_path / "tfds"),
                                         build={**BUILD, "classes": "native"})
    assert native.label("") == -1 and native.class_names() == ()


SAMM_ROW_FAULTS = {  # fault -> (rows, the problem's video, text it must hold)
    "onset after offset": ([("006_1_1", 80, 85, 70, "Micro - 1/2")], "006_1",
                           "onset 80, apex 85, offset 70"),
    "outside the video": ([("006_1_1", 250, 260, 280, "Macro")], "006_1",
                          "within the video's frames 1..270"),
    "not a number": ([("006_1_1", "-", 45, 70, "Micro - 1/2")], "006_1", "is not a number"),
    "unknown type": ([("006_1_1", 30, 45, 70, "Blink")], "006_1", "Type 'Blink' is neither"),
    "no video folder": ([("009_3_1", 30, 45, 70, "Micro - 1/2")], "009_3",
                        f"{pathlib.Path(samm_lv.FRAMES, '009_3')} (of Filename '009_3_1') "
                        "is missing"),
    "name outside": ([("../006_1_1", 30, 45, 70, "Micro - 1/2")], "../006_1_1",
                     "leads outside"),
}


@pytest.mark.parametrize("fault", sorted(SAMM_ROW_FAULTS))
def test_samm_row_faults_name_file_and_row(tmp_path, fault):
    rows, video_id, text = SAMM_ROW_FAULTS[fault]
    manual = write_samm(tmp_path / "manual", rows=[SAMM_ROWS[3]] + rows,
                        videos={"006_1": SAMM_FRAMES, "006_2": SAMM_FRAMES})
    problems = Problems()
    videos = SammLv.list_videos(manual, problems)
    (problem,) = problems
    assert (problem.sample_id, problem.where) == (video_id, f"{samm_lv.SHEET} row 12")
    assert text in problem.reason, str(problem)
    assert [e.onset for e in next(v for v in videos if v.video_id == "006_2").events] == [9]


def test_samm_gaps_short_videos_and_videos_without_rows(tmp_path):
    manual = write_samm(tmp_path / "manual", rows=[SAMM_ROWS[0]],
                        videos={"006_1": SAMM_FRAMES, "007_4": 100, "011_2": SAMM_FRAMES,
                                "012_1": SAMM_FRAMES})
    gone = manual / samm_lv.FRAMES / "012_1" / "012_1_0135.jpg"
    gone.unlink()
    problems = Problems()
    videos = {v.video_id: v for v in SammLv.list_videos(manual, problems)}
    assert sorted(videos) == ["006_1", "011_2"] and videos["011_2"].events == []
    assert videos["011_2"].subject == "011"
    assert [(p.sample_id, p.where) for p in problems] == [
        ("007_4", str(manual / samm_lv.FRAMES / "007_4")),
        ("012_1", str(manual / samm_lv.FRAMES / "012_1"))]
    assert "100 frames; a video at 200 fps needs at least 101" in problems[0].reason
    assert "missing frame(s) [135]" in problems[1].reason and str(gone) in problems[1].reason


@pytest.mark.parametrize("fault", ["missing column", "missing worksheet", "header on row 9"])
def test_samm_sheet_faults_are_one_line_naming_the_file(tmp_path, fault):
    header = [h for h in SAMM_HEADER if h != "Apex"] if fault == "missing column" else SAMM_HEADER
    manual = write_samm(tmp_path / "manual", header=header,
                        worksheet="Sheet1" if fault == "missing worksheet" else samm_lv.WORKSHEET)
    if fault == "header on row 9":
        edit = openpyxl.load_workbook(manual / samm_lv.SHEET)
        edit.active.delete_rows(1)
        edit.save(manual / samm_lv.SHEET)
    with pytest.raises(BadInputError) as raised:
        build("samm_lv", manual, tmp_path / "tfds")
    message = str(raised.value)
    assert "\n" not in message and samm_lv.SHEET in message
    assert {"missing column": "row 10 (the header): missing column(s) ['Apex']",
            "missing worksheet": "no worksheet 'FACS_Movement_Only'",
            "header on row 9": "row 10 (the header): missing column(s)"}[fault] in message
    assert nothing_written(tmp_path / "tfds")
