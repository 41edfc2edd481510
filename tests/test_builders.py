"""TFDS builders: build, read back without TensorFlow, and refuse bad input cleanly."""

from __future__ import annotations

import collections
import csv
import sys

import cv2
import numpy as np
import pytest
import tensorflow_datasets as tfds

from faceslueth_jax.data import records
from tests import fixtures
from tests.conftest import shared_path
from tfds_builders.htnet_composite import HtnetComposite
from tfds_builders.htnet_composite.htnet_composite_dataset_builder import CompositeDataError
from tfds_builders.synthetic_me import SyntheticMe

TINY = dict(num_subjects=3, clips_per_subject=4, size=64)


@pytest.fixture(scope="session")
def tiny_synthetic(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("tfds")
    builder = SyntheticMe.from_fields(str(data_dir), **TINY)
    builder.download_and_prepare()
    return builder


def _build_composite(manual_dir, data_dir):
    builder = HtnetComposite(data_dir=str(data_dir), file_format="array_record")
    builder.download_and_prepare(
        download_config=tfds.download.DownloadConfig(manual_dir=str(manual_dir)))
    return builder


def test_synthetic_builds_array_record_without_tensorflow(tiny_synthetic):
    data = records.read_builder(tiny_synthetic)
    assert "tensorflow" not in sys.modules
    assert len(data) == len(tiny_synthetic.as_data_source()["train"]) > 0
    assert set(data.views) == {"flow", "apex", "onset"}
    assert data.views["flow"].shape[1:] == (64, 64, 3)
    assert data.class_names == ("negative", "positive", "surprise")
    assert len(set(data.subject)) == 3 and set(data.dataset) == {"synthetic"}
    assert len(set(data.sample_id)) == len(data)
    files = list(tiny_synthetic.data_path.iterdir())
    assert any(".array_record" in f.name for f in files)


def test_reading_only_some_samples_keeps_every_label(tiny_synthetic):
    """A host of a multi-host sweep reads every label but only its samples' views."""
    full = records.read_builder(tiny_synthetic)
    keep = np.array([4, 1])
    part = records.read_builder(tiny_synthetic, keep=keep)
    np.testing.assert_array_equal(part.label, full.label)
    np.testing.assert_array_equal(part.sample_id, full.sample_id)
    assert part.views["flow"].shape[0] == 2 and not part.complete
    assert part.rows[1] == 0 and part.rows[4] == 1 and (np.delete(part.rows, keep) == -1).all()
    np.testing.assert_array_equal(part.views["apex"][part.rows[4]], full.views["apex"][4])
    none = records.read_builder(tiny_synthetic, keep=[])
    assert none.views["onset"].shape == (0,) + full.views["onset"].shape[1:]


def test_synthetic_flow_is_computed_not_copied(tiny_synthetic):
    """The stored flow is TV-L1 of the stored frames: it estimates the generator's
    displacement (better than zero flow where the face moves) without being it, and
    recomputing it from the stored frames gives it back."""
    from tfds_builders.synthetic_me import synthetic_faces
    from faceslueth_jax.preprocess import tvl1
    data = records.read_builder(tiny_synthetic)
    samples = {s.sample_id: s for s in synthetic_faces.make_dataset(seed=0, **TINY)}
    estimate_error, zero_error = [], []
    for i, sample_id in enumerate(data.sample_id):
        clip = samples[sample_id].clip
        truth = (clip.true_flow + clip.distractor_amplitude[clip.apex] * clip.distractor_flow
                 + clip.head_shift[clip.apex])
        magnitude = np.linalg.norm(clip.true_flow, axis=-1)
        moving = magnitude > 0.5 * magnitude.max()
        error = np.linalg.norm(data.views["flow"][i, ..., :2] - truth, axis=-1)
        assert error.max() > 1e-3  # not the generator's field
        estimate_error.append(error[moving].mean())
        zero_error.append(np.linalg.norm(truth, axis=-1)[moving].mean())
    # measured: median 0.24 px against 0.40 px for zero flow (peaks 0.3-0.75 px at 64 px)
    assert np.median(estimate_error) < 0.8 * np.median(zero_error)
    recomputed = np.asarray(tvl1.flow_uvs(data.views["onset"][0, ..., 0],
                                          data.views["apex"][0, ..., 0]))
    assert np.abs(recomputed - data.views["flow"][0]).mean() < 0.05


def test_synthetic_is_deterministic(tiny_synthetic, tmp_path):
    again = SyntheticMe.from_fields(str(tmp_path), **TINY)
    again.download_and_prepare()
    a, b = records.read_builder(tiny_synthetic), records.read_builder(again)
    np.testing.assert_array_equal(a.views["flow"], b.views["flow"])
    np.testing.assert_array_equal(a.label, b.label)


def test_composite_fixture_builds(tmp_path):
    manual = fixtures.write_htnet_composite(tmp_path / "htnet")
    data = records.read_builder(_build_composite(manual, tmp_path / "tfds"))
    assert len(data) == len(fixtures.COMPOSITE_ROWS)
    assert "onset" not in data.views
    assert data.views["flow"].shape[1:] == (28, 28, 3)
    assert data.views["apex"].shape[1:] == (224, 224, 1)
    # BGR on disk -> (u, v, strain): u is the PNG's third channel
    png = cv2.imread(str(manual / "datasets/STSNet_whole_norm_u_v_os/sub01_EP02_01f .png"))
    i = list(data.sample_id).index("sub01_EP02_01f")
    np.testing.assert_allclose(data.views["flow"][i, ..., 0], png[..., 2] / 255.0, atol=1e-6)
    np.testing.assert_allclose(data.views["flow"][i, ..., 2], png[..., 0] / 255.0, atol=1e-6)
    assert list(data.dataset).count("smic") == 2


def _rewrite_csv(manual, edit):
    path = manual / "combined_3_class2_for_optical_flow.csv"
    rows = list(csv.reader(open(path)))
    rows = edit(rows)
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows(rows)


BAD_INPUTS = {
    "missing flow file": (lambda m: (m / "datasets/STSNet_whole_norm_u_v_os/006_006_1_2 .png").unlink(),
                          r"line 5: missing file .*006_006_1_2 \.png"),
    "corrupt apex image": (lambda m: (m / "datasets/combined_datasets_whole/s01_s1_ne_01.jpg")
                           .write_bytes(b"\xff\xd8\xff garbage"),
                           r"line 7: unreadable or corrupt image .*s01_s1_ne_01.jpg"),
    "renamed column": (lambda m: _rewrite_csv(m, lambda r: [["dataset", "subject"] + r[0][2:]] + r[1:]),
                       r"missing column\(s\) \['sub'\]"),
    "unknown label": (lambda m: _rewrite_csv(m, lambda r: r[:2] + [r[2][:3] + ["7"] + r[2][4:]] + r[3:]),
                      r"line 3: unknown label '7'"),
    "unknown dataset": (lambda m: _rewrite_csv(m, lambda r: r[:3] + [["mmew"] + r[3][1:]] + r[4:]),
                        r"line 4: unknown dataset 'mmew'"),
    "duplicated sample": (lambda m: _rewrite_csv(m, lambda r: r + [r[1]]),
                          r"line 9: sample sub01_EP02_01f duplicates line 2"),
    "no samples": (lambda m: _rewrite_csv(m, lambda r: r[:1]), r"has no samples"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_composite_bad_input_names_file_and_row_and_leaves_nothing(tmp_path, case):
    manual = fixtures.write_htnet_composite(tmp_path / "htnet")
    damage, message = BAD_INPUTS[case]
    damage(manual)
    data_dir = tmp_path / "tfds"
    with pytest.raises(CompositeDataError, match=message):
        _build_composite(manual, data_dir)
    # a failed build leaves no dataset a later read would pick up
    builder = HtnetComposite(data_dir=str(data_dir), file_format="array_record")
    assert not builder.is_prepared()
    assert not list(data_dir.glob("htnet_composite/*/dataset_info.json"))


def test_real_htnet_composite(tmp_path):
    """The 442 real samples: counts per class, subject and database as published."""
    manual = shared_path("data", "htnet_composite")
    data = records.read_builder(_build_composite(manual, tmp_path / "tfds"))
    assert len(data) == 442
    assert len({(d, s) for d, s in zip(data.dataset, data.subject)}) == 68
    assert np.bincount(data.label).tolist() == [250, 109, 83]
    assert collections.Counter(data.dataset) == {"smic": 164, "casme2": 145, "samm": 133}
    per_db = {db: np.bincount(data.label[data.dataset == db], minlength=3).tolist()
              for db in ("smic", "casme2", "samm")}
    assert per_db == {"smic": [70, 51, 43], "casme2": [88, 32, 25], "samm": [92, 26, 15]}
    assert len({s for d, s in zip(data.dataset, data.subject) if d == "casme2"}) == 24
    assert len({s for d, s in zip(data.dataset, data.subject) if d == "samm"}) == 28
    assert 0.0 <= data.views["flow"].min() and data.views["flow"].max() <= 1.0


def test_making_a_builder_asks_no_bucket_and_leaves_no_temporary_folder(tmp_path, monkeypatch):
    """TFDS looks an unbuilt data set up in its public bucket when its builder is made,
    leaving an empty tmp*tfds folder each time; the project's builders skip it."""
    import importlib
    import tempfile

    from tfds_builders import registry
    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    for name in registry.NAMES:
        registry.make(name, str(tmp_path / "tfds"))
    for module, cls in registry.LONG_VIDEO_BUILDERS.values():
        getattr(importlib.import_module(module), cls).from_fields(str(tmp_path / "tfds"))
    assert list(temp.iterdir()) == []
