"""The MMEW and CAS(ME)^2 builders on fixtures in their released layouts: counts,
labels, subjects, apex frames, the class mappings sample by sample, and the sheet
quirks documented for each."""

from __future__ import annotations

import pytest

from tests import database_fixtures as fx
from tests.test_database_builders import build, by_id
from tfds_builders.mmew import Mmew


@pytest.fixture(scope="module")
def mmew_native(tmp_path_factory):
    root = tmp_path_factory.mktemp("mmew")
    return by_id(build(Mmew, fx.write_mmew(root / "manual"), root / "tfds", classes="native"))


def test_mmew_reads_every_clip_with_its_sheet_fields(mmew_native):
    assert sorted(mmew_native) == sorted(c.filename for c in fx.MMEW_CLIPS)
    for c in fx.MMEW_CLIPS:
        r = mmew_native[c.filename]
        assert (r["label"], r["subject"], r["dataset"]) == (c.emotion, c.subject, "mmew")
        assert (r["onset_frame"], r["apex_frame"], r["offset_frame"]) == (c.onset, c.apex,
                                                                          c.offset)
        assert r["au"].sum() >= 1


def test_mmew_megc3_maps_each_emotion_and_leaves_others_out(tmp_path):
    builder = build(Mmew, fx.write_mmew(tmp_path / "manual"), tmp_path / "tfds")
    records = by_id(builder)
    expected = {"happiness": "positive", "surprise": "surprise", "disgust": "negative",
                "fear": "negative", "sadness": "negative", "anger": "negative"}
    assert {c.filename: expected[c.emotion] for c in fx.MMEW_CLIPS if c.emotion in expected} \
        == {k: r["label"] for k, r in records.items()}
    assert builder.info.metadata["excluded_emotions"] == {"others": 1}


def test_mmew_quirks_layouts_numbering_missing_apex_and_offset(tmp_path):
    """The subject-rooted layout; files numbered from 1; an empty apex cell and one
    outside the clip (both spotted at the motion peak); an offset past the last file."""
    clips = fx.MMEW_CLIPS[:4]
    manual = fx.write_mmew(tmp_path / "manual", clips, subject_rooted=True, from_one=(1,),
                           apex_cells={0: None, 2: 999}, offset_cells={3: 500})
    records = by_id(build(Mmew, manual, tmp_path / "tfds", classes="native"))
    for c in clips:
        r = records[c.filename]
        assert r["apex_frame"] == c.apex, c.filename  # spotted = the fixture's peak
        assert r["offset_frame"] == c.offset
