r"""Classify clips with a trained model folder (the command: ``faceslueth_jax.predict``).

  python -m faceslueth_jax.predict --model=runs/all/model --clip=clip_frames/ \
      [--clip=clip.avi ...] [--onset=0 --apex=4] [--crop=auto|detect|whole] [--out=DIR]

Each clip (a folder of frames, a video, or a folder of clips) goes through the
chain of the model's training records (``clip_input``); all clips are then
classified in batches. One line per clip is printed: the predicted class, every
class's probability, the onset and apex used. With ``--out``: ``predictions.json``
and one picture per clip (``pictures``), written only once every clip succeeded
(each file atomically). Bad input: one line naming the file on stderr, exit 2.
"""

from __future__ import annotations

import pathlib
import sys

import jax
import numpy as np

from faceslueth_jax.evaluation import angles
from faceslueth_jax.inference import clip_input, model_folder, pictures
from faceslueth_jax.models.motion_stream import soa_angles_deg

BAD_INPUT = 2


class PredictError(ValueError):
    """Input that predict cannot use (one line naming the file)."""


def _progress(done: int, total: int, what: str) -> None:
    if sys.stderr.isatty() or total > 1:
        width = 24
        bar = "#" * round(width * done / total) + "." * (width - round(width * done / total))
        end = "\n" if done == total else "\r"
        print(f"{what} [{bar}] {done}/{total}", end=end, file=sys.stderr, flush=True)


def stage_angles(model) -> dict:
    """Stage name ('motion/stage<i>') -> axial mean over members of its learned angle."""
    theta = np.asarray(jax.vmap(soa_angles_deg)(model.variables["params"]))  # (M, L)
    if theta.shape[1] == 0:
        return {}
    means = np.atleast_1d(angles.axial_mean(theta, axis=0))
    return {f"motion/stage{i}": float(t) for i, t in enumerate(means)}


def predict(model, paths, onset=None, apex=None, crop="auto", batch_size=32,
            with_pictures=False):
    """Results (one dict per clip) and, with ``with_pictures``, the pictures (BGR)."""
    if model.meta.get("au_dim"):
        raise PredictError(f"{model.meta.get('model')} reads ground-truth action units "
                           "(model.faceslueth_r.au_dim > 0), which a clip does not have")
    paths = clip_input.clip_paths(paths)
    if len(paths) > 1 and (onset is not None or apex is not None):
        raise PredictError("--onset and --apex apply to one clip; several were given")
    views, flows, faces, facts = [], [], [], []
    for i, path in enumerate(paths):
        clip = clip_input.read_clip(path)
        v, raw, face, fact = clip_input.model_inputs([clip], model.meta["chain"], model.config,
                                                     onset, apex, crop)
        views.append(v)
        flows.append(raw[0])
        faces.append(face[0])
        facts.extend(fact)
        _progress(i + 1, len(paths), "preparing clips")
    views = {k: np.concatenate([v[k] for v in views]) for k in views[0]}
    probs, images = [], []
    thetas = stage_angles(model) if with_pictures else {}
    for start in range(0, len(paths), batch_size):
        batch = {k: v[start:start + batch_size] for k, v in views.items()}
        if with_pictures:
            logits, maps = model.member_logits(batch, capture_attention=True)
        else:
            logits, maps = model.member_logits(batch), {}
        p = model_folder.ensemble_probabilities(logits)
        probs.append(p)
        for j in range(len(p)) if with_pictures else ():
            k = start + j
            title = (f"{pathlib.Path(facts[k].clip).name}: {model.class_names[p[j].argmax()]} "
                     f"(p {p[j].max():.2f}), onset {facts[k].onset}, apex {facts[k].apex}")
            images.append(pictures.clip_picture(faces[k], flows[k], pictures.stage_maps(maps, j),
                                                thetas, title))
    probs = np.concatenate(probs)
    results = [{
        "clip": f.clip, "predicted": model.class_names[int(p.argmax())],
        "probabilities": {n: float(q) for n, q in zip(model.class_names, p)},
        "num_frames": f.num_frames, "onset": f.onset, "apex": f.apex,
        "apex_spotted": f.apex_spotted, "crop": f.crop} for f, p in zip(facts, probs)]
    return results, images


def picture_names(results) -> list[str]:
    """One PNG name per clip, made unique when two clips share a name."""
    names, seen = [], {}
    for r in results:
        stem = pathlib.Path(r["clip"]).stem or "clip"
        seen[stem] = seen.get(stem, 0) + 1
        names.append(f"{stem}.png" if seen[stem] == 1 else f"{stem}_{seen[stem]}.png")
    return names
