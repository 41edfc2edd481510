"""A run's TensorBoard event files under ``WORKDIR/tensorboard`` (tensorboardX, which
needs no TensorFlow; view with ``pip install tensorboard && tensorboard --logdir runs/``).

While training (``TensorBoardEpochs``, after every epoch of every chunk of folds;
x = epoch 1..E):
  train_loss/fold_group_<c>         mean training loss over chunk c's folds
  learning_rate/weights, /theta     the epoch's learning rates (with the first chunk)
  theta_deg/layer_<l>/fold_group_<c>  axial circular mean of SOA layer l's angle over them
At the end (``write_final``):
  train_loss/mean_over_folds        per epoch, over every fold and seed
  learning_curve_DIAGNOSTIC/uf1, /uar  pooled test UF1 / UAR with every fold at epoch e:
                                    a diagnostic, not a selection rule (reading a headline
                                    off its best epoch would be the optimistic rule)
  theta_deg/layer_<l>/mean_over_folds
  headline/<rule>/uf1, /uar, /accuracy  at the last epoch; text 'summary' = summary.txt
  images: every figure of the run (its PNGs)
  hparams: the config's overrides, with the headline UF1 / UAR as the metrics
Only the main process writes (the caller decides).
"""

from __future__ import annotations

import pathlib

import numpy as np

from faceslueth_jax.evaluation import angles

DIRECTORY = "tensorboard"


def _writer(workdir):
    from tensorboardX import SummaryWriter  # imported on use: a run without it still reads
    return SummaryWriter(logdir=str(pathlib.Path(workdir) / DIRECTORY), flush_secs=10)


class TensorBoardEpochs:
    """``on_epoch`` watcher writing the live scalars (see the module doc)."""

    def __init__(self, workdir, learning_rates):
        """``learning_rates(epoch)`` -> {group: lr} of a 0-based epoch."""
        self.writer = _writer(workdir)
        self.learning_rates = learning_rates

    def __call__(self, chunk: int, num_chunks: int, epoch: int, epochs: int, record) -> None:
        step = epoch + 1
        loss = np.asarray(record["loss"], np.float64)
        if np.isfinite(loss).any():
            self.writer.add_scalar(f"train_loss/fold_group_{chunk}",
                                   float(np.nanmean(np.where(np.isfinite(loss), loss, np.nan))),
                                   step)
        if chunk == 0:
            for group, lr in self.learning_rates(epoch).items():
                self.writer.add_scalar(f"learning_rate/{group}", lr, step)
        theta = record.get("probe_theta_deg")
        if theta is not None and np.size(theta):
            for layer, mean in enumerate(angles.axial_mean(np.asarray(theta), axis=0)):
                if np.isfinite(mean):
                    self.writer.add_scalar(f"theta_deg/layer_{layer}/fold_group_{chunk}",
                                           float(mean), step)

    def close(self) -> None:
        self.writer.close()


def scalar_hparams(overrides: dict) -> dict:
    """TensorBoard's hparams take numbers, strings and booleans: others as text."""
    return {k: v if isinstance(v, (int, float, str, bool)) else str(v)
            for k, v in overrides.items()}


def write_final(workdir, metrics: dict, theta_deg, overrides: dict, figures: list) -> None:
    """The end-of-run part (see the module doc). ``theta_deg``: (F, E, L) or None;
    ``figures``: PNG paths."""
    import cv2

    writer = _writer(workdir)
    try:
        curve = metrics.get("learning_curve") or {}
        loss = np.nanmean(np.asarray(metrics["loss_per_fold_epoch"], np.float64), axis=0)
        for e, value in enumerate(loss, 1):
            writer.add_scalar("train_loss/mean_over_folds", float(value), e)
        for e, uf1, uar in zip(curve.get("epoch", ()), curve.get("uf1", ()), curve.get("uar", ())):
            writer.add_scalar("learning_curve_DIAGNOSTIC/uf1", uf1, e)
            writer.add_scalar("learning_curve_DIAGNOSTIC/uar", uar, e)
        if theta_deg is not None and np.size(theta_deg):
            means = angles.axial_mean(np.asarray(theta_deg), axis=0)  # (E, L)
            for e, row in enumerate(means, 1):
                for layer, mean in enumerate(row):
                    if np.isfinite(mean):
                        writer.add_scalar(f"theta_deg/layer_{layer}/mean_over_folds",
                                          float(mean), e)
        results = [metrics["headline"], *metrics.get("other_selections", {}).values()] if (
            "headline" in metrics) else []
        epochs = metrics["epochs"]
        for result in results:
            rule = result["selection"] + ("_OPTIMISTIC" if result["optimistic"] else "")
            for name in ("uf1", "uar", "accuracy"):
                writer.add_scalar(f"headline/{rule}/{name}", result[name], epochs)
        if "summary_text" in metrics:
            writer.add_text("summary", "```\n" + metrics["summary_text"] + "\n```", epochs)
        for path in figures:
            image = cv2.imread(str(path))[..., ::-1]
            writer.add_image(f"figures/{pathlib.Path(path).stem}", image, epochs,
                             dataformats="HWC")
        headline = metrics.get("headline")
        writer.add_hparams(
            scalar_hparams(dict(overrides, config=metrics["config_name"])),
            {"hparam/uf1": headline["uf1"], "hparam/uar": headline["uar"]} if headline
            else {"hparam/final_train_loss": float(loss[-1])}, name="hparams")
    finally:
        writer.close()
