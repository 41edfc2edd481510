"""Where the model looks: one attention-and-flow sheet per clip, drawn with matplotlib
in the project's style (``figure_style``), written as PNG and PDF with its raw maps
beside it (.npz, same stem).

One row of panels:

  the apex face (grey);
  the flow onset -> apex as a colour wheel (hue = direction of (u, v), brightness =
      |w| / max |w|, image axes: x right, y down) with a colour-wheel legend inset and
      each SOA stage's learned angle theta as a line through the centre along
      (cos theta, sin theta) (theta = 90 deg is vertical), one colour per stage;
  one panel per SOA stage: its attention map (channel mean, upsampled to the face)
      over the apex face, every stage on one colour scale, with one colour bar.

A model without SOA layers gets the face and the flow only.
"""

from __future__ import annotations

import dataclasses
import pathlib

import jax
import matplotlib
import matplotlib.colors
import matplotlib.patheffects
import numpy as np

from faceslueth_jax import atomic_files
from faceslueth_jax.evaluation import figure_style
from faceslueth_jax.models.motion_stream import soa_angles_deg

PANEL_INCHES = 1.6
ATTENTION_ALPHA = 0.6
ATTENTION_LABEL = "mean attention (over channels)"
WHEEL_LABELS = ((0.0, "right"), (90.0, "down"), (180.0, "left"), (270.0, "up"))
OUTLINE = [matplotlib.patheffects.withStroke(linewidth=2.2, foreground="white")]


@dataclasses.dataclass(frozen=True)
class Sheet:
    """What one clip's sheet shows. ``attention``: stage name ('motion/stage<i>') ->
    (H, W) map at the stage's resolution; ``theta_deg``: stage name -> learned angle."""
    title: str
    face: np.ndarray           # (S, S, 1|3), any range
    flow: np.ndarray           # (H, W, >=2): (u, v, ...)
    attention: dict
    theta_deg: dict
    probabilities: np.ndarray  # (K,)
    class_names: tuple
    face_name: str = "apex face"

    @property
    def stages(self) -> list[str]:
        """The stage names in stage order."""
        return sorted(self.attention, key=lambda k: int(k.rsplit("stage", 1)[1]))


def stage_maps(maps: dict, index: int) -> dict:
    """Stage name -> (H, W) map of sample ``index``: mean over members and channels of
    ``TrainedModel.member_logits``' maps (M, B, H, W, C)."""
    return {name: np.asarray(m[:, index]).mean(axis=(0, -1)) for name, m in maps.items()}


def flow_colours(flow: np.ndarray) -> np.ndarray:
    """(H, W, 3) RGB in [0, 1]: hue = direction of (u, v) in image axes, brightness =
    |w| / max |w|."""
    u, v = np.asarray(flow[..., 0], np.float32), np.asarray(flow[..., 1], np.float32)
    magnitude = np.hypot(u, v)
    hue = np.mod(np.arctan2(v, u), 2 * np.pi) / (2 * np.pi)
    value = magnitude / max(float(magnitude.max()), 1e-6)
    return matplotlib.colors.hsv_to_rgb(np.stack([hue, np.ones_like(hue), value], -1))


def _grey(face: np.ndarray) -> np.ndarray:
    """(S, S) grey face from (S, S, 1|3)."""
    f = np.asarray(face, np.float32)
    return f.mean(axis=-1) if f.ndim == 3 else f


def _upsampled(attention: np.ndarray, shape) -> np.ndarray:
    """The (H, W) map bilinearly resized to ``shape``."""
    return np.asarray(jax.image.resize(np.asarray(attention, np.float32), shape, "linear"))


def _draw_wheel_legend(ax) -> None:
    """A colour-wheel disc below ``ax``'s left corner: hue = direction (image axes),
    brightness = size, labelled with the four directions."""
    inset = ax.inset_axes([0.0, -0.56, 0.40, 0.40])
    grid = np.linspace(-1.0, 1.0, 101)
    x, y = np.meshgrid(grid, grid)  # the row index grows downwards, as y in image axes
    disc = np.concatenate([flow_colours(np.stack([x, y], -1)),
                           (np.hypot(x, y) <= 1.0)[..., None]], -1)
    inset.imshow(disc, extent=(-1, 1, 1, -1), interpolation="bilinear")
    for angle, name in WHEEL_LABELS:
        c, s = np.cos(np.radians(angle)), np.sin(np.radians(angle))
        inset.text(1.12 * c, 1.12 * s, name, fontsize=5, ha="center" if c == 0 else
                   ("left" if c > 0 else "right"), va="center" if s == 0 else
                   ("top" if s > 0 else "bottom"))
    inset.set_axis_off()


def _draw_theta_lines(ax, sheet: Sheet, shape) -> None:
    """Each stage's angle as a line through the flow's centre, and their legend."""
    height, width = shape
    cy, cx, r = (height - 1) / 2, (width - 1) / 2, 0.45 * min(height, width)
    for i, name in enumerate(sheet.stages):
        theta = np.radians(sheet.theta_deg[name])
        dx, dy = r * np.cos(theta), r * np.sin(theta)
        ax.plot([cx - dx, cx + dx], [cy - dy, cy + dy], lw=1.2, path_effects=OUTLINE,
                color=figure_style.COLOURS[i % len(figure_style.COLOURS)],
                label=f"stage {i}: {sheet.theta_deg[name]:.1f}°")
    if sheet.stages:
        ax.legend(loc="upper left", bbox_to_anchor=(0.52, -0.02), handlelength=1.2,
                  title="learned θ", title_fontsize=7, alignment="left")


def _draw_flow(ax, sheet: Sheet) -> None:
    """The flow as a colour wheel, the wheel's legend and the stages' angles."""
    colours = flow_colours(sheet.flow)
    ax.imshow(colours, interpolation="nearest")
    _draw_theta_lines(ax, sheet, colours.shape[:2])
    _draw_wheel_legend(ax)
    ax.set_title("flow onset → apex")


def _draw_attention(fig, axes, sheet: Sheet) -> None:
    """Each stage's map over the face, one shared colour scale, one colour bar."""
    face = _grey(sheet.face)
    maps = [np.asarray(sheet.attention[name], np.float32) for name in sheet.stages]
    vmin = min(float(m.min()) for m in maps)
    vmax = max(max(float(m.max()) for m in maps), vmin + 1e-6)
    for i, (ax, a) in enumerate(zip(axes, maps)):
        ax.imshow(face, cmap="gray")
        image = ax.imshow(_upsampled(a, face.shape), cmap=figure_style.MAGNITUDE, vmin=vmin,
                          vmax=vmax, alpha=ATTENTION_ALPHA)
        ax.set_title(f"stage {i} attention")
    fig.colorbar(image, cax=axes[-1].inset_axes([1.06, 0.0, 0.06, 1.0]), label=ATTENTION_LABEL)


def draw(sheet: Sheet):
    """The matplotlib figure of one clip's sheet (see the module's docstring)."""
    stages = len(sheet.stages)
    with matplotlib.rc_context(figure_style.RC):
        fig, axes = figure_style.figure(1, 2 + stages, squeeze=False,
                                        figsize=(PANEL_INCHES * (2 + stages), PANEL_INCHES + 0.5))
        axes = axes[0]
        axes[0].imshow(_grey(sheet.face), cmap="gray")
        axes[0].set_title(sheet.face_name)
        _draw_flow(axes[1], sheet)
        if stages:
            _draw_attention(fig, axes[2:], sheet)
        for ax in axes:
            ax.set_axis_off()
        fig.suptitle(sheet.title)
    return fig


def arrays(sheet: Sheet) -> dict:
    """The sheet's raw maps: the face, the flow, each stage's attention map at its
    resolution ('attention_motion_stage<i>'), theta per stage (degrees, stage order),
    the class probabilities and names."""
    out = {"apex_face": np.asarray(sheet.face, np.float32),
           "flow": np.asarray(sheet.flow, np.float32),
           "theta_deg": np.array([sheet.theta_deg[n] for n in sheet.stages], np.float32),
           "probabilities": np.asarray(sheet.probabilities, np.float32),
           "class_names": np.array(sheet.class_names, str), "title": np.array(sheet.title)}
    for name in sheet.stages:
        out["attention_" + name.replace("/", "_")] = np.asarray(sheet.attention[name],
                                                                 np.float32)
    return out


def write(sheet: Sheet, path) -> list[pathlib.Path]:
    """Write the sheet as ``path`` (.png) and its .pdf, and its raw maps as .npz beside
    them, each atomically. Returns the paths."""
    path = pathlib.Path(path)
    raw = arrays(sheet)
    written = figure_style.save(draw(sheet), path)
    return written + [atomic_files.write_npz(path.with_suffix(".npz"), **raw)]


def write_run_pictures(directory, trained, data, folds, per_class: int) -> int:
    """The sheets of a finished run's test samples: for every database and class, its
    first ``per_class`` samples, each drawn with the fold model that tested it (seed
    0's), from the inputs as the model reads them (the flow after the run's
    normalisation). ``trained``: a ``model_folder.TrainedModel`` whose members are
    the run's instances (seed 0's F folds first).
    Writes <directory>/<database>/<class>/<sample id>.png, .pdf and .npz; returns how
    many samples."""
    fold_of = np.full(len(data), -1)
    for f in range(folds.num_folds):
        fold_of[folds.test_samples(f)] = f
    chosen = np.array([n for d in sorted(set(data.dataset.tolist()))
                       for c in range(len(data.class_names))
                       for n in np.flatnonzero((data.dataset == d) & (data.label == c)
                                               & (fold_of >= 0))[:per_class]], int)
    if not len(chosen):
        return 0
    views = {k: v[chosen] for k, v in data.views.items()}
    logits, maps = trained.member_logits(views, capture_attention=True)  # (M, B, K)
    theta = np.asarray(jax.vmap(soa_angles_deg)(trained.variables["params"]))  # (M, L)
    for j, n in enumerate(chosen):
        f = int(fold_of[n])
        p = np.asarray(jax.nn.softmax(logits[f, j]))
        flow = np.asarray(data.views["flow"][n])
        has_face = "apex" in data.views
        face = (data.views["apex"][n] if has_face
                else np.linalg.norm(flow[..., :2], axis=-1)[..., None])
        label = data.class_names[data.label[n]]
        title = (f"{data.sample_id[n]} ({data.dataset[n]}): {label}, predicted "
                 f"{data.class_names[int(p.argmax())]} (p {p.max():.2f}), fold {folds.names[f]}")
        sheet = Sheet(title, np.asarray(face), flow,
                      {k: np.asarray(m[f, j]).mean(-1) for k, m in maps.items()},
                      {f"motion/stage{i}": float(t) for i, t in enumerate(theta[f])}, p,
                      tuple(data.class_names),
                      "apex face" if has_face else "flow magnitude (no apex view)")
        write(sheet, pathlib.Path(directory) / str(data.dataset[n]) / label /
              f"{pathlib.Path(str(data.sample_id[n])).name}.png")
    return len(chosen)
