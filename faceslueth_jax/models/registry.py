"""Every model by ``model.name``: how to build it and what it asks of the rest.

A config's ``model`` holds ``name`` (a key of ``MODELS``), ``preset`` (the sizes'
name, shown in results) and the model's own sub-dict ``model.<name>``. The entry's
module provides:

  from_config(cfg, num_classes)  the Flax module; ``cfg`` = ``model.<name>``; every
                                 model maps a dict of batched views to logits;
  check_config(cfg)              optional: reject settings of ``cfg`` that cannot work
                                 together (raises ValueError naming the field);
  faces_only(cfg)                optional: '' when the model reads faces where it could
                                 read flow, else the setting that makes it (the config
                                 checks require it for face jitter and face-only
                                 augmentation);
  PROBES                         optional: name -> fn(params) recorded per fold and
                                 epoch by the trainer (FaceSleuth-R: the SOA angles);
  SLOW_PARAMS                    optional: parameter names trained with the optimiser's
                                 ``theta_lr`` / ``theta_weight_decay`` (SOA's angle);
  AU_DIM_FIELD                   optional: the sub-dict field that feeds ground-truth
                                 action units (a label leak when > 0).

A model's own input form (HTNet's landmark patches) is made with the data:
``faceslueth_jax.data.model_inputs``. Adding a model is one module and one line here.
"""

from __future__ import annotations

import dataclasses
import importlib


@dataclasses.dataclass(frozen=True)
class Entry:
    module: str
    title: str          # the name printed in results


MODELS = {
    "faceslueth_r": Entry("faceslueth_jax.models.faceslueth_r", "FaceSleuth-R"),
    "htnet": Entry("faceslueth_jax.models.htnet", "HTNet"),
    "fdp": Entry("faceslueth_jax.models.fdp", "FDP"),
    "ststnet": Entry("faceslueth_jax.models.ststnet", "STSTNet"),
    "offapexnet": Entry("faceslueth_jax.models.offapexnet", "OFF-ApexNet"),
    "sssnet": Entry("faceslueth_jax.models.sssnet", "SSSNet"),
    "rcn_a": Entry("faceslueth_jax.models.rcn", "RCN-A"),
    "rcn_s": Entry("faceslueth_jax.models.rcn", "RCN-S"),
    "resnet18": Entry("faceslueth_jax.models.resnet", "ResNet-18"),
    "mdmo": Entry("faceslueth_jax.models.mdmo", "MDMO"),
    "lbp_top": Entry("faceslueth_jax.models.lbp_top", "LBP-TOP"),
    "spot_net": Entry("faceslueth_jax.models.spot_net", "SpotNet"),
}


def _entry(name: str) -> Entry:
    if name not in MODELS:
        raise ValueError(f"model.name must be one of {tuple(MODELS)}, got {name!r}")
    return MODELS[name]


def module(name: str):
    return importlib.import_module(_entry(name).module)


def own_config(model_cfg):
    """``model.<model.name>``, the model's own fields."""
    name = model_cfg.name
    _entry(name)
    if name not in model_cfg:
        raise ValueError(f"model.name={name!r} needs its fields in model.{name}")
    return model_cfg[name]


def from_config(model_cfg, num_classes: int):
    """The Flax module of ``model.name`` built from ``model.<name>``."""
    return module(model_cfg.name).from_config(own_config(model_cfg), num_classes)


def title(model_cfg) -> str:
    return _entry(model_cfg.name).title


def check_config(model_cfg) -> None:
    """The model's own consistency checks of ``model.<name>`` (if it has any)."""
    check = getattr(module(model_cfg.name), "check_config", None)
    if check is not None:
        check(own_config(model_cfg))


def faces_only(model_cfg) -> str | None:
    """The setting that makes the model read faces where it would read flow ('' when
    it does already), or None for a model without that choice."""
    hook = getattr(module(model_cfg.name), "faces_only", None)
    return None if hook is None else hook(own_config(model_cfg))


def probes(model_cfg) -> dict:
    """name -> fn(params) the trainer records after every epoch of every fold."""
    return dict(getattr(module(model_cfg.name), "PROBES", {}))


def slow_params(model_cfg) -> tuple:
    """Parameter names trained with the optimiser's theta group."""
    return tuple(getattr(module(model_cfg.name), "SLOW_PARAMS", ()))


def au_dim(model_cfg) -> int:
    """Width of the ground-truth action-unit vector the model reads (0: none)."""
    field = getattr(module(model_cfg.name), "AU_DIM_FIELD", None)
    return int(own_config(model_cfg).get(field, 0)) if field else 0

