"""A run's curves per epoch: ``curves.csv`` and ``learning_curve.png``/``.pdf``.

curves.csv, one row per epoch e = 1..E:
  train_loss            mean training loss over every fold (and seed)
  learning_curve_uf1/uar  pooled test UF1 / UAR with every fold at epoch e (mean over
                        seeds): the ``learning_curve`` DIAGNOSTIC of metrics.json; picking
                        the best of these epochs would be the optimistic rule
  lr_weights, lr_theta  the learning rates during the epoch
  theta_layer_<l>       axial circular mean over folds of SOA layer l's angle (degrees)

The figure: the loss and the pooled UF1 per epoch, the mean over seeds with a band of
± one standard deviation over seeds when there are several.
"""

from __future__ import annotations

import pathlib

import numpy as np
from matplotlib.ticker import MaxNLocator

from faceslueth_jax import atomic_files
from faceslueth_jax.evaluation import angles, figure_style

FILE = "curves.csv"
FIGURE = "learning_curve"


def rows(metrics: dict, theta_deg, learning_rates) -> tuple[list, list]:
    """(header, rows) of curves.csv. ``theta_deg``: (F, E, L) or None;
    ``learning_rates(epoch)``: {"weights": lr, "theta": lr} of a 0-based epoch."""
    loss = np.nanmean(np.asarray(metrics["loss_per_fold_epoch"], np.float64), axis=0)
    curve = metrics.get("learning_curve")
    theta = (None if theta_deg is None or not np.size(theta_deg)
             else angles.axial_mean(np.asarray(theta_deg), axis=0))  # (E, L)
    header = ["epoch", "train_loss"] + (["learning_curve_uf1", "learning_curve_uar"]
                                        if curve else []) + ["lr_weights"]
    if theta is not None:
        header += ["lr_theta"] + [f"theta_layer_{layer}" for layer in range(theta.shape[1])]
    out = []
    for e in range(len(loss)):
        lrs = learning_rates(e)
        row = [e + 1, f"{loss[e]:.6f}"]
        if curve:
            row += [f"{curve['uf1'][e]:.4f}", f"{curve['uar'][e]:.4f}"]
        row.append(f"{lrs['weights']:.6g}")
        if theta is not None:
            row += [f"{lrs['theta']:.6g}"] + [f"{t:.4f}" for t in theta[e]]
        out.append(row)
    return header, out


def write(workdir, metrics: dict, theta_deg, learning_rates) -> pathlib.Path:
    header, body = rows(metrics, theta_deg, learning_rates)
    return atomic_files.write_csv(pathlib.Path(workdir) / FILE, header, body)


def band(ax, epochs, per_seed, colour, label):
    """The mean over seeds of (M, E) per-seed values, with a band of ± one std when M > 1."""
    values = np.asarray(per_seed, np.float64)  # (M, E)
    mean = values.mean(0)
    ax.plot(epochs, mean, color=colour, label=label)
    if len(values) > 1:
        std = values.std(0, ddof=1)
        ax.fill_between(epochs, mean - std, mean + std, color=colour, alpha=0.2, lw=0)


@figure_style.styled
def plot(workdir, metrics: dict, title: str) -> list:
    """learning_curve.png and .pdf: training loss (left axis) and, when the run tested,
    the pooled test UF1 per epoch (right axis), mean over seeds ± std over seeds; the
    legend under the axes, off the curves (``figure_style.title_and_legend``)."""
    curve = metrics.get("learning_curve") or {}
    per_seed = curve.get("per_seed", {})
    loss = (per_seed.get("train_loss")
            or [np.nanmean(np.asarray(metrics["loss_per_fold_epoch"], np.float64), axis=0)])
    epochs = np.arange(1, len(loss[0]) + 1)
    seeds = len(loss)
    fig, ax = figure_style.figure(figsize=(5.0, 3.2))
    band(ax, epochs, loss, figure_style.COLOURS[0], "training loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss (mean over folds)", color=figure_style.COLOURS[0])
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    handles, labels = ax.get_legend_handles_labels()
    if curve.get("uf1"):
        right = ax.twinx()
        right.spines["right"].set_visible(True)
        band(right, epochs, per_seed.get("uf1") or [curve["uf1"]], figure_style.COLOURS[1],
              "pooled test UF1 (diagnostic)")
        right.set_ylabel("pooled test UF1, all folds at epoch e", color=figure_style.COLOURS[1])
        right.set_ylim(0, 1)
        more = right.get_legend_handles_labels()
        handles, labels = handles + more[0], labels + more[1]
    spread = f"mean ± std over {seeds} seeds" if seeds > 1 else "1 seed"
    figure_style.title_and_legend(ax, f"{title}\nlearning curve ({spread})", handles, labels)
    return figure_style.save(fig, pathlib.Path(workdir) / f"{FIGURE}.png")
