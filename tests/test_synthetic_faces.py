"""Tests of the synthetic micro-expression clip generator."""

import collections
import re

import cv2
import numpy as np
import pytest

from tfds_builders.synthetic_me import synthetic_faces as sf


@pytest.fixture(scope="module")
def default_dataset():
    return sf.make_dataset()


def _clips_of(seed, label, orientation_deg=90.0, count=6):
    """``count`` (face, clip) pairs of ``label``, each from its own seed."""
    pairs = []
    for k in range(count):
        rng = np.random.default_rng([seed, k])
        face = sf.make_subject(rng)
        pairs.append((face, sf.make_clip(rng, face, label, orientation_deg)))
    return pairs


def _moving(flow, fraction=0.3):
    magnitude = np.linalg.norm(flow, axis=-1)
    return magnitude, magnitude > fraction * magnitude.max()


def _small(seed, num_subjects):
    return sf.make_dataset(seed=seed, num_subjects=num_subjects, clips_per_subject=3,
                           size=64, num_frames=5)


def test_same_seed_gives_identical_bytes():
    first, second = _small(3, 2), _small(3, 2)
    assert [s.sample_id for s in first] == [s.sample_id for s in second]
    assert [s.label for s in first] == [s.label for s in second]
    for a, b in zip(first, second):
        assert a.clip.frames.tobytes() == b.clip.frames.tobytes()
        assert a.clip.true_flow.tobytes() == b.clip.true_flow.tobytes()


def test_different_seeds_give_different_data():
    first, second = _small(3, 2), _small(4, 2)
    assert not np.array_equal(first[0].clip.frames, second[0].clip.frames)


def test_subject_does_not_depend_on_num_subjects():
    few, many = _small(5, 2), _small(5, 4)
    few_s02 = [s for s in few if s.subject == "s02"]
    many_s02 = [s for s in many if s.subject == "s02"]
    assert few_s02 and len(few_s02) == len(many_s02)
    for a, b in zip(few_s02, many_s02):
        assert a.sample_id == b.sample_id and a.label == b.label
        assert a.clip.frames.tobytes() == b.clip.frames.tobytes()


def test_flow_magnitude_bounds(default_dataset):
    peaks = [np.linalg.norm(s.clip.true_flow, axis=-1).max() for s in default_dataset]
    assert max(peaks) <= 1.5 + 1e-5
    assert min(peaks) >= 0.3 - 1e-5


def test_flow_scales_with_size():
    rng = np.random.default_rng(0)
    face = sf.make_subject(rng, size=64)
    clip = sf.make_clip(rng, face, sf.SURPRISE, size=64)
    assert clip.frames.shape == (9, 64, 64) and clip.true_flow.shape == (64, 64, 2)
    assert np.linalg.norm(clip.true_flow, axis=-1).max() <= 0.75 + 1e-5


@pytest.mark.parametrize("label, upper, v_sign", [
    (sf.NEGATIVE, True, +1.0),   # brows down
    (sf.POSITIVE, False, -1.0),  # lip corners up
    (sf.SURPRISE, True, -1.0),   # brows up
])
def test_class_motion_place_and_vertical_sign(label, upper, v_sign):
    ys = np.arange(128, dtype=np.float64)[:, None]
    for face, clip in _clips_of(10 + label, label):
        magnitude, moving = _moving(clip.true_flow)
        centroid_y = (magnitude * ys).sum() / magnitude.sum()
        assert (centroid_y < face.center[1]) == upper
        mean_v = clip.true_flow[..., 1][moving].mean()
        peak = np.linalg.norm(clip.true_flow, axis=-1).max()
        assert np.sign(mean_v) == v_sign and abs(mean_v) > 0.4 * peak


@pytest.mark.parametrize("label, outward_sign", [(sf.NEGATIVE, -1.0), (sf.POSITIVE, +1.0)])
def test_horizontal_component_towards_or_away_from_midline(label, outward_sign):
    xs = np.arange(128, dtype=np.float64)[None, :]
    for face, clip in _clips_of(20 + label, label):
        _, moving = _moving(clip.true_flow)
        outward = clip.true_flow[..., 0] * np.sign(xs - face.center[0])
        assert np.sign(outward[moving].mean()) == outward_sign


@pytest.mark.parametrize("label", [sf.NEGATIVE, sf.POSITIVE, sf.SURPRISE])
def test_orientation_rotates_vectors(label):
    vertical = _clips_of(30, label, 90.0, count=2)
    horizontal = _clips_of(30, label, 0.0, count=2)
    for (_, clip90), (_, clip0) in zip(vertical, horizontal):
        u90, v90 = clip90.true_flow[..., 0], clip90.true_flow[..., 1]
        # Rotating by 0 - 90 degrees maps (u, v) to (v, -u): down becomes right.
        np.testing.assert_allclose(clip0.true_flow[..., 0], v90, atol=1e-5)
        np.testing.assert_allclose(clip0.true_flow[..., 1], -u90, atol=1e-5)
        _, moving = _moving(clip0.true_flow)
        u, v = clip0.true_flow[..., 0][moving], clip0.true_flow[..., 1][moving]
        assert np.abs(u).mean() > np.abs(v).mean()


def test_frames_range_and_timing(default_dataset):
    for sample in default_dataset[::7]:
        clip = sample.clip
        assert clip.frames.dtype == np.float32 and clip.frames.shape == (9, 128, 128)
        assert clip.frames.min() >= 0.0 and clip.frames.max() <= 255.0
        assert clip.onset == 0 and clip.offset == 8 and 3 <= clip.apex <= 5
        assert clip.amplitude[0] == 0.0 and clip.amplitude[clip.apex] == pytest.approx(1.0)
        assert clip.amplitude.max() == pytest.approx(1.0)
        assert np.all(np.linalg.norm(clip.head_shift, axis=-1) <= 1.0 + 1e-9)


def test_apex_differs_from_onset_more_than_noise(default_dataset):
    ratios = []
    for sample in default_dataset:
        clip = sample.clip
        magnitude, moving = _moving(clip.true_flow, 0.5)
        still = ((magnitude < 0.01 * magnitude.max())
                 & (np.linalg.norm(clip.distractor_flow, axis=-1) < 1e-3))
        change = clip.frames[clip.apex] - clip.frames[clip.onset]
        ratios.append(np.sqrt(np.mean(change[moving] ** 2) / np.mean(change[still] ** 2)))
    # The weakest clips sit at noise level by design (0.3 px peaks, 3-level noise);
    # the bulk must stand clearly above it.
    assert np.median(ratios) > 1.5
    assert np.mean(np.array(ratios) > 1.1) > 0.8


def test_true_flow_maps_onset_to_apex(default_dataset):
    """I_apex(x + d(x)) ~ I_onset(x): undoing d must shrink the change."""
    ys, xs = np.mgrid[0:128, 0:128].astype(np.float32)
    clear = [s for s in default_dataset  # peaks near noise level cannot show a direction
             if np.linalg.norm(s.clip.true_flow, axis=-1).max() >= 0.8]
    assert len(clear) >= 24
    for sample in clear[:24]:
        clip = sample.clip
        d = (clip.true_flow + clip.distractor_amplitude[clip.apex] * clip.distractor_flow
             + clip.head_shift[clip.apex]).astype(np.float32)
        apex, onset = clip.frames[clip.apex], clip.frames[clip.onset]
        _, moving = _moving(clip.true_flow, 0.5)
        undone = cv2.remap(apex, xs + d[..., 0], ys + d[..., 1], cv2.INTER_LINEAR)
        wrong_way = cv2.remap(apex, xs - d[..., 0], ys - d[..., 1], cv2.INTER_LINEAR)
        error = np.abs(undone - onset)[moving].mean()
        assert error < np.abs(apex - onset)[moving].mean()
        assert error < np.abs(wrong_way - onset)[moving].mean()


def test_label_distribution_and_ids(default_dataset):
    counts = collections.Counter(s.label for s in default_dataset)
    total = len(default_dataset)
    for label, prob in enumerate(sf.LABEL_PROBS):
        assert abs(counts[label] / total - prob) < 0.08
    per_subject = collections.Counter(s.subject for s in default_dataset)
    assert len(per_subject) == 16
    assert all(10 <= n <= 14 for n in per_subject.values())
    assert len(set(per_subject.values())) > 1
    assert all(re.fullmatch(r"s\d\d_c\d\d", s.sample_id) for s in default_dataset)
    assert len({s.sample_id for s in default_dataset}) == total


def test_subjects_look_different():
    faces = [sf.make_subject(np.random.default_rng(k)) for k in range(4)]
    images = [sf.render(face) for face in faces]
    for image in images:
        assert image.dtype == np.float32 and image.shape == (128, 128)
        assert 0.0 <= image.min() and image.max() <= 255.0
    for i in range(len(faces)):
        for j in range(i + 1, len(faces)):
            assert np.abs(images[i] - images[j]).mean() > 8.0
            moved = (abs(faces[i].eye_y - faces[j].eye_y)
                     + abs(faces[i].mouth_y - faces[j].mouth_y))
            assert moved > 0.5


def test_the_aligned_variant_centres_every_face_and_scales_the_motion():
    """Faces centred at one scale across subjects (their other features as the default
    faces of the same draws), the peak displacement multiplied, the clip's length set;
    the default data is the same bytes with the variant's fields at their defaults."""
    default = sf.make_dataset(seed=4, num_subjects=3, clips_per_subject=2, size=64)
    plain = sf.make_dataset(seed=4, num_subjects=3, clips_per_subject=2, size=64,
                            aligned=False, peak_scale=1.0)
    assert [a.clip.frames.tobytes() for a in default] == [b.clip.frames.tobytes() for b in plain]
    aligned = sf.make_dataset(seed=4, num_subjects=3, clips_per_subject=2, size=64,
                              aligned=True, peak_scale=2.0, num_frames=7)
    faces = [sf.make_subject(rng, 64, aligned=True) for rng in
             (np.random.default_rng(c) for c in np.random.SeedSequence(4).spawn(3))]
    misaligned = [sf.make_subject(rng, 64) for rng in
                  (np.random.default_rng(c) for c in np.random.SeedSequence(4).spawn(3))]
    assert {f.center for f in faces} == {(32.0, 32.0)}
    assert len({f.center for f in misaligned}) == 3
    assert [f.skin for f in faces] == [f.skin for f in misaligned]  # the same draws
    assert all(s.clip.frames.shape == (7, 64, 64) for s in aligned)
    peak = lambda s: np.linalg.norm(s.clip.true_flow, axis=-1).max()
    for a in aligned:  # peaks of 0.3..1.5 px at 128 px, doubled (at 64 px: 0.3..1.5 px)
        assert 2 * sf._MIN_PEAK_PX * 0.5 - 1e-4 <= peak(a) <= 2 * sf._MAX_PEAK_PX * 0.5 + 1e-4


def test_the_aligned_variant_is_a_builder_config_of_its_own():
    from tfds_builders.synthetic_me import SyntheticMe
    default = SyntheticMe.from_fields("/tmp/unused")
    assert default.builder_config.name == "n16_c12_o90_seed0_px128"  # unchanged
    variant = SyntheticMe.from_fields("/tmp/unused", aligned=True, peak_scale=2.0,
                                      clip_frames=8, num_subjects=8)
    assert variant.builder_config.name == "n8_c12_o90_seed0_px128_frames8_aligned_peak2"
    with pytest.raises(ValueError, match="clip_length"):
        SyntheticMe.from_fields("/tmp/unused", clip_length=2)
