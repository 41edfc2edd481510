"""A trained model as a folder: written at the end of a run, restored to predict.

<workdir>/model/
  model.json   format and version, what the members are, class names, the run's
               config, the chain that makes a clip into the model's inputs
               (``tfds_builders.registry.clip_chain`` plus the config's input
               sizes and normalisations), the inputs' shapes, the training data
  members/<m>.msgpack  member m's {"params", "batch_stats"} (``flax.serialization``),
               one file per member, linked from the run's ``final_variables/`` (so
               writing the folder holds no weights in memory; not an orbax checkpoint:
               orbax saves collectively over all processes and in the background,
               while a model folder is a file set written by process 0)

Members: a run with ``protocol.name='all'`` trains one model per seed on every
sample; a LOSO or LODO run's members are its fold models (every seed's), and a
prediction is their ensemble: p(x) = (1/M) sum_m softmax(f_m(x)). A PyTorch
reference checkpoint converted by ``reference.convert`` is one member of kind
'converted'. This is the project's one model format.

The folder is written into a temporary sibling and renamed, so it is whole or
absent (``model_files.write_folder``, below the layers that write folders).
``restore`` reads this format and the one before it (all members in one
``variables.msgpack``), and refuses others or a missing file, naming it
(``ModelFolderError``). ``TrainedModel`` runs its members in groups that fit a
device (``members_per_group``), not all of them in one vmapped program.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import pathlib

import flax
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from faceslueth_jax.data import augment
# the format and its writing, shared with the layers below (spotting): model_files
from faceslueth_jax.model_files import (FORMAT, FORMAT_VERSION, MEMBERS,  # noqa: F401
                                        MODEL_JSON, write_folder)
from faceslueth_jax.models import registry
from faceslueth_jax.version import __version__
from tfds_builders import registry as builders

READABLE_VERSIONS = (1, 2)
VARIABLES = "variables.msgpack"  # format 1: every member's variables stacked in one file
CPU_GROUP_BYTES = 2 << 30        # weights of the members one CPU program runs at once


class ModelFolderError(ValueError):
    """A model folder cannot be used; the message names the file."""


def chain_of(config) -> dict:
    """What a clip must go through to become this config's model inputs: the records'
    chain (``clip_chain``), then the config's resizing and normalisation."""
    data = config.data
    return dict(
        record=builders.clip_chain((data.get("names") or (data.name,))[0], synthetic=dict(data.get("synthetic") or {}),
                                   build=dict(data.get("build") or {})),
        flow_size=data.flow_size, face_size=data.face_size, flow_norm=data.flow_norm,
        use_onset=data.use_onset, face_norm=data.get("face_norm", "standardise"))


def write(directory, config, data, folds, history, seeds) -> pathlib.Path:
    """The model folder of a finished run (``history.final``: the files of every
    instance's variables; instance s * F + f is seed s's fold f)."""
    if history.final is None:
        raise ValueError("the run kept no final variables (FoldTrainer(final_dir=...))")
    kind = "single" if config.protocol.name == "all" else "fold_ensemble"
    members = [{"fold": name, "seed": int(seed)} for seed in seeds for name in folds.names]
    counts = np.bincount(data.label, minlength=len(data.class_names))
    meta = describe(
        config, kind=kind, members=members, class_names=data.class_names,
        input_shapes={k: v.shape[1:] for k, v in augment.model_views(data.views).items()},
        ensemble=("one model per seed, trained on every sample" if kind == "single" else
                  f"the {len(members)} fold models of a {config.protocol.name.upper()} run "
                  "(each trained without its fold's test samples); probabilities averaged"),
        training_data={
            "name": "+".join(config.data.get("names") or ()) or config.data.name,
            "num_samples": len(data),
            "num_subjects": len(set(zip(data.dataset.tolist(), data.subject.tolist()))),
            "databases": sorted(set(data.dataset.tolist())),
            "samples_per_class": {n: int(c) for n, c in zip(data.class_names, counts)}})
    return write_folder(directory, meta, [history.final.path(m) for m in range(len(members))])


def describe(config, *, kind: str, members: list, class_names, input_shapes: dict,
             ensemble: str, training_data: dict) -> dict:
    """model.json of a model folder: ``config`` the run config (its ``model`` builds
    the module), ``input_shapes`` each view's shape without the batch axis."""
    return {
        "format": FORMAT, "format_version": FORMAT_VERSION,
        "package_version": __version__,
        "kind": kind, "ensemble": ensemble, "members": members,
        "model": registry.title(config.model),
        "class_names": list(class_names),
        "chain": chain_of(config),
        "input_shapes": {k: [int(n) for n in shape] for k, shape in input_shapes.items()},
        "au_dim": registry.au_dim(config.model),
        "training_data": training_data,
        "config": json.loads(config.to_json_best_effort()),
    }


@dataclasses.dataclass
class TrainedModel:
    """A restored model folder: the module, its members' variables (leaves (M, ...))
    and what ``model.json`` says."""
    module: object
    variables: dict
    meta: dict
    config: ml_collections.ConfigDict

    @property
    def class_names(self) -> tuple:
        return tuple(self.meta["class_names"])

    @property
    def num_members(self) -> int:
        return len(self.meta["members"])

    def __post_init__(self):
        self._apply = jax.jit(functools.partial(_member_logits, self.module), static_argnums=2)

    @property
    def members_per_group(self) -> int:
        """Members one program runs at once: their weights within a tenth of the
        device's memory budget (CPU: CPU_GROUP_BYTES), at least one."""
        from faceslueth_jax.train import memory
        member = sum(a.nbytes // a.shape[0] for a in jax.tree.leaves(self.variables))
        budget = memory.device_budget()
        budget = budget // 10 if budget else CPU_GROUP_BYTES
        return int(max(1, min(self.num_members, budget // max(member, 1))))

    def member_logits(self, views: dict, capture_attention: bool = False):
        """(M, B, K) logits of every member; with ``capture_attention`` also the SOA
        stages' attention maps (name -> (M, B, H, W, C)) the model sows. Members run
        ``members_per_group`` at a time (the last group padded to the same size, so
        one program serves every group)."""
        size, count = self.members_per_group, self.num_members
        parts = []
        for start in range(0, count, size):
            index = np.minimum(np.arange(start, start + size), count - 1)
            group = jax.tree.map(lambda a: a[index], self.variables)
            out = self._apply(group, views, capture_attention)
            parts.append(jax.tree.map(lambda a: np.asarray(a)[: min(size, count - start)], out))
        return jax.tree.map(lambda *a: np.concatenate(a), *parts)

    def probabilities(self, views: dict) -> np.ndarray:
        """(B, K) p(x) = mean over members of softmax(logits)."""
        return ensemble_probabilities(self.member_logits(views))


def ensemble_probabilities(member_logits) -> np.ndarray:
    """(B, K) mean over the members' axis of softmax((M, B, K) logits)."""
    return np.asarray(jax.nn.softmax(member_logits, axis=-1).mean(axis=0))


def _member_logits(module, variables, views, capture_attention: bool):
    def one(v):
        if not capture_attention:
            return module.apply(v, views, train=False), {}
        logits, state = module.apply(v, views, train=False, mutable=["intermediates"])
        return logits, _attention(state.get("intermediates", {}))
    logits, maps = jax.vmap(one)(variables)
    return (logits, maps) if capture_attention else logits


def _attention(intermediates, prefix: str = "") -> dict:
    """{'motion/stage0': map} of every sown ``attention`` in the intermediates."""
    found = {}
    for key, value in intermediates.items():
        if key == "attention":
            found[prefix.rstrip("/")] = value[0]
        elif isinstance(value, dict):
            found.update(_attention(value, f"{prefix}{key}/"))
    return found


def restore(directory) -> TrainedModel:
    """The model of a model folder (``write``); ModelFolderError naming the file when
    it is not one this version reads."""
    directory = pathlib.Path(directory)
    path = directory / MODEL_JSON
    if not directory.is_dir():
        raise ModelFolderError(f"model folder {directory} does not exist")
    if not path.is_file():
        raise ModelFolderError(f"{path} is missing: not a model folder (a run writes "
                               f"<workdir>/model)")
    try:
        meta = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ModelFolderError(f"{path} is not valid JSON ({e})") from None
    if meta.get("format") != FORMAT or meta.get("format_version") not in READABLE_VERSIONS:
        raise ModelFolderError(
            f"{path}: format {meta.get('format')!r} version {meta.get('format_version')!r}; "
            f"this faceslueth-jax ({__version__}) reads {FORMAT!r} versions "
            f"{READABLE_VERSIONS}")
    members = len(meta["members"])
    if meta["format_version"] == 1:
        files = [directory / VARIABLES]
    else:
        files = [directory / MEMBERS / f"{m:05d}.msgpack" for m in range(members)]
    for weights in files:
        if not weights.is_file():
            raise ModelFolderError(f"{weights} is missing: the model's weights")
    config = ml_collections.ConfigDict(meta["config"])
    module = registry.from_config(config.model, len(meta["class_names"]))
    example = {k: jnp.zeros([1] + shape, jnp.float32) for k, shape in meta["input_shapes"].items()}
    shapes = jax.eval_shape(lambda: module.init(jax.random.PRNGKey(0), example, train=False))
    kept = {"params": shapes["params"],
            **({"batch_stats": shapes["batch_stats"]} if shapes.get("batch_stats") else {})}
    lead = (members,) if len(files) == 1 and meta["format_version"] == 1 else ()
    expected = jax.tree.map(lambda a: lead + tuple(a.shape), kept)
    parts = []
    for weights in files:
        try:
            variables = flax.serialization.msgpack_restore(weights.read_bytes())
            found = jax.tree.map(lambda a: tuple(np.shape(a)), variables)
        except Exception as e:  # msgpack raises several kinds for a damaged file
            raise ModelFolderError(f"{weights}: cannot be read ({type(e).__name__}: "
                                   f"{str(e).splitlines()[0][:200] if str(e) else ''})") from None
        if found != expected:
            raise ModelFolderError(f"{weights}: its arrays are not those of this model "
                                   f"({meta.get('model')}, {members} member(s))")
        parts.append(variables)
    variables = parts[0] if lead else jax.tree.map(lambda *a: np.stack(a), *parts)
    return TrainedModel(module, variables, meta, config)
