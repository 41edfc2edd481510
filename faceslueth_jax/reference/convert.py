r"""Convert a PyTorch reference FaceSleuth checkpoint into a model folder.

  python -m faceslueth_jax.reference.convert --from_torch CHECKPOINT.pth --out DIR \
      --config=configs/reference_casme2_5class.py

CHECKPOINT.pth: a ``state_dict`` of the reference model (``MMNet`` in
Svardfox/FaceSleuth's CASME2_5.py), saved with ``torch.save(net.state_dict(), ...)``
(or a dict holding it under 'state_dict' or 'model'). Its pickles are first unpickled,
without torch, with nothing but the globals a state_dict names (``pickle_scan``), then
it is read with ``torch.load(weights_only=True)``, which refuses anything but tensors
and plain containers. A pickled whole model (``torch.save(net)``) needs ``--allow_pickle``:
unpickling runs whatever code the file names, so use it only on files you trust.
torch is needed for this command only: ``pip install torch==2.13.0`` (a CPU build).

DIR (must not exist) becomes a model folder, the format a run writes
(``inference.model_folder``: one member, kind 'converted'), so
``faceslueth_jax.restore(DIR)`` and ``python -m faceslueth_jax.predict`` read it.
``--config`` is the run config the checkpoint was trained with: it names the
database (the class names), the clip chain and the input sizes; its model is
replaced by the paper preset with the reference SOA (``configs.common.reference_network``),
whose class count and AU vector width are read from the checkpoint (fc3's outputs;
fc2's inputs minus fc1's outputs).
"""

from __future__ import annotations

import pathlib
import sys

import ml_collections
import numpy as np
from absl import app, flags

from faceslueth_jax import cli
from faceslueth_jax.inference import model_folder
from faceslueth_jax.models import faceslueth_r, registry
from faceslueth_jax.reference import pickle_scan, torch_weights

TORCH_MISSING = ("reading a PyTorch checkpoint needs torch, which is not in requirements.txt: "
                 "pip install torch==2.13.0 (a CPU build)")


def reference_model_config(state: dict) -> tuple[ml_collections.ConfigDict, int]:
    """(model config, number of classes) of the network a reference state_dict holds."""
    s = torch_weights.reference_state_dict(state)
    for key in ("main_branch.fc1.weight", "main_branch.fc2.weight", "main_branch.fc3.weight"):
        if key not in s:
            raise ValueError(f"{key} is missing: this is not a state_dict of the reference "
                             "FaceSleuth model (MMNet)")
    own = faceslueth_r.as_reference(faceslueth_r.variant_config("paper"))
    own.au_dim = int(s["main_branch.fc2.weight"].shape[1] - s["main_branch.fc1.weight"].shape[0])
    model = ml_collections.ConfigDict(dict(name="faceslueth_r", preset="paper", faceslueth_r=own))
    return model, int(s["main_branch.fc3.weight"].shape[0])


def check_against_model(variables: dict, model_config, num_classes: int) -> None:
    """Every converted array has the name and shape the Flax model expects."""
    import jax
    import jax.numpy as jnp

    model = registry.from_config(model_config, num_classes)
    side = 224
    example = {"onset": jnp.zeros((2, side, side, 3)), "apex": jnp.zeros((2, side, side, 3))}
    au_dim = registry.au_dim(model_config)
    if au_dim:
        example["au"] = jnp.zeros((2, au_dim))
    want = jax.eval_shape(lambda: model.init(jax.random.key(0), example, train=False))
    want = {k: want[k] for k in ("params", "batch_stats")}
    got = jax.tree.map(np.shape, variables)
    want_shapes = jax.tree.map(lambda a: tuple(a.shape), want)
    if jax.tree.structure(got) != jax.tree.structure(want_shapes) or got != want_shapes:
        flat_got = dict(jax.tree_util.tree_flatten_with_path(got)[0])
        flat_want = dict(jax.tree_util.tree_flatten_with_path(want_shapes)[0])
        diff = [f"{jax.tree_util.keystr(k)}: converted {flat_got.get(k)}, model {flat_want.get(k)}"
                for k in sorted(set(flat_got) | set(flat_want), key=str)
                if flat_got.get(k) != flat_want.get(k)]
        raise ValueError("converted weights do not fit the paper preset:\n  " + "\n  ".join(diff[:20]))


def convert_state_dict(state: dict) -> tuple[dict, ml_collections.ConfigDict, int]:
    """(variables, model config, number of classes) of a reference state_dict."""
    model_config, num_classes = reference_model_config(state)
    variables = torch_weights.faceslueth_r(state)
    check_against_model(variables, model_config, num_classes)
    return variables, model_config, num_classes


class UnsafeCheckpoint(ValueError):
    """The file holds pickled objects, which only --allow_pickle may load."""


def load_torch_checkpoint(path, allow_pickle: bool = False) -> dict:
    """The state_dict in ``path``. Unless ``allow_pickle``, the file's pickles are first
    unpickled with nothing but an allow-list of globals (``pickle_scan.check``: what a
    state_dict of tensors names, each resolved to a harmless stand-in) and refused at
    the first other one, unresolved; torch then reads the file with ``weights_only=True``.
    Unpickling arbitrary objects runs the code they name. A file that is no readable
    checkpoint pickle, or unpacks too far, raises ``pickle_scan.UnreadablePickle``."""
    if not allow_pickle:
        try:
            pickle_scan.check(path)
        except pickle_scan.UnsafeGlobal as e:
            raise UnsafeCheckpoint(
                f"{path}: loading it would import {e.shown}: it holds pickled Python objects "
                f"(e.g. a whole model saved with torch.save(net)), and unpickling runs the "
                f"code they name. Save net.state_dict() instead, or pass --allow_pickle if "
                f"you trust the file") from None
    try:
        import torch
    except ImportError as e:
        raise ImportError(TORCH_MISSING) from e
    obj = torch.load(path, map_location="cpu", weights_only=not allow_pickle)
    if hasattr(obj, "state_dict"):
        obj = obj.state_dict()
    for key in ("state_dict", "model"):
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
    if not isinstance(obj, dict):
        raise ValueError(f"{path}: expected a state_dict, found {type(obj).__name__}")
    return dict(obj)


def converted_config(config, model_config) -> ml_collections.ConfigDict:
    """The run config ``config`` with the converted network as its model."""
    config = ml_collections.ConfigDict(config.to_dict())
    config.model = model_config
    return config


def class_names_of(config, num_classes: int) -> tuple:
    """The class names of the config's database and class set, as many as the
    checkpoint's classifier has (ValueError when they differ)."""
    from tfds_builders import registry as builders
    builder = builders.database_builder(config.data.name)
    classes = config.data.build.get("classes", "native")
    names = builder.NATIVE_CLASSES if classes == "native" else builder.CLASS_NAMES[classes]
    if len(names) != num_classes:
        raise ValueError(f"the checkpoint classifies {num_classes} classes; the config's "
                         f"{config.data.name} class set {classes!r} has {len(names)} "
                         f"({', '.join(names)})")
    return tuple(names)


def write_model_folder(directory, variables: dict, config, class_names,
                       checkpoint: str) -> pathlib.Path:
    """DIR as a one-member model folder of ``config`` (its model the converted one)."""
    directory = pathlib.Path(directory).absolute()
    if directory.exists():
        raise FileExistsError(f"{directory} exists; choose a new --out folder")
    side, au_dim = config.data.face_size, registry.au_dim(config.model)
    shapes = {"onset": (side, side, 3), "apex": (side, side, 3), **(
        {"au": (au_dim,)} if au_dim else {})}
    meta = model_folder.describe(
        config, kind="converted", members=[{"checkpoint": str(checkpoint)}],
        class_names=class_names, input_shapes=shapes,
        ensemble="one model, converted from a PyTorch reference checkpoint",
        training_data={"name": config.data.name, "source": "the PyTorch reference's training"})
    return model_folder.write_folder(directory, meta, [variables])


def convert_file(checkpoint, out, config, allow_pickle: bool = False) -> pathlib.Path:
    """Convert ``checkpoint`` into the model folder ``out`` (see the module doc)."""
    variables, model_config, num_classes = convert_state_dict(
        load_torch_checkpoint(checkpoint, allow_pickle))
    run_config = converted_config(config, model_config)
    return write_model_folder(out, variables, run_config,
                              class_names_of(run_config, num_classes), checkpoint)


flags.DEFINE_string("from_torch", None, "PyTorch state_dict of the reference model (.pth).")
flags.declare_key_flag("out")  # a new folder: the model folder
flags.declare_key_flag("config")  # the run config the checkpoint was trained with
flags.DEFINE_bool("allow_pickle", False,
                  "UNSAFE: also load a pickled whole model (torch.load weights_only=False). "
                  "Unpickling runs any code the file names: use only on files you trust. "
                  "Without it only tensors and plain containers are read.")


def main(argv):
    del argv
    try:
        out = convert_file(flags.FLAGS.from_torch, flags.FLAGS.out, flags.FLAGS.config,
                           flags.FLAGS.allow_pickle)
    except (ImportError, ValueError, FileExistsError, FileNotFoundError) as e:
        print(f"error: {' '.join(str(e).split())}", file=sys.stderr)
        return 2
    model = model_folder.restore(out)
    print(f"wrote {out}: {model.meta['model']}, reference SOA, classes "
          f"{', '.join(model.class_names)}, AU vector {model.module.au_dim or 'off'}")
    if model.module.au_dim:
        print("warning: this model reads the ground-truth AU codes of every sample, at test "
              "time too, which leaks the label", file=sys.stderr)
    return 0


if __name__ == "__main__":
    flags.mark_flags_as_required(["from_torch", "out"])
    app.run(main, flags_parser=cli.parser("python -m faceslueth_jax.reference.convert",
                                          takes=("config", "out")))
