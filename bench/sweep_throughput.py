"""Fold-parallel throughput: K folds in one compiled program against the same K
folds trained one after another by a one-fold program, same model, same run.

For each K the trainer runs the K folds twice:

  together  one program over all K folds (``max_folds_per_chunk=K``), folds
            vmapped on each device and split over the mesh axis ``fold``;
  in turn   a one-fold-per-device-group program, K / devices chunks in a row.

Throughput is fold-steps per second, fold-steps = folds x optimiser steps,
timed between consecutive epochs (so compilation, initialisation and data
transfer are left out; each epoch includes its test-set evaluation), and

    ratio = together / in turn       (> 1: one program for all folds is faster).

Memory per fold is the compiled epoch program's own figure (arguments + outputs
- donated + temporaries, per device) divided by its folds per device, and on
GPU/TPU also the device's running peak (``peak_bytes_in_use`` of the process so
far: a maximum over this K and every K before it, not a per-K figure).

Run from the repository root (defaults: compact preset, batch 32, 2 steps per
epoch, 3 epochs of which the last 2 are timed):

    python bench/sweep_throughput.py --ks 1,8,26,68 [--json PATH]

Multi-device CPU: XLA_FLAGS=--xla_force_host_platform_device_count=8 python ...
See bench/README.md for measured figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time


import jax
import numpy as np

from configs.common import base_config
from faceslueth_jax.models import registry
from faceslueth_jax.train import fold_trainer, placement
from faceslueth_jax.train.protocols import Folds

POOL = 442  # samples in the data set, as the MEGC2019 composite


def problem(cfg, k: int, steps: int, seed: int = 0):
    """Random views of the preset's sizes and K folds of steps x B train samples
    and 8 test samples each."""
    rng = np.random.default_rng(seed)
    flow, face = cfg.data.flow_size, cfg.data.face_size
    views = {"flow": rng.random((POOL, flow, flow, 3), np.float32),
             "apex": rng.normal(size=(POOL, face, face, 1)).astype(np.float32),
             "onset": rng.normal(size=(POOL, face, face, 1)).astype(np.float32)}
    labels = rng.integers(0, 3, POOL).astype(np.int32)
    num_train, num_test = steps * cfg.train.batch_size, 8
    order = np.stack([rng.permutation(POOL)[:num_train + num_test] for _ in range(k)])
    folds = Folds(names=tuple(f"f{i}" for i in range(k)),
                  train_idx=order[:, :num_train].astype(np.int32),
                  num_train=np.full(k, num_train, np.int32),
                  test_idx=order[:, num_train:].astype(np.int32),
                  num_test=np.full(k, num_test, np.int32))
    return views, labels, folds


def timed_run(trainer, folds, epochs: int, per_chunk: int) -> dict:
    """Fold-steps per second over every epoch after a chunk's first."""
    marks = []
    history = trainer.fit(folds, epochs, seed=0, max_folds_per_chunk=per_chunk,
                          on_epoch=lambda c, n, e, E, losses: marks.append((c, time.perf_counter())))
    seconds = sum(t - t0 for (c0, t0), (c, t) in zip(marks, marks[1:]) if c == c0)
    steps = history.execution["steps_per_epoch"]
    fold_steps = folds.num_folds * steps * (epochs - 1)
    per_device = history.execution["folds_per_chunk"] // history.execution["fold_groups"]
    return {"fold_steps_per_s": fold_steps / seconds, "seconds": seconds,
            "program_bytes_per_fold": history.execution["epoch_program_bytes_per_device"]
            / per_device, "folds_per_chunk": history.execution["folds_per_chunk"]}


def device_peak() -> int | None:
    stats = jax.local_devices()[0].memory_stats() or {}
    return stats.get("peak_bytes_in_use")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ks", default="1,8,26,68")
    ap.add_argument("--preset", default="compact")
    ap.add_argument("--steps", type=int, default=2, help="optimiser steps per epoch")
    ap.add_argument("--epochs", type=int, default=3, help="epochs per run; all but the first timed")
    ap.add_argument("--json", help="write the figures here too")
    args = ap.parse_args()
    cfg = base_config("bench", args.preset)
    model = registry.from_config(cfg.model, 3)
    device = jax.devices()[0]
    print(f"# {device.platform} {device.device_kind} x{jax.device_count()}, jax {jax.__version__}, "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} cpus; preset "
          f"{args.preset}, batch {cfg.train.batch_size}, {args.steps} steps/epoch, "
          f"{args.epochs - 1} timed epochs")
    print(f"{'K':>4} {'together f-steps/s':>19} {'in turn f-steps/s':>18} {'ratio':>6} "
          f"{'MiB/fold together':>18} {'MiB/fold alone':>15}")
    rows = []
    for k in [int(x) for x in args.ks.split(",")]:
        views, labels, folds = problem(cfg, k, args.steps)
        mesh = placement.make_mesh(k, cfg.train.batch_size)
        trainer = fold_trainer.FoldTrainer(model, cfg.train, views, labels, mesh,
                                           probes=registry.probes(cfg.model),
                                           slow_params=registry.slow_params(cfg.model))
        alone = timed_run(trainer, folds, args.epochs, per_chunk=mesh.shape["fold"])
        together = timed_run(trainer, folds, args.epochs, per_chunk=k)
        row = {"K": k, "together": together, "in_turn": alone,
               "ratio": together["fold_steps_per_s"] / alone["fold_steps_per_s"],
               "device_peak_bytes_so_far": device_peak(),
               "mesh": dict(mesh.shape)}
        rows.append(row)
        print(f"{k:>4} {together['fold_steps_per_s']:>19.2f} {alone['fold_steps_per_s']:>18.2f} "
              f"{row['ratio']:>6.2f} {together['program_bytes_per_fold'] / 2**20:>18.1f} "
              f"{alone['program_bytes_per_fold'] / 2**20:>15.1f}", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"device": device.device_kind, "platform": device.platform,
                       "devices": jax.device_count(), "args": vars(args), "rows": rows}, f,
                      indent=2)


if __name__ == "__main__":
    main()
