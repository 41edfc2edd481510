r"""Host memory and checkpoint bytes that the fold models' final variables take.

  python bench/final_weights_memory.py [--preset paper] [--folds 68] [--seeds 1,3]

Before: the trainer kept an (F x S, ...) host copy of every fold model's tested
variables, saved it in every periodic checkpoint and gathered it to every host.
Now: it fetches one model at a time and writes it once to ``final_variables/``
(``faceslueth_jax.train.final_variables``). The bytes per model come from the model's
own variable shapes (``jax.eval_shape``); the measured part runs the writer on a
tiny sweep and reads the peak of Python-tracked host allocations (tracemalloc) while
it writes, against the bytes of one model and of all of them.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import tracemalloc

import jax
import jax.numpy as jnp
import numpy as np

from configs.common import base_config
from faceslueth_jax.models import registry
from faceslueth_jax.train import final_variables, fold_trainer, placement


def model_bytes(preset: str) -> tuple[int, int]:
    """(tested variables' bytes per model, parameter count) of FaceSleuth-R at preset."""
    c = base_config("size", preset)
    model = registry.from_config(c.model, 3)
    example = {"flow": jnp.zeros((1, c.data.flow_size, c.data.flow_size, 3)),
               "apex": jnp.zeros((1, c.data.face_size, c.data.face_size, 1)),
               "onset": jnp.zeros((1, c.data.face_size, c.data.face_size, 1))}
    shapes = jax.eval_shape(lambda: model.init(jax.random.PRNGKey(0), example, train=False))
    tested = {k: shapes[k] for k in ("params", "batch_stats") if k in shapes}
    nbytes = sum(int(np.prod(a.shape)) * a.dtype.itemsize for a in jax.tree.leaves(tested))
    count = sum(int(np.prod(a.shape)) for a in jax.tree.leaves(shapes["params"]))
    return nbytes, count


def measured_peak(instances: int = 32) -> dict:
    """Peak traced host bytes while ``_write_final`` writes ``instances`` models of a
    small FaceSleuth-R from one fold-stacked device array."""
    c = base_config("size", "compact")
    model = registry.from_config(c.model, 3)
    example = {"flow": jnp.zeros((1, 28, 28, 3)), "apex": jnp.zeros((1, 56, 56, 1)),
               "onset": jnp.zeros((1, 56, 56, 1))}
    stacked = jax.vmap(lambda k: model.init(k, example, train=False))(
        jax.random.split(jax.random.PRNGKey(0), instances))
    stacked = {k: stacked[k] for k in ("params", "batch_stats")}
    one = sum(a.nbytes // instances for a in jax.tree.leaves(stacked))
    mesh = placement.make_mesh(instances, 32, num_devices=1)
    replicated = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec())
    with tempfile.TemporaryDirectory() as tmp:
        files = final_variables.MemberFiles(tmp, instances)
        fold_trainer._write_final(files, [0], stacked, replicated)  # compile outside the trace
        tracemalloc.start()
        fold_trainer._write_final(files, list(range(instances)), stacked, replicated)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return {"instances": instances, "bytes_per_model": one, "all_models_bytes": one * instances,
            "peak_traced_bytes_while_writing": peak}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="paper")
    parser.add_argument("--folds", type=int, default=68)
    parser.add_argument("--seeds", default="1,3")
    parser.add_argument("--checkpoints", type=int, default=4,
                        help="periodic checkpoints of a 20-epoch chunk, every 5 epochs")
    parser.add_argument("--json", default="")
    args = parser.parse_args()
    nbytes, count = model_bytes(args.preset)
    rows = []
    for seeds in (int(s) for s in args.seeds.split(",")):
        models = args.folds * seeds
        rows.append({"seeds": seeds, "models": models,
                     "before_host_bytes": models * nbytes,
                     "before_bytes_per_checkpoint": models * nbytes,
                     "after_host_bytes": nbytes,
                     "after_bytes_per_checkpoint": 0,
                     "after_disk_bytes_once": models * nbytes})
    result = {"preset": args.preset, "parameters": count, "bytes_per_model": nbytes,
              "sweeps": rows, "measured": measured_peak()}
    for r in rows:
        print(f"{args.preset}: {r['models']} models x {nbytes / 1e6:.0f} MB: host "
              f"{r['before_host_bytes'] / 1e9:.1f} GB before -> {r['after_host_bytes'] / 1e6:.0f}"
              f" MB now; each checkpoint {r['before_bytes_per_checkpoint'] / 1e9:.1f} GB -> 0 "
              f"(written once: {r['after_disk_bytes_once'] / 1e9:.1f} GB)")
    m = result["measured"]
    print(f"measured (compact, {m['instances']} models of {m['bytes_per_model'] / 1e6:.2f} MB): "
          f"peak traced host bytes while writing {m['peak_traced_bytes_while_writing'] / 1e6:.2f}"
          f" MB (all models: {m['all_models_bytes'] / 1e6:.2f} MB)")
    if args.json:
        from faceslueth_jax import atomic_files
        atomic_files.write_json(args.json, result)
    print(json.dumps({"parameters": count}))


if __name__ == "__main__":
    main()
