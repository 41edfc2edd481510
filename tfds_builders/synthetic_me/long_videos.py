"""Synthetic long videos for spotting: one subject's face (``synthetic_faces``) over
thousands of frames, with micro- and macro-expressions at known intervals among the
nuisances real recordings have. A seed fixes every byte; any frame can be drawn on its
own (``LongVideo.frame``), so a video of any length streams in bounded memory.

Events (the ground truth), placed one after another with a random quiet gap
(0.5..4 s) before each:
  micro  with probability ``micro_fraction``: 0.2..0.5 s long, peak displacement
         0.5..1.5 px (at 128 px), the class motion of ``synthetic_faces``;
  macro  0.6..3 s long, peak 2..4 px, the same class motions, larger and slower.
Each event rises from 0 at its onset to 1 at its apex (at 30..60% of it) and falls
back to 0 at its offset (``synthetic_faces._amplitude_profile``, no residual); its
label is drawn from ``LABEL_PROBS``.

Nuisances, none of them part of the ground truth:
  head motion   a slow drift (three sinusoids, periods 4..20 s, up to 1.5 px) and
                rare quick head shifts (2..4 px over 0.2..0.4 s, one per 10..30 s)
  blinks        every 2..6 s, 0.1..0.2 s long (an eyelid bump, ``_distractor_bumps``)
  lighting      the gain drifts by up to 5% over tens of seconds
  noise         Gaussian, sigma 1.5..3 grey levels, new each frame

    displacement(t) = sum_events a_e(t) F_e + blink(t) B + head(t)
    frame(t) = clip(gain(t) * warp(neutral, displacement(t)) + offset + noise_t)
"""

from __future__ import annotations

import dataclasses

import numpy as np

from tfds_builders.synthetic_me import synthetic_faces as faces

MICRO_SECONDS = (0.2, 0.5)
MACRO_SECONDS = (0.6, 3.0)
MICRO_PEAK_PX = (0.5, 1.5)
MACRO_PEAK_PX = (2.0, 4.0)
GAP_SECONDS = (0.5, 4.0)


@dataclasses.dataclass(frozen=True)
class Event:
    """One expression: frames onset..offset inclusive, its apex, kind and label."""
    onset: int
    apex: int
    offset: int
    kind: str  # 'micro' or 'macro'
    label: int


@dataclasses.dataclass(eq=False)
class LongVideo:
    face: faces.Face
    num_frames: int
    fps: float
    events: list  # [Event], in time order
    seed: int
    _fields: list = dataclasses.field(repr=False, default_factory=list)  # per event (H, W, 2)
    _profiles: list = dataclasses.field(repr=False, default_factory=list)  # per event (length,)
    _blinks: np.ndarray = dataclasses.field(repr=False, default=None)  # (T,) blink amplitude
    _blink_field: np.ndarray = dataclasses.field(repr=False, default=None)
    _head: np.ndarray = dataclasses.field(repr=False, default=None)  # (T, 2) px
    _gain: np.ndarray = dataclasses.field(repr=False, default=None)  # (T,)
    _noise_sigma: float = 2.0

    def expression_displacement(self, t: int) -> np.ndarray:
        """(H, W, 2): the events' motion at frame t alone (0 between events)."""
        out = np.zeros((self.face.size, self.face.size, 2), np.float32)
        for event, field, profile in zip(self.events, self._fields, self._profiles):
            if event.onset <= t <= event.offset:
                out += np.float32(profile[t - event.onset]) * field
        return out

    def displacement(self, t: int) -> np.ndarray:
        """(H, W, 2): everything that moves frame t against the neutral face."""
        return (self.expression_displacement(t) + np.float32(self._blinks[t]) * self._blink_field
                + self._head[t].astype(np.float32))

    def frame(self, t: int) -> np.ndarray:
        """Frame t, (H, W) float32 in 0..255; its noise depends only on (seed, t)."""
        if not 0 <= t < self.num_frames:
            raise IndexError(f"frame {t} outside 0..{self.num_frames - 1}")
        rng = np.random.default_rng([self.seed, t])
        image = faces.warp(faces._neutral(self.face), self.displacement(t))
        noise = rng.standard_normal(image.shape, dtype=np.float32)
        return np.clip(self._gain[t] * image + self._noise_sigma * noise,
                       0.0, 255.0)

    def frames(self):
        """Every frame in order, one at a time."""
        for t in range(self.num_frames):
            yield self.frame(t)


def _events(rng, num_frames: int, fps: float, micro_fraction: float) -> list:
    events, t = [], 0
    while True:
        t += int(round(rng.uniform(*GAP_SECONDS) * fps))
        kind = "micro" if rng.random() < micro_fraction else "macro"
        seconds = MICRO_SECONDS if kind == "micro" else MACRO_SECONDS
        length = max(3, int(round(rng.uniform(*seconds) * fps)))
        if t + length > num_frames:
            return events
        apex = t + int(round(rng.uniform(0.3, 0.6) * (length - 1)))
        apex = min(max(apex, t + 1), t + length - 2)
        label = int(rng.choice(len(faces.LABEL_PROBS), p=faces.LABEL_PROBS))
        events.append(Event(t, apex, t + length - 1, kind, label))
        t += length


def _head_motion(rng, num_frames: int, fps: float, r: float) -> np.ndarray:
    seconds = np.arange(num_frames) / fps
    head = np.zeros((num_frames, 2))
    for _ in range(3):
        period, phase = rng.uniform(4, 20), rng.uniform(0, 2 * np.pi, 2)
        head += rng.uniform(0.1, 0.5) * r * np.sin(2 * np.pi * seconds[:, None] / period + phase)
    t = 0.0
    while True:
        t += rng.uniform(10, 30)
        if t * fps >= num_frames:
            return head
        angle, size = rng.uniform(0, 2 * np.pi), rng.uniform(2, 4) * r
        ramp = np.clip((seconds - t) / rng.uniform(0.2, 0.4), 0, 1)
        head += np.outer(3 * ramp ** 2 - 2 * ramp ** 3, size * np.array([np.cos(angle),
                                                                         np.sin(angle)]))


def _blinks(rng, num_frames: int, fps: float) -> np.ndarray:
    out, t = np.zeros(num_frames), 0.0
    frames = np.arange(num_frames)
    while True:
        t += rng.uniform(2, 6)
        start, length = int(t * fps), max(2, int(round(rng.uniform(0.1, 0.2) * fps)))
        if start + length >= num_frames:
            return out
        step = frames - start
        out = np.maximum(out, np.where((step >= 0) & (step <= length),
                                       np.sin(np.pi * step / length) ** 2, 0.0))


def make_long_video(seed: int = 0, num_frames: int = 3000, fps: float = 30.0,
                    size: int = 128, micro_fraction: float = 0.5) -> LongVideo:
    """One subject's long video (see the module doc)."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 7919]))
    face = faces.make_subject(rng, size)
    r = size / faces._REF_SIZE
    events = _events(rng, num_frames, fps, micro_fraction)
    fields, profiles = [], []
    for event in events:
        peaks = MICRO_PEAK_PX if event.kind == "micro" else MACRO_PEAK_PX
        bumps = faces._jitter(rng, faces._class_bumps(face, event.label), face)
        fields.append(faces._with_peak(faces._field(bumps, size), rng.uniform(*peaks) * r))
        length = event.offset - event.onset + 1
        profiles.append(faces._amplitude_profile(length, event.apex - event.onset, 0.0))
    blink_bumps = [(ex, ey - 0.8 * face.eye_axes[1], 0.0, 1.0, 1.0, 3.5 * r)
                   for ex, ey in (face.eye_center(-1), face.eye_center(1))]
    blink_field = faces._with_peak(faces._field(blink_bumps, size), rng.uniform(1.5, 2.5) * r)
    seconds = np.arange(num_frames) / fps
    gain = 1.0 + rng.uniform(0.0, 0.05) * np.sin(2 * np.pi * seconds / rng.uniform(20, 60)
                                                  + rng.uniform(0, 2 * np.pi))
    return LongVideo(face=face, num_frames=num_frames, fps=fps, events=events, seed=seed,
                     _fields=fields, _profiles=profiles, _blinks=_blinks(rng, num_frames, fps),
                     _blink_field=blink_field.astype(np.float32),
                     _head=_head_motion(rng, num_frames, fps, r), _gain=gain.astype(np.float32),
                     _noise_sigma=float(rng.uniform(1.5, 3.0)))
