"""The synthetic long videos' ground truth and frames: events in bounds and apart, micro
and macro lengths, the expression motion exactly where the events are, frames that
depend only on (seed, t)."""

from __future__ import annotations

import numpy as np

from tfds_builders.synthetic_me import long_videos


def test_events_are_apart_in_bounds_and_of_their_kind():
    video = long_videos.make_long_video(seed=3, num_frames=3000, fps=30.0)
    events = video.events
    assert {e.kind for e in events} == {"micro", "macro"} and len(events) > 10
    for e in events:
        length = e.offset - e.onset + 1
        low, high = (long_videos.MICRO_SECONDS if e.kind == "micro"
                     else long_videos.MACRO_SECONDS)
        assert round(low * 30) <= length <= round(high * 30), e
        assert e.onset < e.apex < e.offset < 3000 and e.label in (0, 1, 2)
    for a, b in zip(events, events[1:]):
        assert b.onset - a.offset > round(long_videos.GAP_SECONDS[0] * 30) - 1, (a, b)


def test_the_expression_moves_only_inside_its_events():
    video = long_videos.make_long_video(seed=1, num_frames=1200, fps=30.0, size=64)
    inside = np.zeros(video.num_frames, bool)
    for e in video.events:
        inside[e.onset:e.offset + 1] = True
        peak = np.linalg.norm(video.expression_displacement(e.apex), axis=-1).max()
        (low, high) = (long_videos.MICRO_PEAK_PX if e.kind == "micro"
                       else long_videos.MACRO_PEAK_PX)
        assert low * 0.5 - 1e-4 <= peak <= high * 0.5 + 1e-4  # 64 px: half the 128 px peaks
        assert not video.expression_displacement(e.onset).any()  # 0 at the onset
    quiet = np.flatnonzero(~inside)[::50]
    assert all(not video.expression_displacement(t).any() for t in quiet)


def test_a_frame_depends_only_on_the_seed_and_its_index():
    a = long_videos.make_long_video(seed=2, num_frames=400, size=64)
    b = long_videos.make_long_video(seed=2, num_frames=400, size=64)
    streamed = list(a.frames())[:5]
    assert all(np.array_equal(f, b.frame(t)) for t, f in enumerate(streamed))
    assert not np.array_equal(a.frame(10), long_videos.make_long_video(seed=4, num_frames=400,
                                                                       size=64).frame(10))
    assert streamed[0].shape == (64, 64) and streamed[0].dtype == np.float32
