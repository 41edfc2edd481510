"""A sweep from a config: the protocol's folds times the seeds, the device mesh, the
trainer and its plan. ``run.py`` builds it over the devices at hand and trains it;
``faceslueth_jax.plan`` builds the same over a target's devices and compiles it.

Layout (``config.layout``): 'rule' takes the folds per program from memory (one
per device on CPU) and the platform's convolution formulation; 'measure' times
one epoch of each candidate on the devices (``FoldTrainer.measure_layouts``);
'auto' measures on GPUs and TPUs at hand and keeps the rule on CPU and for targets
compiled for (where nothing can run). ``config.conv_formulation`` ('' = choose)
and ``config.max_folds_per_chunk`` (0 = choose) override either.
"""

from __future__ import annotations

import dataclasses

import jax
from jax.sharding import Mesh

from faceslueth_jax.data import records, sources
from faceslueth_jax.models import registry
from faceslueth_jax.train import fold_trainer, placement, protocols

LAYOUTS = ("auto", "rule", "measure")


@dataclasses.dataclass
class Sweep:
    data: records.MEData
    folds: protocols.Folds       # the protocol's F folds
    seeds: tuple                 # S seeds
    instances: protocols.Folds   # the F folds tiled S times (then the inner ones): one model each
    mesh: Mesh
    trainer: fold_trainer.FoldTrainer
    plan: fold_trainer.Plan
    nested: protocols.Nested | None = None  # protocol.selection='nested': the inner folds
    keys: object = None          # the instances' PRNG keys when nested (fold_trainer.nested_keys)

    def split(self, history: fold_trainer.History) -> fold_trainer.History:
        """A nested sweep's records as the outer folds' (laid out as a plain sweep's)
        carrying the inner folds' (``History.inner``); a plain sweep's as they are."""
        if self.nested is None:
            return history
        return history.split_nested(len(self.seeds) * self.folds.num_folds, self.nested)


def seeds_of(config) -> tuple:
    return tuple(config.seed + s for s in range(config.protocol.get("seeds", 1)))


def layout_of(config, mesh: Mesh) -> str:
    """'rule' or 'measure' for ``config.layout`` on ``mesh`` (module docstring). With
    several processes each host holds only its folds' samples once the plan is made,
    so the layout is measured only by a one-process run."""
    layout = config.get("layout", "auto")
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
    here = placement.runs_here(mesh) and jax.process_count() == 1
    if layout == "measure" and not here:
        return "rule"
    if layout != "auto":
        return layout
    return "measure" if here and not placement.on_cpu(mesh) else "rule"


def build(config, data: records.MEData, devices=None, memory_budget: int = 0,
          chosen: dict | None = None, final_dir=None) -> Sweep:
    """The sweep of ``config`` on ``data`` (prepared: ``data.model_inputs.prepared_data``) over
    ``devices`` (default every process's), planned against ``memory_budget`` bytes
    per device (0: ``config.device_memory_bytes``, else the devices' own limit).
    ``chosen``: a layout decided before ({"folds_per_chunk", "conv"}, ``chosen_layout``),
    kept so a resumed run trains exactly the sweep it started. ``final_dir``: where the
    fold models' final variables go (with ``config.model_folder``)."""
    folds = protocols.make_folds(config.protocol.name, data.dataset, data.subject,
                                 config.protocol.get("train", ()), config.protocol.get("test", ()))
    seeds = seeds_of(config)
    instances = protocols.tile(folds, len(seeds))  # one model per (seed, fold)
    nested = keys = None
    if config.protocol.selection == "nested":  # then one per (seed, outer fold, inner group)
        nested = protocols.nested(folds, protocols.subject_keys(data.dataset, data.subject),
                                  config.protocol.nested.inner_folds)
        instances = protocols.join(instances, protocols.tile(nested.folds, len(seeds)))
        keys = fold_trainer.nested_keys(seeds, folds.num_folds, nested.folds.num_folds)
    mesh = placement.make_mesh(instances.num_folds, config.train.batch_size, **config.mesh,
                               devices=devices)
    trainer = fold_trainer.FoldTrainer(
        registry.from_config(config.model, len(data.class_names)), config.train, data.views,
        data.label, mesh, records.u_mirror_offset(config.data.flow_norm, sources.stored_flow_norm(config.data)),
        data.view_row,
        probes=registry.probes(config.model), slow_params=registry.slow_params(config.model),
        final_dir=final_dir if config.get("model_folder", True) else None)
    if chosen:
        plan = trainer.plan(instances, chosen["folds_per_chunk"], layout="rule",
                            conv=chosen["conv"])
        plan.facts["layout"] = dict(chosen.get("layout", {}), reused="decided when the run "
                                    "started (layout.json)")
    else:
        plan = trainer.plan(instances, config.max_folds_per_chunk,
                            config.device_memory_bytes or memory_budget,
                            layout=layout_of(config, mesh),
                            conv=config.get("conv_formulation", ""))
    return Sweep(data, folds, seeds, instances, mesh, trainer, plan, nested, keys)


def chosen_layout(plan: fold_trainer.Plan) -> dict:
    """What ``build(chosen=...)`` needs to plan the same sweep again."""
    return {"folds_per_chunk": plan.folds_per_chunk, "conv": plan.conv,
            **({"layout": plan.facts["layout"]} if "layout" in plan.facts else {})}
