"""The MMEW and CAS(ME)^2 builders on fixtures in their released layouts: counts,
labels, subjects, apex frames, the class mappings sample by sample, and the sheet
quirks documented for each."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from faceslueth_jax.data import records
from faceslueth_jax.train import protocols
from tests.conftest import REPO
from tests.test_run import MOTION_ONLY, TINY_RUN

from tests import database_fixtures as fx
from tests.test_database_builders import build, by_id
from tfds_builders.casme2me import Casme2me
from tfds_builders.errors import BadInputError
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


def test_mmew_megc3_maps_each_emotion_and_leaves_others_out(two_databases):
    builder = two_databases[1][0]
    records_ = by_id(builder)
    expected = {"happiness": "positive", "surprise": "surprise", "disgust": "negative",
                "fear": "negative", "sadness": "negative", "anger": "negative"}
    assert {c.filename: expected[c.emotion] for c in fx.MMEW_CLIPS if c.emotion in expected} \
        == {k: r["label"] for k, r in records_.items()}
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


@pytest.fixture(scope="module")
def casme2me_native(tmp_path_factory):
    root = tmp_path_factory.mktemp("casme2me")
    manual = fx.write_casme2me(root / "manual", apex_zero=(1,), offset_zero=(3,))
    return by_id(build(Casme2me, manual, root / "tfds", classes="native"))


def test_casme2me_cuts_each_micro_expression_from_its_long_video(casme2me_native):
    """Micro rows only (the macro one is left out); subjects by naming rule1, videos by
    naming rule2 (a numeric code cell padded to 0101); onset/apex/offset are frame
    numbers of the long video; an apex coded 0 is spotted at the motion peak; an
    offset coded 0 is the apex."""
    folders = {p: f for f, p, _ in fx.CASME2ME_SUBJECTS}
    micro = [r for r in fx.CASME2ME_ROWS if r[6] == "micro-expression"]
    assert sorted(casme2me_native) == sorted(f"{folders[r[0]]}_{r[1]}" for r in micro)
    for i, (participant, name, emotion, onset, apex_index, _, _) in enumerate(fx.CASME2ME_ROWS):
        if i == 4:
            continue  # the macro-expression
        r = casme2me_native[f"{folders[participant]}_{name}"]
        assert (r["label"], r["subject"], r["dataset"]) == (emotion, folders[participant],
                                                            "casme2me")
        assert r["onset_frame"] == onset and r["apex_frame"] == onset + apex_index, name
        offset = onset + apex_index if i == 3 else onset + fx.NUM_FRAMES - 1
        assert r["offset_frame"] == offset, name


def test_casme2me_megc3_and_a_row_naming_an_unknown_video(tmp_path):
    rows = fx.CASME2ME_ROWS + [(2, "fear9_1", "negative", 30, 3, "4", "micro-expression")]
    manual = fx.write_casme2me(tmp_path / "manual", rows)
    with pytest.raises(BadInputError, match=r"row 7: s16_fear9_1: video name 'fear9'"):
        build(Casme2me, manual, tmp_path / "tfds")
    builder = build(Casme2me, manual, tmp_path / "tfds", on_error="skip")
    labels = {k: r["label"] for k, r in by_id(builder).items()}
    assert labels == {"s15_disgust1_1": "negative", "s15_disgust1_2": "negative",
                      "s16_happy1_1": "positive", "s15_disgust1_3": "surprise"}
    assert builder.info.metadata["excluded_emotions"] == {"others": 1}
    assert any("fear9" in s for s in builder.info.metadata["skipped"])


@pytest.fixture(scope="module")
def two_databases(tmp_path_factory):
    """The MMEW and CAS(ME)^2 fixtures built with the MEGC classes: (builders, data)."""
    root = tmp_path_factory.mktemp("two")
    builders = [build(Mmew, fx.write_mmew(root / "mmew"), root / "tfds"),
                build(Casme2me, fx.write_casme2me(root / "casme2me"), root / "tfds")]
    return root, builders, records.read_builders(builders)


def test_several_databases_read_as_one_with_lodo_and_cross_folds(two_databases):
    _, builders, data = two_databases
    assert list(data.dataset) == ["mmew"] * 6 + ["casme2me"] * 4  # 'others' left out
    assert "au" in data.views and len(data.views["flow"]) == 10
    lodo = protocols.make_folds("lodo", data.dataset, data.subject)
    assert lodo.names == ("casme2me", "mmew")
    assert [sorted(set(data.dataset[lodo.test_samples(f)])) for f in range(2)] == [
        ["casme2me"], ["mmew"]]
    assert lodo.num_train.tolist() == [6, 4]
    cross = protocols.make_folds("cross", data.dataset, data.subject, ("mmew",), ("casme2me",))
    assert cross.names == ("mmew->casme2me",)
    assert set(data.dataset[cross.train_samples(0)]) == {"mmew"}
    assert list(cross.test_samples(0)) == [6, 7, 8, 9]
    with pytest.raises(ValueError, match="does not hold"):
        protocols.make_folds("cross", data.dataset, data.subject, ("samm",), ("mmew",))
    some = records.read_builders(builders, keep=[1, 7])  # one sample of each, others unread
    assert some.view_row.tolist() == [-1, 0, -1, -1, -1, -1, -1, 1, -1, -1]
    np.testing.assert_array_equal(some.views["flow"][1], data.views["flow"][7])


def test_cross_scores_only_the_test_databases(two_databases):
    """The cross protocol's training database is not scored: the data and the fold's
    test table are restricted to the tested samples, renumbered."""
    _, _, data = two_databases
    folds = protocols.make_folds("cross", data.dataset, data.subject, ("mmew",), ("casme2me",))
    tested = protocols.tested_samples(folds)
    part, kept = protocols.test_part(folds, tested), records.subset(data, tested)
    assert list(kept.dataset) == ["casme2me"] * 4 and part.test_samples(0).tolist() == [0, 1, 2, 3]
    np.testing.assert_array_equal(kept.views["flow"], data.views["flow"][6:])


def test_two_databases_train_one_deployable_model_end_to_end(two_databases, tmp_path):
    """run.py over data.names (each database from its own manual_dir) with protocol
    'all': one model trained on both databases' samples, written as a model folder."""
    root, _, _ = two_databases
    proc = subprocess.run(
        [sys.executable, "run.py", "--config=configs/cross_database.py:mmew,casme2me",
         "--config.protocol.name=all", f"--config.data.data_dir={root / 'tfds'}",
         f"--config.data.manual_dirs.mmew={root / 'mmew'}",
         f"--config.data.manual_dirs.casme2me={root / 'casme2me'}",
         "--config.data.build.flow_size=28", "--config.data.build.face_size=48",
         f"--workdir={tmp_path / 'work'}", *TINY_RUN, *MOTION_ONLY],
        cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    metrics = json.loads((tmp_path / "work" / "metrics.json").read_text())
    assert metrics["protocol"] == "all" and metrics["num_samples"] == 10
    model = json.loads((tmp_path / "work" / "model" / "model.json").read_text())
    assert model["kind"] == "single" and model["training_data"]["name"] == "mmew+casme2me"
    assert model["training_data"]["databases"] == ["casme2me", "mmew"]
    assert "mmew+casme2me" in (tmp_path / "work" / "summary.txt").read_text()
