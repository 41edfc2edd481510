"""Every model by ``model.name``: how to build it and what it asks of the rest.

A config's ``model`` holds ``name`` (a key of ``MODELS``), ``preset`` (the sizes'
name, shown in results) and the model's own sub-dict ``model.<name>``. The entry's
module provides:

  from_config(cfg, num_classes)  the Flax module; ``cfg`` = ``model.<name>``; every
                                 model maps a dict of batched views to logits;
  check_config(cfg, config)      optional: reject settings that cannot work together
                                 (raises ValueError naming the field);
  PROBES                         optional: name -> fn(params) recorded per fold and
                                 epoch by the trainer (FaceSleuth-R: the SOA angles);
  SLOW_PARAMS                    optional: parameter names trained with the optimiser's
                                 ``theta_lr`` / ``theta_weight_decay`` (SOA's angle);
  AU_DIM_FIELD                   optional: the sub-dict field that feeds ground-truth
                                 action units (a label leak when > 0).

``prepare``: optional "module:function" that turns the prepared records into the
model's input (HTNet's four landmark patches), called as ``fn(data, cfg)``.
Adding a model is one module and one line here.
"""

from __future__ import annotations

import dataclasses
import importlib


@dataclasses.dataclass(frozen=True)
class Entry:
    module: str
    title: str          # the name printed in results
    prepare: str = ""   # "module:function" for model-specific input, else ""


MODELS = {
    "faceslueth_r": Entry("faceslueth_jax.models.faceslueth_r", "FaceSleuth-R"),
    "htnet": Entry("faceslueth_jax.models.htnet", "HTNet",
                   prepare="faceslueth_jax.data.htnet_patches:tile"),
    "fdp": Entry("faceslueth_jax.models.fdp", "FDP"),
    "ststnet": Entry("faceslueth_jax.models.ststnet", "STSTNet"),
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


def check_config(config) -> None:
    """The model's own consistency checks against the whole config (if it has any)."""
    check = getattr(module(config.model.name), "check_config", None)
    if check is not None:
        check(own_config(config.model), config)


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


def prepared_data(config, data):
    """Records resized and normalised as ``config.data`` says, then in the model's own
    input form: what training, testing and predicting a new clip all feed the model."""
    from faceslueth_jax.data import records
    data = records.prepare(data, config.data.flow_size, config.data.face_size,
                           config.data.flow_norm, config.data.use_onset,
                           config.data.get("face_norm", "standardise"))
    return prepare_inputs(config.model, data)


def prepare_inputs(model_cfg, data):
    """``data`` as the model reads it (unchanged for most models)."""
    target = _entry(model_cfg.name).prepare
    if not target:
        return data
    path, fn = target.split(":")
    return getattr(importlib.import_module(path), fn)(data, own_config(model_cfg))
