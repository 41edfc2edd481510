r"""Convert a PyTorch reference FaceSleuth checkpoint into a Flax/orbax checkpoint.

  python -m faceslueth_jax.reference.convert --from_torch CHECKPOINT.pth --out DIR

CHECKPOINT.pth: a ``state_dict`` of the reference model (``MMNet`` in
Svardfox/FaceSleuth's CASME2_5.py), saved with ``torch.save(net.state_dict(), ...)``
(or a dict holding it under 'state_dict' or 'model'). It is read with
``torch.load(weights_only=True)``, which refuses anything but tensors and plain
containers. A pickled whole model (``torch.save(net)``) needs ``--allow_pickle``:
unpickling runs whatever code the file names, so use it only on files you trust.
torch is needed for this command only: ``pip install torch==2.13.0`` (a CPU build).

DIR (must not exist) receives, all at once:
  variables/   orbax checkpoint of {params, batch_stats} of the paper preset with
               the reference SOA (``configs.common.reference_network``);
  model.json   that model's config and class count, so ``restore(DIR)`` rebuilds it.

The class count and the AU vector's width are read from the checkpoint (fc3's
outputs; fc2's inputs minus fc1's outputs).
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import sys
import tempfile

import ml_collections
import numpy as np
from absl import app, flags

from faceslueth_jax import atomic_files
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


def build(model_config, num_classes: int):
    return registry.from_config(model_config, num_classes)


def check_against_model(variables: dict, model_config, num_classes: int) -> None:
    """Every converted array has the name and shape the Flax model expects."""
    import jax
    import jax.numpy as jnp

    model = build(model_config, num_classes)
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
    """The state_dict in ``path``. Unless ``allow_pickle``, the file's pickle is first
    scanned (``pickle_scan``, without unpickling) and refused when it names anything
    but tensors and plain containers; torch then reads it with ``weights_only=True``.
    Unpickling arbitrary objects runs the code they name."""
    if not allow_pickle:
        try:
            unsafe = pickle_scan.unsafe_globals(path)
        except pickle_scan.UnreadablePickle as e:
            raise ValueError(str(e)) from None
        if unsafe:
            raise UnsafeCheckpoint(
                f"{path}: loading it would import {', '.join(unsafe[:4])}: it holds pickled "
                f"Python objects (e.g. a whole model saved with torch.save(net)), and "
                f"unpickling runs the code they name. Save net.state_dict() instead, or pass "
                f"--allow_pickle if you trust the file")
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


def save(directory, variables: dict, model_config, num_classes: int) -> pathlib.Path:
    """Write DIR/variables (orbax) and DIR/model.json into a temporary sibling
    folder, then rename it to DIR: DIR appears complete or not at all."""
    import orbax.checkpoint as ocp

    directory = pathlib.Path(directory).absolute()
    if directory.exists():
        raise FileExistsError(f"{directory} exists; choose a new --out folder")
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = pathlib.Path(tempfile.mkdtemp(dir=directory.parent, prefix=f".{directory.name}."))
    try:
        with ocp.StandardCheckpointer() as checkpointer:
            checkpointer.save(tmp / "variables", variables)
        atomic_files.write_json(tmp / "model.json", {"model": model_config.to_dict(),
                                                     "num_classes": num_classes})
        os.replace(tmp, directory)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return directory


def restore(directory):
    """(model, variables) from a folder written by ``save``."""
    import orbax.checkpoint as ocp

    directory = pathlib.Path(directory).absolute()
    meta = json.loads((directory / "model.json").read_text())
    model_config = ml_collections.ConfigDict(meta["model"])
    with ocp.StandardCheckpointer() as checkpointer:
        variables = checkpointer.restore(directory / "variables")
    return build(model_config, meta["num_classes"]), variables


def convert_file(checkpoint, out, allow_pickle: bool = False) -> pathlib.Path:
    variables, model_config, num_classes = convert_state_dict(
        load_torch_checkpoint(checkpoint, allow_pickle))
    return save(out, variables, model_config, num_classes)


flags.DEFINE_string("from_torch", None, "PyTorch state_dict of the reference model (.pth).")
flags.DEFINE_string("out", None, "New folder for the Flax/orbax checkpoint.")
flags.DEFINE_bool("allow_pickle", False,
                  "UNSAFE: also load a pickled whole model (torch.load weights_only=False). "
                  "Unpickling runs any code the file names: use only on files you trust. "
                  "Without it only tensors and plain containers are read.")


def main(argv):
    del argv
    try:
        out = convert_file(flags.FLAGS.from_torch, flags.FLAGS.out, flags.FLAGS.allow_pickle)
    except (ImportError, ValueError, FileExistsError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    model, _ = restore(out)
    print(f"wrote {out}: FaceSleuth-R paper preset, reference SOA, {model.num_classes} classes, "
          f"AU vector {model.au_dim or 'off'}")
    if model.au_dim:
        print("warning: this model reads the ground-truth AU codes of every sample, at test "
              "time too, which leaks the label", file=sys.stderr)
    return 0


if __name__ == "__main__":
    flags.mark_flags_as_required(["from_torch", "out"])
    app.run(main)
