r"""Where a compact FaceSleuth-R training step goes, and what each formulation gains.

  python bench/profile_compact_step.py [--preset compact] [--batch 32] [--folds 1,8] [--json PATH]

For each convolution formulation (``model.faceslueth_r.{motion,appearance}.conv_impl``:
'xla' = lax convolutions, 'matmul' = one 2-D matmul over shifted copies; 'auto', the
default, is 'matmul' on CPU) it times, in one run, median of --reps calls after
compilation, forward + backward (``jax.grad`` of the summed logits, train mode) of: the
motion stream alone, the Swin appearance stream alone, the whole model; then one whole
optimiser step (``fold_step.train_step``: loss, gradients, AdamW) for K folds vmapped
with per-fold weights. GFLOP from XLA's cost analysis; GFLOP/s against a large fp32
matmul timed in the same run (the machine's peak here).

Then (``--epoch_steps N``, 0 to skip) the trainer's real epoch program
(``fold_trainer.FoldTrainer``, N steps of the preset's batch, apex only, as the
composite) for each layout: formulation x step loop (rolled ``lax.scan`` or unrolled)
x folds per program: its compile time and ms per fold-step over 3 epochs after the
first (each epoch includes its test evaluation).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np

from configs.common import base_config
from faceslueth_jax.models import registry
from faceslueth_jax.models.motion_stream import MotionStream
from faceslueth_jax.models.swin import SwinTransformer
from faceslueth_jax.train import fold_step
from faceslueth_jax.train.optimizer import make_optimizer
from faceslueth_jax.train.placement import DATA


def timed(fn, *args, reps: int):
    """(median seconds, GFLOP) of a jitted fn after its first call."""
    compiled = jax.jit(fn).lower(*args).compile()
    flops = (compiled.cost_analysis() or {}).get("flops", 0.0)
    jax.block_until_ready(compiled(*args))
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        jax.block_until_ready(compiled(*args))
        times.append(time.perf_counter() - t0)
    return statistics.median(times), flops / 1e9


def matmul_peak(reps: int) -> float:
    a = jnp.ones((2048, 2048), jnp.float32)
    seconds, gflop = timed(lambda x: x @ x, a, reps=reps)
    return gflop / seconds


def grad_of_sum(module, x, train=True):
    variables = module.init(jax.random.PRNGKey(0), x, train=False)

    def loss(params):
        out, _ = module.apply({**variables, "params": params}, x, train=train,
                              mutable=["batch_stats"], rngs={"dropout": jax.random.PRNGKey(1)})
        return jnp.sum(out)
    return jax.grad(loss), variables["params"]


def inputs(cfg, batch: int):
    rng = np.random.default_rng(0)
    f, s = cfg.data.flow_size, cfg.data.face_size
    return {"flow": jnp.asarray(rng.normal(size=(batch, f, f, 3)), jnp.float32),
            "apex": jnp.asarray(rng.normal(size=(batch, s, s, 1)), jnp.float32),
            "onset": jnp.asarray(rng.normal(size=(batch, s, s, 1)), jnp.float32)}


def step_of_folds(cfg, views, folds: int):
    """One train_step for ``folds`` folds vmapped (per-fold weights), data axis of 1."""
    model = registry.from_config(cfg.model, 3)
    optimizer = make_optimizer(cfg.train.optimizer, 10, registry.slow_params(cfg.model))
    keys = jax.random.split(jax.random.PRNGKey(0), folds)
    example = {k: v[:1] for k, v in views.items()}
    states = jax.vmap(lambda k: fold_step.init_fold(model, example, optimizer, k))(keys)
    labels = jnp.zeros(views["flow"].shape[0], jnp.int32)
    weight = jnp.ones(views["flow"].shape[0], jnp.float32)
    train_model = model.clone(batch_axis=DATA)

    def one(state):
        step = lambda st: fold_step.train_step(train_model, optimizer, st, views, labels, weight,
                                               jax.random.PRNGKey(2))
        return jax.vmap(step, axis_name=DATA)(jax.tree.map(lambda a: a[None], state))
    return jax.vmap(one), states


EPOCH_LAYOUTS = (("xla", "unrolled", 1), ("xla", "rolled", 1), ("matmul", "unrolled", 1),
                 ("matmul", "rolled", 1), ("matmul", "rolled", 8))


def epoch_program_rates(preset: str, steps: int) -> list[dict]:
    """Compile seconds and ms per fold-step of the trainer's epoch program per layout."""
    from sweep_throughput import problem
    from faceslueth_jax.train import fold_trainer, placement
    rows = []
    for impl, loop, k in EPOCH_LAYOUTS:
        cfg = base_config("profile", preset)
        cfg.model.faceslueth_r.motion.conv_impl = impl
        cfg.model.faceslueth_r.appearance.conv_impl = impl
        cfg.train.scan_unroll = steps if loop == "unrolled" else 1
        views, labels, folds = problem(cfg, k, steps)
        views.pop("onset")  # the composite has no onset frame
        trainer = fold_trainer.FoldTrainer(
            registry.from_config(cfg.model, 3), cfg.train, views, labels,
            placement.make_mesh(k, cfg.train.batch_size), probes=registry.probes(cfg.model),
            slow_params=registry.slow_params(cfg.model))
        marks = []
        trainer.fit(folds, 4, seed=0, max_folds_per_chunk=k,
                    on_epoch=lambda *a: marks.append(time.perf_counter()))
        epoch = statistics.median(b - a for a, b in zip(marks, marks[1:]))
        rows.append(dict(conv_impl=impl, loop=loop, folds=k,
                         compile_s=trainer.watch.seconds["compile"],
                         ms_per_fold_step=epoch / steps / k * 1e3))
        print(f"{impl:<9} {loop:<9} {k:>5} {rows[-1]['compile_s']:>10.1f} "
              f"{rows[-1]['ms_per_fold_step']:>17.1f}", flush=True)
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--preset", default="compact")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--folds", default="1,8")
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--epoch_steps", type=int, default=13,
                    help="steps per epoch of the epoch-program table (0: skip it)")
    ap.add_argument("--json")
    args = ap.parse_args()
    peak = matmul_peak(args.reps)
    device = jax.devices()[0]
    print(f"# {device.platform} {device.device_kind}, {os.cpu_count()} cpus, jax {jax.__version__}; "
          f"preset {args.preset}, batch {args.batch}; fp32 matmul peak {peak:.0f} GFLOP/s")
    print(f"{'conv_impl':<9} {'part':<34} {'GFLOP':>7} {'ms':>8} {'GFLOP/s':>8} {'% peak':>7}")
    rows = []
    for impl in ("xla", "matmul"):
        cfg = base_config("profile", args.preset)
        cfg.model.faceslueth_r.motion.conv_impl = impl
        cfg.model.faceslueth_r.appearance.conv_impl = impl
        views = inputs(cfg, args.batch)
        own = cfg.model.faceslueth_r
        motion = MotionStream(**own.motion)
        swin = SwinTransformer(**own.appearance)
        parts = [("motion stream fwd+bwd", *grad_of_sum(motion, views["flow"])),
                 ("Swin (apex) fwd+bwd", *grad_of_sum(swin, views["apex"])),
                 ("whole model fwd+bwd", *grad_of_sum(registry.from_config(cfg.model, 3), views))]
        for name, grad, params in parts:
            seconds, gflop = timed(grad, params, reps=args.reps)
            rows.append(dict(conv_impl=impl, part=name, gflop=gflop, ms=seconds * 1e3))
        for k in [int(x) for x in args.folds.split(",")]:
            fn, states = step_of_folds(cfg, views, k)
            seconds, gflop = timed(fn, states, reps=args.reps)
            rows.append(dict(conv_impl=impl, part=f"train step, {k} fold(s) vmapped", gflop=gflop,
                             ms=seconds * 1e3, ms_per_fold=seconds * 1e3 / k))
        for r in rows[-len(parts) - len(args.folds.split(",")):]:
            rate = r["gflop"] / (r["ms"] / 1e3) if r["ms"] else 0.0
            r["gflop_per_s"] = rate
            print(f"{impl:<9} {r['part']:<34} {r['gflop']:7.3f} {r['ms']:8.1f} {rate:8.1f} "
                  f"{100 * rate / peak:6.1f}%")
    epochs = []
    if args.epoch_steps:
        print(f"\n# the trainer's epoch program, {args.epoch_steps} steps of batch "
              f"{base_config('profile', args.preset).train.batch_size}")
        print(f"{'conv_impl':<9} {'loop':<9} {'folds':>5} {'compile s':>10} {'ms / fold-step':>17}")
        epochs = epoch_program_rates(args.preset, args.epoch_steps)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"peak_gflop_per_s": peak, "rows": rows, "epoch_programs": epochs}, f,
                      indent=1)


if __name__ == "__main__":
    main()
