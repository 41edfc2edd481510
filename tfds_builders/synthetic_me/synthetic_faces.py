"""Synthetic face-like grey micro-expression clips.

Lets the project run end to end without licensed databases.  Everything is
drawn from ``numpy.random.Generator`` objects, so a seed fixes every byte.

Face model
    A subject is a soft head ellipse on a background, with eyes, eyebrows,
    a nose and a mouth drawn as soft-edged shapes whose geometry is drawn per
    subject.  Multi-scale skin texture ``T`` (blurred white noise) and a
    planar lighting term are added:

        I0(x) = gain * S(x) * (1 + g . (x - c) / size) + offset,

    where ``S`` is the unlit face, ``g`` a random 2-vector and ``c`` the
    image centre.

Expression model
    The motion of a clip at its apex is a smooth field, a sum of
    Gaussian-windowed bumps,

        F(x) = A * R(phi - 90) * sum_k a_k d_k exp(-|x - c_k|^2 / 2 s_k^2) / M,

    where each ``d_k`` is a unit direction, ``a_k`` a weight, ``c_k`` a centre
    tied to a facial landmark, ``s_k`` a width, ``M`` the field's peak norm
    and ``A`` the peak displacement of the clip (0.3..1.5 px at 128x128,
    scaled in proportion to ``size``).  ``R`` rotates the vectors.  The bumps
    are:

    * 0 negative: the brows and the skin just above them move down and
      slightly towards each other;
    * 1 positive: the lip corners (and the cheek above them) move up and out;
    * 2 surprise: the brows move up, more in their middle and outer parts,
      and so does the forehead above them.

    Each clip moves the centres by a few px, turns the directions a little,
    changes the widths, and sometimes makes one side weaker than the other.

Orientation convention
    Angles are measured from the +x axis (right), with image y pointing down,
    so a positive angle turns from +x towards +y.  ``orientation_deg`` names
    the dominant axis of motion: 90 (the default) is the vertical axis, with
    the directions listed above, and 0 is the horizontal axis.  For an
    orientation ``phi`` every displacement vector ``(u, v)`` is rotated by
    ``delta = phi - 90`` degrees:
    ``(u cos delta - v sin delta, u sin delta + v cos delta)``.  At
    ``phi = 0`` a downward move (0, 1) becomes a rightward one (1, 0).

Flow convention
    Displacements are forward: the content at ``x`` in the neutral (onset)
    face is found at ``x + d(x)`` in the displaced frame, that is
    ``I_t(x + d(x)) = I_onset(x)``.  Frame ``t`` is made by backward-warping
    the rendered neutral face (``cv2.remap``, bilinear), with the inverse map
    found by fixed-point iteration.  The displacement of frame ``t`` is

        d_t(x) = amplitude[t] * true_flow(x)
                 + distractor_amplitude[t] * distractor_flow(x) + head_shift[t],

    with ``amplitude[apex] = 1``.  ``true_flow`` (u right, v down, px) is the
    class motion alone; the distractor and the rigid head shift are nuisances
    kept apart so that tests can check the class motion.

Nuisances
    A rigid head shift growing smoothly to at most 1 px (scaled) in a random
    direction, Gaussian sensor noise (sigma 1.5..3 grey levels, new each frame),
    a per-clip gain/offset change with a small per-frame flicker, and in about
    70% of the clips a distractor motion (a blink, a cheek twitch or a chin
    movement) of 40-100% of the class peak, timed on its own. Across subjects
    the face is misaligned by up to 16 px and scaled by 0.85..1.15.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Sequence

import cv2
import numpy as np

NEGATIVE, POSITIVE, SURPRISE = 0, 1, 2
LABEL_PROBS = (0.55, 0.25, 0.20)

_REF_SIZE = 128.0  # geometry below is in pixels at this size
_MAX_PEAK_PX = 1.5
_MIN_PEAK_PX = 0.3
_MAX_HEAD_SHIFT_PX = 1.0
_WARP_ITERATIONS = 4


@dataclasses.dataclass(eq=False)
class Face:
    """Geometry, texture and lighting of one subject (all lengths in px)."""

    size: int
    center: tuple[float, float]  # head centre (x, y)
    head_axes: tuple[float, float]  # semi-axes (x, y)
    eye_y: float
    eye_dx: float  # distance from the midline to each eye centre
    eye_axes: tuple[float, float]
    brow_y: float  # height of the brow ends (the middle is brow_arch / 2 higher)
    brow_dx: float  # distance from the midline to each brow centre
    brow_half_len: float
    brow_thickness: float
    brow_arch: float
    brow_tilt: float  # > 0: inner ends lower than outer ends
    nose_y: float  # nostril height
    nose_dx: float
    mouth_y: float
    mouth_half_width: float
    mouth_curve: float  # > 0: corners lower than the centre
    lip_height: float
    skin: float  # grey level of the skin
    background: float
    brow_dark: float
    eye_dark: float
    lip_dark: float
    texture: np.ndarray  # (size, size) zero-mean skin texture, grey levels
    light_gradient: tuple[float, float]
    gain: float
    offset: float

    def brow_point(self, side: int, along: float) -> tuple[float, float]:
        """Point on a brow centreline.

        ``side`` is -1 (image left) or +1 (image right); ``along`` runs from
        -1 (inner end) to +1 (outer end).
        """
        x = self.center[0] + side * (self.brow_dx + along * self.brow_half_len)
        return x, self.brow_y + _brow_offset(self, along)

    def mouth_corner(self, side: int) -> tuple[float, float]:
        return (self.center[0] + side * self.mouth_half_width,
                self.mouth_y + self.mouth_curve)

    def eye_center(self, side: int) -> tuple[float, float]:
        return self.center[0] + side * self.eye_dx, self.eye_y

    def eyes_and_mouth(self) -> np.ndarray:
        """(4, 2) (x, y): the image-left eye centre, the other eye, the left and right
        mouth corners (the order of ``preprocess.landmarks.eyes_and_mouth``)."""
        return np.array([self.eye_center(-1), self.eye_center(1),
                         self.mouth_corner(-1), self.mouth_corner(1)])


@dataclasses.dataclass(eq=False)
class Clip:
    """One clip; see the module docstring for how the fields relate."""

    frames: np.ndarray  # (T, H, W) float32, 0..255
    onset: int
    apex: int
    offset: int
    true_flow: np.ndarray  # (H, W, 2) float32 class motion at apex, (u, v) px
    amplitude: np.ndarray  # (T,) class motion profile, 1 at apex
    head_shift: np.ndarray  # (T, 2) rigid shift (u, v) px
    distractor_flow: np.ndarray  # (H, W, 2) float32 peak distractor motion
    distractor_amplitude: np.ndarray  # (T,) distractor profile


@dataclasses.dataclass(eq=False)
class Sample:
    subject: str
    sample_id: str
    label: int
    clip: Clip


# A bump is (cx, cy, dx, dy, weight, sigma): centre, unit direction, weight
# and Gaussian width, all in pixels.
Bump = tuple[float, float, float, float, float, float]


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))


@functools.lru_cache(maxsize=8)
def _grid(height: int, width: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Read-only pixel coordinates ``(xs, ys)`` of a (height, width) image."""
    ys, xs = np.mgrid[0:height, 0:height if width is None else width].astype(np.float32)
    xs.flags.writeable = ys.flags.writeable = False
    return xs, ys


def _brow_offset(face: Face, along: np.ndarray | float) -> np.ndarray | float:
    """Height of the brow centreline relative to ``brow_y`` (y down)."""
    return face.brow_arch * (along ** 2 - 1.0) / 2.0 - face.brow_tilt * along / 2.0


def _texture(rng: np.random.Generator, size: int, scale: float) -> np.ndarray:
    """Zero-mean, unit-std noise summed over octaves of blur width."""
    total = np.zeros((size, size), np.float32)
    for sigma, weight in ((1.0, 0.5), (2.5, 0.8), (6.0, 1.0), (14.0, 1.0)):
        noise = rng.standard_normal((size, size)).astype(np.float32)
        layer = cv2.GaussianBlur(noise, (0, 0), sigma * scale)
        total += weight * layer / (layer.std() + 1e-6)
    return total / total.std()


def make_subject(rng: np.random.Generator, size: int = 128, aligned: bool = False) -> Face:
    """Draw the geometry, texture and lighting of one subject. ``aligned``: the face
    centred and at the reference scale, as a face chain's alignment would leave it (the
    same draws are made, so the other features are those of the misaligned face)."""
    r = size / _REF_SIZE
    u = rng.uniform
    cx = size / 2 + u(-16, 16) * r  # crops are not perfectly aligned across subjects
    cy = size / 2 + u(-12, 12) * r
    scale = u(0.85, 1.15)  # nor equally scaled: every size below follows the face scale
    if aligned:
        cx, cy, scale = size / 2, size / 2, 1.0
    r = r * scale
    eye_y = cy - u(8, 14) * r
    eye_dx = u(14, 19) * r
    eye_h = u(2.4, 3.4) * r
    return Face(
        size=size,
        center=(cx, cy),
        head_axes=(u(38, 46) * r, u(48, 57) * r),
        eye_y=eye_y,
        eye_dx=eye_dx,
        eye_axes=(u(6, 8) * r, eye_h),
        brow_y=eye_y - eye_h - u(5, 9) * r,
        brow_dx=eye_dx + u(-1, 2) * r,
        brow_half_len=u(8, 11) * r,
        brow_thickness=u(2.5, 4.5) * r,
        brow_arch=u(0.5, 4.0) * r,
        brow_tilt=u(-2.0, 2.0) * r,
        nose_y=cy + u(8, 14) * r,
        nose_dx=u(3, 5) * r,
        mouth_y=cy + u(21, 28) * r,
        mouth_half_width=u(10, 15) * r,
        mouth_curve=u(-1.5, 1.5) * r,
        lip_height=u(2.5, 4.5) * r,
        skin=u(120, 185),
        background=u(25, 100),
        brow_dark=u(45, 90),
        eye_dark=u(60, 110),
        lip_dark=u(12, 30),
        texture=u(4, 9) * _texture(rng, size, r),
        light_gradient=(u(-0.35, 0.35), u(-0.35, 0.35)),
        gain=u(0.8, 1.15),
        offset=u(-15, 15),
    )


def _head(face: Face, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Shaded skin ellipse on the background, with texture on the skin."""
    ax, ay = face.head_axes
    rho = np.hypot((xs - face.center[0]) / ax, (ys - face.center[1]) / ay)
    inside = _sigmoid((1.0 - rho) * ay / (1.5 * face.size / _REF_SIZE))
    skin = face.skin * (1.0 - 0.25 * rho ** 2) + face.texture
    return face.background + 0.3 * face.texture + inside * (skin - face.background)


def _eyes(face: Face, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Bright almond, dark iris and dark upper lash line for each eye."""
    ew, eh = face.eye_axes
    edge = 0.7 * face.size / _REF_SIZE
    out = np.zeros_like(xs)
    for side in (-1, 1):
        ex, ey = face.eye_center(side)
        rho = np.hypot((xs - ex) / ew, (ys - ey) / eh)
        almond = _sigmoid((1.0 - rho) * eh / edge)
        iris = _sigmoid((eh - np.hypot(xs - ex, ys - ey)) / edge) * almond
        lash = np.exp(-0.5 * ((rho - 1.0) / 0.15) ** 2) * _sigmoid((ey - ys) / edge)
        out += 15.0 * almond - face.eye_dark * iris - 0.6 * face.eye_dark * lash
    return out


def _brows(face: Face, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Dark arched bands tapering towards their outer ends."""
    edge = 0.7 * face.size / _REF_SIZE
    out = np.zeros_like(xs)
    for side in (-1, 1):
        along = (side * (xs - face.center[0]) - face.brow_dx) / face.brow_half_len
        centre_y = face.brow_y + _brow_offset(face, along)
        half = 0.5 * face.brow_thickness * (1.0 - 0.35 * np.clip(along, -1, 1))
        across = _sigmoid((half - np.abs(ys - centre_y)) / edge)
        lengthwise = _sigmoid((1.0 - np.abs(along)) * face.brow_half_len / (2 * edge))
        out -= face.brow_dark * across * lengthwise
    return out


def _nose(face: Face, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Two dark nostrils, a bright tip and faint shading along the bridge."""
    r = face.size / _REF_SIZE
    cx = face.center[0]
    out = 12.0 * np.exp(-((xs - cx) ** 2 + (ys - face.nose_y + 3 * r) ** 2) / (2 * (3 * r) ** 2))
    bridge = _sigmoid((ys - face.eye_y) / r) * _sigmoid((face.nose_y - ys) / r)
    for side in (-1, 1):
        nx = cx + side * face.nose_dx
        out -= 45.0 * np.exp(-((xs - nx) ** 2 + (ys - face.nose_y) ** 2) / (2 * (1.5 * r) ** 2))
        out -= 10.0 * bridge * np.exp(-((xs - cx - side * 0.7 * face.nose_dx) ** 2) / (2 * r ** 2))
    return out


def _mouth(face: Face, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Darker lips around a dark curved line between them."""
    edge = 0.7 * face.size / _REF_SIZE
    along = (xs - face.center[0]) / face.mouth_half_width
    line_y = face.mouth_y + face.mouth_curve * along ** 2
    width = _sigmoid((1.0 - np.abs(along)) * face.mouth_half_width / (2 * edge))
    line = _sigmoid((0.8 * edge - np.abs(ys - line_y)) / (0.5 * edge)) * width
    lips_rho = np.hypot(along / 1.05, (ys - line_y) / face.lip_height)
    lips = _sigmoid((1.0 - lips_rho) * face.lip_height / edge)
    return -face.lip_dark * lips - 2.5 * face.lip_dark * line


def _neutral(face: Face) -> np.ndarray:
    xs, ys = _grid(face.size)
    unlit = _head(face, xs, ys)
    for part in (_eyes, _brows, _nose, _mouth):
        unlit += part(face, xs, ys)
    gx, gy = face.light_gradient
    half = face.size / 2
    light = 1.0 + (gx * (xs - half) + gy * (ys - half)) / face.size
    return (face.gain * unlit * light + face.offset).astype(np.float32)


def warp(image: np.ndarray, displacement: np.ndarray) -> np.ndarray:
    """Move the content at ``x`` of ``image`` to ``x + displacement(x)``.

    The inverse map ``y -> x`` with ``x + displacement(x) = y`` is found by
    fixed-point iteration (the fields here are smooth and small, so it
    converges fast), then ``image`` is sampled bilinearly at ``x``.
    """
    xs, ys = _grid(*image.shape)
    field = np.ascontiguousarray(displacement, np.float32)
    map_x, map_y = xs - field[..., 0], ys - field[..., 1]
    for _ in range(_WARP_ITERATIONS):
        at_source = cv2.remap(field, map_x, map_y, cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_REPLICATE)
        map_x, map_y = xs - at_source[..., 0], ys - at_source[..., 1]
    return cv2.remap(np.ascontiguousarray(image, np.float32), map_x, map_y,
                     cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def render(face: Face, displacement: np.ndarray | None = None) -> np.ndarray:
    """Grey float32 image (size, size) in 0..255 of ``face``.

    With ``displacement`` (size, size, 2), the neutral face is warped so the
    content at ``x`` appears at ``x + displacement(x)``.
    """
    image = _neutral(face)
    if displacement is not None:
        image = warp(image, displacement)
    return np.clip(image, 0.0, 255.0)


def _unit(dx: float, dy: float) -> tuple[float, float]:
    norm = np.hypot(dx, dy)
    return dx / norm, dy / norm


def _class_bumps(face: Face, label: int) -> list[Bump]:
    """Bumps of an expression at the default orientation, before jitter."""
    r = face.size / _REF_SIZE
    bumps: list[Bump] = []
    for side in (-1, 1):
        if label == NEGATIVE:
            for along, dy, inward, weight, sigma in (
                    (-0.6, 0.0, 0.35, 1.0, 5.5),   # inner brow
                    (0.0, 0.0, 0.2, 0.8, 6.0),     # middle of the brow
                    (-0.4, -7.0, 0.25, 0.5, 7.0)):  # skin above the brow
                bx, by = face.brow_point(side, along)
                bumps.append((bx, by + dy * r, *_unit(-side * inward, 1.0), weight, sigma * r))
        elif label == SURPRISE:
            for along, dy, outward, weight, sigma in (
                    (-0.6, 0.0, 0.0, 0.5, 5.0),    # inner brow
                    (0.0, 0.0, 0.1, 1.0, 6.0),     # middle of the brow
                    (0.6, 0.0, 0.2, 1.0, 5.5),     # outer brow
                    (0.0, -9.0, 0.0, 0.6, 8.0)):   # forehead
                bx, by = face.brow_point(side, along)
                bumps.append((bx, by + dy * r, *_unit(side * outward, -1.0), weight, sigma * r))
        elif label == POSITIVE:
            mx, my = face.mouth_corner(side)
            for dx, dy, outward, weight, sigma in (
                    (0.0, 0.0, 0.7, 1.0, 5.0),     # lip corner
                    (3.0, -8.0, 0.3, 0.5, 7.0),    # cheek above the corner
                    (-3.0, 3.0, 0.5, 0.4, 4.5)):   # lower lip near the corner
                bumps.append((mx + side * dx * r, my + dy * r,
                              *_unit(side * outward, -1.0), weight, sigma * r))
        else:
            raise ValueError(f"label must be 0, 1 or 2, got {label}")
    return bumps


def _jitter(rng: np.random.Generator, bumps: Sequence[Bump], face: Face) -> list[Bump]:
    """Per-clip variation: shifted centres, turned directions, side asymmetry."""
    r = face.size / _REF_SIZE
    shared = np.clip(rng.normal(0.0, 1.5, 2), -3, 3) * r
    weak_side = rng.choice((-1, 1)) if rng.random() < 0.35 else 0
    weak_factor = rng.uniform(0.35, 0.8)
    out = []
    for cx, cy, dx, dy, weight, sigma in bumps:
        own = np.clip(rng.normal(0.0, 1.0, 2), -2, 2) * r
        turn = np.deg2rad(rng.normal(0.0, 8.0))
        c, s = np.cos(turn), np.sin(turn)
        side = np.sign(cx - face.center[0])
        if side == weak_side:
            weight *= weak_factor
        out.append((cx + shared[0] + own[0], cy + shared[1] + own[1],
                    c * dx - s * dy, s * dx + c * dy,
                    weight * rng.uniform(0.8, 1.2), sigma * rng.uniform(0.85, 1.15)))
    return out


def _field(bumps: Sequence[Bump], size: int) -> np.ndarray:
    """Sum of Gaussian-windowed bumps on the pixel grid, (size, size, 2)."""
    xs, ys = _grid(size)
    field = np.zeros((size, size, 2), np.float32)
    for cx, cy, dx, dy, weight, sigma in bumps:
        window = weight * np.exp(-((xs - cx) ** 2 + (ys - cy) ** 2) / (2 * sigma ** 2))
        field[..., 0] += dx * window
        field[..., 1] += dy * window
    return field


def _with_peak(field: np.ndarray, peak: float) -> np.ndarray:
    return field * (peak / np.linalg.norm(field, axis=-1).max())


def _rotate(field: np.ndarray, orientation_deg: float) -> np.ndarray:
    """Turn every vector by ``orientation_deg - 90`` degrees (y down)."""
    delta = np.deg2rad(orientation_deg - 90.0)
    c, s = np.cos(delta), np.sin(delta)
    u, v = field[..., 0], field[..., 1]
    return np.stack([c * u - s * v, s * u + c * v], axis=-1).astype(np.float32)


def _distractor_bumps(rng: np.random.Generator, face: Face) -> list[Bump]:
    """A blink, a one-sided cheek twitch or a chin movement."""
    r = face.size / _REF_SIZE
    kind = rng.integers(3)
    if kind == 0:
        return [(ex, ey - 0.8 * face.eye_axes[1], 0.0, 1.0, 1.0, 3.5 * r)
                for ex, ey in (face.eye_center(-1), face.eye_center(1))]
    angle = rng.uniform(0.0, 2 * np.pi)
    if kind == 1:
        side = rng.choice((-1, 1))
        centre = (face.center[0] + side * rng.uniform(12, 22) * r,
                  face.mouth_y - rng.uniform(4, 12) * r)
    else:
        centre = (face.center[0], face.mouth_y + rng.uniform(5, 9) * r)
    return [(*centre, np.cos(angle), np.sin(angle), 1.0, 6.0 * r)]


def _amplitude_profile(num_frames: int, apex: int, residual: float) -> np.ndarray:
    """0 at onset, 1 at apex, ``residual`` at offset; smooth in between."""
    t = np.arange(num_frames, dtype=np.float64)
    rise = np.sin(0.5 * np.pi * t / apex) ** 2
    decay = np.cos(0.5 * np.pi * (t - apex) / (num_frames - 1 - apex)) ** 2
    fall = residual + (1 - residual) * decay
    return np.where(t <= apex, rise, fall)


def _pulse(rng: np.random.Generator, num_frames: int) -> np.ndarray:
    """A sin^2 pulse, non-zero on 1..3 consecutive frames, never at frame 0."""
    length = int(rng.integers(2, min(4, num_frames - 1) + 1))
    start = int(rng.integers(0, num_frames - length))
    t = np.arange(num_frames) - start
    return np.where((t >= 0) & (t <= length), np.sin(np.pi * t / length) ** 2, 0.0)


def make_clip(rng: np.random.Generator, face: Face, label: int,
              orientation_deg: float = 90.0, num_frames: int = 9,
              size: int = 128, peak_scale: float = 1.0) -> Clip:
    """Draw one clip of ``face`` showing expression ``label``; ``peak_scale`` multiplies
    the expression's peak displacement (0.3..1.5 px at 128 px by default)."""
    if size != face.size:
        raise ValueError(f"face was made for size {face.size}, not {size}")
    if num_frames < 3:
        raise ValueError("a clip needs at least 3 frames")
    r = size / _REF_SIZE
    last = num_frames - 1
    apex = int(rng.integers(max(1, round(last / 3)), min(last - 1, round(2 * last / 3)) + 1))
    amplitude = _amplitude_profile(num_frames, apex, rng.uniform(0.0, 0.2))

    peak = rng.uniform(_MIN_PEAK_PX, _MAX_PEAK_PX) * r * peak_scale
    bumps = _jitter(rng, _class_bumps(face, label), face)
    true_flow = _rotate(_with_peak(_field(bumps, size), peak), orientation_deg)

    distractor_flow = np.zeros_like(true_flow)
    distractor_amplitude = np.zeros(num_frames)
    if rng.random() < 0.7:
        weak_peak = peak * rng.uniform(0.4, 1.0)
        distractor_flow = _rotate(
            _with_peak(_field(_distractor_bumps(rng, face), size), weak_peak), orientation_deg)
        distractor_amplitude = _pulse(rng, num_frames)

    angle = rng.uniform(0.0, 2 * np.pi)
    shift = rng.uniform(0.0, _MAX_HEAD_SHIFT_PX) * r * np.array([np.cos(angle), np.sin(angle)])
    s = np.arange(num_frames) / last
    head_shift = np.outer(3 * s ** 2 - 2 * s ** 3, shift)

    neutral = _neutral(face)
    clip_gain, clip_offset = 1.0 + rng.normal(0.0, 0.03), rng.normal(0.0, 3.0)
    noise_sigma = np.float32(rng.uniform(1.5, 3.0))
    frames = np.empty((num_frames, size, size), np.float32)
    for t in range(num_frames):
        displacement = (float(amplitude[t]) * true_flow
                        + float(distractor_amplitude[t]) * distractor_flow
                        + head_shift[t].astype(np.float32))
        image = warp(neutral, displacement) if t > 0 else neutral
        gain = float(clip_gain * (1.0 + rng.normal(0.0, 0.008)))
        offset = float(clip_offset + rng.normal(0.0, 1.0))
        noise = rng.standard_normal(image.shape, dtype=np.float32)
        frames[t] = np.clip(gain * image + offset + noise_sigma * noise, 0.0, 255.0)

    return Clip(frames=frames, onset=0, apex=apex, offset=last, true_flow=true_flow,
                amplitude=amplitude, head_shift=head_shift,
                distractor_flow=distractor_flow, distractor_amplitude=distractor_amplitude)


def make_dataset(seed: int = 0, num_subjects: int = 16, clips_per_subject: int = 12,
                 orientation_deg: float = 90.0, size: int = 128,
                 num_frames: int = 9, aligned: bool = False,
                 peak_scale: float = 1.0) -> list[Sample]:
    """Samples of ``num_subjects`` subjects, each from its own child seed.

    Subject ``k`` uses ``SeedSequence(seed).spawn(num_subjects)[k]``, so it is
    the same whatever ``num_subjects`` is.  Each subject has
    ``clips_per_subject`` +- 2 clips with labels drawn from ``LABEL_PROBS``.
    """
    width = max(2, len(str(num_subjects)))
    samples = []
    for k, child in enumerate(np.random.SeedSequence(seed).spawn(num_subjects)):
        rng = np.random.default_rng(child)
        face = make_subject(rng, size, aligned)
        num_clips = max(1, clips_per_subject + int(rng.integers(-2, 3)))
        labels = rng.choice(len(LABEL_PROBS), size=num_clips, p=LABEL_PROBS)
        subject = f"s{k + 1:0{width}d}"
        for i, label in enumerate(labels):
            clip = make_clip(rng, face, int(label), orientation_deg, num_frames, size,
                             peak_scale)
            samples.append(Sample(subject=subject, sample_id=f"{subject}_c{i + 1:02d}",
                                  label=int(label), clip=clip))
    return samples
