r"""Long videos made from one real face photograph: expressions as smooth local warps
placed at the face's landmarks, among head motion, blinks, lighting drift and noise.

The photograph is a plane seen by a camera (focal length ``FOCAL_IOD`` inter-ocular
distances). Frame t samples it through

    x_frame = P_t(y),   y = x_photo + D_t(x_photo),

P_t the head pose's homography (the plane rotated about the face centre by pitch
(nod), yaw (turn) and roll, then shifted: the sway), D_t the expressions' and blinks'
displacement in photo pixels: a sum over each active movement m of a_m(t) times its
field, Gaussian bumps of width sigma around its landmarks, each pushing its point
along a fixed direction:

  brow_raise      brows (17..26) up                       AU1+2
  lip_corner_pull mouth corners (48, 54) out and up        AU12
  lid_tighten     lower lids (40, 41, 46, 47) up           AU7
  lip_press       upper lip (50..52) down, lower (56..58) up   AU24
  blink           upper lids (37, 38, 43, 44) down by 0.9 of the eye's height

a_m rises from 0 at its onset to its peak at the apex (30..60% of its length) and
falls back to 0 at its offset, as ``synthetic_faces``' profile. Peaks are in
inter-ocular distances (IOD): micro 0.02..0.05 (1.7..4 px for a face whose eyes are
86 px apart), macro 0.06..0.12. Durations: micro 0.2..0.5 s, macro 1..3 s, blinks
0.1..0.35 s, nods 0.4..1.2 s (pitch 4..10 degrees, down and back), turns 1..2.5 s
(yaw 8..20 degrees and back). The sway is two slow sinusoids (periods 3..9 s, up to
0.08 IOD) and a roll of up to 1.5 degrees; the lighting's gain drifts by up to 12%;
sensor noise sigma 1..3 grey levels.

Everything follows from the seed; any frame can be drawn on its own (``frame(t)``).
Only expressions are the truth; the nods, turns and blinks are listed apart
(``distractors``) so that a study can count what a spotter reports on them.
"""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np

FOCAL_IOD = 6.0  # the camera's focal length in inter-ocular distances
ACTIONS = {  # name: ((landmark, (dx, dy)), ...), sigma in IOD
    "brow_raise": (tuple((i, (0.0, -1.0)) for i in range(17, 27)), 0.18),
    "lip_corner_pull": (((48, (-0.7, -0.7)), (54, (0.7, -0.7))), 0.16),
    "lid_tighten": (tuple((i, (0.0, -1.0)) for i in (40, 41, 46, 47)), 0.10),
    "lip_press": (tuple((i, (0.0, 1.0)) for i in (50, 51, 52))
                  + tuple((i, (0.0, -1.0)) for i in (56, 57, 58)), 0.12),
}
BLINK = (tuple((i, (0.0, 1.0)) for i in (37, 38, 43, 44)), 0.09)
MICRO_SECONDS, MACRO_SECONDS = (0.2, 0.5), (1.0, 3.0)
MICRO_PEAK, MACRO_PEAK = (0.02, 0.05), (0.06, 0.12)  # IOD
BLINK_SECONDS, NOD_SECONDS, TURN_SECONDS = (0.1, 0.35), (0.4, 1.2), (1.0, 2.5)
MIN_GAP_SECONDS = 0.3


@dataclasses.dataclass(frozen=True)
class Movement:
    """One movement over frames onset..offset inclusive: an expression ('micro' or
    'macro', with its action) or a distractor ('nod', 'turn', 'blink')."""
    onset: int
    apex: int
    offset: int
    kind: str
    action: str
    peak: float  # IOD for warps, degrees for nods and turns

    def profile(self, t: int) -> float:
        """a(t)/peak: 0 at the onset and the offset, 1 at the apex (raised cosines)."""
        if not self.onset <= t <= self.offset:
            return 0.0
        if t <= self.apex:
            s = (t - self.onset) / max(1, self.apex - self.onset)
        else:
            s = (self.offset - t) / max(1, self.offset - self.apex)
        return float(np.sin(0.5 * np.pi * s) ** 2)


def iod(points: np.ndarray) -> float:
    """The inter-ocular distance of (68, 2) landmarks (between the eyes' centres)."""
    return float(np.hypot(*(points[42:48].mean(0) - points[36:42].mean(0))))


def _field(points: np.ndarray, pushes, sigma_iod: float, shape, unit: float) -> np.ndarray:
    """(H, W, 2) photo-pixel displacement: the sum of Gaussian bumps, each landmark
    pushed along its direction, scaled so that its largest magnitude is ``unit``."""
    h, w = shape
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    sigma = sigma_iod * iod(points)
    out = np.zeros((h, w, 2), np.float32)
    for index, (dx, dy) in pushes:
        px, py = points[index]
        g = np.exp(-((x - px) ** 2 + (y - py) ** 2) / (2 * sigma ** 2))
        out[..., 0] += dx * g
        out[..., 1] += dy * g
    peak = float(np.hypot(out[..., 0], out[..., 1]).max())
    return out * np.float32(unit / max(peak, 1e-9))


def _rotation(pitch: float, yaw: float, roll: float) -> np.ndarray:
    p, y, r = np.radians([pitch, yaw, roll])
    rx = np.array([[1, 0, 0], [0, np.cos(p), -np.sin(p)], [0, np.sin(p), np.cos(p)]])
    ry = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
    rz = np.array([[np.cos(r), -np.sin(r), 0], [np.sin(r), np.cos(r), 0], [0, 0, 1]])
    return rz @ ry @ rx


@dataclasses.dataclass(eq=False)
class PhotoVideo:
    """One long video of a photograph (the module doc); frames (H, W, 3) uint8 RGB."""
    photo: np.ndarray  # (h, w, 3) uint8 RGB
    points: np.ndarray  # (68, 2) landmarks in the photo
    fps: float
    num_frames: int
    size: tuple  # (width, height) of a frame
    movements: list  # [Movement], in time order
    seed: int
    base: np.ndarray  # (3, 3) photo -> frame at rest (scale, mirror, shift)
    sway: np.ndarray  # (T, 3): dx, dy (frame px), roll (degrees)
    gain: np.ndarray  # (T,)
    noise_sigma: float
    _fields: dict = dataclasses.field(default_factory=dict, repr=False)

    @property
    def expressions(self) -> list:
        return [m for m in self.movements if m.kind in ("micro", "macro")]

    @property
    def distractors(self) -> list:
        return [m for m in self.movements if m.kind not in ("micro", "macro")]

    def _unit_field(self, action: str) -> np.ndarray:
        if action not in self._fields:
            pushes, sigma = BLINK if action == "blink" else ACTIONS[action]
            unit = iod(self.points)  # warps' peaks are in IOD
            if action == "blink":  # peak 1: the upper lid travels 0.9 of the eye's height
                upper, lower = self.points[[37, 38, 43, 44]], self.points[[41, 40, 47, 46]]
                unit = 0.9 * float((lower[:, 1] - upper[:, 1]).mean())
            self._fields[action] = _field(self.points, pushes, sigma, self.photo.shape[:2], unit)
        return self._fields[action]

    def homography(self, t: int) -> np.ndarray:
        """(3, 3) photo -> frame at frame t: the pose about the face centre, the sway."""
        pitch = yaw = 0.0
        for m in self.movements:
            if m.kind == "nod":
                pitch += m.peak * m.profile(t)
            elif m.kind == "turn":
                yaw += m.peak * m.profile(t)
        dx, dy, roll = self.sway[t]
        c = self.points[27:36].mean(0)  # the nose: the face's centre
        f = FOCAL_IOD * iod(self.points)
        r = _rotation(pitch, yaw, roll)
        # a photo point p (relative to c) at (p, f) in camera space, rotated about (0, 0, f)
        to_centre = np.array([[1, 0, -c[0]], [0, 1, -c[1]], [0, 0, 1.0]])
        lift = np.array([[1, 0, 0], [0, 1, 0], [0, 0, f]])  # (px, py, 1) -> (px, py, f)
        project = np.array([[f, 0, c[0]], [0, f, c[1]], [0, 0, 1.0]])
        camera = r @ lift
        camera[:, 2] += np.array([0, 0, f]) - r @ np.array([0, 0, f])  # rotate about depth f
        pose = project @ camera @ to_centre
        shift = np.array([[1, 0, dx], [0, 1, dy], [0, 0, 1.0]])
        return shift @ self.base @ (pose / pose[2, 2])

    def displacement(self, t: int) -> np.ndarray | None:
        """(h, w, 2) photo-pixel displacement of the warps at t, None where none acts."""
        out = None
        for m in self.movements:
            if m.kind in ("nod", "turn") or not m.onset <= t <= m.offset:
                continue
            a = m.peak * m.profile(t)
            if a:
                field = self._unit_field(m.action) * np.float32(a)
                out = field if out is None else out + field
        return out

    def frame(self, t: int) -> np.ndarray:
        """Frame t, (H, W, 3) uint8 RGB; its noise depends only on (seed, t)."""
        if not 0 <= t < self.num_frames:
            raise IndexError(f"frame {t} outside 0..{self.num_frames - 1}")
        width, height = self.size
        d = self.displacement(t)
        if d is None:
            image = cv2.warpPerspective(self.photo, self.homography(t), self.size,
                                        flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
            return self._lit(image, t)
        inverse = np.linalg.inv(self.homography(t))
        gx, gy = np.meshgrid(np.arange(width, dtype=np.float64), np.arange(height, dtype=np.float64))
        hom = inverse @ np.stack([gx.ravel(), gy.ravel(), np.ones(gx.size)])
        mx = (hom[0] / hom[2]).reshape(height, width).astype(np.float32)
        my = (hom[1] / hom[2]).reshape(height, width).astype(np.float32)
        # the warp y = x + D(x), inverted to first order: x = y - D(y)
        dx = cv2.remap(d[..., 0], mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        dy = cv2.remap(d[..., 1], mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        image = cv2.remap(self.photo, mx - dx, my - dy, cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REFLECT)
        return self._lit(image, t)

    def _lit(self, image: np.ndarray, t: int) -> np.ndarray:
        """The frame under the lighting's gain, with noise that depends on (seed, t)."""
        rng = np.random.default_rng([self.seed, t])
        noisy = self.gain[t] * image.astype(np.float32) + self.noise_sigma * rng.standard_normal(
            image.shape, dtype=np.float32)
        return np.clip(np.rint(noisy), 0, 255).astype(np.uint8)

    def frames(self):
        for t in range(self.num_frames):
            yield self.frame(t)


def _schedule(rng, num_frames: int, fps: float, wanted: list) -> list:
    """Movements of the ``wanted`` kinds in random order, one after another; the frames
    they leave are shared out at random as quiet gaps of at least ``MIN_GAP_SECONDS``
    (ValueError when they cannot all fit)."""
    order = [wanted[i] for i in rng.permutation(len(wanted))]
    seconds = {"micro": MICRO_SECONDS, "macro": MACRO_SECONDS, "blink": BLINK_SECONDS,
               "nod": NOD_SECONDS, "turn": TURN_SECONDS}
    lengths = [max(3, int(round(rng.uniform(*seconds[k]) * fps))) for k in order]
    least = int(round(MIN_GAP_SECONDS * fps))
    spare = num_frames - sum(lengths) - least * (len(order) + 1)
    if spare < 0:
        raise ValueError(f"{len(order)} movements do not fit in {num_frames} frames")
    gaps = least + np.floor(rng.dirichlet(np.ones(len(order) + 1)) * spare).astype(int)
    out, t = [], int(gaps[0])
    for kind, length, gap in zip(order, lengths, gaps[1:]):
        apex = min(max(t + int(round(rng.uniform(0.3, 0.6) * (length - 1))), t + 1), t + length - 2)
        if kind in ("micro", "macro"):
            action = str(rng.choice(sorted(ACTIONS)))
            peak = rng.uniform(*(MICRO_PEAK if kind == "micro" else MACRO_PEAK))
            if action == "lid_tighten":
                peak *= 0.7  # the lid's travel is shorter than the brows' or the lips'
        elif kind == "blink":
            action, peak = "blink", 1.0
            apex = t + length // 2
        else:
            action = kind
            peak = rng.choice([-1, 1]) * rng.uniform(*((4, 10) if kind == "nod" else (8, 20)))
        out.append(Movement(t, apex, t + length - 1, kind, action, float(peak)))
        t += length + int(gap)
    return out


def make_video(photo: np.ndarray, points: np.ndarray, seed: int, seconds: float, fps: float,
               counts: dict, size: tuple = (640, 480)) -> PhotoVideo:
    """One video of ``photo`` (landmarks ``points``): ``counts`` kind -> how many
    (micro, macro, nod, turn, blink), placed at random (the module doc)."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 4451]))
    num_frames = int(round(seconds * fps))
    wanted = [k for k, n in counts.items() for _ in range(int(n))]
    movements = _schedule(rng, num_frames, fps, wanted)
    width, height = size
    unit = iod(points)
    scale = rng.uniform(0.8, 1.1) * 86.0 / unit * height / 480  # eyes 70..95 px apart at 480 rows
    mirror = rng.random() < 0.5
    centre = points[27:36].mean(0)
    target = np.array([width / 2, height / 2]) + rng.uniform(-0.08, 0.08, 2) * np.array([width, height])
    sx = -scale if mirror else scale
    base = np.array([[sx, 0, target[0] - sx * centre[0]], [0, scale, target[1] - scale * centre[1]],
                     [0, 0, 1.0]])
    time = np.arange(num_frames) / fps
    sway = np.zeros((num_frames, 3))
    for _ in range(2):
        period, phase = rng.uniform(3, 9), rng.uniform(0, 2 * np.pi, 3)
        amplitude = rng.uniform(0.02, 0.04) * unit * scale
        sway[:, :2] += amplitude * np.sin(2 * np.pi * time[:, None] / period + phase[:2])
        sway[:, 2] += rng.uniform(0.3, 0.75) * np.sin(2 * np.pi * time / period + phase[2])
    gain = 1.0 + rng.uniform(0.04, 0.12) * np.sin(2 * np.pi * time / rng.uniform(8, 30)
                                                  + rng.uniform(0, 2 * np.pi))
    return PhotoVideo(photo=np.ascontiguousarray(photo), points=np.asarray(points, np.float64),
                      fps=float(fps), num_frames=num_frames, size=(int(width), int(height)),
                      movements=movements, seed=seed, base=base, sway=sway,
                      gain=gain.astype(np.float32), noise_sigma=float(rng.uniform(1.0, 3.0)))
