"""FaceSleuth-R here against the PyTorch reference, same machine, same run.

Two worker processes hold the two models: the reference ``MMNet`` built from a
checkout (``--reference_dir``, torch from requirements-bench.txt) and this
project's paper preset with the reference network (``configs.common.reference_network``,
AU vector on, as the reference). The parent alternates them (A, B, A, B, ...) so
drifts in machine load hit both alike, and reports medians:

  train step   forward + backward + AdamW update (two groups, as the reference),
               one batch of B 224x224 onset/apex pairs and 21-dim AU vectors;
               no data loading or augmentation on either side (the reference's
               runs in its DataLoader workers);
  forward      eval-mode logits of a batch, throughput in samples/s;
  peak memory  GPU: the framework's peak allocation; CPU: the worker's peak
               resident set (ru_maxrss), after the training steps;
  whole sweep  LOSO on CASME II 5-class (26 folds, --samples 247, --epochs 99):
               the reference trains the folds one after another,
                 T_ref = folds * epochs * ceil(n_train / B) * t_step(reference);
               here the trainer runs as many folds per compiled program as fit
               (faceslueth_jax.train.fold_trainer, memory planner), measured as
               fold-steps per second with K = --sweep_folds folds and epochs of
               --sweep_steps steps (each epoch includes its test evaluation),
                 T_here = folds * epochs * ceil(n_train / B) / (fold-steps/s).

All ratios are reference / here (> 1: this project is faster or smaller).

  python bench/vs_reference.py --reference_dir=/path/to/FaceSleuth
  (defaults: batch 8 on CPU and 50 on GPU, 5 alternating rounds)

See bench/README.md for measured figures.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import time


NUM_CLASSES, AU_DIM, SIDE = 5, 21, 224


def batch(b: int, seed: int = 0):
    import numpy as np

    rng = np.random.default_rng(seed)
    onset = rng.standard_normal((b, SIDE, SIDE, 3)).astype(np.float32)
    apex = onset + 0.3 * rng.standard_normal((b, SIDE, SIDE, 3)).astype(np.float32)
    au = (rng.random((b, AU_DIM)) < 0.15).astype(np.float32)
    labels = rng.integers(0, NUM_CLASSES, b).astype(np.int32)
    return onset, apex, au, labels


def peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB


# --------------------------------------------------------------------------- workers
class TorchWorker:
    """The reference MMNet and its optimiser (CASME2_5.py's recipe)."""

    def __init__(self, args):
        from faceslueth_jax.reference import checkout as reference_checkout

        import torch

        self.torch = torch
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        net = reference_checkout.build(args.reference_dir, seed=0).to(self.device)
        theta = [p for n, p in net.named_parameters() if n.endswith("pool.vec")]
        other = [p for n, p in net.named_parameters() if not n.endswith("pool.vec")]
        self.opt = torch.optim.AdamW([{"params": other, "lr": 8e-4, "weight_decay": 0.6},
                                      {"params": theta, "lr": 5e-3, "weight_decay": 0.2}])
        self.net = net
        onset, apex, au, labels = batch(args.batch)
        nchw = lambda x: torch.from_numpy(x.transpose(0, 3, 1, 2).copy()).to(self.device)
        self.inputs = (nchw(onset), nchw(apex), torch.from_numpy(au).to(self.device))
        self.labels = torch.from_numpy(labels.astype("int64")).to(self.device)
        self.loss = torch.nn.CrossEntropyLoss()
        self.info = {"framework": f"torch {torch.__version__}", "threads": torch.get_num_threads(),
                     "device": self.device, "commit": reference_checkout.commit(
                         reference_checkout.checkout(args.reference_dir))}

    def _sync(self):
        if self.device == "cuda":
            self.torch.cuda.synchronize()

    def train(self):
        self.net.train()
        t0 = time.perf_counter()
        loss = self.loss(self.net(*self.inputs), self.labels)
        loss.backward()
        self.opt.step()
        self.opt.zero_grad()
        self._sync()
        return time.perf_counter() - t0

    def forward(self):
        self.net.eval()
        t0 = time.perf_counter()
        with self.torch.no_grad():
            self.net(*self.inputs)
        self._sync()
        return time.perf_counter() - t0

    def memory(self):
        if self.device == "cuda":
            return self.torch.cuda.max_memory_allocated()
        return peak_rss_bytes()


class JaxWorker:
    """The paper preset with the reference network, AdamW as the trainer builds it."""

    def __init__(self, args):
        import jax
        import jax.numpy as jnp
        import optax

        from configs.common import base_config, reference_network
        from faceslueth_jax.models import registry
        from faceslueth_jax.train.optimizer import make_optimizer

        self.jax, self.args = jax, args
        cfg = reference_network(base_config("bench", "paper"))
        cfg.model.faceslueth_r.au_dim = AU_DIM
        cfg.model.faceslueth_r.motion.conv_impl = args.conv_impl
        cfg.model.faceslueth_r.appearance.conv_impl = args.conv_impl
        self.cfg = cfg
        model = registry.from_config(cfg.model, NUM_CLASSES)
        onset, apex, au, labels = batch(args.batch)
        views = {"onset": jnp.asarray(onset), "apex": jnp.asarray(apex), "au": jnp.asarray(au)}
        labels = jnp.asarray(labels)
        variables = jax.jit(lambda k: model.init(k, views, train=False))(jax.random.key(0))
        optimizer = make_optimizer(cfg.train.optimizer, steps_per_epoch=30,
                                   slow_params=registry.slow_params(cfg.model))
        state = (variables["params"], variables["batch_stats"], optimizer.init(variables["params"]))

        def train_step(state, key):
            params, stats, opt_state = state

            def loss_fn(p):
                logits, upd = model.apply({"params": p, "batch_stats": stats}, views, train=True,
                                          mutable=["batch_stats"], rngs={"dropout": key})
                ce = optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()
                return ce, upd["batch_stats"]

            (loss, stats), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
            updates, opt_state = optimizer.update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), stats, opt_state), loss

        self._step = jax.jit(train_step, donate_argnums=0)
        self._forward = jax.jit(lambda v: model.apply(v, views, train=False))
        self.state, self.key = state, jax.random.key(1)
        t0 = time.perf_counter()
        self.train()  # compile
        self.forward()
        self.info = {"framework": f"jax {jax.__version__}", "device": jax.devices()[0].device_kind,
                     "platform": jax.devices()[0].platform,
                     "compile_s": time.perf_counter() - t0}

    def train(self):
        t0 = time.perf_counter()
        self.key, k = self.jax.random.split(self.key)
        self.state, loss = self._step(self.state, k)
        loss.block_until_ready()
        return time.perf_counter() - t0

    def forward(self):
        params, stats, _ = self.state
        t0 = time.perf_counter()
        self._forward({"params": params, "batch_stats": stats}).block_until_ready()
        return time.perf_counter() - t0

    def memory(self):
        stats = self.jax.local_devices()[0].memory_stats() or {}
        return stats.get("peak_bytes_in_use") or peak_rss_bytes()

    def sweep(self):
        """Fold-steps per second of the trainer over --sweep_folds folds (one compiled
        program per chunk, as many folds per chunk as fit), after the first epoch."""
        import numpy as np

        from faceslueth_jax.train import fold_trainer, placement
        from faceslueth_jax.train.protocols import Folds
        from sweep_throughput import timed_run  # bench/ (the script's folder) is on sys.path

        # Only this phase's numbers remain in use; free the A/B step's buffers first.
        del self.state, self._step, self._forward
        args, cfg = self.args, self.cfg
        cfg.train.batch_size, cfg.train.augment = args.batch, False
        k, b = args.sweep_folds, args.batch
        num_train, num_test = args.sweep_steps * b, 8
        rng = np.random.default_rng(0)
        pool = num_train + num_test
        onset, apex, au, labels = batch(pool)
        views = {"onset": onset, "apex": apex, "au": au}
        order = np.stack([rng.permutation(pool) for _ in range(k)]).astype(np.int32)
        folds = Folds(names=tuple(f"f{i}" for i in range(k)), train_idx=order[:, :num_train],
                      num_train=np.full(k, num_train, np.int32), test_idx=order[:, num_train:],
                      num_test=np.full(k, num_test, np.int32))
        from faceslueth_jax.models import registry

        model = registry.from_config(cfg.model, NUM_CLASSES)
        mesh = placement.make_mesh(k, b)
        trainer = fold_trainer.FoldTrainer(model, cfg.train, views, labels, mesh,
                                           slow_params=registry.slow_params(cfg.model))
        plan = trainer.plan(folds)
        run = timed_run(trainer, folds, epochs=2, per_chunk=plan.folds_per_chunk)
        run["num_chunks"] = plan.num_chunks
        return run


def worker_main(args):
    worker = (TorchWorker if args.worker == "torch" else JaxWorker)(args)
    print(json.dumps({"ready": worker.info}), flush=True)
    for line in sys.stdin:
        command, n = line.split()
        if command == "quit":
            break
        if command == "sweep":
            out = worker.sweep()
        elif command == "memory":
            out = worker.memory()
        else:
            out = [getattr(worker, command)() for _ in range(int(n))]
        print(json.dumps({"result": out}), flush=True)


# ---------------------------------------------------------------------------- parent
class Worker:
    def __init__(self, kind: str, args):
        cmd = [sys.executable, os.path.abspath(__file__), "--worker", kind,
               "--batch", str(args.batch), "--sweep_folds", str(args.sweep_folds),
               "--sweep_steps", str(args.sweep_steps), "--conv_impl", args.conv_impl]
        if args.reference_dir:
            cmd += ["--reference_dir", args.reference_dir]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                     cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        self.info = self._read()["ready"]

    def _read(self):
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"worker {self.proc.args[3]} exited with {self.proc.wait()}")
        return json.loads(line)

    def ask(self, command: str, n: int = 1):
        self.proc.stdin.write(f"{command} {n}\n")
        self.proc.stdin.flush()
        return self._read()["result"]

    def close(self):
        self.proc.stdin.write("quit 0\n")
        self.proc.stdin.close()
        self.proc.wait()


def alternate(a: Worker, b: Worker, command: str, rounds: int, per_round: int):
    times = {"reference": [], "here": []}
    for r in range(rounds):
        pair = ((a, "reference"), (b, "here")) if r % 2 == 0 else ((b, "here"), (a, "reference"))
        for worker, name in pair:
            times[name] += worker.ask(command, per_round)
    return {k: statistics.median(v) for k, v in times.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reference_dir", default=os.environ.get("FACESLEUTH_REFERENCE_DIR"))
    ap.add_argument("--batch", type=int, default=0, help="0: 8 on CPU, 50 on GPU")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--per_round", type=int, default=2)
    ap.add_argument("--folds", type=int, default=26)
    ap.add_argument("--samples", type=int, default=247)
    ap.add_argument("--epochs", type=int, default=99)
    ap.add_argument("--sweep_folds", type=int, default=0, help="0: 2 on CPU, --folds on GPU")
    ap.add_argument("--sweep_steps", type=int, default=2)
    ap.add_argument("--conv_impl", default="auto", choices=("auto", "xla", "matmul"),
                    help="the paper preset's convolutions (layers.resolve_conv_impl)")
    ap.add_argument("--json")
    ap.add_argument("--worker", choices=("torch", "jax"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        return worker_main(args)
    if not args.reference_dir:
        ap.error("--reference_dir (or FACESLEUTH_REFERENCE_DIR) must name a FaceSleuth checkout")
    # Both frameworks share one GPU: JAX must not claim most of its memory up front.
    os.environ["XLA_PYTHON_CLIENT_PREALLOCATE"] = "false"
    import jax

    gpu = jax.default_backend() == "gpu"
    args.batch = args.batch or (50 if gpu else 8)
    args.sweep_folds = args.sweep_folds or (args.folds if gpu else 2)

    reference, here = Worker("torch", args), Worker("jax", args)
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cpus; reference "
          f"{reference.info}; here {here.info}; batch {args.batch}", flush=True)
    train = alternate(reference, here, "train", args.rounds, args.per_round)
    print(f"# train step medians (s): {train}", flush=True)
    memory = {"reference": reference.ask("memory"), "here": here.ask("memory")}
    forward = alternate(reference, here, "forward", args.rounds, args.per_round)
    print(f"# forward medians (s): {forward}", flush=True)
    reference.close()
    sweep = here.ask("sweep")
    here.close()

    steps = math.ceil((args.samples - args.samples / args.folds) / args.batch)
    fold_steps = args.folds * args.epochs * steps
    t_ref = fold_steps * train["reference"]
    t_here = fold_steps / sweep["fold_steps_per_s"]
    rows = [
        ("train step (s)", train["reference"], train["here"], train["reference"] / train["here"]),
        ("train samples/s", args.batch / train["reference"], args.batch / train["here"],
         train["reference"] / train["here"]),
        ("forward samples/s", args.batch / forward["reference"], args.batch / forward["here"],
         forward["reference"] / forward["here"]),
        ("peak memory (GiB)", memory["reference"] / 2**30, memory["here"] / 2**30,
         memory["reference"] / memory["here"]),
        (f"whole sweep (h): {args.folds} folds x {args.epochs} epochs x {steps} steps",
         t_ref / 3600, t_here / 3600, t_ref / t_here),
    ]
    print(f"{'':<58} {'reference':>10} {'here':>10} {'ratio':>7}")
    for name, r, h, ratio in rows:
        print(f"{name:<58} {r:>10.3f} {h:>10.3f} {ratio:>7.2f}")
    print(f"# sweep here: {args.sweep_folds} folds measured, {sweep['folds_per_chunk']} per "
          f"program, {sweep['num_chunks']} program(s), {sweep['fold_steps_per_s']:.3f} "
          f"fold-steps/s; reference: folds in turn at its train-step time")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "reference": reference.info, "here": here.info,
                       "train": train, "forward": forward, "memory": memory, "sweep": sweep,
                       "rows": rows}, f, indent=2)


if __name__ == "__main__":
    main()
