"""Training augmentation in JAX: one draw per sample, applied identically to its views.

Only image views, (H, W, C) per sample, and clip views (``records.CLIP_VIEWS``,
FDP's ``frames``: (T, H, W, C) per sample, every frame transformed with the
sample's one draw, so a clip is mirrored and moved as a whole) are transformed;
``au``, ``jitter_span`` and any other view pass through untouched. A training step's views
go through ``train_views``: the temporal jitter (when the records hold jitter
windows), then one of two spatial recipes (``train.augment_recipe``).

Temporal jitter (the reference's, CASME2_5.py): with s = ``jitter_span`` of the
sample and i, j independent and uniform in 0..s,

    onset <- onset_window[i]         (frame onset + i)
    apex  <- apex_window[K - 1 - j]  (frame apex - j)

then the windows and the span are dropped: they never reach the model.

'shift' (default): with probability 1/2 a horizontal mirror, then a random
translation by (dy, dx) pixels, the same fraction of each view's size for every
view, with the border pixels replicated into the uncovered margin.

Mirroring a flow field negates its horizontal component; on flow min-max
normalised per sample to 0..1 that is u -> 1 - u (the mirror of
(u - lo) / (hi - lo) is (hi - u) / (hi - lo)). In general u -> c - u with
c = ``u_mirror_offset`` (0 for raw flow, 1 for min-max flow):

    (u, v, s)(x, y) -> (c - u, v, s)(W-1-x, y).

'reference': torchvision's RandomHorizontalFlip(0.5), RandomRotation(r),
RandomCrop(S, padding=P) on normalised faces, as the reference. Per sample:
mirror with probability 1/2; an angle a uniform in [-r, r] degrees; integer
t = (ty, tx) uniform in [-P, P]^2. With centre c = ((H-1)/2, (W-1)/2) and
q = p - t, an output pixel p = (y, x) reads, nearest neighbour,

    x_in = cos(a) (q_x - c_x) - sin(a) (q_y - c_y) + c_x
    y_in = sin(a) (q_x - c_x) + cos(a) (q_y - c_y) + c_y

i.e. the image turns counter-clockwise by a as displayed (rows down) about its
centre, then moves by t; pixels whose q or (y_in, x_in) leave the image are 0
(zero after normalisation: the mean colour under ImageNet normalisation). The
reference has no flow input, so the flow view passes through this recipe
untouched (the experiment requires model.motion_input='frame_difference').
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from faceslueth_jax.data.records import CLIP_VIEWS, JITTER_SPAN, WINDOW_VIEWS

RECIPES = ("shift", "reference")
JITTER_VIEWS = tuple(WINDOW_VIEWS) + (JITTER_SPAN,)  # train-time inputs, never the model's


def is_image(view) -> bool:
    """A sample's view is an image when it is (H, W, C)."""
    return view.ndim == 3


def is_clip(name: str, view) -> bool:
    """A sample's view is a clip when it is a ``CLIP_VIEWS`` view, (T, H, W, C)."""
    return name in CLIP_VIEWS and view.ndim == 4


def model_views(views: dict) -> dict:
    """``views`` without the jitter windows and span (what the model may read)."""
    return {k: v for k, v in views.items() if k not in JITTER_VIEWS}


# ----------------------------------------------------------- temporal jitter

def jitter_sample(key, views: dict) -> dict:
    """One sample's onset/apex drawn from its windows (module docstring); the
    windows and span are dropped."""
    out = model_views(views)
    if not any(name in views for name in WINDOW_VIEWS):
        return out
    span = views[JITTER_SPAN].astype(jnp.int32)
    for k, (window, face) in zip(jax.random.split(key), WINDOW_VIEWS.items()):
        if window not in views:
            continue
        draw = jax.random.randint(k, (), 0, span + 1)
        frames = views[window]
        out[face] = frames[draw] if face == "onset" else frames[frames.shape[0] - 1 - draw]
    return out


# ----------------------------------------------------------- 'shift' recipe

def _translate(image, shift_yx, max_shift):
    """Shift (H,W,C) by integer (dy, dx), |dy|, |dx| <= max_shift, replicating edges."""
    padded = jnp.pad(image, ((max_shift, max_shift), (max_shift, max_shift), (0, 0)),
                     mode="edge")
    start = (max_shift - shift_yx[0], max_shift - shift_yx[1], 0)
    return jax.lax.dynamic_slice(padded, start, image.shape)


def mirror_sample(views: dict, u_mirror_offset: float, flow_key: str = "flow") -> dict:
    """One sample's views mirrored left-right: images and every frame of a clip; the
    flow's horizontal component becomes c - u (module docstring); other views as given."""
    out = {}
    for name, view in views.items():
        if is_clip(name, view):
            out[name] = view[:, :, ::-1, :]
        elif is_image(view):
            mirrored = view[:, ::-1, :]
            if name == flow_key:
                mirrored = mirrored.at[..., 0].set(u_mirror_offset - mirrored[..., 0])
            out[name] = mirrored
        else:
            out[name] = view
    return out


def augment_sample(key, views: dict, max_shift_fraction: float, u_mirror_offset: float,
                   flow_key: str = "flow") -> dict:
    """Mirror and translate every image view of one sample with the same draw."""
    k_flip, k_shift = jax.random.split(key)
    flip = jax.random.bernoulli(k_flip)
    fraction = jax.random.uniform(k_shift, (2,), minval=-max_shift_fraction,
                                  maxval=max_shift_fraction)
    mirrored_views = mirror_sample(views, u_mirror_offset, flow_key)
    out = {}
    for name, image in views.items():
        if is_clip(name, image):
            clip = jnp.where(flip, mirrored_views[name], image)
            max_shift = math.ceil(max_shift_fraction * max(clip.shape[1:3]))
            shift = jnp.round(fraction * jnp.array(clip.shape[1:3])).astype(jnp.int32)
            out[name] = (jax.vmap(lambda f: _translate(f, shift, max_shift))(clip)
                         if max_shift else clip)
            continue
        if not is_image(image):
            out[name] = image
            continue
        image = jnp.where(flip, mirrored_views[name], image)
        max_shift = math.ceil(max_shift_fraction * max(image.shape[:2]))
        shift = jnp.round(fraction * jnp.array(image.shape[:2])).astype(jnp.int32)
        out[name] = _translate(image, shift, max_shift) if max_shift else image
    return out


def augment_batch(keys, views: dict, max_shift_fraction: float, u_mirror_offset: float) -> dict:
    """``keys``: one PRNG key per sample, (B, 2); a sample's draw depends on its key only."""
    return jax.vmap(lambda k, v: augment_sample(k, v, max_shift_fraction, u_mirror_offset))(
        keys, views)


# ------------------------------------------------------- 'reference' recipe

def rotate_translate(image, angle_deg, shift_yx):
    """(H, W, C) turned by ``angle_deg`` about its centre, then moved by integer
    ``shift_yx``; nearest neighbour, 0 outside (module docstring's formula)."""
    h, w = image.shape[:2]
    ys, xs = jnp.meshgrid(jnp.arange(h), jnp.arange(w), indexing="ij")
    qy, qx = ys - shift_yx[0], xs - shift_yx[1]
    cy, cx = (h - 1) / 2, (w - 1) / 2
    a = jnp.deg2rad(angle_deg)
    dx, dy = qx - cx, qy - cy
    x_in = jnp.round(jnp.cos(a) * dx - jnp.sin(a) * dy + cx).astype(jnp.int32)
    y_in = jnp.round(jnp.sin(a) * dx + jnp.cos(a) * dy + cy).astype(jnp.int32)
    inside = ((qy >= 0) & (qy < h) & (qx >= 0) & (qx < w)
              & (y_in >= 0) & (y_in < h) & (x_in >= 0) & (x_in < w))
    values = image[jnp.clip(y_in, 0, h - 1), jnp.clip(x_in, 0, w - 1)]
    return jnp.where(inside[..., None], values, jnp.zeros((), image.dtype))


def reference_sample(key, views: dict, rotation_deg: float, crop_padding: int,
                     flow_key: str = "flow") -> dict:
    """Flip, rotate and crop every image view but the flow of one sample with the
    same draw (module docstring)."""
    k_flip, k_angle, k_shift = jax.random.split(key, 3)
    flip = jax.random.bernoulli(k_flip)
    angle = jax.random.uniform(k_angle, (), minval=-rotation_deg, maxval=rotation_deg)
    shift = jax.random.randint(k_shift, (2,), -crop_padding, crop_padding + 1)
    out = {}
    for name, image in views.items():
        if is_clip(name, image):
            clip = jnp.where(flip, image[:, :, ::-1, :], image)
            out[name] = jax.vmap(lambda f: rotate_translate(f, angle, shift))(clip)
            continue
        if not is_image(image) or name == flow_key:
            out[name] = image
            continue
        image = jnp.where(flip, image[:, ::-1, :], image)
        out[name] = rotate_translate(image, angle, shift)
    return out


# --------------------------------------------------------- a training step

def train_views(keys, views: dict, train_cfg, u_mirror_offset: float) -> dict:
    """The views one training step feeds the model: jitter, then the recipe
    (``train_cfg.augment_recipe``), both off with ``train_cfg.augment`` False;
    always without the jitter windows. ``keys``: one PRNG key per sample; the
    jitter draws from fold_in(key, 1), the recipe from the key itself."""
    if not train_cfg.augment:
        return model_views(views)
    if any(name in views for name in JITTER_VIEWS):
        jitter_keys = jax.vmap(lambda k: jax.random.fold_in(k, 1))(keys)
        views = jax.vmap(jitter_sample)(jitter_keys, views)
    recipe = train_cfg.get("augment_recipe", "shift")
    if recipe == "shift":
        return augment_batch(keys, views, train_cfg.max_shift_fraction, u_mirror_offset)
    if recipe == "reference":
        rotation, padding = train_cfg.get("rotation_deg", 3.0), train_cfg.get("crop_padding", 15)
        return jax.vmap(lambda k, v: reference_sample(k, v, rotation, padding))(keys, views)
    raise ValueError(f"train.augment_recipe must be one of {RECIPES}, got {recipe!r}")
