r"""Where does SOA's angle go, and why?

On the built-in synthetic data, whose motion axis is set by
``data.synthetic.orientation_deg`` (the displacement vectors are turned, the face
and where it moves are not), train FaceSleuth-R's motion stream with SOA on every
sample, from several starting angles, and measure for every SOA layer:

  * the final angle theta_T (degrees, in [0, 180));
  * the gradient reaching the angle: dL/dtheta = g . (-b, a) for the 2-vector
    (a, b) = |v| (cos theta, sin theta) and its gradient g, over the mini-batches
    of passes over the data at the start and at the end of training: its mean, its
    standard deviation and their ratio (SNR; Adam's step is about lr * SNR);
  * the training loss as a function of that layer's angle, others fixed (BatchNorm
    in inference mode), at 12 angles 0, 15, ..., 165: its range max - min, and the
    angle of its minimum. A flat curve means the angle has nothing to learn.

  python bench/theta_study.py --orientations 0,45,90,135 --starts 0,45,90,135 \
      --epochs 30 --json /tmp/theta_study.json

``--composite DIR`` (HTNet's release) studies each database of the composite instead,
every sample of it (``--epochs 20`` as configs/loso_composite.py):

  python bench/theta_study.py --composite ../shared/data/htnet_composite \
      --starts 0,45,72,135 --epochs 20 --json /tmp/theta_composite.json

``--tilt``: instead, make the data at orientation 90 and turn the whole face (every
view's pixels and the flow's vectors) by ``orientation - 90`` degrees, as a tilted
camera would: the face's structure turns with its motion. An angle that follows
spatial structure then ends at theta(90) + orientation - 90.

The recipe is configs/loso_synthetic.py's compact one (optimiser, augmentation,
batch 32) with ``--appearance`` deciding whether the Swin stream takes part
(default off: the motion stream alone, where SOA is). ``--theta_lr`` and
``--theta_weight_decay`` override the angle's optimiser group.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import time

import cv2
import jax
import jax.numpy as jnp
import numpy as np

from configs.common import base_config
from faceslueth_jax import atomic_files
from faceslueth_jax.data import augment, records, sources
from faceslueth_jax.evaluation import angles
from faceslueth_jax.models import registry, soa
from faceslueth_jax.train import fold_step, optimizer as optimizer_lib
from faceslueth_jax.data.model_inputs import prepared_data
from faceslueth_jax.train.placement import DATA

LANDSCAPE_DEG = np.arange(0, 180, 15)


def orientation_paths(params) -> list[tuple]:
    """Paths of the SOA 2-vectors, in stage order."""
    paths = []
    for path, _ in jax.tree_util.tree_leaves_with_path(params):
        keys = tuple(getattr(k, "key", None) for k in path)
        if keys[-1] == soa.ORIENTATION:
            paths.append(keys)
    return sorted(paths, key=lambda p: int(p[-2][5:]))


def get(tree, path):
    for k in path:
        tree = tree[k]
    return tree


def replace(tree, path, value):
    if not path:
        return value
    return {**tree, path[0]: replace(tree[path[0]], path[1:], value)}


def theta_deg(vec) -> float:
    return float(np.degrees(soa.orientation_angle(jnp.asarray(vec))))


def tilt(data, degrees: float):
    """Every view of ``data`` turned by ``degrees`` (from +x towards +y, y down) about
    the centre, zeros outside; the flow's (u, v) vectors turned by the same angle."""
    if degrees == 0:
        return data
    views = {}
    for name, v in data.views.items():
        if v.ndim != 4:  # not (N, H, W, C) images
            views[name] = v
            continue
        h, w = v.shape[1:3]
        m = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), -degrees, 1.0)
        turned = np.stack([np.stack([cv2.warpAffine(x[..., c], m, (w, h), flags=cv2.INTER_LINEAR,
                                                    borderMode=cv2.BORDER_CONSTANT, borderValue=0)
                                     for c in range(x.shape[-1])], axis=-1) for x in v])
        if name == "flow":
            c, s = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
            u, vv = turned[..., 0].copy(), turned[..., 1].copy()
            turned[..., 0], turned[..., 1] = c * u - s * vv, s * u + c * vv
        views[name] = turned.astype(np.float32)
    return dataclasses.replace(data, views=views)


def make_config(args, orientation: float, start: float):
    c = base_config("theta_study")
    c.data.synthetic.orientation_deg = 90.0 if args.tilt else orientation
    if args.composite:
        c.data.name = "htnet_composite"
        c.data.manual_dir = args.composite
    c.model.faceslueth_r.use_appearance = args.appearance
    c.model.faceslueth_r.motion.theta_init_deg = start
    c.model.faceslueth_r.motion.soa_mode = args.soa_mode
    c.train.epochs = args.epochs
    if args.theta_lr is not None:
        c.train.optimizer.theta_lr = args.theta_lr
    if args.theta_weight_decay is not None:
        c.train.optimizer.theta_weight_decay = args.theta_weight_decay
    return c


def subset(data, mask):
    """The samples of ``data`` where ``mask`` holds."""
    return dataclasses.replace(
        data, views={k: v[mask] for k, v in data.views.items()}, label=data.label[mask],
        subject=data.subject[mask], dataset=data.dataset[mask], sample_id=data.sample_id[mask])


def groups(args):
    """(name, orientation, prepared data) of every group studied: the synthetic data at
    each orientation, or each database of the composite."""
    if args.composite:
        config = make_config(args, 90.0, 0.0)
        data = prepared_data(config, records.read_builder(sources.prepare(config.data)))
        for name in sorted(set(data.dataset)):
            yield name, float("nan"), subset(data, data.dataset == name)
        return
    for o in map(float, args.orientations.split(",")):
        config = make_config(args, o, 0.0)
        data = records.read_builder(sources.prepare(config.data))
        yield f"orientation {o:g}", o, prepared_data(config, tilt(data, o - 90.0 if args.tilt else 0.0))


def study(args, group: str, orientation: float, data, starts: list[float]) -> list[dict]:
    config = make_config(args, orientation, starts[0])
    views = {k: jnp.asarray(v) for k, v in data.views.items()}
    labels = jnp.asarray(data.label)
    n = len(data.label)
    batch = config.train.batch_size
    steps = math.ceil(n / batch)
    example = {k: v[:1] for k, v in augment.model_views(views).items()}
    u_offset = records.u_mirror_offset(config.data.flow_norm)
    out = []
    for start in starts:
        config = make_config(args, orientation, start)
        model = registry.from_config(config.model, len(data.class_names))
        train_model = model.clone(batch_axis=DATA)
        opt = optimizer_lib.make_optimizer(config.train.optimizer, steps, (soa.ORIENTATION,))
        key = jax.random.PRNGKey(args.seed)
        state = fold_step.init_fold(model, example, opt, key)
        paths = orientation_paths(state.params)
        spec = fold_step.FoldSpec(key=key, train_idx=jnp.arange(n, dtype=jnp.int32),
                                  num_train=jnp.int32(n), test_idx=jnp.zeros(1, jnp.int32))

        @jax.jit
        def epoch_fn(state, e):
            run = lambda s: fold_step.train_epoch(
                train_model, opt, config.train, s, spec, views, labels, e, steps=steps,
                data_parallel=1, u_mirror_offset=u_offset, unroll=1)
            s1, loss = jax.vmap(run, axis_name=DATA)(jax.tree.map(lambda x: x[None], state))
            return jax.tree.map(lambda x: x[0], s1), loss[0]

        @jax.jit
        def theta_grads(state, idx):
            """dL/dtheta of every SOA layer on the batch of rows ``idx`` (train mode)."""
            def loss_fn(params):
                def one(_):
                    return fold_step.weighted_loss(
                        train_model, params, state.batch_stats,
                        augment.model_views({k: v[idx] for k, v in views.items()}),
                        labels[idx], jnp.ones(idx.shape[0]), jnp.float32(idx.shape[0]),
                        jax.random.PRNGKey(0), 0, idx.shape[0])[0]
                return jax.vmap(one, axis_name=DATA)(jnp.zeros(1))[0]
            g = jax.grad(loss_fn)(state.params)
            rows = []
            for p in paths:
                a, b = get(state.params, p)
                ga, gb = get(g, p)
                rows.append(ga * -b + gb * a)  # d vec / d theta = (-b, a)
            return jnp.stack(rows)

        @jax.jit
        def mean_loss(params, batch_stats):
            variables = {"params": params, "batch_stats": batch_stats}
            logits = model.apply(variables, augment.model_views(views), train=False)
            return jnp.mean(jax.nn.log_softmax(logits)[jnp.arange(n), labels] * -1.0)

        def gradient_stats(state, passes=4):
            rng = np.random.default_rng(0)
            grads = []
            for _ in range(passes):
                order = rng.permutation(n)
                for s in range(n // batch):
                    grads.append(np.asarray(theta_grads(state, jnp.asarray(order[s * batch:(s + 1) * batch]))))
            grads = np.stack(grads)  # (batches, layers)
            mean, std = grads.mean(0), grads.std(0)
            return dict(mean=mean.tolist(), std=std.tolist(),
                        snr=(np.abs(mean) / np.maximum(std, 1e-30)).tolist())

        def landscape(state):
            rows = []
            for p in paths:
                norm = float(jnp.linalg.norm(get(state.params, p)))
                losses = []
                for d in LANDSCAPE_DEG:
                    t = math.radians(d)
                    vec = jnp.array([math.cos(t), math.sin(t)], jnp.float32) * norm
                    losses.append(float(mean_loss(replace(state.params, p, vec), state.batch_stats)))
                losses = np.array(losses)
                rows.append(dict(loss=losses.round(5).tolist(),
                                 range=float(losses.max() - losses.min()),
                                 argmin_deg=float(LANDSCAPE_DEG[int(losses.argmin())])))
            return rows

        t0 = time.time()
        grads_start = gradient_stats(state)
        trajectory = [[theta_deg(get(state.params, p)) for p in paths]]
        for e in range(config.train.epochs):
            state, loss = epoch_fn(state, jnp.int32(e))
            trajectory.append([theta_deg(get(state.params, p)) for p in paths])
        grads_end = gradient_stats(state)
        row = dict(group=group, orientation_deg=orientation, start_deg=start, samples=n,
                   final_loss=float(loss), train_loss_eval=float(mean_loss(state.params, state.batch_stats)),
                   theta_final_deg=trajectory[-1], trajectory_deg=trajectory,
                   vector_norm=[float(jnp.linalg.norm(get(state.params, p))) for p in paths],
                   grad_start=grads_start, grad_end=grads_end, landscape=landscape(state),
                   seconds=round(time.time() - t0, 1))
        out.append(row)
        print(f"{group} start {start:5.1f}: theta "
              + " ".join(f"{t:6.1f}" for t in row["theta_final_deg"])
              + "  SNR start " + " ".join(f"{s:.2f}" for s in grads_start["snr"])
              + "  end " + " ".join(f"{s:.2f}" for s in grads_end["snr"])
              + "  landscape range " + " ".join(f"{r['range']:.4f}" for r in row["landscape"])
              + " argmin " + " ".join(f"{r['argmin_deg']:.0f}" for r in row["landscape"])
              + f"  loss {row['train_loss_eval']:.3f}  {row['seconds']} s", flush=True)
    return out


def summary(rows: list[dict]) -> dict:
    """Per group: each layer's axial circular mean and spread of theta_T over starts."""
    by = {}
    for r in rows:
        by.setdefault(r["group"], []).append(r["theta_final_deg"])
    out = {}
    for o, finals in by.items():
        finals = np.array(finals)  # (starts, layers)
        out[o] = [dict(zip(("mean_deg", "spread_deg"), map(float, (
            angles.axial_mean(finals[:, l]), angles.axial_spread(finals[:, l]) + 0.0))))
            for l in range(finals.shape[1])]
    return out


def plot(rows: list[dict], path) -> None:
    """One panel per SOA layer: theta over the epochs, a line per (group, start), one
    colour per group."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = sorted({r["group"] for r in rows})
    colours = dict(zip(names, plt.rcParams["axes.prop_cycle"].by_key()["color"]))
    layers = len(rows[0]["theta_final_deg"])
    fig, axes = plt.subplots(1, layers, figsize=(3.2 * layers, 3.0), sharey=True, squeeze=False)
    for layer, ax in enumerate(axes[0]):
        for r in rows:
            ax.plot(angles.unwrap(np.array(r["trajectory_deg"])[:, layer]),
                    color=colours[r["group"]], lw=1.0)
        ax.set_title(f"SOA layer {layer}")
        ax.set_xlabel("epoch")
        ax.axhline(88.0, color="k", lw=0.6, ls=":")  # the paper's reported angle
    axes[0][0].set_ylabel("theta (degrees, unwrapped)")
    handles = [matplotlib.lines.Line2D([], [], color=colours[n], label=n) for n in names]
    fig.legend(handles=handles, loc="lower center", ncol=len(names), fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    atomic_files.write_figure(path, fig)
    plt.close(fig)


def table(rows: list[dict]) -> str:
    """Markdown: per group, each layer's final angle from every start, how far the
    angle moved at most, the median gradient SNR at the end and the median range of
    the loss over angles."""
    starts = sorted({r["start_deg"] for r in rows})
    lines = ["| data | layer | " + " | ".join(f"from {s:g}°" for s in starts)
             + " | largest move | median SNR at the end | median loss range over θ |",
             "|---|---|" + "---|" * (len(starts) + 3)]
    for group in dict.fromkeys(r["group"] for r in rows):
        mine = {r["start_deg"]: r for r in rows if r["group"] == group}
        for layer in range(len(rows[0]["theta_final_deg"])):
            finals = [mine[s]["theta_final_deg"][layer] for s in starts if s in mine]
            moves = [abs(float(angles.axial_deviation(mine[s]["theta_final_deg"][layer], s)))
                     for s in starts if s in mine]
            snr = np.median([mine[s]["grad_end"]["snr"][layer] for s in starts if s in mine])
            spread = np.median([mine[s]["landscape"][layer]["range"] for s in starts if s in mine])
            lines.append(f"| {group} | {layer} | " + " | ".join(f"{f:.1f}" for f in finals)
                         + f" | {max(moves):.1f}° | {snr:.2f} | {spread:.3f} |")
    return "\n".join(lines)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--orientations", default="0,45,90,135")
    p.add_argument("--starts", default="0,45,90,135")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--soa_mode", default="steerable", choices=("steerable", "reference"))
    p.add_argument("--appearance", action="store_true")
    p.add_argument("--tilt", action="store_true")
    p.add_argument("--composite", default="",
                   help="HTNet's composite release: study each database instead (20 epochs)")
    p.add_argument("--theta_lr", type=float)
    p.add_argument("--theta_weight_decay", type=float)
    p.add_argument("--json", help="where to write the figures (required unless --report)")
    p.add_argument("--report", nargs="*", help="print the table of finished studies' JSON files")
    p.add_argument("--plot", default="", help="a PNG of theta per layer over the epochs")
    args = p.parse_args(argv)
    if args.report:
        for path in args.report:
            with open(path) as f:
                rows = json.load(f)["runs"]
            for r in rows:  # files written before groups were named
                r.setdefault("group", f"orientation {r['orientation_deg']:g}")
            print(f"{path}:\n{table(rows)}\n")
        return
    if not args.json:
        p.error("--json is required")
    rows = []
    for group, orientation, data in groups(args):
        rows += study(args, group, orientation, data, [float(s) for s in args.starts.split(",")])
    result = dict(args=vars(args), runs=rows, summary=summary(rows), jax=jax.__version__)
    tmp = args.json + ".tmp"
    with open(tmp, "w") as f:
        json.dump(result, f, indent=1)
    os.replace(tmp, args.json)
    if args.plot:
        plot(rows, args.plot)
    print(table(rows))
    for o, layers in result["summary"].items():
        print(f"{o}: " + ", ".join(
            f"layer {i}: {l['mean_deg']:.1f} ± {l['spread_deg']:.1f}" for i, l in enumerate(layers)))


if __name__ == "__main__":
    main()
