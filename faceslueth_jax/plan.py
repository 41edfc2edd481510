r"""What a sweep will do on a target, without the target: its plan, compiled ahead of time.

  python -m faceslueth_jax.plan --config=configs/loso_composite.py:paper \
      --target=tpu:v5e:4x4 [--json=plan.json] [--config.protocol.seeds=3]

builds the sweep exactly as ``run.py`` would for that config (``train.sweep.build``:
the same model, shapes, folds and seeds; the data from its builder or, where the
licensed data is absent, from its recorded description), over the target's devices
(``train.targets``: ``local``, ``tpu:KIND:TOPOLOGY``, ``gpu:KIND:N[xHOSTS]``),
compiles it for them and prints:

  the mesh (fold x data), hosts, folds per chip, chunks, steps per epoch;
  per chip: argument, output, temporary bytes against the chip's memory, and whether
    it fits (a sweep that does not is refused in one line saying what to change);
  compile seconds and the compiled program's op census (convolutions, grouped ones,
    cuDNN calls, collectives, while loops);
  FLOPs and bytes per epoch and a roofline estimate of an epoch and of the sweep from
    the chip's published peak and bandwidth (a lower bound, labelled an estimate).

Errors (a config that cannot work, a target that cannot be had here, a sweep that
does not fit) are one line ``error: ...`` and exit status 2, nothing written.
"""

from __future__ import annotations

import os
import re
import sys
import time

os.environ.setdefault("JAX_PLATFORMS", "cpu")  # planning runs on the CPU, for any target

from absl import app, flags  # noqa: E402
from faceslueth_jax import cli  # noqa: E402

FLAGS = flags.FLAGS
flags.declare_key_flag("config")
flags.DEFINE_string("target", "local", "local | tpu:KIND:TOPOLOGY | gpu:KIND:N[xHOSTS]")
flags.DEFINE_string("json", None, "Also write the plan as JSON to this path.")

GIB = 2**30
COLLECTIVES = ("all-reduce", "all-gather", "reduce-scatter", "collective-permute", "all-to-all")


def load_data(config):
    """(prepared data, where it came from): the config's records, built if needed, or
    the recorded description when the licensed data is absent."""
    from faceslueth_jax.data import descriptions, model_inputs, records, sources
    try:
        data = records.read_builders(sources.prepare_all(config.data))
        source = "records"
    except sources.DataUnavailable:
        name = "+".join(sources.database_names(config.data))
        if not descriptions.available(name):
            raise
        data = descriptions.load(name)
        source = f"recorded description ({descriptions.path_of(name).name}): shapes and folds"
    return model_inputs.prepared_data(config, data), source


def op_census(hlo: str) -> dict:
    """Counts in a compiled program's HLO text. Convolutions: XLA's own and the cuDNN
    convolution calls a GPU program makes of them; grouped: feature_group_count > 1
    (what vmap over per-fold kernels makes of a convolution)."""
    lines = hlo.splitlines()
    convolutions = [l for l in lines if re.search(r"= [^=]*? convolution\(", l)
                    or '__cudnn$conv' in l]
    grouped = [l for l in convolutions
               if int((re.search(r"feature_group_count=(\d+)", l) or [0, "1"])[1]) > 1]
    calls = re.findall(r'custom_call_target="([^"]+)"', hlo)
    return {"convolutions": len(convolutions), "grouped_convolutions": len(grouped),
            "cudnn_calls": sum("cudnn" in c for c in calls), "custom_calls": len(calls),
            "collectives": {c: sum(bool(re.search(rf"= [^=]*? {c}(?:-start)?\(", l))
                                   for l in lines) for c in COLLECTIVES},
            "while_loops": sum(bool(re.search(r"= [^=]*? while\(", l)) for l in lines)}


def epoch_cost(config, sweep, compiled, target) -> dict:
    """FLOPs and bytes of one epoch program per chip: the compiled program's own
    figures where the backend gives them (TPU, CPU), else (GPU) XLA's estimate for
    the same program lowered for the CPU, before fusion (bytes then over-count)."""
    cost = compiled.cost_analysis()
    cost = cost[0] if isinstance(cost, (list, tuple)) and cost else cost
    if cost and cost.get("flops"):
        return {"flops": float(cost["flops"]), "bytes": float(cost.get("bytes accessed", 0)),
                "source": f"compiled program for {target.platform}"}
    import jax

    from faceslueth_jax.train import sweep as sweep_lib
    one = config.copy_and_resolve_references()
    with one.unlocked():
        one.mesh.update(fold=1, data=1, num_devices=0)
        one.max_folds_per_chunk = sweep.plan.folds_per_chunk // sweep.mesh.shape["fold"]
        one.conv_formulation, one.layout, one.model_folder = sweep.plan.conv, "rule", False
        one.device_memory_bytes = 0
    cpu = sweep_lib.build(one, sweep.data, devices=jax.devices("cpu")[:1])
    cost = cpu.trainer.lowered_epoch(cpu.instances, cpu.plan).cost_analysis() or {}
    share = sweep.mesh.shape["data"]  # a chip computes 1/D of each fold's batch
    return {"flops": float(cost.get("flops", 0)) / share,
            "bytes": float(cost.get("bytes accessed", 0)) / share,
            "source": "the same folds' program lowered for one CPU device, before fusion "
                      "(the GPU compiler reports no cost; bytes over-count)"}


def roofline(cost: dict, target, config, plan) -> dict | None:
    """A lower bound on an epoch's and the sweep's seconds from the chip's peaks."""
    if target.chip is None or not cost["flops"]:
        return None
    peaks = target.chip.peak_flops
    precision = ("bf16" if config.train.get("compute_dtype") == "bfloat16" and "bf16" in peaks
                 else "default" if config.train.get("compute_dtype") == "bfloat16"
                 else config.train.get("precision", "highest"))
    compute = cost["flops"] / peaks[precision]
    memory = cost["bytes"] / target.chip.bandwidth
    epoch = max(compute, memory)
    return {"peak_flops": peaks[precision], "peak_for": precision,
            "bandwidth": target.chip.bandwidth, "bound": "compute" if compute > memory else
            "memory", "epoch_seconds": epoch,
            "sweep_seconds": epoch * config.train.epochs * plan.num_chunks,
            "label": "estimate: max(FLOPs / peak, bytes / bandwidth), a lower bound"}


def make_plan(config, target_spec: str) -> dict:
    """The plan of ``config`` on ``target_spec`` as a JSON-able dict (module docstring)."""
    from faceslueth_jax.pipeline import checks
    from faceslueth_jax.train import memory, targets
    from faceslueth_jax.train import sweep as sweep_lib

    checks.check_config(config)
    target = targets.resolve(target_spec)
    data, source = load_data(config)
    started = time.perf_counter()
    sweep = sweep_lib.build(config, data, devices=target.devices,
                            memory_budget=target.memory_budget)
    plan = sweep.plan
    compiled = sweep.trainer.compiled_epoch(sweep.instances, plan)
    compile_seconds = time.perf_counter() - started
    m = compiled.memory_analysis()
    used = memory.program_bytes(compiled)
    budget = (config.device_memory_bytes or target.memory_budget
              or memory.device_budget(0, sweep.mesh.devices.flat))
    if budget and used > budget:
        raise MemoryError(
            f"{config.name} on {target_spec}: {used / GIB:.2f} GiB per chip, over the "
            f"{budget / GIB:.2f} GiB budget: use more chips, --config.mesh.data, a smaller "
            f"train.batch_size, fewer folds per program (max_folds_per_chunk) or "
            f"train.device_views=bfloat16")
    cost = epoch_cost(config, sweep, compiled, target)
    groups = sweep.mesh.shape["fold"]
    return {
        "config": config.name, "target": target.describe(),
        "data": {"source": source, "samples": len(data), "folds": sweep.folds.num_folds,
                 "seeds": list(sweep.seeds), "models": sweep.instances.num_folds,
                 # nested selection: each outer fold's inner folds, trained beside it
                 "inner_folds": sweep.nested.folds.num_folds if sweep.nested else 0},
        "mesh": {"fold": groups, "data": sweep.mesh.shape["data"],
                 "hosts": target.num_hosts},
        "folds_per_chip": plan.folds_per_chunk // groups, "chunks": plan.num_chunks,
        "steps_per_epoch": plan.steps_per_epoch, "conv_formulation": plan.conv,
        "precision": config.train.get("precision", "highest"),
        "compute_dtype": config.train.get("compute_dtype", "float32"),
        "device_views": config.train.get("device_views", "float32"),
        "per_chip": {"argument_bytes": int(m.argument_size_in_bytes),
                     "output_bytes": int(m.output_size_in_bytes),
                     "alias_bytes": int(m.alias_size_in_bytes),
                     "temp_bytes": int(m.temp_size_in_bytes), "total_bytes": used,
                     "budget_bytes": budget, "chip_bytes": target.chip.memory_bytes
                     if target.chip else None, "fits": bool(not budget or used <= budget)},
        "planner": {k: v for k, v in plan.facts.items() if k not in ("layout",)},
        "layout": plan.facts.get("layout"),
        "compile_seconds": round(compile_seconds, 1),
        "compile_seconds_per_program": [round(v, 1) for v in
                                        sweep.trainer.compile_seconds.values()],
        "op_census": op_census(compiled.as_text()),
        "epoch_cost": cost, "roofline": roofline(cost, target, config, plan),
    }


def summary(p: dict) -> str:
    chip = p["per_chip"]
    lines = [
        f"plan: {p['config']} on {p['target']['target']}: {p['target']['devices']} x "
        f"{p['target']['chip']}, {p['target']['hosts']} host(s)"
        + (", compiled ahead of time (no device used)" if p["target"]["ahead_of_time"] else ""),
        f"  data: {p['data']['samples']} samples, {p['data']['folds']} folds"
        + (f" + {p['data']['inner_folds']} inner folds (nested selection)"
           if p["data"].get("inner_folds") else "")
        + f" x {len(p['data']['seeds'])} seed(s) = {p['data']['models']} fold models "
        f"(from the {p['data']['source']})",
        f"  mesh: {p['mesh']['fold']} fold x {p['mesh']['data']} data; {p['folds_per_chip']} "
        f"fold(s) per chip, {p['chunks']} chunk(s), {p['steps_per_epoch']} steps per epoch; "
        f"{p['conv_formulation']} convolutions, precision {p['precision']}, compute "
        f"{p['compute_dtype']}, views on device {p['device_views']}",
        f"  per chip: arguments {chip['argument_bytes'] / GIB:.3f} GiB, outputs "
        f"{chip['output_bytes'] / GIB:.3f} GiB (aliased {chip['alias_bytes'] / GIB:.3f}), "
        f"temporaries {chip['temp_bytes'] / GIB:.3f} GiB = {chip['total_bytes'] / GIB:.3f} GiB"
        + (f" of a {chip['budget_bytes'] / GIB:.2f} GiB budget: "
           + ("fits" if chip["fits"] else "DOES NOT FIT") if chip["budget_bytes"] else ""),
        f"  compile: {p['compile_seconds']} s (programs: {p['compile_seconds_per_program']})",
        "  program: {convolutions} convolutions ({grouped_convolutions} grouped), "
        "{cudnn_calls} cuDNN calls, {while_loops} while loops, collectives {collectives}"
        .format(**p["op_census"]),
        f"  per epoch and chip: {p['epoch_cost']['flops']:.3g} FLOPs, "
        f"{p['epoch_cost']['bytes']:.3g} bytes ({p['epoch_cost']['source']})",
    ]
    for c in (p.get("layout") or {}).get("candidates", []):
        lines.append(f"  layout measured: {c['folds_per_device_group']} fold(s) per device, "
                     f"{c['conv']}: {c['epoch_seconds']} s an epoch, {c['folds_per_second']} "
                     f"folds/s (compiled in {c['compile_seconds']} s)")
    r = p["roofline"]
    if r:
        lines.append(f"  estimate ({r['bound']}-bound at {r['peak_flops'] / 1e12:.0f} TFLOP/s "
                     f"[{r['peak_for']}], {r['bandwidth'] / 1e9:.0f} GB/s): epoch >= "
                     f"{r['epoch_seconds']:.3g} s, sweep >= {r['sweep_seconds']:.3g} s")
    return "\n".join(lines)


def main(argv) -> int:
    del argv
    from faceslueth_jax import atomic_files
    from faceslueth_jax.data.sources import DataUnavailable
    from faceslueth_jax.pipeline import checks
    from faceslueth_jax.train import targets

    try:
        p = make_plan(FLAGS.config, FLAGS.target)
    except (checks.ConfigError, targets.TargetError, DataUnavailable, MemoryError,
            ValueError) as e:
        print(f"error: {' '.join(str(e).split())}", file=sys.stderr)
        return 2
    print(summary(p))
    if FLAGS.json:
        atomic_files.write_json(FLAGS.json, p)
    return 0


if __name__ == "__main__":
    app.run(lambda argv: sys.exit(main(argv)), flags_parser=cli.parser("python -m faceslueth_jax.plan"))
