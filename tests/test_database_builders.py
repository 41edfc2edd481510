"""The licensed-database builders on miniature fixtures in each database's layout."""

import collections
import csv
import os
import pathlib
import subprocess
import sys

import cv2
import numpy as np
import openpyxl
import pytest
import tensorflow_datasets as tfds

from faceslueth_jax.data import records
from faceslueth_jax.preprocess import face
from tests import database_fixtures as fx
from tfds_builders import action_units, sheets, source_fingerprint
from tfds_builders.casme2 import Casme2
from tfds_builders.casme2me import Casme2me
from tfds_builders.casme3 import Casme3
from tfds_builders.errors import BadInputError
from tfds_builders.me_database import MEConfig, Problems, jitter_span, jitter_windows
from tfds_builders.megc2019_composite import Megc2019Composite
from tfds_builders.megc2019_composite.megc2019_composite_dataset_builder import SAMPLES
from tfds_builders.mmew import Mmew
from tfds_builders.samm import Samm
from tfds_builders.smic_hs import SmicHs

REPO = pathlib.Path(__file__).resolve().parents[1]
SMALL = dict(flow_size=28, face_size=48)  # small crops keep TV-L1 fast


def build(cls, manual_dir, data_dir, on_error="raise", **fields):
    builder = cls.from_fields(str(data_dir), on_error=on_error, **{**SMALL, **fields})
    builder.download_and_prepare(
        download_config=tfds.download.DownloadConfig(manual_dir=str(manual_dir)))
    return builder


def by_id(builder) -> dict:
    """{sample_id: record} read back from disk by a fresh builder (no TensorFlow)."""
    fresh = type(builder)(config=builder.builder_config, data_dir=builder._data_dir_root)
    source = fresh.as_data_source()["train"]
    names = fresh.info.features["label"].names
    out = {}
    for i in range(len(source)):
        r = dict(source[i])
        r["label"] = names[int(r["label"])]
        for key in ("sample_id", "subject", "dataset"):
            r[key] = r[key].decode() if isinstance(r[key], bytes) else r[key]
        out[r["sample_id"]] = r
    return out


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Each fixture database built once: {name: builder}."""
    root = tmp_path_factory.mktemp("databases")
    out = root / "tfds"
    return {
        "casme2": build(Casme2, fx.write_casme2(root / "casme2"), out, classes="native"),
        "samm": build(Samm, fx.write_samm(root / "samm"), out),
        "smic_hs": build(SmicHs, fx.write_smic(root / "smic"), out),
        "casme3": build(Casme3, fx.write_casme3(root / "casme3"), out),
        "composite": build(Megc2019Composite, fx.write_composite(root / "composite"), out),
    }


def test_casme2_native_labels_subjects_and_sheet_apexes(built):
    got = by_id(built["casme2"])
    assert set(got) == {f"{c.subject}_{c.filename}" for c in fx.CASME2_CLIPS}
    for c in fx.CASME2_CLIPS:
        r = got[f"{c.subject}_{c.filename}"]
        assert (r["label"], r["subject"], r["dataset"]) == (c.emotion, c.subject, "casme2")
        assert (r["onset_frame"], r["apex_frame"], r["offset_frame"]) == (c.onset, c.apex, c.offset)
        assert r["flow"].shape == (28, 28, 3) and r["apex"].shape == (48, 48, 1)
        assert np.isfinite(r["flow"]).all()


def test_samm_header_on_row_14_and_megc_mapping(built):
    got = by_id(built["samm"])
    megc = {"anger": "negative", "contempt": "negative", "disgust": "negative", "fear": "negative",
            "sadness": "negative", "happiness": "positive", "surprise": "surprise"}
    expected = {f"{c.subject}_{c.filename}": megc[c.emotion.lower()]
                for c in fx.SAMM_CLIPS if c.emotion != "Other"}
    assert {k: r["label"] for k, r in got.items()} == expected
    assert all(r["apex_frame"] == c.apex for c in fx.SAMM_CLIPS
               if (r := got.get(f"{c.subject}_{c.filename}")))
    assert built["samm"].info.metadata["excluded_emotions"] == {"other": 1}


def test_smic_apex_is_spotted_at_the_motion_peak(built):
    got = by_id(built["smic_hs"])
    assert {k: (r["label"], r["subject"]) for k, r in got.items()} == {
        f"{c.subject}_{c.filename}": (c.emotion, c.subject) for c in fx.SMIC_CLIPS}
    for c in fx.SMIC_CLIPS:
        r = got[f"{c.subject}_{c.filename}"]
        assert (r["onset_frame"], r["apex_frame"], r["offset_frame"]) == (c.onset, c.apex, c.offset)


def test_smic_middle_frame_apex_option(tmp_path):
    builder = SmicHs.from_fields(str(tmp_path / "tfds"), apex="middle", **SMALL)
    recs = builder.build_records(fx.write_smic(tmp_path / "smic", fx.SMIC_CLIPS[:1]))
    assert recs[0]["apex_frame"] == fx.SMIC_CLIPS[0].onset + fx.NUM_FRAMES // 2


def test_casme3_one_video_holds_several_samples(built):
    got = by_id(built["casme3"])
    megc = {"anger": "negative", "disgust": "negative", "fear": "negative", "sad": "negative",
            "happy": "positive", "surprise": "surprise"}
    assert {k: r["label"] for k, r in got.items()} == {
        f"{c.subject}_{c.filename}_{c.onset}": megc[c.emotion]
        for c in fx.CASME3_CLIPS if c.emotion in megc}
    assert got["spNO.1_a_400"]["apex_frame"] == 402


def test_composite_mapping_sample_by_sample(built):
    got = by_id(built["composite"])
    expected = {  # every emotion string of every database; None: not in the composite
        ("casme2", "sub01_EP02_01f"): "positive", ("casme2", "sub01_EP19_05f"): "negative",
        ("casme2", "sub02_EP01_11f"): "negative", ("casme2", "sub02_EP11_01"): "surprise",
        ("casme2", "sub03_EP03_03"): None, ("casme2", "sub03_EP18_01"): None,
        ("casme2", "sub04_EP12_01f"): None, ("casme2", "sub05_EP99_01"): None,
        ("samm", "006_006_1_2"): "negative", ("samm", "006_006_1_3"): "negative",
        ("samm", "006_006_1_4"): "negative", ("samm", "007_007_3_1"): "negative",
        ("samm", "006_006_1_5"): "negative", ("samm", "007_007_6_1"): "positive",
        ("samm", "007_007_7_1"): "surprise", ("samm", "009_009_1_1"): None,
        ("smic", "s01_s01_ne_01"): "negative", ("smic", "s01_s01_po_01"): "positive",
        ("smic", "s02_s02_sur_01"): "surprise",
    }
    assert {(r["dataset"], k): r["label"] for k, r in got.items()} == {
        k: v for k, v in expected.items() if v is not None}
    assert {r["subject"] for r in got.values()} == {"sub01", "sub02", "006", "007", "s01", "s02"}
    metadata = built["composite"].info.metadata
    assert metadata["not_in_megc2019"] == ["casme2/sub05/EP99_01"]
    assert metadata["excluded_emotions"] == {"casme2:fear": 1, "casme2:sadness": 1,
                                             "casme2:others": 1, "samm:other": 1}
    assert metadata["missing"] == 442 - len(got)


def test_megc2019_list_is_the_benchmark():
    with open(SAMPLES, newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 442 and len({(r["dataset"], r["subject"]) for r in rows}) == 68
    per_db = collections.Counter(r["dataset"] for r in rows)
    assert per_db == {"casme2": 145, "samm": 133, "smic": 164}
    subjects = {d: len({r["subject"] for r in rows if r["dataset"] == d}) for d in per_db}
    assert subjects == {"casme2": 24, "samm": 28, "smic": 16}
    assert collections.Counter(r["label"] for r in rows) == {
        "negative": 250, "positive": 109, "surprise": 83}


def test_casme2_raw_frames_detect_faces_and_spot_missing_apexes(tmp_path):
    clips = fx.CASME2_CLIPS[:3]
    manual = fx.write_casme2(tmp_path / "raw", clips, raw=True, apex_cells={0: "/", 1: None})
    builder = Casme2.from_fields(str(tmp_path / "tfds"), classes="native", **SMALL)
    recs = {r["sample_id"]: r for r in builder.build_records(manual)}
    for c in clips:  # the two spotted apexes land on the motion peak, the third is the sheet's
        assert recs[f"{c.subject}_{c.filename}"]["apex_frame"] == c.apex


def test_casme2_raw_folder_as_released(tmp_path):
    """CASME2-RAW/subXX/EPxx_yy/imgN.jpg, the raw frames' own folder: same sheet, same
    frame names as CASME2_RAW_selected, faces detected."""
    clips = fx.CASME2_CLIPS[:2]
    manual = fx.write_casme2(tmp_path / "casme2", clips, folder="CASME2-RAW")
    assert not (manual / "Cropped").exists() and not (manual / "CASME2_RAW_selected").exists()
    builder = Casme2.from_fields(str(tmp_path / "tfds"), classes="native", **SMALL)
    recs = {r["sample_id"]: r for r in builder.build_records(manual)}
    assert {k: (r["label"], r["apex_frame"]) for k, r in recs.items()} == {
        f"{c.subject}_{c.filename}": (c.emotion, c.apex) for c in clips}


def test_samm_offset_minus_one_is_the_clips_last_frame(tmp_path):
    """SAMM codes an unknown offset (as an unknown apex) as -1: the clip runs to its
    last frame, and an apex also -1 is spotted over that whole clip."""
    clips = fx.SAMM_CLIPS[:2]
    manual = fx.write_samm(tmp_path / "samm", clips, offset_cells={0: -1, 1: -1},
                           apex_cells={1: -1})
    builder = Samm.from_fields(str(tmp_path / "tfds"), classes="native", **SMALL)
    recs = {r["sample_id"]: r for r in builder.build_records(manual)}
    assert not builder.problems
    for c in clips:
        r = recs[f"{c.subject}_{c.filename}"]
        assert (r["onset_frame"], r["apex_frame"], r["offset_frame"]) == (c.onset, c.apex, c.offset)


def test_composite_keeps_samm_rows_with_offset_minus_one(tmp_path):
    """A listed MEGC2019 SAMM sample whose sheet offset is -1 stays in the composite."""
    manual = fx.write_composite(tmp_path / "composite", samm_offset_cells={0: -1})
    builder = Megc2019Composite.from_fields(str(tmp_path / "tfds"), **SMALL)
    recs = {(r["dataset"], r["sample_id"]): r for r in builder.build_records(manual)}
    assert set(recs) == {
        ("casme2", "sub01_EP02_01f"), ("casme2", "sub01_EP19_05f"),
        ("casme2", "sub02_EP01_11f"), ("casme2", "sub02_EP11_01"),
        ("samm", "006_006_1_2"), ("samm", "006_006_1_3"), ("samm", "006_006_1_4"),
        ("samm", "007_007_3_1"), ("samm", "006_006_1_5"), ("samm", "007_007_6_1"),
        ("samm", "007_007_7_1"), ("smic", "s01_s01_ne_01"), ("smic", "s01_s01_po_01"),
        ("smic", "s02_s02_sur_01")}
    assert recs[("samm", "006_006_1_2")]["offset_frame"] == fx.COMPOSITE_SAMM[0].offset


def test_casme3_part_a_as_unpacked_from_its_archive(tmp_path):
    """part_A/annotation/<sheet> + part_A/data/part_A/spNO.*/: found from the folder
    holding part_A/ and from part_A/ itself."""
    clips = fx.CASME3_CLIPS[:3]
    root = fx.write_casme3(tmp_path / "casme3", clips, archive=True)
    assert not list(root.glob("spNO.*")) and not list(root.glob("*.xlsx"))
    expected = {f"{c.subject}_{c.filename}_{c.onset}" for c in clips}
    builder = Casme3.from_fields(str(tmp_path / "tfds"), classes="native", **SMALL)
    assert {r["sample_id"] for r in builder.build_records(root)} == expected
    problems = Problems()
    listed = Casme3.list_clips(root / "part_A", problems)
    assert not problems and {c.sample_id for c in listed} == expected
    frames_root = root / "part_A" / "data" / "part_A"
    assert all(pathlib.Path(c.frames[c.onset]).parent.parent.parent.parent == frames_root
               for c in listed)


# ------------------------------------------------------------------ bad input


def _casme2(tmp_path, clips=fx.CASME2_CLIPS[:3]):
    return fx.write_casme2(tmp_path / "casme2", clips)


def _frame(manual, clip, number):
    return manual / "Cropped" / clip.subject / clip.filename / f"reg_img{number}.jpg"


def _rewrite_sheet(manual, header=fx.CASME2_HEADER, clips=fx.CASME2_CLIPS[:3], change=None):
    rows = fx.casme2_rows(clips)
    if change:
        change(rows)
    fx.write_sheet(manual / fx.CASME2_SHEET, header, rows)


def _missing_frame(m):
    _frame(m, fx.CASME2_CLIPS[1], fx.CASME2_CLIPS[1].apex).unlink()


def _truncated_jpeg(m):
    path = _frame(m, fx.CASME2_CLIPS[1], fx.CASME2_CLIPS[1].onset)
    path.write_bytes(path.read_bytes()[:300])


def _corrupt_image(m):
    _frame(m, fx.CASME2_CLIPS[1], fx.CASME2_CLIPS[1].apex).write_bytes(b"\xff\xd8 not a jpeg \xff\xd9")


def _empty_clip_folder(m):
    for path in (m / "Cropped" / "sub01" / "EP19_05f").iterdir():
        path.unlink()


def _set(row_index, column, value):
    def change(rows):
        rows[row_index][column] = value
    return change


BAD_CASME2 = {  # fault -> (make it, text the error must hold)
    "missing frame": (_missing_frame, ["row 3", "sub01_EP19_05f", "missing frame(s) [122]"]),
    "truncated jpeg": (_truncated_jpeg, ["row 3", "truncated JPEG", "reg_img120.jpg"]),
    "corrupt image": (_corrupt_image, ["row 3", "unreadable or corrupt image", "reg_img122.jpg"]),
    "unknown emotion": (lambda m: _rewrite_sheet(m, change=_set(1, 8, "joy")),
                        ["row 3", "unknown emotion 'joy'"]),
    "apex outside": (lambda m: _rewrite_sheet(m, change=_set(1, 4, 999)),
                     ["row 3", "apex frame 999 outside onset..offset 120..126"]),
    "duplicate": (lambda m: _rewrite_sheet(m, clips=fx.CASME2_CLIPS[:3] + fx.CASME2_CLIPS[1:2]),
                  ["row 5", "duplicated sample: also at CASME2-coding-20140508.xlsx row 3"]),
    "empty clip folder": (_empty_clip_folder,
                          ["row 3", "sub01_EP19_05f", "no frame files in",
                           str(pathlib.Path("Cropped", "sub01", "EP19_05f"))]),
    "empty subject folder": (lambda m: (m / "Cropped" / "sub09").mkdir(),
                             ["sub09", "subject folder has no clips"]),
    "bad action units": (lambda m: _rewrite_sheet(m, change=_set(1, 7, "R1x2+4")),
                         ["row 3", "sub01_EP19_05f", "Action Units cell 'R1x2+4'", "'R1x2'"]),
    "offset typo": (lambda m: _rewrite_sheet(m, change=_set(1, 5, 1260000)),
                    ["row 3", "offset 1260000 spans 1259881 frames, more than 1000"]),
    "name outside the database": (lambda m: _rewrite_sheet(m, change=_set(1, 1, "../../etc")),
                                  ["row 3", "Filename '../../etc' leads outside"]),
    # a frame-number cell that is not a finite whole number: openpyxl reads a formula
    # Excel never computed as None (data_only) and a failed one as its error code
    "offset formula": (lambda m: _rewrite_sheet(m, change=_set(1, 5, "=1/0")),
                       ["row 3", "sub01_EP19_05f", "OffsetFrame '=1/0' is a formula with no "
                                                   "computed value, not a frame number"]),
    "apex formula": (lambda m: _rewrite_sheet(m, change=_set(1, 4, "=1/0")),
                     ["row 3", "ApexFrame '=1/0' is a formula"]),
    "onset spreadsheet error": (lambda m: _rewrite_sheet(m, change=_set(1, 3, "#DIV/0!")),
                                ["row 3", "OnsetFrame '#DIV/0!' is a spreadsheet error"]),
    "fractional offset": (lambda m: _rewrite_sheet(m, change=_set(1, 5, 125.5)),
                          ["row 3", "OffsetFrame 125.5 is not a whole number"]),
}


@pytest.mark.parametrize("fault", sorted(BAD_CASME2))
def test_bad_input_is_named_or_skipped_with_a_report(tmp_path, fault):
    make, expected = BAD_CASME2[fault]
    manual = _casme2(tmp_path)
    make(manual)
    builder = Casme2.from_fields(str(tmp_path / "tfds"), classes="native", **SMALL)
    with pytest.raises(BadInputError) as raised:
        builder.build_records(manual)
    message = str(raised.value)
    assert message.startswith("casme2: 1 problem(s)")
    for text in expected:
        assert text in message
    skipping = Casme2.from_fields(str(tmp_path / "tfds"), classes="native", on_error="skip", **SMALL)
    kept = skipping.build_records(manual)
    assert len(skipping.problems) == 1 and expected[-1] in str(skipping.problems[0])
    assert len(kept) == 3 - (fault not in ("duplicate", "empty subject folder"))


def test_missing_frame_names_the_file_it_looked_for(tmp_path):
    """The problem names the full path of the absent frame, spelled as the clip's other
    frames are (prefix, zero padding, suffix), on one line."""
    manual = _casme2(tmp_path)
    _missing_frame(manual)
    builder = Casme2.from_fields(str(tmp_path / "tfds"), classes="native", **SMALL)
    with pytest.raises(BadInputError) as raised:
        builder.build_records(manual)
    wanted = _frame(manual, fx.CASME2_CLIPS[1], fx.CASME2_CLIPS[1].apex)
    line = [line for line in str(raised.value).splitlines() if "sub01_EP19_05f" in line]
    assert len(line) == 1 and str(wanted) in line[0]
    samm = fx.write_samm(tmp_path / "samm", fx.SAMM_CLIPS[:1])
    gone = samm / "SAMM" / "006" / "006_1_2" / "006_05565.jpg"
    gone.unlink()
    skipping = Samm.from_fields(str(tmp_path / "tfds"), on_error="skip", **SMALL)
    with pytest.raises(BadInputError, match="no usable samples"):
        skipping.build_records(samm)
    (problem,) = skipping.problems
    assert str(gone) in str(problem) and "\n" not in str(problem)


def test_sheet_with_a_renamed_column_names_it(tmp_path):
    manual = _casme2(tmp_path)
    header = [("Apex" if h == "ApexFrame" else h) for h in fx.CASME2_HEADER]
    _rewrite_sheet(manual, header=header)
    with pytest.raises(BadInputError, match=r"casme2: CASME2-coding-20140508.xlsx row 1 "
                                            r"\(the header\): missing column\(s\) \['ApexFrame'\]"):
        Casme2.from_fields(str(tmp_path / "tfds"), **SMALL).build_records(manual)


def test_samm_sheet_without_its_header_on_row_14(tmp_path):
    manual = fx.write_samm(tmp_path / "samm", fx.SAMM_CLIPS[:1])
    row = [6, "006_1_2", 1, 5562, 5565, 5568, 7, "Micro", 1, None, "R14", "Anger"]
    fx.write_sheet(manual / "SAMM_Micro_FACS_Codes_v2.xlsx", fx.SAMM_HEADER, [row], preamble=12)
    with pytest.raises(BadInputError, match="row 14 .the header.: missing column"):
        Samm.from_fields(str(tmp_path / "tfds"), **SMALL).build_records(manual)


def test_no_face_and_truncated_bmp(tmp_path):
    manual = fx.write_samm(tmp_path / "samm", fx.SAMM_CLIPS[:2])
    onset = manual / "SAMM" / "006" / "006_1_2" / "006_05562.jpg"
    cv2.imwrite(str(onset), np.full((88, 104), 128, np.uint8))
    with pytest.raises(BadInputError, match=r"SAMM_Micro_FACS_Codes_v2.xlsx row 15: "
                                            r"006_006_1_2: no face found"):
        Samm.from_fields(str(tmp_path / "tfds"), **SMALL).build_records(manual)
    smic = fx.write_smic(tmp_path / "smic", fx.SMIC_CLIPS[:2])
    bmp = next((smic / "HS" / "s1" / "micro" / "positive" / "s1_po_01").glob("*.bmp"))
    bmp.write_bytes(bmp.read_bytes()[:1000])
    with pytest.raises(BadInputError, match=r"s1_s1_po_01: truncated BMP"):
        SmicHs.from_fields(str(tmp_path / "tfds"), **SMALL).build_records(smic)


def test_failed_build_leaves_nothing_to_read(tmp_path):
    manual = _casme2(tmp_path)
    _missing_frame(manual)
    with pytest.raises(BadInputError):
        build(Casme2, manual, tmp_path / "tfds")
    written = [p for p in (tmp_path / "tfds").rglob("*") if p.is_file()
               and ".config" not in p.parts and p.suffix != ".lock"]  # TFDS's config notes
    assert not written
    assert not Casme2.from_fields(str(tmp_path / "tfds"), **SMALL).is_prepared()


def test_build_command(tmp_path):
    manual = fx.write_samm(tmp_path / "samm", fx.SAMM_CLIPS[:2])
    command = [sys.executable, "-m", "tfds_builders", "build", "samm", f"--manual_dir={manual}",
               f"--data_dir={tmp_path / 'tfds'}", "--flow_size=28", "--face_size=48"]
    proc = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "2 samples, 1 subjects" in proc.stdout and "negative 2" in proc.stdout
    (manual / "SAMM" / "006" / "006_1_3").rename(manual / "gone")
    proc = subprocess.run(command[:-2] + ["--flow_size=112"], cwd=REPO, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 2
    assert "row 16: 006_006_1_3: clip folder" in proc.stderr and "is missing" in proc.stderr
    data = records.read_builder(Samm.from_fields(str(tmp_path / "tfds"), **SMALL))
    assert len(data) == 2  # the earlier dataset is untouched


# ------------------------------------------------------------ action units


def _aus(vector) -> list[int]:
    return [au for au, on in zip(action_units.AU_ORDER, vector) if on]


@pytest.mark.parametrize("cell, expected", [
    ("R12", [12]), ("L1+L2", [1, 2]), ("4+7", [4, 7]), ("1+2+25", [1, 2, 25]),
    ("R14A", [14]), ("4+38", [4]),                       # 38 is not among the 21
    ("AU4", [4]), ("B23", [23]), ("T18+39", [18]),       # CAS(ME)^3 / SAMM forms
    ("A12B+7C", [7, 12]), ("10A/B", [10]), ("A/L12", [12]), ("12?", [12]),
    ("(R6 or R12) + R15", [6, 12, 15]), ("R14A or 17A or 24A", [14, 17, 24]),
    ("ref(7B)+43", [7]), ("R14+17+soft focus", [14, 17]), ("45", [45]),
])
def test_action_unit_cells_as_the_sheets_write_them(cell, expected):
    vector = action_units.multi_hot(cell)
    assert vector.shape == (21,) and vector.dtype == np.float32
    assert _aus(vector) == expected


def test_action_unit_order_is_the_references():
    assert action_units.AU_ORDER == (1, 2, 4, 5, 6, 7, 9, 10, 12, 14, 15, 16, 17, 18, 20, 23,
                                     24, 25, 26, 28, 45)
    assert list(np.flatnonzero(action_units.multi_hot("1+2+25"))) == [0, 1, 17]


@pytest.mark.parametrize("cell", ["", "R1x2", "12-14", "4+AU", "L", "1.5"])
def test_unparseable_action_unit_cells_are_refused(cell):
    with pytest.raises(action_units.ActionUnitError, match="Action Units cell"):
        action_units.multi_hot(cell)


def test_records_carry_the_sheets_action_units(built):
    for name, clips, key in (("casme2", fx.CASME2_CLIPS, lambda c: f"{c.subject}_{c.filename}"),
                             ("samm", fx.SAMM_CLIPS, lambda c: f"{c.subject}_{c.filename}"),
                             ("casme3", fx.CASME3_CLIPS,
                              lambda c: f"{c.subject}_{c.filename}_{c.onset}")):
        got = by_id(built[name])
        assert got, name
        for c in clips:
            if key(c) in got:
                np.testing.assert_array_equal(got[key(c)]["au"],
                                              action_units.multi_hot(c.action_units))
    assert _aus(by_id(built["casme2"])["sub02_EP09_03"]["au"]) == [14]
    assert _aus(by_id(built["samm"])["007_007_3_1"]["au"]) == [9, 10]
    for name in ("smic_hs", "composite"):  # no AU codes (SMIC has no sheet)
        assert "au" not in built[name].info.features
        assert "au" not in next(iter(by_id(built[name]).values()))


def test_five_class_sets_are_the_references():
    """CASME2_5.py's and SAMM_5.py's labels, in their order."""
    assert Casme2.CLASS_NAMES["five"] == ("happiness", "repression", "disgust", "surprise",
                                          "others")
    assert Samm.CLASS_NAMES["five"] == ("happiness", "anger", "contempt", "surprise", "other")


# ------------------------------------------- RGB faces and temporal jitter windows


def test_jitter_span_and_windows():
    assert [jitter_span(0, d) for d in (0, 26, 27, 53, 54, 88, 96)] == [0, 0, 1, 1, 2, 3, 3]
    onset, apex, span = jitter_windows(100, 160, 4)  # J = int(0.15 * 60 / 4) = 2
    assert span == 2 and onset == [100, 101, 102, 102] and apex == [158, 158, 159, 160]
    onset, apex, span = jitter_windows(100, 200, 3)  # J = 3, truncated to K - 1 = 2
    assert span == 2 and onset == [100, 101, 102] and apex == [198, 199, 200]
    assert jitter_windows(10, 12, 4) == ([10] * 4, [12] * 4, 0)


def test_config_names_spell_colour_and_jitter():
    assert MEConfig.named().name == "megc3_flow112_face112_tvl1_raw_apexflow_margin0p1"
    assert MEConfig.named(face_color=True, jitter_frames=4).name.endswith("_rgb_jitter4")
    with pytest.raises(ValueError, match="jitter_frames"):
        MEConfig.named(jitter_frames=-1)


LONG_CLIP = fx.FixtureClip("sub05", "EP07_01", "surprise", 300, 60, "1+2", num_frames=64)


@pytest.fixture(scope="module")
def colour_builds(tmp_path_factory):
    """The CASME II fixture in colour plus a clip long enough for a jitter span of 2,
    built grey and RGB-with-jitter: (grey records, rgb records, manual_dir)."""
    root = tmp_path_factory.mktemp("colour")
    manual = fx.write_casme2(root / "casme2", fx.CASME2_CLIPS + [LONG_CLIP], colour=True)
    grey = build(Casme2, manual, root / "tfds", classes="five")
    rgb = build(Casme2, manual, root / "tfds", classes="five", face_color=True, jitter_frames=4)
    assert grey.builder_config.name != rgb.builder_config.name  # folders of their own
    return by_id(grey), by_id(rgb), manual


def test_rgb_faces_keep_the_channel_order_and_the_grey_flow(colour_builds):
    grey, rgb, _ = colour_builds
    assert set(rgb) == set(grey)
    assert {r["label"] for r in rgb.values()} == {"happiness", "repression", "disgust",
                                                  "surprise", "others"}  # fear, sadness out
    for sample_id, r in rgb.items():
        assert r["onset"].shape == r["apex"].shape == (48, 48, 3)
        assert grey[sample_id]["onset"].shape == (48, 48, 1)
        red, green, blue = (r["onset"][..., i].astype(float) for i in range(3))
        assert np.abs(red - green).mean() < 4  # R = G, B = G / 2 on disk (JPEG noise aside)
        assert np.abs(blue - green / 2).mean() < 6
        np.testing.assert_array_equal(r["flow"], grey[sample_id]["flow"])  # flow from grey


def test_jitter_windows_hold_the_frames_the_reference_draws_from(colour_builds):
    _, rgb, manual = colour_builds
    for sample_id, r in rgb.items():
        assert r["onset_window"].shape == r["apex_window"].shape == (4, 48, 48, 3)
        np.testing.assert_array_equal(r["onset_window"][0], r["onset"])
        np.testing.assert_array_equal(r["apex_window"][-1], r["apex"])
        assert r["jitter_span"] == min(jitter_span(r["onset_frame"], r["apex_frame"]), 3)
    long = rgb[f"{LONG_CLIP.subject}_{LONG_CLIP.filename}"]
    assert long["jitter_span"] == 2  # int(0.15 * 60 / 4)
    folder = manual / "Cropped" / LONG_CLIP.subject / LONG_CLIP.filename

    def face_of(number):
        bgr = cv2.imread(str(folder / f"reg_img{number}.jpg"))
        box = face.whole_frame(bgr[..., 0])
        return np.stack([face.crop(bgr[..., c], box, 48) for c in (2, 1, 0)], axis=-1)

    onset, apex = LONG_CLIP.onset, LONG_CLIP.apex
    for i, number in enumerate([onset, onset + 1, onset + 2, onset + 2]):
        np.testing.assert_array_equal(long["onset_window"][i], face_of(number))
    for i, number in enumerate([apex - 2, apex - 2, apex - 1, apex]):
        np.testing.assert_array_equal(long["apex_window"][i], face_of(number))


def test_read_back_views_of_colour_jitter_records(colour_builds, tmp_path):
    """records.read_builder reads au and the windows; prepare normalises the windows
    like the faces (ImageNet) and refuses ImageNet normalisation of grey faces."""
    _, rgb, manual = colour_builds
    builder = Casme2.from_fields(str(manual.parent / "tfds"), classes="five", face_color=True,
                                 jitter_frames=4, **SMALL)
    data = records.read_builder(builder)
    assert {"flow", "onset", "apex", "au", "onset_window", "apex_window",
            "jitter_span"} <= set(data.views)
    prepared = records.prepare(data, 28, 32, face_norm="imagenet")
    v = prepared.views
    assert v["onset_window"].shape == (len(data), 4, 32, 32, 3) and v["au"].shape == (len(data), 21)
    np.testing.assert_allclose(v["onset_window"][:, 0], v["onset"], atol=1e-6)
    raw = records.resize(data.views["apex"], 32)
    want = (raw / 255.0 - np.array(records.IMAGENET_MEAN)) / np.array(records.IMAGENET_STD)
    np.testing.assert_allclose(v["apex"], want, atol=1e-5)
    assert "onset_window" not in records.prepare(data, 28, 32, use_onset=False).views
    grey = Casme2.from_fields(str(manual.parent / "tfds"), classes="five", **SMALL)
    with pytest.raises(ValueError, match="face_norm='imagenet' needs RGB faces"):
        records.prepare(records.read_builder(grey), 28, 32, face_norm="imagenet")


def _poke(sheet: pathlib.Path, row: int, column: int, value) -> None:
    """Set one cell (1-based) of a written sheet's first worksheet."""
    workbook = openpyxl.load_workbook(sheet)
    workbook.worksheets[0].cell(row=row, column=column, value=value)
    workbook.save(sheet)


# builder, its fixture (two clips), its sheet, header row, frame column (1-based) and name
FORMULA_CELLS = {
    "samm": (Samm, lambda p: fx.write_samm(p, fx.SAMM_CLIPS[:2]),
             "SAMM_Micro_FACS_Codes_v2.xlsx", 14, 6, "Offset Frame"),
    "casme3": (Casme3, lambda p: fx.write_casme3(p, fx.CASME3_CLIPS[2:4]), fx.CASME3_SHEET, 1,
               4, "Apex"),
    "mmew": (Mmew, lambda p: fx.write_mmew(p, fx.MMEW_CLIPS[:2]), "MMEW_Micro_Exp.xlsx", 1, 5,
             "OffsetFrame"),
    "casme2me": (Casme2me, fx.write_casme2me, "CAS(ME)^2code_final.xlsx", 0, 5, "offset"),
}


@pytest.mark.parametrize("value, why", [("=1/0", "'=1/0' is a formula with no computed value"),
                                        ("#DIV/0!", "'#DIV/0!' is a spreadsheet error"),
                                        (7.5, "7.5 is not a whole number")])
@pytest.mark.parametrize("name", sorted(FORMULA_CELLS))
def test_a_frame_cell_that_is_no_whole_number_is_the_rows_problem(tmp_path, name, value, why):
    """Every builder reading a sheet: a frame-number cell holding a formula, a
    spreadsheet error or a fraction is a problem naming the sheet, row and column,
    not an empty cell (spotted apex, last-frame offset) nor a truncated number."""
    cls, write, sheet, header_row, column, title = FORMULA_CELLS[name]
    manual = write(tmp_path / name)
    _poke(manual / sheet, header_row + 2, column, value)
    problems = Problems()
    clips = cls.list_clips(manual, problems)
    assert len(problems) == 1, [str(p) for p in problems]
    assert problems[0].where == f"{sheet} row {header_row + 2}"
    assert f"{title} {why}" in problems[0].reason, str(problems[0])
    assert len(clips) == (len(fx.CASME2ME_ROWS) - 2 if name == "casme2me" else 1)


def test_a_long_video_event_with_a_fractional_frame_is_its_rows_problem(tmp_path):
    from tfds_builders.casme2_lv import Casme2Lv
    manual = fx.write_casme2me(tmp_path / "casme2me")
    _poke(manual / "CAS(ME)^2code_final.xlsx", 1, 5, 16.5)  # the offset, 16, truncated before
    problems = Problems()
    Casme2Lv.list_videos(manual, problems)
    (problem,) = problems
    assert problem.where == "CAS(ME)^2code_final.xlsx row 1"
    assert "offset 16.5 is not a whole number" in problem.reason, str(problem)


@pytest.mark.parametrize("value, whole", [(46, 46), (46.0, 46), (" 46 ", 46), ("46.0", 46),
                                          (None, None), ("/", None), ("-", None), (-1, -1),
                                          (12.5, None), (float("inf"), None), ("inf", None),
                                          (float("nan"), None), ("1e400", None), (True, None),
                                          ("=1/0", None), ("#DIV/0!", None)])
def test_cell_int_is_a_whole_number_or_none_never_a_truncation(value, whole):
    assert sheets.cell_int(value) == whole
    fault = sheets.number_fault({"OffsetFrame": value})
    assert (fault is None) == (whole is not None or value in (None, "/", "-")), fault
    if fault:
        assert fault.startswith(f"OffsetFrame {value!r}" if isinstance(value, str)
                                else f"OffsetFrame {value}"), fault


def test_an_unreadable_frame_is_the_clips_problem(tmp_path, monkeypatch):
    """A frame the process may not read (PermissionError) is a problem naming the file,
    not a traceback."""
    manual = _casme2(tmp_path)
    locked = _frame(manual, fx.CASME2_CLIPS[1], fx.CASME2_CLIPS[1].apex)
    real = pathlib.Path.read_bytes

    def read_bytes(self):
        if self == locked:
            raise PermissionError(13, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(pathlib.Path, "read_bytes", read_bytes)
    skipping = Casme2.from_fields(str(tmp_path / "tfds"), classes="native", on_error="skip",
                                  **SMALL)
    assert len(skipping.build_records(manual)) == 2
    (problem,) = skipping.problems
    assert problem.where.endswith("row 3") and str(locked) in problem.reason
    assert "Permission denied" in problem.reason


@pytest.mark.parametrize("link, why", [("itself", "a symbolic link that loops (too many "
                                                  "levels of symbolic links)"),
                                       ("nowhere", "a symbolic link to nowhere, which does "
                                                   "not exist")])
def test_source_fingerprint_names_a_file_it_cannot_stat(tmp_path, link, why):
    manual = _casme2(tmp_path)
    frame = _frame(manual, fx.CASME2_CLIPS[0], fx.CASME2_CLIPS[0].onset)
    frame.unlink()
    os.symlink(frame.name if link == "itself" else "nowhere", frame)
    with pytest.raises(BadInputError) as raised:
        source_fingerprint.of_folder(manual, "casme2")
    assert str(raised.value) == (f"casme2: {frame} in manual_dir cannot be read: {why}; fix "
                                 "or remove it")


def test_source_fingerprint_names_a_sheet_it_may_not_read(tmp_path, monkeypatch):
    """Root reads files whatever their mode, so the read fails as it does for a user
    whom the sheet's mode denies."""
    manual = _casme2(tmp_path)
    sheet = manual / fx.CASME2_SHEET

    def denied(path):
        raise PermissionError(13, "Permission denied", str(path))
    monkeypatch.setattr(source_fingerprint, "_sha256", denied)
    with pytest.raises(BadInputError, match=f"casme2: {sheet} in manual_dir cannot be read"):
        source_fingerprint.of_folder(manual, "casme2")


def _excel_formula(sheet: pathlib.Path, ref: str, formula: str, cached: str, kind: str = "n"):
    """Cell ``ref`` of the first worksheet rewritten as Excel saves a formula: its text
    and the value Excel computed (openpyxl writes no computed value)."""
    import re
    import zipfile
    with zipfile.ZipFile(sheet) as z:
        files = {name: z.read(name) for name in z.namelist()}
    name = "xl/worksheets/sheet1.xml"
    xml, count = re.subn(rf'<c r="{ref}"[^>]*?(/>|>.*?</c>)',
                         f'<c r="{ref}" t="{kind}"><f>{formula}</f><v>{cached}</v></c>',
                         files[name].decode())
    assert count == 1, ref
    files[name] = xml.encode()
    with zipfile.ZipFile(sheet, "w") as z:
        for n, data in files.items():
            z.writestr(n, data)


def test_formula_cells_as_excel_saves_them(tmp_path):
    """Excel saves '=1/0' with its computed '#DIV/0!': the row's problem. A formula that
    computed a whole number is that number."""
    manual = _casme2(tmp_path)
    _excel_formula(manual / fx.CASME2_SHEET, "F3", "1/0", "#DIV/0!", kind="e")
    _excel_formula(manual / fx.CASME2_SHEET, "F4", "D4+6", "36")  # offset of sub02_EP01_11f
    problems = Problems()
    clips = Casme2.list_clips(manual, problems)
    (problem,) = problems
    assert str(problem) == ("CASME2-coding-20140508.xlsx row 3: sub01_EP19_05f: OffsetFrame "
                            "'#DIV/0!' is a spreadsheet error (a formula that failed), not a "
                            "frame number")
    assert [(c.sample_id, c.offset) for c in clips] == [("sub01_EP02_01f", 52),
                                                        ("sub02_EP01_11f", 36)]
